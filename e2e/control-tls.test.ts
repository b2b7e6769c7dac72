/**
 * trellis-control over TLS with a certificate made by openssl for this run: HTTPS for the API
 * and WSS for the map stream, trusted through that certificate as the only CA; and the refusal
 * to serve plain HTTP unless the operator says so (insecureHttp).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControl, type ControlServer } from '../src/control/app.js';
import { parseConfig, type ControlConfig } from '../src/control/config.js';
import { generateKeyPair, keyToBase64 } from '../src/shared/keys.js';
import { MapServerMessage } from '../src/shared/schema/control/map-stream.js';
import { hostInfo } from './harness/control.js';

function makeCert(dir: string): { certFile: string; keyFile: string } {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-days',
        '1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { stdio: 'pipe' },
    );
  } catch (e) {
    throw new Error(
      `openssl failed (install the Debian package "openssl"): ${(e as Error).message}`,
      { cause: e },
    );
  }
  return { certFile, keyFile };
}

function config(dir: string, over: Record<string, unknown>): ControlConfig {
  const r = parseConfig({
    dataDir: dir,
    listen: { host: '127.0.0.1', port: 0 },
    stun: { enabled: false },
    network: { name: 'TLS', domain: 'tls.trellis' },
    logLevel: 'silent',
    ...over,
  });
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

/** One HTTPS request trusting only `ca`. */
function request(
  url: string,
  ca: Buffer,
  opts: { method?: string; body?: unknown } = {},
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const data = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const req = https.request(
      url,
      {
        method: opts.method ?? 'GET',
        ca,
        headers: data ? { 'content-type': 'application/json' } : {},
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null }),
        );
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

describe('trellis-control over TLS', () => {
  let dir: string;
  let ca: Buffer;
  let server: ControlServer;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-tls-'));
    const tls = makeCert(dir);
    ca = fs.readFileSync(tls.certFile);
    server = await startControl(config(dir, { tls }), { logger: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves HTTPS with the configured certificate', async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const r = await request(`${server.url}/healthz`, ca);
    expect(r).toEqual({ status: 200, body: { ok: true } });
    // Without the certificate as CA the client refuses the server: it really is that certificate.
    await expect(request(`${server.url}/healthz`, Buffer.from(''))).rejects.toThrow(
      /self-signed|certificate/i,
    );
  });

  it('registers over HTTPS and streams the netmap over WSS', async () => {
    const owner = (await server.store.users.list(server.bootstrap.network.id))[0];
    expect(owner?.role).toBe('owner');
    const { key } = await server.store.preauthKeys.create({
      networkId: server.bootstrap.network.id,
      createdBy: owner!.id,
      expiresAt: new Date(Date.now() + 600_000),
    });
    const nodeKey = keyToBase64(generateKeyPair().publicKey);
    const reg = await request(`${server.url}/v1/register`, ca, {
      method: 'POST',
      body: { nodeKey, hostInfo: hostInfo('tls-box'), auth: { type: 'preauth', key } },
    });
    expect(reg.status, JSON.stringify(reg.body)).toBe(200);

    const ws = new WebSocket(`${server.url.replace(/^https/, 'wss')}/v1/map`, {
      ca,
      headers: { authorization: `Bearer ${reg.body.nodeCredential}` },
    });
    const first = await new Promise<MapServerMessage>((resolve, reject) => {
      ws.on('open', () =>
        ws.send(
          JSON.stringify({
            type: 'hello',
            version: 1,
            nodeKey,
            discoKey: keyToBase64(generateKeyPair().publicKey),
          }),
        ),
      );
      ws.once('message', (d) => resolve(MapServerMessage.parse(JSON.parse(d.toString()))));
      ws.on('error', reject);
    });
    expect(first.type).toBe('full');
    if (first.type !== 'full') return;
    expect(first.netmap.self.name).toBe('tls-box');
    // The built-in relay is announced on the same TLS listener.
    expect(first.netmap.relayMap.regions[0]?.relays[0]?.url).toMatch(
      /^wss:\/\/127\.0\.0\.1:\d+\/v1\/relay$/,
    );
    ws.close();
  });

  it('refuses plain HTTP unless insecureHttp is set', async () => {
    const plainDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-plain-'));
    try {
      await expect(
        startControl(config(plainDir, {}), { logger: pino({ level: 'silent' }) }),
      ).rejects.toThrow(
        /refusing plain HTTP: configure tls\.certFile\/keyFile, or set insecureHttp/,
      );
      const lab = await startControl(config(plainDir, { insecureHttp: true }), {
        logger: pino({ level: 'silent' }),
      });
      expect(lab.url).toMatch(/^http:\/\//);
      await lab.stop();
    } finally {
      fs.rmSync(plainDir, { recursive: true, force: true });
    }
  });
});
