import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sampleHostInfo, sampleKey } from '../../shared/schema/samples.js';
import { ControlHttpClient } from './http.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

type Handler = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;

async function serve(handler: Handler): Promise<string> {
  const s = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => handler(req, body, res));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

const registerResponse = {
  deviceId: 'dev_1',
  nodeCredential: 'tr_node_0123456789abcdef0123',
  addresses: { ipv4: '100.64.0.7', ipv6: 'fd00:1:2::7' },
  name: 'box',
  fqdn: 'box.test.trellis',
  keyExpiry: null,
  approved: true,
  network: { id: 'net', name: 'Test', domain: 'test.trellis' },
};

describe('ControlHttpClient', () => {
  it('posts the register body and parses the answer', async () => {
    let seen: unknown;
    const url = await serve((req, body, res) => {
      expect(req.method).toBe('POST');
      expect(req.url).toBe('/v1/register');
      seen = JSON.parse(body);
      json(res, 200, { ...registerResponse, extra: 'ignored' });
    });
    const req = {
      nodeKey: sampleKey(3),
      hostInfo: sampleHostInfo(),
      auth: { type: 'preauth' as const, key: 'tr_auth_0123456789abcdef' },
    };
    const r = await new ControlHttpClient(url).register(req);
    expect(r).toEqual({ ok: true, value: registerResponse });
    expect(seen).toEqual(req);
  });

  it('returns control’s typed error with status and retryAfter', async () => {
    const url = await serve((_req, _body, res) =>
      json(res, 429, {
        error: { code: 'rate_limited', message: 'slow down', retryAfterSeconds: 7 },
      }),
    );
    const r = await new ControlHttpClient(url).loginStart({});
    expect(r).toEqual({
      ok: false,
      error: { code: 'rate_limited', message: 'slow down', status: 429, retryAfterSeconds: 7 },
    });
  });

  it('calls a 204 device logout a success and sends the credential as a bearer token', async () => {
    let auth: string | undefined;
    const url = await serve((req, _body, res) => {
      auth = req.headers.authorization;
      res.writeHead(204).end();
    });
    const r = await new ControlHttpClient(url).deviceLogout('tr_node_0123456789abcdef0123');
    expect(r.ok).toBe(true);
    expect(auth).toBe('Bearer tr_node_0123456789abcdef0123');
  });

  it('refuses answers that do not match the schema, are not JSON, or are not typed errors', async () => {
    let mode = 0;
    const url = await serve((_req, _body, res) => {
      if (mode === 0) json(res, 200, { ...registerResponse, addresses: { ipv4: 'nope' } });
      else if (mode === 1) res.writeHead(200).end('<html>');
      else res.writeHead(502).end('bad gateway');
    });
    const c = new ControlHttpClient(url);
    const r0 = await c.info();
    expect(!r0.ok && r0.error.code).toBe('invalid_response');
    mode = 1;
    const r1 = await c.info();
    expect(!r1.ok && r1.error.code).toBe('invalid_response');
    mode = 2;
    const r2 = await c.info();
    expect(!r2.ok && r2.error).toMatchObject({ code: 'unavailable', status: 502 });
  });

  it('refuses an oversized answer without buffering it', async () => {
    const url = await serve((_req, _body, res) => {
      res.writeHead(200, { 'content-length': String(64 * 1024 * 1024) });
      res.write('{"x":"');
      // …and never finishes: the client must decide from the declared length alone.
    });
    const r = await new ControlHttpClient(url).info();
    expect(!r.ok && r.error).toMatchObject({
      code: 'invalid_response',
      message: expect.stringContaining('exceeds'),
    });
    for (const s of servers) s.closeAllConnections();
  });

  it('reports an unreachable control as a network error and a slow one as a timeout', async () => {
    const dead = await serve(() => undefined);
    const port = new URL(dead).port;
    await new Promise((r) => servers.pop()!.close(r));
    const r = await new ControlHttpClient(`http://127.0.0.1:${port}`).info();
    expect(!r.ok && r.error.code).toBe('network');

    const slow = await serve(() => undefined);
    const t = await new ControlHttpClient(slow, { timeoutMs: 100 }).info();
    expect(!t.ok && t.error.code).toBe('timeout');
    for (const s of servers) s.closeAllConnections();
  });
});
