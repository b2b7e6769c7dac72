import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { waitFor } from '../../helper/testing/wait.js';
import { bridgeTransport, type WebSocketLike } from '../../renderer/src/bridge-transport.js';
import { createIpcClient, type AppState } from '../../shared/schema/ipc.js';
import { BRIDGE_CLOSE_PROTOCOL, BRIDGE_CLOSE_VERSION } from '../../shared/schema/ipc-bridge.js';
import { AppCore } from '../core/app-core.js';
import { createIpcHandlers } from '../core/ipc-handlers.js';
import { memoryKeychain } from '../core/keychain.js';
import { FakeControlAuth } from '../core/testing/fake-control-auth.js';
import { FakeHelper } from '../core/testing/fake-helper.js';
import { FakeShell } from '../core/testing/fake-shell.js';
import { startBridge, type Bridge } from './server.js';
import { newToken, tokenMatches } from './token.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function rendererDir(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-bridge-'));
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  fs.mkdirSync(path.join(root, 'www', 'assets'), { recursive: true });
  fs.writeFileSync(path.join(root, 'www', 'index.html'), '<!doctype html><title>Trellis</title>');
  fs.writeFileSync(path.join(root, 'www', 'assets', 'app.js'), 'console.log(1)');
  fs.writeFileSync(path.join(root, 'secret.txt'), 'outside');
  fs.symlinkSync(path.join(root, 'secret.txt'), path.join(root, 'www', 'assets', 'link.js'));
  return path.join(root, 'www');
}

async function setup(): Promise<{ bridge: Bridge; core: AppCore; helper: FakeHelper }> {
  const helper = new FakeHelper({ peers: 25 });
  const core = new AppCore({
    helper: () => helper.api(),
    socketPath: '/tmp/x.sock',
    keychain: memoryKeychain(),
    controlAuth: new FakeControlAuth(),
    loginWindow: { open: () => ({ close: () => undefined }) },
  });
  const bridge = await startBridge({
    handlers: createIpcHandlers(core, new FakeShell()),
    rendererDir: rendererDir(),
    greet: (n) => n.state.changed(core.store.getState()),
  });
  const unsub = core.store.subscribe((s) => bridge.notifier.state.changed(s));
  cleanups.push(
    () => bridge.close(),
    unsub,
    () => core.stop(),
  );
  core.start();
  return { bridge, core, helper };
}

/** A raw GET with a chosen Host header (fetch does not let tests set it). */
function get(
  url: string,
  host?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'GET',
        headers: host ? { host } : {},
      },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const socketFor =
  (bridge: Bridge, origin = bridge.origin) =>
  (url: string) =>
    new WebSocket(url, { origin }) as unknown as WebSocketLike;

describe('web bridge HTTP', () => {
  it('serves the renderer under the token with a strict CSP', async () => {
    const { bridge } = await setup();
    const r = await get(bridge.url);
    expect(r.status).toBe(200);
    expect(r.body).toContain('<title>Trellis</title>');
    expect(r.headers['content-security-policy']).toContain("script-src 'self'");
    expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(r.headers['referrer-policy']).toBe('no-referrer');
    const js = await get(`${bridge.url}assets/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
  });

  it('refuses requests without the token, with a wrong one, or for another Host', async () => {
    const { bridge } = await setup();
    expect((await get(`${bridge.origin}/`)).status).toBe(403);
    expect((await get(`${bridge.origin}/assets/app.js`)).status).toBe(403);
    expect((await get(`${bridge.origin}/${newToken()}/`)).status).toBe(403);
    expect((await get(`${bridge.origin}/${bridge.token.slice(0, -1)}/`)).status).toBe(403);
    expect((await get(bridge.url, 'evil.example.com')).status).toBe(403);
    expect((await get(bridge.url, `localhost:${new URL(bridge.origin).port}`)).status).toBe(200);
  });

  it('never serves files outside the renderer', async () => {
    const { bridge } = await setup();
    for (const p of [
      '../secret.txt',
      '%2e%2e/secret.txt',
      'assets/%2e%2e/%2e%2e/secret.txt',
      'assets/link.js',
      'assets/app.js%00.html',
    ]) {
      const r = await get(`${bridge.url}${p}`);
      expect([403, 404]).toContain(r.status);
      expect(r.body).not.toContain('outside');
    }
  });
});

describe('web bridge IPC', () => {
  it('carries the typed IPC: greeting state, invokes, and pushed changes', async () => {
    const { bridge, core, helper } = await setup();
    await waitFor(() => core.store.getState().connection.state === 'connected', 'connected');
    const t = bridgeTransport({
      url: `${bridge.origin.replace('http', 'ws')}/${bridge.token}/ipc`,
      createSocket: socketFor(bridge),
    });
    cleanups.push(() => t.close());
    const client = createIpcClient(t);
    const seen: AppState[] = [];
    client.state.changed((s) => seen.push(s));
    await waitFor(() => seen.length > 0, 'greeting');
    expect(seen[0]?.peers).toHaveLength(25);
    const r = await client.exitNode.set({ type: 'auto' });
    expect(r.ok).toBe(true);
    await waitFor(() => seen.some((s) => s.prefs?.exitNode?.type === 'auto'), 'pushed prefs');
    const bad = await client.routes.setAdvertised(['not-a-cidr']);
    expect(!bad.ok && bad.error.code).toBe('bad_request');
    expect(helper.calls).toEqual(['patchPrefs {"exitNode":{"type":"auto"}}']);
    expect(bridge.clientCount).toBe(1);
  });

  it('refuses a WebSocket from another origin or without the token', async () => {
    const { bridge } = await setup();
    const tryOpen = (url: string, origin: string) =>
      new Promise<number | 'open'>((resolve) => {
        const ws = new WebSocket(url, { origin });
        ws.on('open', () => {
          ws.close();
          resolve('open');
        });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', () => undefined);
      });
    const wsBase = bridge.origin.replace('http', 'ws');
    expect(await tryOpen(`${wsBase}/${bridge.token}/ipc`, 'http://evil.example.com')).toBe(403);
    expect(await tryOpen(`${wsBase}/${newToken()}/ipc`, bridge.origin)).toBe(403);
    expect(await tryOpen(`${wsBase}/${bridge.token}/ipc`, bridge.origin)).toBe('open');
  });

  it('closes on a wrong IPC version or a malformed frame', async () => {
    const { bridge } = await setup();
    const closeCode = (first: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(`${bridge.origin.replace('http', 'ws')}/${bridge.token}/ipc`, {
          origin: bridge.origin,
        });
        ws.on('open', () => ws.send(first));
        ws.on('close', (code) => resolve(code));
      });
    expect(await closeCode(JSON.stringify({ t: 'hello', ipcVersion: 999 }))).toBe(
      BRIDGE_CLOSE_VERSION,
    );
    expect(await closeCode('{"t":"invoke"')).toBe(BRIDGE_CLOSE_PROTOCOL);
    expect(
      await closeCode(JSON.stringify({ t: 'invoke', id: 1, channel: 'state:get', payload: null })),
    ).toBe(BRIDGE_CLOSE_PROTOCOL);
  });

  it('fails invokes in flight when the bridge goes away, and reconnects', async () => {
    const { bridge, core } = await setup();
    const statuses: string[] = [];
    const t = bridgeTransport({
      url: `${bridge.origin.replace('http', 'ws')}/${bridge.token}/ipc`,
      createSocket: socketFor(bridge),
      onStatus: (s) => statuses.push(s),
    });
    cleanups.push(() => t.close());
    const client = createIpcClient(t);
    await waitFor(() => statuses.includes('open'), 'open');
    await bridge.close();
    const r = await client.state.get();
    expect(!r.ok && r.error.code).toBe('transport');
    expect(statuses).toContain('closed');
    // The bridge comes back on the same port and token (an app restart): the page reconnects.
    const again = await startBridge({
      handlers: createIpcHandlers(core, new FakeShell()),
      rendererDir: rendererDir(),
      port: Number(new URL(bridge.origin).port),
      token: bridge.token,
    });
    cleanups.push(() => again.close());
    await waitFor(
      () => statuses.lastIndexOf('open') > statuses.indexOf('closed'),
      'reopened',
      10_000,
    );
    const after = await client.state.get();
    expect(after.ok).toBe(true);
  });
});

describe('token', () => {
  it('compares exactly', () => {
    const t = newToken();
    expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tokenMatches(t, t)).toBe(true);
    expect(tokenMatches(t, `${t}x`)).toBe(false);
    expect(tokenMatches(t, '')).toBe(false);
    expect(tokenMatches(t, newToken())).toBe(false);
  });
});
