/**
 * trellisd end to end: a real control plane on loopback, a real trellisd process with the real
 * wireguard-go backend and Linux OS configurator, driven by the real `trellis` CLI.
 *
 * The daemon runs in the host namespace (so it reaches control on 127.0.0.1) with `--netns`: its
 * WireGuard interface, addresses, routes and pings live in a network namespace this test creates
 * and that has no link to anything, so no packet leaves it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalApiErrorBody, NetcheckReport, Status } from '../src/shared/schema/localapi.js';
import { LocalApiClient } from '../src/helper/localapi/client.js';
import { localEndpoints } from '../src/helper/netcheck/local-endpoints.js';
import { systemHostEnv } from '../src/helper/control-client/hostinfo.js';
import {
  MapClient,
  registerDevice,
  startTestControl,
  type RegisteredDevice,
  type TestControl,
} from './harness/control.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const run = crypto.randomBytes(3).toString('hex');
const NETNS = `trhd-${run}`;
/** Unique per run: wireguard-go's UAPI sockets in /var/run/wireguard are shared by all namespaces. */
const TUN = `trhd${run}`;
const WG_PORT = 41641;

function requirePrerequisites(): void {
  if (process.getuid?.() !== 0)
    throw new Error('e2e/helper-daemon needs root (network namespaces, wireguard-go)');
  for (const tool of ['wireguard-go', 'wg', 'ip', 'ping']) {
    const r = spawnSync('sh', ['-c', `command -v ${tool}`]);
    if (r.status !== 0)
      throw new Error(
        `${tool} is missing: install it (scripts/setup-system.sh installs wireguard-go, wireguard-tools, iproute2, iputils-ping)`,
      );
  }
}

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The WireGuard config as the kernel-side tool reports it, minus the private key. */
function wgDump(): string {
  return sh('ip', ['netns', 'exec', NETNS, 'wg', 'show', TUN, 'dump'])
    .split('\n')
    .slice(1) // the interface line carries the private key
    .map((l) =>
      l
        .split('\t')
        .filter((_, i) => i !== 4 && i !== 5 && i !== 6)
        .join('\t'),
    ) // drop handshake time and counters
    .join('\n');
}
const routes = () =>
  sh('ip', ['-n', NETNS, '-j', 'route', 'show', 'dev', TUN]) +
  sh('ip', ['-n', NETNS, '-6', '-j', 'route', 'show', 'dev', TUN]);
const addrs = () => sh('ip', ['-n', NETNS, '-j', 'addr', 'show', 'dev', TUN]);
const linkExists = () => spawnSync('ip', ['-n', NETNS, 'link', 'show', TUN]).status === 0;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('trellisd with the trellis CLI', () => {
  let control: TestControl;
  let controlStopped = false;
  let authKey: string;
  let dir: string;
  let socket: string;
  let stateDir: string;
  let daemon: ChildProcess | null = null;
  let logFile: string;
  let peer: RegisteredDevice;
  let peerMap: MapClient | null = null;

  function startDaemon(): ChildProcess {
    const log = fs.openSync(logFile, 'a');
    const p = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(ROOT, 'src/helper/trellisd.ts'),
        '--state-dir',
        stateDir,
        '--socket',
        socket,
        '--control-url',
        control.url,
        '--tun-name',
        TUN,
        '--backend',
        'wireguard-go',
        '--netns',
        NETNS,
        '--port',
        String(WG_PORT),
        '--log-level',
        'debug',
      ],
      { cwd: ROOT, stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    return p;
  }

  async function waitForDaemon(): Promise<void> {
    const client = new LocalApiClient({ socketPath: socket });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await client.hello();
      if (r.ok) return;
      if (Date.now() > deadline)
        throw new Error(
          `trellisd did not answer: ${r.error.message}\n${fs.readFileSync(logFile, 'utf8').slice(-3000)}`,
        );
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  function trellis(...args: string[]): Promise<CliResult> {
    return trellisWatching(args, () => undefined);
  }

  /** Runs the CLI, handing its stderr so far to `onStderr` as it arrives. */
  function trellisWatching(args: string[], onStderr: (soFar: string) => void): Promise<CliResult> {
    return new Promise((resolve) => {
      const p = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'src/helper/trellis.ts'), ...args],
        {
          cwd: ROOT,
          env: { ...process.env, TRELLIS_SOCKET: socket },
        },
      );
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      p.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        onStderr(stderr);
      });
      p.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }

  async function status(): Promise<Status> {
    const r = await trellis('status', '--json');
    expect(r.code, r.stderr).toBe(0);
    return Status.parse(JSON.parse(r.stdout));
  }

  async function until<T>(
    what: string,
    probe: () => Promise<T | null | undefined | false>,
    timeoutMs = 20_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = await probe();
      if (v) return v;
      if (Date.now() > deadline)
        throw new Error(
          `timed out waiting for ${what}\n${fs.readFileSync(logFile, 'utf8').slice(-3000)}`,
        );
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  function rawRequest(
    method: string,
    p: string,
    body?: string,
    headers: Record<string, string> = {},
  ) {
    return new Promise<{ status: number; body: unknown }>((resolve, reject) => {
      const req = http.request(
        {
          socketPath: socket,
          method,
          path: p,
          headers: { 'content-type': 'application/json', ...headers },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  async function stopDaemon(signal: NodeJS.Signals): Promise<number | null> {
    const p = daemon;
    if (!p || p.exitCode !== null) return p?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill(signal);
    const code = await exited;
    daemon = null;
    return code;
  }

  beforeAll(async () => {
    requirePrerequisites();
    control = await startTestControl('sqlite');
    const network = control.server.bootstrap.network;
    const owner = await control.server.store.users.findByEmail(network.id, control.owner.email);
    if (!owner) throw new Error('no owner');
    authKey = (
      await control.server.store.preauthKeys.create({
        networkId: network.id,
        createdBy: owner.id,
        expiresAt: new Date(Date.now() + 3600_000),
        reusable: true,
        preapproved: true,
      })
    ).key;
    sh('ip', ['netns', 'add', NETNS]);
    sh('ip', ['-n', NETNS, 'link', 'set', 'lo', 'up']);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellisd-e2e-'));
    socket = path.join(dir, 'run', 'trellisd.sock');
    stateDir = path.join(dir, 'state');
    logFile = path.join(dir, 'trellisd.log');
    daemon = startDaemon();
    await waitForDaemon();
  });

  afterAll(async () => {
    await peerMap?.close();
    await stopDaemon('SIGTERM').catch(() => undefined);
    // Whatever a failed test left: our interface (its wireguard-go exits with it) and namespace.
    spawnSync('ip', ['-n', NETNS, 'link', 'del', TUN]);
    spawnSync('ip', ['netns', 'del', NETNS]);
    if (!controlStopped) await control?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts logged out, with a socket only root may use', async () => {
    expect(fs.statSync(socket).mode & 0o777).toBe(0o600);
    // Another user can reach the socket file but the kernel refuses the connection.
    fs.chmodSync(dir, 0o755);
    const probe = spawnSync(
      process.execPath,
      [
        '-e',
        `require('net').connect(${JSON.stringify(socket)}).on('connect',()=>console.log('connected')).on('error',e=>console.log(e.code))`,
      ],
      { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 10_000 },
    );
    expect(probe.stdout.trim()).toBe('EACCES');
    const s = await status();
    expect(s.backend).toEqual({ state: 'needs-login', loginUrl: null });
    expect(linkExists()).toBe(false);
  });

  it('`trellis up --auth-key` registers and brings the interface up', async () => {
    const r = await trellis('up', '--auth-key', authKey, '--timeout', '60s');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Trellis is up: [a-z0-9-]+\.test\.trellis 100\.\d+\.\d+\.\d+\n$/);
    const s = await status();
    expect(s.backend).toEqual({ state: 'running' });
    expect(s.controlConnected).toBe(true);
    expect(s.self?.addresses.ipv4).toMatch(/^100\./);
    expect(addrs()).toContain(s.self?.addresses.ipv4);
    const ip4 = await trellis('ip', '-4');
    expect(ip4.stdout).toBe(`${s.self?.addresses.ipv4}\n`);
  });

  it('shows a second device as a peer, with its endpoint in WireGuard and a route to it', async () => {
    peer = await registerDevice(control.url, { type: 'preauth', key: authKey }, 'peer-box');
    peerMap = new MapClient(control.url, peer.credential, peer.nodeKey);
    await peerMap.until((c) => c.netmap !== null);
    // The peer announces a LAN endpoint (a TEST-NET address: nothing routes there from the namespace).
    peerMap.send({ type: 'update', endpoints: [{ addr: '192.0.2.55:41641', type: 'local' }] });
    const s = await until('peer in status', async () => {
      const st = await status();
      return st.peers.some((p) => p.name === 'peer-box') && st;
    });
    const p = s.peers.find((x) => x.name === 'peer-box')!;
    expect(p.addresses).toEqual(peer.body.addresses);
    await until('peer endpoint in WireGuard', async () => wgDump().includes('192.0.2.55:41641'));
    const dump = wgDump();
    expect(dump).toContain(peer.nodeKey);
    expect(dump).toContain(`${peer.body.addresses.ipv4}/32`);
    expect(dump).toContain('\t25'); // persistent keepalive
    expect(routes()).toContain(peer.body.addresses.ipv4);

    const table = await trellis('status');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(
      /NAME\s+IP\s+OS\s+ONLINE\s+PATH\s+ENDPOINT\s+LATENCY\s+HANDSHAKE\s+RX\/TX/,
    );
    expect(table.stdout).toMatch(
      new RegExp(`peer-box\\s+${peer.body.addresses.ipv4.replace(/\./g, '\\.')}\\s+linux\\s+yes`),
    );

    // Our own endpoints reached control: the peer sees them, with WireGuard's port.
    const expected = localEndpoints(systemHostEnv.interfaces(), WG_PORT, TUN);
    await peerMap.until((c) => {
      const me = c.netmap?.peers.find((x) => x.addresses.ipv4 === s.self?.addresses.ipv4);
      return JSON.stringify(me?.endpoints ?? []) === JSON.stringify(expected);
    }, 10_000);
  });

  it('answers bad requests on the socket with typed errors', async () => {
    const badJson = await rawRequest('POST', '/localapi/v1/up', '{"authKey":');
    expect(badJson.status).toBe(400);
    expect(LocalApiErrorBody.parse(badJson.body).error.code).toBe('bad_request');
    const badBody = await rawRequest(
      'POST',
      '/localapi/v1/ping',
      JSON.stringify({ peer: '', count: 0 }),
    );
    expect(badBody.status).toBe(400);
    expect(LocalApiErrorBody.parse(badBody.body).error.code).toBe('bad_request');
    const unknown = await rawRequest('GET', '/localapi/v1/nothing');
    expect(LocalApiErrorBody.parse(unknown.body).error.code).toBe('not_found');
    const version = await rawRequest('GET', '/localapi/v1/status', undefined, {
      'trellis-localapi-version': '99',
    });
    expect(version.status).toBe(426);
    expect(LocalApiErrorBody.parse(version.body).error.code).toBe('unsupported_version');
  });

  it('pings through the tunnel (no reply from a peer that is not running) and runs a netcheck', async () => {
    const ping = await trellis('ping', 'peer-box', '-c', '1', '--timeout', '200ms');
    expect(ping.code).toBe(1);
    expect(ping.stdout).toBe('timeout waiting for peer-box (seq 0)\n');
    expect(ping.stderr).toBe('trellis: no reply from peer-box\n');
    const unknown = await trellis('ping', 'nobody', '-c', '1');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^trellis: no peer named or addressed "nobody"\n$/);
    // Control's STUN server and relay on loopback are the one region of the relay map.
    const nc = await trellis('netcheck');
    expect(nc.code, nc.stderr).toBe(0);
    expect(nc.stdout).toMatch(/^ {2}UDP: +yes$/m);
    expect(nc.stdout).toMatch(/^ {2}IPv4: +yes, 127\.0\.0\.1:\d+$/m);
    const json = await trellis('netcheck', '--json');
    expect(json.code, json.stderr).toBe(0);
    const report = NetcheckReport.parse(JSON.parse(json.stdout));
    expect(report).toMatchObject({ udp: true, ipv4: true, portMapping: null });
    expect(Object.keys(report.regionLatencies)).toHaveLength(1);
    expect(report.preferredRegion).toBe(Number(Object.keys(report.regionLatencies)[0]));
  });

  it('`trellis down` removes peers, routes and addresses but keeps the login; `up` restores them', async () => {
    const before = wgDump();
    const down = await trellis('down');
    expect(down.code, down.stderr).toBe(0);
    expect((await status()).backend).toEqual({ state: 'stopped' });
    expect(wgDump()).toBe('');
    expect(routes()).not.toContain(peer.body.addresses.ipv4);
    expect(addrs()).not.toContain('100.');
    const registration = fs.readFileSync(path.join(stateDir, 'registration.json'), 'utf8');
    const up = await trellis('up', '--timeout', '30s');
    expect(up.code, up.stderr).toBe(0);
    await until('peers back', async () => wgDump() === before);
    expect(fs.readFileSync(path.join(stateDir, 'registration.json'), 'utf8')).toBe(registration);
  });

  it('`trellis logout` forgets the login; an interactive `trellis up` prints the login URL, waits for the browser, and keeps the device identity', async () => {
    const before = await status();
    const out = await trellis('logout');
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toBe('Logged out.\n');
    const s = await status();
    expect(s.backend).toEqual({ state: 'needs-login', loginUrl: null });
    expect(fs.existsSync(path.join(stateDir, 'registration.json'))).toBe(false);
    expect(wgDump()).toBe('');
    // The user opens the printed URL and signs in with a password, as in a browser.
    let signedIn: Promise<number> | null = null;
    const up = await trellisWatching(['up', '--timeout', '60s'], (text) => {
      const url = /To log in, visit:\n\n\t(\S+)\n/.exec(text)?.[1];
      if (!url || signedIn) return;
      signedIn = fetch(url, {
        method: 'POST',
        body: new URLSearchParams({ email: control.owner.email, password: control.owner.password }),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }).then((r) => r.status);
    });
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain(`To log in, visit:\n\n\t${control.url}/login/`);
    expect(await signedIn).toBe(200);
    expect(up.stdout).toMatch(/^Trellis is up: /);
    const after = await until('running after re-login', async () => {
      const st = await status();
      return st.backend.state === 'running' && st.self !== null && st;
    });
    expect(after.self?.id).toBe(before.self?.id);
    expect(after.self?.addresses).toEqual(before.self?.addresses);
    expect(after.self?.nodeKey).not.toBe(before.self?.nodeKey);
    expect(after.user?.email).toBe(control.owner.email);
    await until('peer back', async () => wgDump().includes(peer.nodeKey));
  });

  it('comes back after kill -9 on the same state: same device, same addresses, same tunnels, no new registration', async () => {
    const s1 = await status();
    const dump = wgDump();
    const registration = fs.readFileSync(path.join(stateDir, 'registration.json'), 'utf8');
    const devices = (await control.server.store.devices.list(control.server.bootstrap.network.id))
      .length;
    await until('netmap cached', async () => fs.existsSync(path.join(stateDir, 'netmap.json')));
    await stopDaemon('SIGKILL');
    daemon = startDaemon();
    await waitForDaemon();
    const s2 = await until('running again', async () => {
      const st = await status();
      return st.backend.state === 'running' && st;
    });
    expect(s2.self?.id).toBe(s1.self?.id);
    expect(s2.self?.addresses).toEqual(s1.self?.addresses);
    await until('same WireGuard config', async () => wgDump() === dump);
    expect(addrs()).toContain(s1.self!.addresses.ipv4);
    expect(fs.readFileSync(path.join(stateDir, 'registration.json'), 'utf8')).toBe(registration);
    expect(
      (await control.server.store.devices.list(control.server.bootstrap.network.id)).length,
    ).toBe(devices);
    await until('connected to control again', async () => (await status()).controlConnected);
  });

  it('keeps the applied WireGuard and OS config untouched when control goes away', async () => {
    const dump = wgDump();
    const r = routes();
    const a = addrs();
    await peerMap?.close();
    peerMap = null;
    await control.stop();
    controlStopped = true;
    const s = await until('control seen as down', async () => {
      const st = await status();
      return !st.controlConnected && st;
    });
    expect(s.backend).toEqual({ state: 'running' });
    expect(s.health.map((h) => h.code)).toContain('control-unreachable');
    // Give the reconnect loop a few rounds against the dead control.
    await new Promise((res) => setTimeout(res, 2000));
    expect(wgDump()).toBe(dump);
    expect(routes()).toBe(r);
    expect(addrs()).toBe(a);
    expect((await status()).peers.map((p) => p.name)).toContain('peer-box');
  });

  it('stops on SIGTERM and leaves the namespace as it found it', async () => {
    expect(await stopDaemon('SIGTERM')).toBe(0);
    expect(linkExists()).toBe(false);
    expect(fs.existsSync(socket)).toBe(false);
    expect(fs.existsSync(path.join(stateDir, 'registration.json'))).toBe(true);
  });
});
