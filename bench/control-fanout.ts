/**
 * bench/control-fanout: N simulated devices hold real netmap WebSocket streams to a real
 * trellis-control (SQLite, its own process). One device at a time reports a new endpoint; we time
 * how long until every other device has the delta (p50/p99 over all deliveries, and per change
 * until the last device has it), the server's CPU time per change and its memory.
 *
 * Baseline, same run: a bare `ws` server that broadcasts one pre-serialized message per change
 * to the same N clients — the cost of fan-out itself. Ratios near 1 mean the control plane adds
 * little on top of pushing bytes into sockets.
 *
 *   npx tsx bench/control-fanout.ts            (N=1000, 30 changes)
 *   BENCH_N=2000 BENCH_CHANGES=50 npx tsx bench/control-fanout.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import readline from 'node:readline';
import WebSocket from 'ws';
import { generateKeyPair, keyToBase64 } from '../src/shared/keys.js';
import { fmt, percentile, processCpuMs, processRssMiB, sortNum } from './stats.js';

const N = Number(process.env.BENCH_N ?? 1000);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 30);
/** Registrations and connections in flight at once: enough to saturate the server, not the client. */
const CONCURRENCY = 32;
/** Client keepalive period: the map stream's own (MAP_KEEPALIVE_INTERVAL_SECONDS). */
const KEEPALIVE_MS = 30_000;
/** Pause between changes so one change's fan-out never overlaps the next one's timing. */
const SETTLE_MS = 100;

interface Started {
  child: ChildProcess;
  info: { url: string; pid: number; email?: string; password?: string };
}

function startChild(script: string): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const rl = readline.createInterface({ input: child.stdout! });
    rl.on('line', (line) => {
      if (line.startsWith('BENCH ')) resolve({ child, info: JSON.parse(line.slice(6)) });
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

async function pool<T>(items: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(items);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONCURRENCY, items) }, async () => {
      while (next < items) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}

async function postJson(url: string, body: unknown): Promise<any> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${url}: ${r.status} ${text}`);
  return JSON.parse(text);
}

async function signIn(base: string, email: string, password: string): Promise<string> {
  const start = await postJson(`${base}/v1/login`, { clientName: 'bench' });
  const page = await fetch(start.url, {
    method: 'POST',
    body: new URLSearchParams({ email, password }),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  if (page.status !== 200) throw new Error(`sign-in failed: ${page.status}`);
  const poll = await postJson(`${base}/v1/login/poll`, { pollToken: start.pollToken });
  return poll.sessionToken as string;
}

/** A simulated device: one socket; notes when a given marker first arrives. */
/** Last time any simulated device heard anything: the bench waits for quiet before measuring. */
let lastMessageAt = 0;

class Device {
  ws!: WebSocket;
  gotFull = false;
  closed = false;
  watch: { marker: string; resolve: (t: number) => void } | null = null;
  constructor(readonly index: number) {}

  connect(url: string, headers: Record<string, string>, hello: unknown): Promise<void> {
    return new Promise((resolve, reject) => {
      this.ws = new WebSocket(url, { headers, perMessageDeflate: false });
      this.ws.on('open', () => {
        if (hello) {
          this.ws.send(JSON.stringify(hello));
          // Like a real helper: keepalives, or control drops the stream as idle.
          const t = setInterval(
            () => this.ws.readyState === WebSocket.OPEN && this.ws.send('{"type":"keepalive"}'),
            KEEPALIVE_MS,
          );
          this.ws.on('close', () => clearInterval(t));
        } else {
          this.gotFull = true;
          resolve();
        }
      });
      this.ws.on('close', () => (this.closed = true));
      this.ws.on('message', (data) => {
        const text = data.toString();
        // Keepalives arrive all the time from 5,000 streams; quiet means no netmap traffic.
        if (text !== '{"type":"keepalive"}') lastMessageAt = performance.now();
        if (!this.gotFull && text.startsWith('{"type":"full"')) {
          this.gotFull = true;
          resolve();
          return;
        }
        if (this.watch && text.includes(this.watch.marker)) {
          const w = this.watch;
          this.watch = null;
          w.resolve(performance.now());
        }
      });
      this.ws.on('error', reject);
    });
  }
}

interface Result {
  label: string;
  deliveryMs: number[];
  lastMs: number[];
  cpuPerChangeMs: number;
  rssMiB: number;
}

async function measure(label: string, devices: Device[], serverPid: number): Promise<Result> {
  const deliveryMs: number[] = [];
  const lastMs: number[] = [];
  const run = async (k: number, record: boolean) => {
    const src = devices[k % devices.length]!;
    const marker = `198.51.100.${k % 250}:${20000 + k}`;
    const waits = devices
      .filter((d) => d !== src)
      .map((d) => new Promise<number>((resolve) => (d.watch = { marker, resolve })));
    const t0 = performance.now();
    src.ws.send(JSON.stringify({ type: 'update', endpoints: [{ addr: marker, type: 'stun' }] }));
    const times = await Promise.race([
      Promise.all(waits),
      new Promise<never>((_, rej) =>
        setTimeout(
          () => rej(new Error(`${label}: change ${k} did not reach everyone in 60 s`)),
          60_000,
        ),
      ),
    ]);
    if (record) {
      for (const t of times) deliveryMs.push(t - t0);
      lastMs.push(Math.max(...times) - t0);
    }
    await new Promise((r) => setTimeout(r, SETTLE_MS));
  };
  for (let k = 0; k < 3; k++) await run(1000 + k, false); // warm-up: JIT, caches
  const profile = process.env.BENCH_PROFILE && label === 'trellis';
  if (profile) process.kill(serverPid, 'SIGUSR2');
  const cpu0 = processCpuMs(serverPid);
  for (let k = 0; k < CHANGES; k++) await run(k, true);
  const cpu1 = processCpuMs(serverPid);
  if (profile) {
    process.kill(serverPid, 'SIGUSR2');
    await new Promise((r) => setTimeout(r, 2000));
  }
  return {
    label,
    deliveryMs: sortNum(deliveryMs),
    lastMs: sortNum(lastMs),
    cpuPerChangeMs: (cpu1 - cpu0) / CHANGES,
    rssMiB: processRssMiB(serverPid),
  };
}

async function benchTrellis(): Promise<Result> {
  const { child, info } = await startChild('bench/control-server.ts');
  try {
    const session = await signIn(info.url, info.email!, info.password!);
    let t = performance.now();
    const regs = await pool(N, async (i) => {
      const nodeKey = keyToBase64(generateKeyPair().publicKey);
      const body = await postJson(`${info.url}/v1/register`, {
        nodeKey,
        hostInfo: {
          hostname: `sim${i}`,
          os: 'linux',
          osVersion: '12',
          clientVersion: '0.1.0',
          posture: { runningProcesses: [], localNetworks: [] },
          advertisedRoutes: [],
          advertiseExitNode: false,
        },
        auth: { type: 'session', token: session },
      });
      return { nodeKey, credential: body.nodeCredential as string };
    });
    console.log(`trellis: registered ${N} devices in ${fmt((performance.now() - t) / 1000)} s`);
    t = performance.now();
    const devices = regs.map((_, i) => new Device(i));
    const wsUrl = `${info.url.replace(/^http/, 'ws')}/v1/map`;
    await pool(N, (i) =>
      devices[i]!.connect(
        wsUrl,
        { authorization: `Bearer ${regs[i]!.credential}` },
        {
          type: 'hello',
          version: 1,
          nodeKey: regs[i]!.nodeKey,
          discoKey: keyToBase64(generateKeyPair().publicKey),
        },
      ),
    );
    console.log(
      `trellis: ${N} streams connected with full netmaps in ${fmt((performance.now() - t) / 1000)} s`,
    );
    // Let the connection storm's presence deltas drain: measure only once every stream is quiet.
    while (performance.now() - lastMessageAt < 2000) await new Promise((r) => setTimeout(r, 250));
    const closed = devices.filter((d) => d.closed).length;
    if (closed)
      throw new Error(`${closed} streams were closed by the server during the connection storm`);
    console.log(`trellis: quiet after ${fmt((performance.now() - t) / 1000)} s`);
    const r = await measure('trellis', devices, info.pid);
    for (const d of devices) d.ws.terminate();
    return r;
  } finally {
    child.kill('SIGTERM');
  }
}

async function benchBaseline(): Promise<Result> {
  const { child, info } = await startChild('bench/ws-broadcast-server.ts');
  try {
    const devices = Array.from({ length: N }, (_, i) => new Device(i));
    const wsUrl = info.url.replace(/^http/, 'ws');
    await pool(N, (i) => devices[i]!.connect(wsUrl, {}, null));
    const r = await measure('bare ws broadcast', devices, info.pid);
    for (const d of devices) d.ws.terminate();
    return r;
  } finally {
    child.kill('SIGTERM');
  }
}

const base = await benchBaseline();
const trellis = await benchTrellis();
const row = (r: Result) =>
  `| ${r.label} | ${fmt(percentile(r.deliveryMs, 50))} | ${fmt(percentile(r.deliveryMs, 99))} | ${fmt(percentile(r.lastMs, 50))} | ${fmt(percentile(r.lastMs, 99))} | ${fmt(r.cpuPerChangeMs)} | ${fmt(r.rssMiB, 0)} |`;
console.log(`\ncontrol-fanout: N=${N} devices, ${CHANGES} changes, one at a time\n`);
console.log(
  '| server | delivery p50 ms | delivery p99 ms | all-reached p50 ms | all-reached p99 ms | server CPU ms/change | server RSS MiB |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
console.log(row(base));
console.log(row(trellis));
const ratio = (a: number, b: number) => fmt(a / b, 2);
console.log(
  `\nratios trellis / bare broadcast: delivery p50 ${ratio(percentile(trellis.deliveryMs, 50), percentile(base.deliveryMs, 50))}, ` +
    `p99 ${ratio(percentile(trellis.deliveryMs, 99), percentile(base.deliveryMs, 99))}, ` +
    `all-reached p99 ${ratio(percentile(trellis.lastMs, 99), percentile(base.lastMs, 99))}, CPU/change ${ratio(trellis.cpuPerChangeMs, base.cpuPerChangeMs)}`,
);
process.exit(0);
