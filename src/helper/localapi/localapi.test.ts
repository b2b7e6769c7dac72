import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ok } from '../../shared/result.js';
import {
  LocalApiErrorBody,
  type Prefs,
  type Status,
  type WatchEvent,
} from '../../shared/schema/localapi.js';
import { samplePrefs, sampleStatus } from '../../shared/schema/samples.js';
import { waitFor } from '../testing/wait.js';
import { defaultSocketPath, LocalApiClient } from './client.js';
import { apiError } from './errors.js';
import type { LocalApiHandlers } from './handlers.js';
import { LocalApiServer } from './server.js';
import {
  listenOnSocket,
  PIPE_ACCESS,
  removeSocketFile,
  resolveSocketAccess,
  socketAccessNotice,
  SocketSetupError,
  type SocketAccess,
  type SocketOs,
} from './socket.js';
import { WatchHub } from './watch-hub.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const ROOT_ONLY: SocketAccess = { group: null, mode: 0o600 };

function tempSocket(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-api-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'run', 'trellisd.sock');
}

const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

async function start(
  over: Partial<LocalApiHandlers> = {},
  access: SocketAccess = ROOT_ONLY,
  minIntervalMs = 100,
) {
  let status: Status = sampleStatus(1);
  let prefs: Prefs = samplePrefs();
  const calls: { name: string; body: unknown }[] = [];
  const record =
    <T>(name: string, value: T) =>
    async (body: unknown) => {
      calls.push({ name, body });
      return ok(value);
    };
  const handlers: LocalApiHandlers = {
    status: async () => ok(status),
    getPrefs: async () => ok(prefs),
    patchPrefs: async (p) => {
      prefs = { ...prefs, ...p };
      return ok(prefs);
    },
    up: record('up', { backend: { state: 'running' as const } }),
    down: record('down', { backend: { state: 'stopped' as const } }),
    login: record('login', {
      backend: { state: 'needs-login' as const, loginUrl: 'http://127.0.0.1/login/x' },
    }),
    logout: record('logout', { backend: { state: 'needs-login' as const, loginUrl: null } }),
    netcheck: async () => apiError('unavailable', 'netcheck is not implemented yet'),
    ping: record('ping', { peerId: 'dev-1', peerName: 'peer-1', results: [] }),
    suggestExitNode: async () => ok({ suggestion: null }),
    ...over,
  };
  const watch = new WatchHub({ status: async () => status, prefs: () => prefs }, { minIntervalMs });
  const server = new LocalApiServer({ handlers, watch, daemonVersion: '0.1.0', log: silent });
  const socketPath = tempSocket();
  await server.listen(socketPath, access);
  cleanups.push(() => server.close());
  return {
    server,
    watch,
    socketPath,
    calls,
    setStatus: (s: Status) => (status = s),
    client: new LocalApiClient({ socketPath, clientName: 'test' }),
  };
}

/** A raw request over the socket, for what the typed client would never send. */
function raw(
  socketPath: string,
  method: string,
  p: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
) {
  return new Promise<{ status: number; body: unknown }>((resolve, reject) => {
    const req = http.request(
      { socketPath, method, path: p, headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function expectTypedError(r: { status: number; body: unknown }, status: number, code: string) {
  expect(r.status).toBe(status);
  const parsed = LocalApiErrorBody.safeParse(r.body);
  expect(parsed.success).toBe(true);
  expect(parsed.data?.error.code).toBe(code);
}

describe('LocalAPI server and client', () => {
  it('says hello, then serves typed calls', async () => {
    const { client, calls } = await start();
    const hello = await client.hello();
    expect(hello).toEqual({
      ok: true,
      value: {
        daemonVersion: '0.1.0',
        protocolVersion: 1,
        minProtocolVersion: 1,
        compatible: true,
      },
    });
    const status = await client.status();
    expect(status.ok && status.value.peers).toHaveLength(1);
    const up = await client.up({ authKey: 'tr_auth_0123456789abcdef' });
    expect(up).toEqual({ ok: true, value: { backend: { state: 'running' } } });
    expect(calls).toEqual([{ name: 'up', body: { authKey: 'tr_auth_0123456789abcdef' } }]);
    const prefs = await client.patchPrefs({ acceptRoutes: false });
    expect(prefs.ok && prefs.value.acceptRoutes).toBe(false);
    // Defaults are applied by the schema before the handler sees the body.
    await client.ping({ peer: 'peer-1' });
    expect(calls.at(-1)).toEqual({
      name: 'ping',
      body: { peer: 'peer-1', count: 4, timeoutMs: 2000 },
    });
  });

  it('answers a hello from an unsupported protocol with compatible=false, and refuses its calls', async () => {
    const { socketPath } = await start();
    const r = await raw(
      socketPath,
      'POST',
      '/localapi/v1/hello',
      JSON.stringify({ clientVersion: '9.0.0', protocolVersion: 2 }),
    );
    expect(r).toEqual({
      status: 200,
      body: {
        daemonVersion: '0.1.0',
        protocolVersion: 1,
        minProtocolVersion: 1,
        compatible: false,
      },
    });
    expectTypedError(
      await raw(socketPath, 'GET', '/localapi/v1/status', undefined, {
        'trellis-localapi-version': '2',
      }),
      426,
      'unsupported_version',
    );
  });

  it('turns malformed requests into typed 4xx errors', async () => {
    const { socketPath, calls } = await start();
    expectTypedError(
      await raw(socketPath, 'POST', '/localapi/v1/up', '{"authKey":'),
      400,
      'bad_request',
    );
    expectTypedError(
      await raw(socketPath, 'POST', '/localapi/v1/login', JSON.stringify({ method: 'telepathy' })),
      400,
      'bad_request',
    );
    expectTypedError(
      await raw(
        socketPath,
        'POST',
        '/localapi/v1/ping',
        JSON.stringify({ peer: 'x', count: 1000 }),
      ),
      400,
      'bad_request',
    );
    expectTypedError(
      await raw(socketPath, 'POST', '/localapi/v1/up', '{}', { 'content-type': 'text/plain' }),
      400,
      'bad_request',
    );
    expectTypedError(await raw(socketPath, 'GET', '/localapi/v1/nope'), 404, 'not_found');
    expectTypedError(await raw(socketPath, 'GET', '/elsewhere'), 404, 'not_found');
    expectTypedError(await raw(socketPath, 'DELETE', '/localapi/v1/status'), 400, 'bad_request');
    expectTypedError(
      await raw(socketPath, 'POST', '/localapi/v1/up', Buffer.alloc(1024 * 1024 + 1, 0x20)),
      413,
      'too_large',
    );
    const bad = await raw(
      socketPath,
      'POST',
      '/localapi/v1/login',
      JSON.stringify({ method: 'auth-key', authKey: 'short' }),
    );
    expectTypedError(bad, 400, 'bad_request');
    expect((bad.body as LocalApiErrorBody).error.message).toContain('authKey');
    expect(calls).toEqual([]);
  });

  it('passes handler errors through with their status, and refuses to send an invalid answer', async () => {
    const { socketPath, client } = await start({
      logout: async () => apiError('not_logged_in', 'not logged in'),
      status: async () => ok({ ...sampleStatus(0), daemonVersion: 'not-semver' }),
    });
    expectTypedError(
      await raw(socketPath, 'POST', '/localapi/v1/logout', '{}'),
      401,
      'not_logged_in',
    );
    expectTypedError(await raw(socketPath, 'POST', '/localapi/v1/netcheck'), 503, 'unavailable');
    expectTypedError(await raw(socketPath, 'GET', '/localapi/v1/status'), 500, 'internal');
    expect(await client.logout()).toEqual({
      ok: false,
      error: { code: 'not_logged_in', message: 'not logged in' },
    });
  });

  it('reports a missing daemon as daemon_not_running', async () => {
    const client = new LocalApiClient({
      socketPath: path.join(os.tmpdir(), `nope-${process.pid}.sock`),
    });
    const r = await client.status();
    expect(!r.ok && r.error.code).toBe('daemon_not_running');
  });

  it('streams numbered watch events: initial status and prefs, coalesced status, notifications, logs on request', async () => {
    const { client, watch, setStatus } = await start({}, ROOT_ONLY, 300);
    const events: WatchEvent[] = [];
    const logEvents: WatchEvent[] = [];
    const w = await client.watch({ event: (e) => events.push(e), closed: () => {} });
    const wl = await client.watch(
      { event: (e) => logEvents.push(e), closed: () => {} },
      { initial: false, logs: true },
    );
    expect(w.ok && wl.ok).toBe(true);
    await waitFor(() => events.length === 2, 'initial events');
    expect(events.map((e) => [e.seq, e.type])).toEqual([
      [1, 'status'],
      [2, 'prefs'],
    ]);

    await waitFor(() => watch.size === 2, 'both subscribed');
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) {
      setStatus({
        ...sampleStatus(1),
        controlConnected: i % 2 === 0,
        updatedAt: new Date(1_700_000_000_000 + i).toISOString(),
      });
      watch.statusChanged();
    }
    await waitFor(() => events.length === 3, 'first coalesced status');
    setStatus({ ...sampleStatus(2), updatedAt: new Date(1_700_000_000_100).toISOString() });
    watch.statusChanged();
    await waitFor(() => events.length === 4, 'second coalesced status');
    // Twenty changes made one event with the newest status, and the next waited out the interval.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    const third = events[2] as Extract<WatchEvent, { type: 'status' }>;
    expect(third.status.updatedAt).toBe(new Date(1_700_000_000_019).toISOString());

    watch.notify({ level: 'info', title: 'Hi', body: 'there' });
    watch.logLine('info', 'hello log', new Date());
    await waitFor(() => events.length === 5 && logEvents.length >= 3, 'notification and log');
    expect(events[4]).toMatchObject({ seq: 5, type: 'notification' });
    expect(events.some((e) => e.type === 'log')).toBe(false);
    expect(logEvents.find((e) => e.type === 'log')).toMatchObject({
      type: 'log',
      message: 'hello log',
    });
    expect(logEvents.map((e) => e.seq)).toEqual(logEvents.map((_, i) => i + 1));
    if (w.ok) w.value.close();
    if (wl.ok) wl.value.close();
  });

  it('refuses a watch with a bad query as a typed error', async () => {
    const { socketPath } = await start();
    const r = await new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      const req = http.request(
        {
          socketPath,
          path: '/localapi/v1/watch?initial=maybe',
          headers: {
            connection: 'upgrade',
            upgrade: 'websocket',
            'sec-websocket-version': '13',
            'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expectTypedError(r, 400, 'bad_request');
  });
});

describe('LocalAPI socket', () => {
  it('is root-only (0600) without a group, and 0660 with the group when one is configured', async () => {
    const a = await start();
    expect(fs.statSync(a.socketPath).mode & 0o777).toBe(0o600);
    // Our own group (by number): chown to it needs no privilege.
    const gid = process.getgid?.() ?? 0;
    const access = await resolveSocketAccess(String(gid));
    expect(access).toEqual({ group: { name: String(gid), gid }, mode: 0o660 });
    const b = await start({}, access);
    const st = fs.statSync(b.socketPath);
    expect(st.mode & 0o777).toBe(0o660);
    expect(st.gid).toBe(gid);
  });

  it('falls back to root only when the default group is missing, and fails on a missing configured group', async () => {
    expect(await resolveSocketAccess(null, async () => null)).toEqual({ group: null, mode: 0o600 });
    expect(await resolveSocketAccess(null, async () => 1234)).toEqual({
      group: { name: 'trellis', gid: 1234 },
      mode: 0o660,
    });
    await expect(resolveSocketAccess('no-such-group', async () => null)).rejects.toThrow(
      /does not exist/,
    );
  });

  it('replaces a stale socket but refuses to take over a live one', async () => {
    const a = await start();
    const second = new LocalApiServer({
      handlers: {} as LocalApiHandlers,
      watch: new WatchHub({ status: async () => sampleStatus(0), prefs: () => samplePrefs() }),
      daemonVersion: '0.1.0',
      log: silent,
    });
    await expect(second.listen(a.socketPath, ROOT_ONLY)).rejects.toThrow(/another daemon/);
    await a.server.close();
    // A crashed daemon leaves its socket file behind: a process that listens and is SIGKILLed.
    const crashed = spawn(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(a.socketPath)},()=>console.log('up'))`,
    ]);
    await new Promise<void>((r) => crashed.stdout.once('data', () => r()));
    crashed.kill('SIGKILL');
    await new Promise((r) => crashed.once('exit', r));
    expect(fs.statSync(a.socketPath).isSocket()).toBe(true);
    await second.listen(a.socketPath, ROOT_ONLY);
    cleanups.push(() => second.close());
    expect(fs.statSync(a.socketPath).isSocket()).toBe(true);
  });
});

describe('LocalAPI endpoint per platform', () => {
  it("defaults to TRELLIS_SOCKET, else the platform's endpoint", () => {
    expect(defaultSocketPath({}, 'linux')).toBe('/run/trellis/trellisd.sock');
    expect(defaultSocketPath({}, 'darwin')).toBe('/var/run/trellis/trellisd.sock');
    const pipe = '\\\\.\\pipe\\ProtectedPrefix\\Administrators\\Trellis\\trellisd';
    expect(defaultSocketPath({}, 'win32')).toBe(pipe);
    expect(defaultSocketPath({ TRELLIS_SOCKET: '' }, 'win32')).toBe(pipe);
    expect(defaultSocketPath({ TRELLIS_SOCKET: '/tmp/t.sock' }, 'darwin')).toBe('/tmp/t.sock');
  });

  it('watches and calls over a socket whose path needs escaping in a URL', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis api '));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const socketPath = path.join(dir, 'Application Support', 'd%20.sock');
    const server = new LocalApiServer({
      handlers: { status: async () => ok(sampleStatus(1)) } as unknown as LocalApiHandlers,
      watch: new WatchHub({ status: async () => sampleStatus(1), prefs: () => samplePrefs() }),
      daemonVersion: '0.1.0',
      log: silent,
    });
    await server.listen(socketPath, ROOT_ONLY);
    cleanups.push(() => server.close());
    const client = new LocalApiClient({ socketPath });
    expect((await client.status()).ok).toBe(true);
    const events: WatchEvent[] = [];
    const w = await client.watch({ event: (e) => events.push(e), closed: () => {} });
    expect(w.ok).toBe(true);
    await waitFor(() => events.some((e) => e.type === 'status'), 'a status event', 10_000);
    if (w.ok) w.value.close();
  });
});

/** File calls recorded, for a platform this machine is not (Windows) or to compare with it. */
function recordingOs(platform: string) {
  const calls: string[] = [];
  const os: SocketOs = {
    platform,
    fs: {
      mkdir: async (dir) => void calls.push(`mkdir ${dir}`),
      lstat: async (file) => {
        calls.push(`lstat ${file}`);
        throw Object.assign(new Error(`ENOENT: ${file}`), { code: 'ENOENT' });
      },
      rm: async (file) => void calls.push(`rm ${file}`),
      chown: async (file, _uid, gid) => void calls.push(`chown ${file} ${gid}`),
      chmod: async (file, mode) => void calls.push(`chmod ${file} ${mode.toString(8)}`),
    },
  };
  return { os, calls };
}

/** A server whose listen() records its options instead of binding: Linux has no named pipes. */
class RecordingServer extends net.Server {
  readonly listened: net.ListenOptions[] = [];
  failWith: Error | null = null;
  override listen(...args: unknown[]): this {
    const [options, done] = args as [net.ListenOptions, () => void];
    this.listened.push(options);
    const e = this.failWith;
    process.nextTick(() => (e ? this.emit('error', e) : done()));
    return this;
  }
}

const PIPE = '\\\\.\\pipe\\ProtectedPrefix\\Administrators\\Trellis\\trellisd';

describe('LocalAPI named pipe (Windows cannot run here: its platform is simulated)', () => {
  it('listens on the pipe open to every local account, with none of the socket file work', async () => {
    const { os, calls } = recordingOs('win32');
    const server = new RecordingServer();
    await listenOnSocket(server, PIPE, PIPE_ACCESS, os);
    expect(server.listened).toEqual([{ path: PIPE, readableAll: true, writableAll: true }]);
    await removeSocketFile(PIPE, os);
    expect(calls).toEqual([]);

    // The same code on Linux: a plain path, then the directory, stale-socket, owner and mode work.
    const unix = recordingOs('linux');
    const unixServer = new RecordingServer();
    const group = { group: { name: 'trellis', gid: 64999 }, mode: 0o660 };
    await listenOnSocket(unixServer, '/run/trellis/trellisd.sock', group, unix.os);
    await removeSocketFile('/run/trellis/trellisd.sock', unix.os);
    expect(unixServer.listened).toEqual([{ path: '/run/trellis/trellisd.sock' }]);
    expect(unix.calls).toEqual([
      'mkdir /run/trellis',
      'lstat /run/trellis/trellisd.sock',
      'chown /run/trellis/trellisd.sock 64999',
      'chmod /run/trellis/trellisd.sock 660',
      'rm /run/trellis/trellisd.sock',
    ]);
  });

  it('refuses a path on Windows, a pipe elsewhere, and access of the wrong kind, before listening', async () => {
    const win = recordingOs('win32');
    const server = new RecordingServer();
    const refused = (p: Promise<void>, re: RegExp) =>
      expect(p).rejects.toSatisfy((e) => e instanceof SocketSetupError && re.test(e.message));
    await refused(
      listenOnSocket(server, '/run/trellis/trellisd.sock', PIPE_ACCESS, win.os),
      /must be a named pipe/,
    );
    await refused(listenOnSocket(server, PIPE, ROOT_ONLY, win.os), /no owner group or mode/);
    const unix = recordingOs('linux');
    await refused(listenOnSocket(server, PIPE, ROOT_ONLY, unix.os), /must be an absolute path/);
    await refused(listenOnSocket(server, '/run/t.sock', PIPE_ACCESS, unix.os), /not a pipe/);
    expect(server.listened).toEqual([]);
    expect([...win.calls, ...unix.calls]).toEqual([]);
  });

  it('says another daemon has the pipe when its first instance is taken', async () => {
    const { os } = recordingOs('win32');
    const server = new RecordingServer();
    server.failWith = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' });
    await expect(listenOnSocket(server, PIPE, PIPE_ACCESS, os)).rejects.toThrow(
      /another daemon is listening on \\\\\.\\pipe\\ProtectedPrefix\\Administrators\\Trellis\\trellisd/,
    );
  });

  it('the server listens and closes through the pipe branch', async () => {
    const { os, calls } = recordingOs('win32');
    const server = new LocalApiServer({
      handlers: {} as LocalApiHandlers,
      watch: new WatchHub({ status: async () => sampleStatus(0), prefs: () => samplePrefs() }),
      daemonVersion: '0.1.0',
      log: silent,
      os,
    });
    const listen = vi.spyOn(server.server, 'listen').mockImplementation((...args: unknown[]) => {
      (args[1] as () => void)();
      return server.server;
    });
    await server.listen(PIPE, PIPE_ACCESS);
    expect(listen.mock.calls[0]?.[0]).toEqual({ path: PIPE, readableAll: true, writableAll: true });
    await server.close();
    expect(calls).toEqual([]);
  });

  it('has no socket group on Windows, and says who may use the pipe', async () => {
    const lookup = vi.fn(async () => 1234);
    expect(await resolveSocketAccess(null, lookup, 'win32')).toEqual(PIPE_ACCESS);
    await expect(resolveSocketAccess('trellis', lookup, 'win32')).rejects.toThrow(SocketSetupError);
    expect(lookup).not.toHaveBeenCalled();
    expect(socketAccessNotice(PIPE_ACCESS)).toMatchObject({
      level: 'warn',
      msg: expect.stringMatching(/every local account/),
    });
    expect(socketAccessNotice({ group: { name: 'trellis', gid: 7 }, mode: 0o660 })).toMatchObject({
      level: 'info',
      fields: { group: 'trellis', gid: 7 },
    });
    expect(socketAccessNotice(ROOT_ONLY)).toMatchObject({
      level: 'warn',
      msg: expect.stringMatching(/only root/),
    });
  });
});
