/**
 * The first network-lab test: two device namespaces and a control-plane namespace joined by
 * veths, a real trellis-control, a real trellisd with real wireguard-go in each device namespace,
 * and `ping` across the tunnel. Then: a killed helper restarted on the same state brings the same
 * tunnel back, and stopping leaves each device namespace's links, addresses and routes exactly as
 * they were before the helper started.
 *
 *   ctl (control, routes between the two links)
 *    ├── 10.77.1.0/24 ── d1 (trellisd)
 *    └── 10.77.2.0/24 ── d2 (trellisd)
 *
 * All addresses live only inside namespaces this test creates; nothing links to the host.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Status } from '../src/shared/schema/localapi.js';
import { createLab, netSnapshot, requireLabPrerequisites, type Lab } from './lab/netns.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const TSX = ['--import', 'tsx'];

interface Device {
  readonly name: 'd1' | 'd2';
  ns: string;
  dir: string;
  socket: string;
  tun: string;
  controlUrl: string;
  proc: ChildProcess | null;
}

let lab: Lab;
let control: ChildProcess;
let authKey = '';
const devices: Device[] = [];
const children = new Set<ChildProcess>();

function spawnIn(ns: string, args: string[], logFile: string): ChildProcess {
  const out = fs.openSync(logFile, 'a');
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...TSX, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', out],
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function startDaemon(d: Device): void {
  d.proc = spawnIn(
    d.ns,
    [
      'src/helper/trellisd.ts',
      '--state-dir',
      path.join(d.dir, 'state'),
      '--socket',
      d.socket,
      '--control-url',
      d.controlUrl,
      '--tun-name',
      d.tun,
      '--backend',
      'wireguard-go',
      '--log-level',
      'info',
    ],
    path.join(d.dir, 'trellisd.log'),
  );
  d.proc.stdout?.resume();
}

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | null>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== null) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

/** Runs the real `trellis` CLI against a device's socket. */
function cli(d: Device, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...TSX, 'src/helper/trellis.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, TRELLIS_SOCKET: d.socket },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function status(d: Device): Promise<Status> {
  const r = await cli(d, ['status', '--json']);
  if (r.code !== 0) throw new Error(r.stderr);
  return Status.parse(JSON.parse(r.stdout));
}

async function ping(from: Device, ip: string): Promise<boolean> {
  const r = await lab.exec(from.ns, 'ping', ['-c', '3', '-i', '0.2', '-W', '2', ip]).then(
    () => true,
    () => false,
  );
  return r;
}

async function stopDaemon(d: Device, signal: NodeJS.Signals): Promise<void> {
  const p = d.proc;
  if (!p || p.exitCode !== null) return;
  const exited = new Promise((r) => p.once('exit', r));
  // `ip netns exec` replaces itself with node (execvp), so the signal reaches the daemon itself.
  p.kill(signal);
  await exited;
  d.proc = null;
}

describe('helper lab: two devices, real wireguard-go, ping across the tunnel', () => {
  const before = new Map<string, Awaited<ReturnType<typeof netSnapshot>>>();

  beforeAll(async () => {
    requireLabPrerequisites(['ip', 'wireguard-go', 'wg', 'ping']);
    lab = createLab();
    const ctl = await lab.createNamespace('ctl');
    await lab.exec(ctl, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
    for (const [i, name] of (['d1', 'd2'] as const).entries()) {
      const ns = await lab.createNamespace(name);
      const n = i + 1;
      await lab.createVeth(ctl, `c${n}`, ns, 'eth0');
      await lab.addAddress(ctl, `c${n}`, `10.77.${n}.1/24`);
      await lab.addAddress(ns, 'eth0', `10.77.${n}.2/24`);
      await lab.setUp(ctl, `c${n}`);
      await lab.setUp(ns, 'eth0');
      await lab.exec(ns, 'ip', ['route', 'add', 'default', 'via', `10.77.${n}.1`]);
      await lab.waitLinkReady(ns, 'eth0');
      const dir = path.join(lab.workDir(), name);
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      devices.push({
        name,
        ns,
        dir,
        socket: path.join(dir, 'trellisd.sock'),
        tun: lab.ifname(`w${n}`),
        controlUrl: `http://10.77.${n}.1:8080`,
        proc: null,
      });
    }
    for (const d of devices) before.set(d.name, await netSnapshot(d.ns));

    control = spawnIn(
      ctl,
      [
        'e2e/harness/control-process.ts',
        JSON.stringify({
          listen: { host: '0.0.0.0', port: 8080 },
          stun: { enabled: true, host: '0.0.0.0', port: 3478 },
          network: { name: 'Lab', domain: 'lab.trellis' },
        }),
      ],
      path.join(lab.workDir(), 'control.log'),
    );
    const controlLog = path.join(lab.workDir(), 'control.log');
    const ready = await new Promise<{ authKey: string }>((resolve, reject) => {
      const rl = readline.createInterface({ input: control.stdout! });
      rl.on('line', (l) => l.startsWith('READY ') && resolve(JSON.parse(l.slice(6))));
      control.once('exit', (c) => reject(new Error(`control exited with ${c}: see ${controlLog}`)));
    });
    authKey = ready.authKey;
    for (const d of devices) startDaemon(d);
  }, 120_000);

  afterAll(async () => {
    for (const d of devices) await stopDaemon(d, 'SIGTERM').catch(() => undefined);
    for (const c of children) c.kill('SIGKILL');
    await lab?.dispose();
  });

  it('brings both devices up with a pre-auth key and pings across the tunnel', async () => {
    for (const d of devices) {
      await waitFor(`${d.name} socket`, async () => (fs.existsSync(d.socket) ? true : null));
      const r = await cli(d, [
        'up',
        '--auth-key',
        authKey,
        '--hostname',
        d.name,
        '--timeout',
        '60s',
      ]);
      expect(r.code, r.stderr).toBe(0);
    }
    const [d1, d2] = devices as [Device, Device];
    const s2 = await waitFor('d2 running', async () => {
      const s = await status(d2);
      return s.backend.state === 'running' && s.self ? s : null;
    });
    const ip2 = s2.self!.addresses.ipv4;
    const s1 = await waitFor('d1 sees d2 as a peer', async () => {
      const s = await status(d1);
      return s.peers.some((p) => p.addresses.ipv4 === ip2) ? s : null;
    });
    expect(s1.self?.addresses.ipv4).toMatch(/^100\.64\./);
    await waitFor('ping d1 → d2 over the tunnel', async () =>
      (await ping(d1, ip2)) ? true : null,
    );
    // The path is the direct veth route: d2's WireGuard endpoint is its LAN address.
    const peer = (await status(d1)).peers.find((p) => p.addresses.ipv4 === ip2);
    expect(peer?.lastHandshake).toBeTruthy();
    expect(peer?.rxBytes).toBeGreaterThan(0);
    expect(await ping(d2, s1.self!.addresses.ipv4)).toBe(true);
  });

  it('brings the same tunnel back after the helper is killed and restarted on its state', async () => {
    const [d1, d2] = devices as [Device, Device];
    const before1 = await status(d1);
    const ip2 = (await status(d2)).self!.addresses.ipv4;
    await stopDaemon(d1, 'SIGKILL');
    startDaemon(d1);
    const after1 = await waitFor('d1 running again', async () => {
      const s = await status(d1);
      return s.backend.state === 'running' && s.peers.length > 0 ? s : null;
    });
    expect(after1.self?.id).toBe(before1.self?.id);
    expect(after1.self?.addresses).toEqual(before1.self?.addresses);
    await waitFor('ping after restart', async () => ((await ping(d1, ip2)) ? true : null));
  });

  it('leaves each device namespace as it found it when the helper stops', async () => {
    for (const d of devices) {
      await stopDaemon(d, 'SIGTERM');
      expect(await netSnapshot(d.ns)).toEqual(before.get(d.name));
    }
  });
});
