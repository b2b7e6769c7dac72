/**
 * Hostile bytes on both sides of the LocalAPI: whatever a client sends, the server answers with
 * a typed result (never a 500, never a crash); whatever a "daemon" answers, the client returns a
 * typed error (never throws).
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '../../shared/result.js';
import { mutated } from '../../shared/schema/fuzz.js';
import { LocalApiErrorBody } from '../../shared/schema/localapi.js';
import { samplePrefs, sampleStatus } from '../../shared/schema/samples.js';
import { LocalApiClient } from './client.js';
import type { LocalApiHandlers } from './handlers.js';
import { LocalApiServer } from './server.js';
import { WatchHub } from './watch-hub.js';

const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
let dir: string;
let socket: string;
let server: LocalApiServer;

const answer = { backend: { state: 'running' as const } };
const handlers: LocalApiHandlers = {
  status: async () => ok(sampleStatus(1)),
  getPrefs: async () => ok(samplePrefs()),
  patchPrefs: async (p) => ok({ ...samplePrefs(), ...p }),
  up: async () => ok(answer),
  down: async () => ok(answer),
  login: async () => ok(answer),
  logout: async () => ok(answer),
  netcheck: async () =>
    ok({
      udp: true,
      ipv4: true,
      ipv6: false,
      globalV4: null,
      globalV6: null,
      mappingVariesByDest: null,
      preferredRegion: null,
      regionLatencies: {},
      portMapping: null,
      measuredAt: '2025-01-15T12:00:00.000Z',
    }),
  ping: async (r) =>
    ok({
      peerId: 'dev-1',
      peerName: 'peer-1',
      results: Array.from({ length: r.count }, (_, seq) => ({ outcome: 'timeout' as const, seq })),
    }),
  suggestExitNode: async () => ok({ suggestion: null }),
};

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-prop-'));
  socket = path.join(dir, 'd.sock');
  server = new LocalApiServer({
    handlers,
    watch: new WatchHub({ status: async () => sampleStatus(0), prefs: () => samplePrefs() }),
    daemonVersion: '0.1.0',
    log: silent,
  });
  await server.listen(socket, { group: null, mode: 0o600 });
});

afterAll(async () => {
  await server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function post(p: string, body: Buffer | string) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = http.request(
      {
        socketPath: socket,
        method: 'POST',
        path: p,
        agent: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const validBodies: Record<string, unknown[]> = {
  '/localapi/v1/up': [
    { authKey: 'tr_auth_0123456789abcdef', hostname: 'box', controlUrl: 'http://127.0.0.1:8080' },
  ],
  '/localapi/v1/login': [
    { method: 'auth-key', authKey: 'tr_auth_0123456789abcdef' },
    { method: 'interactive' },
  ],
  '/localapi/v1/ping': [{ peer: 'peer-1', count: 3, timeoutMs: 500 }],
  '/localapi/v1/hello': [{ clientVersion: '0.1.0', protocolVersion: 1, clientName: 'x' }],
};

describe('LocalAPI under hostile input', () => {
  it('answers random bytes and mutated bodies with 200 or a typed 4xx, never a 500', async () => {
    const paths = Object.keys(validBodies);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          fc.string({ maxLength: 300 }),
          fc
            .constantFrom(...paths)
            .chain((p) => mutated(validBodies[p] ?? []))
            .map((v) => JSON.stringify(v) ?? 'null'),
        ),
        async (p, body) => {
          const r = await post(p, body);
          if (r.status === 200) return;
          expect(r.status).toBeGreaterThanOrEqual(400);
          expect(r.status).toBeLessThan(500);
          expect(LocalApiErrorBody.safeParse(JSON.parse(r.text)).success).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('turns whatever a daemon answers into a typed client error, never an exception', async () => {
    const fakeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-fakeapi-'));
    const fakeSocket = path.join(fakeDir, 'f.sock');
    let reply: { status: number; body: string } = { status: 200, body: '' };
    const fake = http.createServer((_req, res) => {
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(reply.body);
    });
    await new Promise<void>((r) => fake.listen(fakeSocket, r));
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(200, 400, 401, 404, 426, 500, 503),
          fc.oneof(
            fc.string({ maxLength: 200 }),
            mutated([sampleStatus(1), { error: { code: 'conflict', message: 'x' } }]).map(
              (v) => JSON.stringify(v) ?? 'null',
            ),
          ),
          async (status, body) => {
            reply = { status, body };
            const c = new LocalApiClient({ socketPath: fakeSocket });
            const r = await c.status();
            // The hello itself gets the same reply: it parses as a HelloResponse or fails typed.
            if (!r.ok) expect(typeof r.error.code).toBe('string');
          },
        ),
        { numRuns: 100 },
      );
    } finally {
      await new Promise((r) => fake.close(r));
      fs.rmSync(fakeDir, { recursive: true, force: true });
    }
  });
});
