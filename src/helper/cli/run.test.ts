/** The CLI against a real LocalAPI server on a temp socket, with scripted daemon answers. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ok } from '../../shared/result.js';
import type { BackendState, PeerStatus, Status } from '../../shared/schema/localapi.js';
import { samplePrefs, sampleStatus } from '../../shared/schema/samples.js';
import { apiError } from '../localapi/errors.js';
import type { LocalApiHandlers } from '../localapi/handlers.js';
import { LocalApiServer } from '../localapi/server.js';
import { WatchHub } from '../localapi/watch-hub.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, runCli, type CliIo } from './run.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const silent = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

async function daemonStub(over: Partial<LocalApiHandlers> = {}) {
  let backend: BackendState = { state: 'needs-login', loginUrl: null };
  const status = (): Status => ({ ...sampleStatus(1), backend });
  const watch = new WatchHub(
    { status: async () => status(), prefs: () => samplePrefs() },
    { minIntervalMs: 20 },
  );
  const handlers: LocalApiHandlers = {
    status: async () => ok(status()),
    getPrefs: async () => ok(samplePrefs()),
    patchPrefs: async (p) => ok({ ...samplePrefs(), ...p }),
    up: async () => {
      backend = { state: 'needs-login', loginUrl: 'http://127.0.0.1:9/login/abc' };
      return ok({ backend });
    },
    down: async () => ok({ backend: { state: 'stopped' as const } }),
    login: async () => ok({ backend }),
    logout: async () => ok({ backend: { state: 'needs-login' as const, loginUrl: null } }),
    netcheck: async () =>
      apiError('unavailable', 'netcheck is not implemented in this version of trellisd'),
    ping: async () =>
      ok({
        peerId: 'dev-1',
        peerName: 'peer-1',
        results: [
          {
            outcome: 'pong' as const,
            seq: 0,
            path: { type: 'direct' as const, endpoint: '192.0.2.1:41641' },
            latencyMs: 0.8,
          },
          { outcome: 'timeout' as const, seq: 1 },
        ],
      }),
    suggestExitNode: async () => ok({ suggestion: null }),
    ...over,
  };
  const server = new LocalApiServer({ handlers, watch, daemonVersion: '0.1.0', log: silent });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-cli-'));
  const socket = path.join(dir, 'd.sock');
  await server.listen(socket, { group: null, mode: 0o600 });
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => server.close());
  return {
    socket,
    setBackend: (b: BackendState) => {
      backend = b;
      watch.statusChanged();
    },
  };
}

function io(env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const cli: CliIo = {
    stdout: (t) => out.push(t),
    stderr: (t) => err.push(t),
    isTTY: false,
    env,
    now: () => new Date('2025-01-15T12:00:30.000Z'),
  };
  return { cli, out: () => out.join(''), err: () => err.join('') };
}

describe('trellis CLI', () => {
  it('up prints the login URL, waits, and finishes once the daemon runs', async () => {
    const d = await daemonStub();
    const o = io();
    const done = runCli(['up', '--socket', d.socket], o.cli);
    await new Promise((r) => setTimeout(r, 150));
    expect(o.err()).toContain('To log in, visit:\n\n\thttp://127.0.0.1:9/login/abc\n');
    expect(o.err()).toContain('Waiting for you to log in...');
    d.setBackend({ state: 'needs-approval' });
    await new Promise((r) => setTimeout(r, 100));
    expect(o.err()).toContain('Waiting for an admin to approve this device...');
    d.setBackend({ state: 'running' });
    expect(await done).toBe(EXIT_OK);
    expect(o.out()).toBe('Trellis is up: alices-macbook.acme.trellis 100.64.0.1\n');
  });

  it('up gives up after --timeout with one line', async () => {
    const d = await daemonStub();
    const o = io();
    expect(await runCli(['up', '--socket', d.socket, '--timeout', '200ms'], o.cli)).toBe(
      EXIT_FAILURE,
    );
    expect(o.err()).toMatch(/trellis: timed out after 0s waiting for Trellis to come up\n$/);
  });

  it('status renders a table or prints the raw Status with --json, using TRELLIS_SOCKET', async () => {
    const d = await daemonStub();
    const t = io({ TRELLIS_SOCKET: d.socket });
    expect(await runCli(['status'], t.cli)).toBe(EXIT_OK);
    expect(t.out()).toContain('NAME    IP          OS');
    expect(t.out()).toContain('peer-1  100.64.0.2  linux');
    const j = io({ TRELLIS_SOCKET: d.socket });
    expect(await runCli(['status', '--json'], j.cli)).toBe(EXIT_OK);
    expect(JSON.parse(j.out())).toMatchObject({
      daemonVersion: '0.1.0',
      peers: [{ name: 'peer-1' }],
    });
  });

  it('ip prints own and peer addresses', async () => {
    const d = await daemonStub();
    const a = io();
    expect(await runCli(['ip', '--socket', d.socket], a.cli)).toBe(EXIT_OK);
    expect(a.out()).toBe('100.64.0.1\nfd7a:115c:a1e0::1\n');
    const b = io();
    expect(await runCli(['ip', '-4', 'peer-1', '--socket', d.socket], b.cli)).toBe(EXIT_OK);
    expect(b.out()).toBe('100.64.0.2\n');
    const c = io();
    expect(await runCli(['ip', 'nobody', '--socket', d.socket], c.cli)).toBe(EXIT_FAILURE);
    expect(c.err()).toBe('trellis: no peer "nobody"\n');
  });

  it('ping prints each attempt and the path', async () => {
    const d = await daemonStub();
    const o = io();
    expect(await runCli(['ping', 'peer-1', '-c', '2', '--socket', d.socket], o.cli)).toBe(EXIT_OK);
    expect(o.out()).toBe(
      'pong from peer-1 via 192.0.2.1:41641 in 0.8ms\ntimeout waiting for peer-1 (seq 1)\n',
    );
  });

  it('exit-node list shows the offered exit nodes; suggest names the pick', async () => {
    const status = sampleStatus(2);
    const [p1, p2] = status.peers as [PeerStatus, PeerStatus];
    status.peers = [
      { ...p1, exitNodeOption: true, exitNode: true, latencyMs: 12.25 },
      { ...p2, exitNodeOption: false },
    ];
    status.exitNode = { id: p1.id, name: p1.name, online: true, allowLAN: true };
    const d = await daemonStub({
      status: async () => ok(status),
      suggestExitNode: async () =>
        ok({
          suggestion: { id: p1.id, name: p1.name, latencyMs: 12.25, reason: 'lowest latency' },
        }),
    });
    const l = io();
    expect(await runCli(['exit-node', 'list', '--socket', d.socket], l.cli)).toBe(EXIT_OK);
    expect(l.out()).toBe(
      [
        'NAME    IP          ONLINE  LATENCY  IN USE',
        `${p1.name}  ${p1.addresses.ipv4}  yes     12.3ms   yes (LAN allowed)`,
        '',
      ].join('\n'),
    );
    const s = io();
    expect(await runCli(['exit-node', 'suggest', '--socket', d.socket], s.cli)).toBe(EXIT_OK);
    expect(s.out()).toBe(
      `Suggested exit node: ${p1.name} (12.3ms): lowest latency\nUse it with: trellis set --exit-node=${p1.name}\n`,
    );
    const none = await daemonStub();
    const n = io();
    expect(await runCli(['exit-node', 'suggest', '--socket', none.socket], n.cli)).toBe(EXIT_OK);
    expect(n.out()).toBe('No exit node is online.\n');
  });

  it('netcheck prints the report, or its JSON with --json', async () => {
    const report = {
      udp: true,
      ipv4: true,
      ipv6: false,
      globalV4: '198.51.100.7:41641',
      globalV6: null,
      mappingVariesByDest: true,
      preferredRegion: 1,
      regionLatencies: { '1': 9.5 },
      portMapping: null,
      measuredAt: '2026-01-02T03:04:05.000Z',
    };
    const d = await daemonStub({ netcheck: async () => ok(report) });
    const t = io();
    expect(await runCli(['netcheck', '--socket', d.socket], t.cli)).toBe(EXIT_OK);
    expect(t.out()).toContain('IPv4:              yes, 198.51.100.7:41641\n');
    expect(t.out()).toContain('    1:     9.5ms\n');
    const j = io();
    expect(await runCli(['netcheck', '--json', '--socket', d.socket], j.cli)).toBe(EXIT_OK);
    expect(JSON.parse(j.out())).toEqual(report);
  });

  it('reports daemon errors, a missing daemon and usage errors as one line with a non-zero exit', async () => {
    const d = await daemonStub();
    const n = io();
    expect(await runCli(['netcheck', '--socket', d.socket], n.cli)).toBe(EXIT_FAILURE);
    expect(n.err()).toBe('trellis: netcheck is not implemented in this version of trellisd\n');
    const m = io();
    expect(
      await runCli(
        ['status', '--socket', path.join(os.tmpdir(), `none-${process.pid}.sock`)],
        m.cli,
      ),
    ).toBe(EXIT_FAILURE);
    expect(m.err()).toBe('trellis: trellisd is not running (no one is listening on its socket)\n');
    const u = io();
    expect(await runCli(['status', '--nope'], u.cli)).toBe(EXIT_USAGE);
    expect(u.err().split('\n')[0]).toMatch(/^trellis: .*nope/);
  });

  it('version prints client and daemon versions', async () => {
    const d = await daemonStub();
    const o = io();
    expect(await runCli(['version', '--socket', d.socket], o.cli)).toBe(EXIT_OK);
    expect(o.out()).toBe('trellis 0.1.0 (LocalAPI 1)\ntrellisd 0.1.0 (LocalAPI 1..1)\n');
  });
});
