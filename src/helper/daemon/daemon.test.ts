/**
 * The daemon end to end in-process: a scripted control on loopback (HTTP + map stream), the
 * in-memory WireGuard backend (src/helper/wg/fake.ts) and an in-memory OS configurator.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Netmap, Peer } from '../../shared/schema/control/netmap.js';
import { Status, type WatchEvent } from '../../shared/schema/localapi.js';
import { sampleNetmap, samplePeer } from '../../shared/schema/samples.js';
import { StateStore } from '../state/store.js';
import { FakeMapServer, type FakeMapConnection } from '../testing/fake-map-server.js';
import { fakeHostEnv } from '../testing/fake-host.js';
import { FakeOsConfigurator, FakePinger } from '../testing/fake-os.js';
import { waitFor } from '../testing/wait.js';
import { FakeWireGuardBackend, type FakeWireGuardDevice } from '../wg/fake.js';
import { WgError } from '../wg/types.js';
import type { ResolverConfig } from '../dns/server.js';
import { TRELLIS_FWMARK } from '../os/exit-routing.js';
import { issueRelayToken } from '../../control/relay/token.js';
import { keyFromBase64 } from '../../shared/keys.js';
import { Magicsock } from '../magicsock/magicsock.js';
import {
  applyNetmap,
  issuer,
  peerEntry,
  relayMapOf,
  startNode,
  startRelay,
} from '../magicsock/test-harness.js';
import { Daemon, type DaemonDeps } from './daemon.js';
import { silentLogger } from './log.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const TUN = 'trtest0';
const AUTH_KEY = 'tr_auth_0123456789abcdef0123';

interface World {
  control: FakeMapServer;
  dir: string;
  backend: FakeWireGuardBackend;
  os: FakeOsConfigurator;
  pinger: FakePinger;
  registrations: Record<string, unknown>[];
}

async function world(): Promise<World> {
  const control = await FakeMapServer.start();
  cleanups.push(() => control.close());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellisd-test-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const registrations: Record<string, unknown>[] = [];
  control.routes.set('POST /v1/register', (body) => {
    registrations.push(body as Record<string, unknown>);
    return {
      status: 200,
      body: {
        deviceId: 'dev-self',
        nodeCredential: `tr_node_credential_${registrations.length}_abcdef`,
        addresses: { ipv4: '100.64.0.1', ipv6: 'fd7a:115c:a1e0::1' },
        name: 'testbox',
        fqdn: 'testbox.acme.trellis',
        keyExpiry: null,
        approved: true,
        network: { id: 'net1', name: 'Acme', domain: 'acme.trellis' },
      },
    };
  });
  control.routes.set('POST /v1/device/logout', () => ({ status: 204 }));
  return {
    control,
    dir,
    backend: new FakeWireGuardBackend(),
    os: new FakeOsConfigurator(),
    pinger: new FakePinger({ '100.64.0.2': 1.5 }),
    registrations,
  };
}

async function daemon(w: World, extra: Partial<DaemonDeps> = {}): Promise<Daemon> {
  const d = new Daemon(
    { tunName: TUN, listenPort: 41641, mtu: 1280, defaultControlUrl: w.control.url },
    {
      store: await StateStore.open(w.dir),
      backend: w.backend,
      os: w.os,
      hostEnv: fakeHostEnv(),
      pinger: w.pinger,
      log: silentLogger,
      mapOptions: { backoff: { initialMs: 20, maxMs: 50 } },
      ...extra,
    },
  );
  await d.start();
  cleanups.push(() => d.stop());
  return d;
}

function netmapFor(nodeKey: string, peers: Peer[] = [samplePeer(1), samplePeer(2)]): Netmap {
  const nm = sampleNetmap(0);
  return { ...nm, self: { ...nm.self, nodeKey }, peers };
}

const device = (w: World): FakeWireGuardDevice => {
  const d = w.backend.devices.get(TUN);
  if (!d) throw new Error('no device');
  return d;
};
const wgPeers = (w: World) =>
  device(w)
    .deviceState.peers.map((p) => p.publicKey)
    .sort();

/** Logs in with a pre-auth key and feeds the first netmap; returns the live map connection. */
async function upAndRunning(w: World, d: Daemon, peers?: Peer[]): Promise<FakeMapConnection> {
  const n = w.control.connections.length;
  const r = await d.up({ authKey: AUTH_KEY });
  expect(r.ok).toBe(true);
  const conn = await w.control.connection(n);
  const hello = (await waitFor(() => conn.received[0], 'hello')) as { nodeKey: string };
  conn.send({ type: 'full', seq: 1, resumeToken: 'tok', netmap: netmapFor(hello.nodeKey, peers) });
  await waitFor(() => d.backendState().state === 'running', 'running');
  await waitFor(() => w.os.current?.routes.length, 'routes');
  return conn;
}

describe('Daemon', () => {
  it('starts logged out and creates no interface', async () => {
    const w = await world();
    const d = await daemon(w);
    expect(d.backendState()).toEqual({ state: 'needs-login', loginUrl: null });
    expect(w.backend.devices.size).toBe(0);
    const s = await d.status();
    expect(Status.safeParse(s).success).toBe(true);
    expect(s.controlUrl).toBe(w.control.url);
  });

  it('registers with an auth key and host info, then builds the tunnels from the netmap', async () => {
    const w = await world();
    const d = await daemon(w);
    const conn = await upAndRunning(w, d);
    expect(w.registrations).toHaveLength(1);
    expect(w.registrations[0]).toMatchObject({
      auth: { type: 'preauth', key: AUTH_KEY },
      hostInfo: {
        hostname: 'testbox',
        os: 'linux',
        osVersion: '12',
        kernelVersion: '6.1.0-test',
        clientVersion: '0.1.0',
      },
    });
    expect(conn.authorization).toBe('Bearer tr_node_credential_1_abcdef');
    expect(wgPeers(w)).toEqual([samplePeer(1).nodeKey, samplePeer(2).nodeKey].sort());
    expect(device(w).deviceState.listenPort).toBe(41641);
    expect(w.os.current).toMatchObject({
      interfaceName: TUN,
      addresses: ['100.64.0.1/32', 'fd7a:115c:a1e0::1/128'],
      mtu: 1280,
      routes: ['100.64.0.2/32', '100.64.0.3/32', 'fd7a:115c:a1e0::2/128', 'fd7a:115c:a1e0::3/128'],
    });
    // Endpoints: the LAN address with WireGuard's port, as a map update.
    await waitFor(
      () => conn.received.find((m) => (m as { endpoints?: unknown }).endpoints),
      'endpoints update',
    );
    const update = conn.received.find((m) => (m as { endpoints?: unknown }).endpoints) as {
      endpoints: unknown;
    };
    expect(update.endpoints).toEqual([{ addr: '192.0.2.10:41641', type: 'local' }]);
    const s = await d.status();
    expect(s.controlConnected).toBe(true);
    expect(s.self?.addresses.ipv4).toBe('100.64.0.1');
    expect(s.peers.map((p) => p.name)).toEqual(['peer-1', 'peer-2']);
    expect(d.getPrefs().wantRunning).toBe(true);
  });

  it('applies deltas as diffs to the same device', async () => {
    const w = await world();
    const d = await daemon(w);
    const conn = await upAndRunning(w, d);
    const dev = device(w);
    const diffsBefore = dev.diffs.length;
    conn.send({
      type: 'delta',
      seq: 2,
      patch: { peersAdded: [samplePeer(3)], peersRemoved: ['dev-1'] },
    });
    await waitFor(() => wgPeers(w).includes(samplePeer(3).nodeKey), 'peer 3');
    expect(wgPeers(w)).toEqual([samplePeer(2).nodeKey, samplePeer(3).nodeKey].sort());
    expect(device(w)).toBe(dev);
    expect(dev.diffs.length).toBe(diffsBefore + 1);
    expect(dev.diffs.at(-1)).not.toHaveProperty('replacePeers', true);
    await waitFor(() => w.os.current?.routes.includes('100.64.0.4/32'), 'route to peer 3');
  });

  it('keeps the tunnels exactly as they are when control sends garbage or goes away', async () => {
    const w = await world();
    const d = await daemon(w);
    const conn = await upAndRunning(w, d);
    const applied = device(w).applied.length;
    const wgState = JSON.stringify(device(w).deviceState.peers);
    const osState = JSON.stringify(w.os.current);
    conn.sendRaw('{"type":"full","seq":"x"}');
    await w.control.connection(1);
    w.control.refuseWith = 503;
    for (const c of w.control.connections) c.ws.terminate();
    await waitFor(async () => !(await d.status()).controlConnected, 'disconnected');
    await new Promise((r) => setTimeout(r, 150));
    const s = await d.status();
    expect(s.backend).toEqual({ state: 'running' });
    expect(s.health.map((h) => h.code)).toContain('control-unreachable');
    expect(JSON.stringify(device(w).deviceState.peers)).toBe(wgState);
    expect(JSON.stringify(w.os.current)).toBe(osState);
    expect(device(w).applied.length).toBe(applied);
  });

  it('brings the same tunnels back from the cached netmap after a crash, with control down, without registering again', async () => {
    const w = await world();
    const first = await daemon(w);
    await upAndRunning(w, first);
    const peers = wgPeers(w);
    // Wait for the netmap to reach the disk, then "crash": no stop(), the device stays behind.
    await waitFor(() => fs.existsSync(path.join(w.dir, 'netmap.json')), 'netmap saved');
    w.control.refuseWith = 503;
    const leftover = device(w);
    // A crash: the process is gone without stop(); its map stream dies with it.
    const crashed = first as unknown as { stopped: boolean; stopMap(): void };
    crashed.stopMap();
    crashed.stopped = true;

    const second = await daemon(w);
    expect(device(w)).not.toBe(leftover);
    expect(wgPeers(w)).toEqual(peers);
    expect(w.os.current?.addresses).toEqual(['100.64.0.1/32', 'fd7a:115c:a1e0::1/128']);
    expect(second.backendState()).toEqual({ state: 'running' });
    expect((await second.status()).controlConnected).toBe(false);
    expect(w.registrations).toHaveLength(1);
    // When control is back, the same credential streams again.
    w.control.refuseWith = null;
    const conn = await w.control.connection(w.control.connections.length);
    expect(conn.authorization).toBe('Bearer tr_node_credential_1_abcdef');
  });

  it('takes peers and routes down on `down`, keeps state, and restores them on `up`', async () => {
    const w = await world();
    const d = await daemon(w);
    await upAndRunning(w, d);
    const r = await d.down();
    expect(r).toEqual({ ok: true, value: { backend: { state: 'stopped' } } });
    expect(wgPeers(w)).toEqual([]);
    expect(w.os.current).toMatchObject({ addresses: [], routes: [] });
    expect(
      JSON.parse(fs.readFileSync(path.join(w.dir, 'prefs.json'), 'utf8')).prefs.wantRunning,
    ).toBe(false);
    expect(fs.existsSync(path.join(w.dir, 'registration.json'))).toBe(true);
    const n = w.control.connections.length;
    const up = await d.up({});
    expect(up.ok).toBe(true);
    expect(wgPeers(w)).toHaveLength(2);
    expect(w.os.current?.routes).toHaveLength(4);
    await w.control.connection(n);
    expect(w.registrations).toHaveLength(1);
  });

  it('removes the interface and OS config on stop', async () => {
    const w = await world();
    const d = await daemon(w);
    await upAndRunning(w, d);
    await d.stop();
    expect(device(w).closed).toBe(true);
    expect(w.os.current).toBeNull();
  });

  it('logs out at control, forgets the registration and rotates the key for the next login', async () => {
    const w = await world();
    const d = await daemon(w);
    await upAndRunning(w, d);
    const firstKey = (w.registrations[0] as { nodeKey: string }).nodeKey;
    const r = await d.logout();
    expect(r).toEqual({ ok: true, value: { backend: { state: 'needs-login', loginUrl: null } } });
    const logoutCall = w.control.requests.find((q) => q.route === 'POST /v1/device/logout');
    expect(logoutCall?.authorization).toBe('Bearer tr_node_credential_1_abcdef');
    expect(wgPeers(w)).toEqual([]);
    expect(fs.existsSync(path.join(w.dir, 'registration.json'))).toBe(false);
    expect(fs.existsSync(path.join(w.dir, 'netmap.json'))).toBe(false);
    await upAndRunning(w, d);
    expect(w.registrations[1]).toMatchObject({ oldNodeKey: firstKey });
    expect((w.registrations[1] as { nodeKey: string }).nodeKey).not.toBe(firstKey);
    // The logout came while the first netmap's save was still pending: the next login's netmap
    // is cached all the same (it once never was, so a re-login left no tunnels for a restart).
    await waitFor(() => fs.existsSync(path.join(w.dir, 'netmap.json')), 'netmap saved again');
  });

  it('logs in interactively: shows the URL, polls, then registers with the session', async () => {
    const w = await world();
    let complete = false;
    w.control.routes.set('POST /v1/login', () => ({
      status: 201,
      body: {
        url: `${w.control.url}/login/secret`,
        pollToken: 'tr_poll_0123456789abcdef',
        expiresAt: '2030-01-01T00:00:00.000Z',
      },
    }));
    w.control.routes.set('POST /v1/login/poll', async () => {
      await new Promise((r) => setTimeout(r, 30));
      return complete
        ? {
            status: 200,
            body: {
              status: 'complete',
              sessionToken: 'tr_sess_0123456789abcdef',
              user: { id: 'u1', email: 'alice@example.com', name: 'Alice' },
              network: { id: 'net1', name: 'Acme', domain: 'acme.trellis' },
              expiresAt: '2030-01-01T00:00:00.000Z',
            },
          }
        : { status: 200, body: { status: 'pending' } };
    });
    const d = await daemon(w);
    const events: WatchEvent[] = [];
    const off = await d.watch.subscribe(
      { logs: false, deliver: (e) => events.push({ ...e, seq: events.length + 1 } as WatchEvent) },
      false,
    );
    cleanups.push(off);
    const r = await d.loginWith({ method: 'interactive' });
    expect(r).toEqual({
      ok: true,
      value: { backend: { state: 'needs-login', loginUrl: `${w.control.url}/login/secret` } },
    });
    await waitFor(
      () =>
        events.find(
          (e) =>
            e.type === 'status' &&
            e.status.backend.state === 'needs-login' &&
            e.status.backend.loginUrl,
        ),
      'login URL in a watch event',
    );
    complete = true;
    await waitFor(() => w.registrations.length === 1, 'registration');
    expect(w.registrations[0]).toMatchObject({
      auth: { type: 'session', token: 'tr_sess_0123456789abcdef' },
    });
    await waitFor(() => d.backendState().state === 'starting', 'starting');
    expect((await d.status()).user).toEqual({
      id: 'u1',
      email: 'alice@example.com',
      name: 'Alice',
    });
  });

  it('asks for a new login on reauth-required and leaves the tunnels alone', async () => {
    const w = await world();
    const d = await daemon(w);
    const conn = await upAndRunning(w, d);
    const peers = wgPeers(w);
    conn.send({ type: 'reauth-required', reason: 'key-expired', message: 'key expired' });
    await waitFor(() => d.backendState().state === 'needs-login', 'needs-login');
    expect(wgPeers(w)).toEqual(peers);
    expect((await d.status()).health.map((h) => h.code)).toContain('login-required');
  });

  it('reports a refused auth key as a typed error', async () => {
    const w = await world();
    w.control.routes.set('POST /v1/register', () => ({
      status: 401,
      body: { error: { code: 'unauthorized', message: 'missing or invalid credentials' } },
    }));
    const d = await daemon(w);
    const r = await d.up({ authKey: AUTH_KEY });
    expect(!r.ok && r.error.code).toBe('not_logged_in');
    expect(d.backendState().state).toBe('needs-login');
  });

  it('refuses to switch control while registered', async () => {
    const w = await world();
    const d = await daemon(w);
    await upAndRunning(w, d);
    const r = await d.up({ controlUrl: 'https://elsewhere.example.com' });
    expect(!r.ok && r.error.code).toBe('conflict');
  });

  it('installs subnet routes only after accept-routes is turned on', async () => {
    const w = await world();
    const d = await daemon(w);
    const router = {
      ...samplePeer(1),
      allowedIPs: [...samplePeer(1).allowedIPs, '10.9.0.0/16'],
      routesOffered: ['10.9.0.0/16'],
    };
    await upAndRunning(w, d, [router]);
    expect(w.os.current?.routes).not.toContain('10.9.0.0/16');
    const p = await d.patchPrefs({ acceptRoutes: true });
    expect(p.ok && p.value.acceptRoutes).toBe(true);
    expect(w.os.current?.routes).toContain('10.9.0.0/16');
    expect(device(w).deviceState.peers[0]?.allowedIps).toContain('10.9.0.0/16');
  });

  it('pings a peer by name through the pinger and reports the direct path', async () => {
    const w = await world();
    const d = await daemon(w);
    await upAndRunning(w, d);
    const r = await d.ping({ peer: 'PEER-1', count: 2, timeoutMs: 500 });
    expect(r).toEqual({
      ok: true,
      value: {
        peerId: 'dev-1',
        peerName: 'peer-1',
        results: [
          {
            outcome: 'pong',
            seq: 0,
            path: { type: 'direct', endpoint: '192.168.1.1:41641' },
            latencyMs: 1.5,
          },
          {
            outcome: 'pong',
            seq: 1,
            path: { type: 'direct', endpoint: '192.168.1.1:41641' },
            latencyMs: 1.5,
          },
        ],
      },
    });
    expect(w.pinger.calls[0]).toEqual({ address: '100.64.0.2', timeoutMs: 500 });
    const byIp = await d.ping({ peer: 'fd7a:115c:a1e0:0::3', count: 1, timeoutMs: 500 });
    expect(byIp.ok && byIp.value.results).toEqual([{ outcome: 'timeout', seq: 0 }]);
    const missing = await d.ping({ peer: 'nobody', count: 1, timeoutMs: 500 });
    expect(!missing.ok && missing.error.code).toBe('not_found');
  });

  it('reports a failing tunnel as an error and recovers by retrying', async () => {
    const w = await world();
    const d = await daemon(w);
    const conn = await upAndRunning(w, d);
    w.os.failNextApply('ip: RTNETLINK answers: Operation not permitted');
    conn.send({ type: 'delta', seq: 2, patch: { peersAdded: [samplePeer(3)] } });
    await waitFor(() => d.backendState().state === 'error', 'error state');
    const s = await d.status();
    expect(s.backend).toMatchObject({
      state: 'error',
      message: expect.stringContaining('not permitted'),
    });
    expect(s.health.map((h) => h.code)).toContain('tunnel-config-failed');
    await waitFor(() => d.backendState().state === 'running', 'recovered', 5000);
    expect(w.os.current?.routes).toContain('100.64.0.4/32');
  });

  it('recreates a WireGuard device whose process died', async () => {
    const w = await world();
    const d = await daemon(w);
    const conn = await upAndRunning(w, d);
    const dead = device(w);
    dead.failNextApply(new WgError('process_exited', 'wireguard-go exited'));
    conn.send({ type: 'delta', seq: 2, patch: { peersAdded: [samplePeer(3)] } });
    await waitFor(
      () => device(w) !== dead && wgPeers(w).length === 3,
      'new device with all peers',
      5000,
    );
    expect(d.backendState().state).toBe('running');
  });

  it('never reports a fresh disco key twice (new each start) and keeps the node key', async () => {
    const w = await world();
    const d1 = await daemon(w);
    await upAndRunning(w, d1);
    const hello1 = w.control.connections[0]!.received[0] as { discoKey: string; nodeKey: string };
    await d1.stop();
    const d2 = await daemon(w);
    const conn = await w.control.connection(1);
    const hello2 = (await waitFor(() => conn.received[0], 'hello')) as {
      discoKey: string;
      nodeKey: string;
    };
    expect(hello2.nodeKey).toBe(hello1.nodeKey);
    expect(hello2.discoKey).not.toBe(hello1.discoKey);
    expect(d2.backendState().state).toBe('running');
  });

  it('routes through the exit node set in prefs, points DNS through it, and reports it', async () => {
    const w = await world();
    const applied: (ResolverConfig | null)[] = [];
    let closed = false;
    const dns = {
      update: async (c: ResolverConfig | null) => (applied.push(c), []),
      close: async () => void (closed = true),
    };
    const d = await daemon(w, { dns });
    const exit = { ...samplePeer(2), exitNodeOffered: true };
    await upAndRunning(w, d, [samplePeer(1), exit]);
    expect(w.os.current?.exitRouting).toBeNull();
    expect(device(w).deviceState.fwmark).toBe(0);

    const p = await d.patchPrefs({
      exitNode: { type: 'name', name: 'peer-2' },
      exitNodeAllowLAN: true,
    });
    expect(p.ok).toBe(true);
    expect(w.os.current?.exitRouting).toMatchObject({ allowLan: true });
    expect(w.os.current?.exitRouting?.bypass).toContain('192.168.1.1');
    expect(device(w).deviceState.fwmark).toBe(TRELLIS_FWMARK);
    const exitWg = device(w).deviceState.peers.find((x) => x.publicKey === exit.nodeKey);
    expect(exitWg?.allowedIps).toEqual(expect.arrayContaining(['0.0.0.0/0', '::/0']));
    // The sample netmap has nameservers, so DNS goes to them; system DNS points at MagicDNS.
    expect(w.os.current?.dns?.nameservers).toEqual(['100.100.100.100']);
    expect(w.os.current?.localAddresses).toEqual(['100.100.100.100/32']);
    expect(applied.at(-1)?.listen).toEqual(['100.100.100.100']);
    const s = await d.status();
    expect(s.exitNode).toEqual({ id: exit.id, name: exit.name, online: true, allowLAN: true });
    expect(s.peers.find((x) => x.id === exit.id)?.exitNode).toBe(true);
    expect(s.health.map((h) => h.code)).not.toContain('exit-node-unavailable');

    // An exit node that is not offered: traffic stays routed into the tunnel (fail closed).
    await d.patchPrefs({ exitNode: { type: 'name', name: 'peer-1' } });
    expect(w.os.current?.exitRouting).not.toBeNull();
    expect(device(w).deviceState.peers.flatMap((x) => x.allowedIps)).not.toContain('0.0.0.0/0');
    const s2 = await d.status();
    expect(s2.exitNode).toBeNull();
    expect(s2.health.find((h) => h.code === 'exit-node-unavailable')?.message).toMatch(/peer-1/);

    await d.patchPrefs({ exitNode: null, acceptDNS: false });
    expect(w.os.current?.exitRouting).toBeNull();
    expect(w.os.current?.dns).toBeNull();
    expect(applied.at(-1)).toBeNull();
    await d.down();
    expect(w.os.current).toMatchObject({
      addresses: [],
      exitRouting: null,
      forwarding: false,
      dns: null,
    });
    await d.stop();
    expect(closed).toBe(true);
  });

  it('reports the running processes posture asks about, and again when that changes', async () => {
    const w = await world();
    let running = ['/usr/sbin/sshd'];
    const d = await daemon(w, {
      hostEnv: { ...fakeHostEnv(), runningExecutables: async () => running },
    });
    const conn = await upAndRunning(w, d);
    conn.send({
      type: 'delta',
      seq: 2,
      patch: { postureQueries: { processPaths: ['/opt/edr/agent'] } },
    });
    const reported = () =>
      conn.received
        .map((m) => (m as { hostInfo?: { posture: { runningProcesses: string[] } } }).hostInfo)
        .filter((h) => h !== undefined)
        .at(-1)?.posture.runningProcesses;
    await waitFor(() => reported()?.length === 0, 'report without it');
    running = ['/usr/sbin/sshd', '/opt/edr/agent'];
    conn.send({
      type: 'delta',
      seq: 3,
      patch: { postureQueries: { processPaths: ['/opt/edr/agent', '/x'] } },
    });
    // Sent on the netmap change, well before the periodic check (POSTURE_REFRESH_INTERVAL_MS).
    await waitFor(() => reported()?.includes('/opt/edr/agent'), 'report with it', 5000);
  });
});

describe('Daemon with magicsock', () => {
  it('gives WireGuard loopback proxies, pings with disco and shows the path it measured', async () => {
    const relay = await startRelay(1);
    cleanups.push(() => relay.close());
    const relayMap = relayMapOf([{ id: 1, relay }]);
    const peer = await startNode(1);
    cleanups.push(
      () => peer.ms.close(),
      () => peer.wg.close(),
    );
    const ms = new Magicsock({ port: 0, log: silentLogger, bind4: '127.0.0.1', bind6: null });
    const w = await world();
    const d = await daemon(w, { magicsock: ms });
    const n = w.control.connections.length;
    expect((await d.up({ authKey: AUTH_KEY })).ok).toBe(true);
    const conn = await w.control.connection(n);
    const hello = (await waitFor(() => conn.received[0], 'hello')) as {
      nodeKey: string;
      discoKey: string;
    };
    expect(hello.discoKey).toBe(ms.discoPublicKey);
    const nodeKey = keyFromBase64(hello.nodeKey);
    if (!nodeKey.ok) throw new Error('node key');
    const token = await issueRelayToken(issuer.privateKey, {
      nodeKey: nodeKey.value,
      networkId: 'net1',
    });
    conn.send({
      type: 'full',
      seq: 1,
      resumeToken: 'tok',
      netmap: {
        ...netmapFor(hello.nodeKey, [peerEntry(peer)]),
        relayMap,
        relayToken: { token, expiresAt: '2099-01-01T00:00:00.000Z' },
      },
    });
    await waitFor(() => d.backendState().state === 'running', 'running');
    // The peer knows us as its netmap would say: our disco key and magicsock's port.
    await applyNetmap(
      peer,
      [
        {
          ...samplePeer(9),
          nodeKey: hello.nodeKey,
          discoKey: hello.discoKey,
          endpoints: [{ addr: `127.0.0.1:${ms.port}`, type: 'local' }],
        },
      ],
      relayMap,
    );

    // WireGuard listens on a port of its own and reaches the peer at a loopback proxy.
    const wg = await waitFor(() => device(w).deviceState, 'device');
    expect(wg.listenPort).not.toBe(ms.port);
    expect(wg.peers[0]?.endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(wg.peers[0]?.endpoint).not.toBe(`127.0.0.1:${peer.ms.port}`);

    const r = await d.ping({ peer: 'peer-1', count: 2, timeoutMs: 2000 });
    expect(r.ok && r.value.results.map((a) => a.outcome === 'pong' && a.path)).toContainEqual({
      type: 'direct',
      endpoint: `127.0.0.1:${peer.ms.port}`,
    });
    await waitFor(
      async () => (await d.status()).peers[0]?.path.type === 'direct',
      'status shows the direct path',
    );
    const s = await d.status();
    expect(s.peers[0]?.path).toEqual({
      type: 'direct',
      fastPath: false,
      endpoint: `127.0.0.1:${peer.ms.port}`,
    });
    expect(s.peers[0]?.latencyMs).toBeGreaterThanOrEqual(0);
    // Our home region went to control.
    await waitFor(
      () =>
        conn.received.some(
          (m) => (m as { preferredRelayRegion?: number }).preferredRelayRegion === 1,
        ),
      'preferredRelayRegion reported',
    );
  });
});

describe('Daemon: system DNS refused by the OS layer', () => {
  it('keeps running and reports the reason as a dns-config-failed health warning', async () => {
    const w = await world();
    const reason =
      "system DNS not set: not changing DNS: /etc/resolv.conf may be the host's or another namespace's: this process is in network namespace net:[4026532177], not the initial one";
    Object.assign(w.os, { warnings: () => [reason] });
    const d = await daemon(w);
    await upAndRunning(w, d);
    const s = await d.status();
    expect(s.backend.state).toBe('running');
    expect(s.health.find((h) => h.code === 'dns-config-failed')).toMatchObject({
      severity: 'warning',
      message: `MagicDNS: ${reason}`,
    });
  });
});
