/**
 * bench/connect: how fast a connection comes up, in the namespace NAT lab (e2e/lab), over
 * several rounds each of
 *
 *   (a) plain wireguard-go with a static config (`wg setconf`) between two easy-NAT devices: the
 *       baseline, a fresh link per round, timed from starting the first wireguard-go (what
 *       `wg-quick up` on both ends does) and, inside that, from both ends configured (WireGuard's
 *       handshake and one round trip);
 *   (b) Trellis between the same two devices, both daemons restarted per round on their state
 *       (still signed in; new disco keys, nothing learned about paths), timed from starting the
 *       daemons: the first ping reply through the tunnel, and the moment the path is direct;
 *   (c) the same between two hard-NAT devices (no direct path exists; plain WireGuard cannot
 *       connect at all), so only the first reply, through the relay.
 *
 * A ping runs every 50 ms from the start of each round (iputils keeps pinging while the tunnel's
 * route is missing), so first replies are exact to 50 ms; the direct path is seen by polling
 * status every 100 ms, so it is at most that late.
 *
 * It prints the median and the slowest round per part and the ratio b/a of the first-reply
 * medians (both from process start), and writes every round as JSON. All parts run in
 * one command on the same lab, so the ratio holds where absolute figures depend on the machine.
 * Needs root and the lab's tools (scripts/setup-system.sh); see docs/lab.md.
 *
 *   npm run bench:connect
 *   npm run bench:connect -- --rounds 10 --parts a,b --out out/bench/connect.json
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { buildMeshLab, MESH_LAB_TOOLS, waitForPeerPath, type MeshLab } from '../e2e/lab/mesh.js';
import { requireLabPrerequisites } from '../e2e/lab/netns.js';
import { startPing } from '../e2e/lab/ping.js';
import { staticWireGuardLink } from '../e2e/lab/static-wg.js';
import { BENCH_LAB_SITES, machineInfo, parseBenchArgs } from './cli.js';
import { fmt, percentile, sortNum } from './stats.js';

const HELP = `usage: npm run bench:connect [-- --rounds N] [--parts a,b,c] [--out FILE]

  --rounds N    connections per part (default 5)
  --parts LIST  which parts: a = plain WireGuard, b = Trellis easy ↔ easy,
                c = Trellis hard ↔ hard (relayed)
  --out FILE    where to write the JSON result (default out/bench/connect.json)
`;
const PARTS = ['a', 'b', 'c'] as const;
type Part = (typeof PARTS)[number];
const PART_LABEL: Record<Part, string> = {
  a: 'plain wireguard-go, static config (easy ↔ easy)',
  b: 'Trellis, daemons restarted (easy ↔ easy)',
  c: 'Trellis, daemons restarted (hard ↔ hard, relayed)',
};
const DEFAULT_ROUNDS = 5;
const DEFAULT_OUT = 'out/bench/connect.json';
/** Ping interval in every part: the first reply's resolution. */
const PING_INTERVAL_S = 0.05;
/** One connection's bound: hole punching takes seconds; a minute means it did not work. */
const CONNECT_TIMEOUT_MS = 60_000;

/** One round's timings (ms from the round's start); null where it did not happen or is n/a. */
interface Round {
  readonly firstReplyMs: number | null;
  /** (a) only: from both ends configured to the first reply. */
  readonly handshakeMs: number | null;
  /** (b) only: until the path is direct. */
  readonly directMs: number | null;
  readonly error: string | null;
}

interface PartResult {
  readonly part: Part;
  readonly label: string;
  readonly rounds: readonly Round[];
}

const ms = (x: number | null): string => `${fmt(x ?? NaN, 0)} ms`;

async function rounds(part: Part, n: number, one: () => Promise<Round>): Promise<Round[]> {
  const out: Round[] = [];
  for (let i = 1; i <= n; i++) {
    let r: Round;
    try {
      r = await one();
    } catch (e) {
      r = { firstReplyMs: null, handshakeMs: null, directMs: null, error: (e as Error).message };
    }
    out.push(r);
    process.stdout.write(
      r.error !== null
        ? `(${part}) round ${i} failed: ${r.error}\n`
        : `(${part}) round ${i}: first reply ${ms(r.firstReplyMs)}` +
            (r.handshakeMs !== null ? `, of which handshake ${ms(r.handshakeMs)}` : '') +
            (part === 'b' ? `, direct ${ms(r.directMs)}` : '') +
            '\n',
    );
  }
  return out;
}

/** (a): a fresh static wireguard-go link between ez1 and ez2. */
async function plainWireGuard(mesh: MeshLab): Promise<Round> {
  const [ez1, ez2] = [mesh.device('ez1'), mesh.device('ez2')];
  const link = await staticWireGuardLink(mesh.lab, ez1.device, ez2.device, {
    pingIntervalS: PING_INTERVAL_S,
  });
  await link.dispose();
  const t = link.timings;
  return {
    firstReplyMs: t.repliedAt - t.startedAt,
    handshakeMs: t.repliedAt - t.upAt,
    directMs: null,
    error: null,
  };
}

/** (b), (c): both daemons restarted on their state (still signed in), timed from the start. */
async function trellisRestart(
  mesh: MeshLab,
  names: readonly [string, string],
  waitDirect: boolean,
): Promise<Round> {
  const [a, b] = [mesh.device(names[0]), mesh.device(names[1])];
  const [aIp, bIp] = await Promise.all([a.daemon.self(), b.daemon.self()]).then((s) =>
    s.map((x) => x.addresses.ipv4),
  );
  await Promise.all([a.daemon.stop(), b.daemon.stop()]);
  // The ping starts before the tunnel (and a's mesh address) exists, so it is bound to that
  // address from the start (the namespace allows binding an address not yet assigned): with the
  // LAN address ping would otherwise pick, b's WireGuard would drop every request.
  await mesh.lab.exec(a.device.ns, 'sysctl', ['-qw', 'net.ipv4.ip_nonlocal_bind=1']);
  const startedAt = Date.now();
  const ping = await startPing(mesh.lab, a.device.ns, bIp!, {
    intervalS: PING_INTERVAL_S,
    deadlineS: CONNECT_TIMEOUT_MS / 1000,
    source: aIp!,
  });
  try {
    await mesh.start(a.name, b.name);
    const [reply, directAt] = await Promise.all([
      ping.firstReply(CONNECT_TIMEOUT_MS),
      waitDirect
        ? waitForPeerPath(a, b, (p) => p.path.type === 'direct', CONNECT_TIMEOUT_MS).then(
            () => Date.now(),
            () => null,
          )
        : Promise.resolve(null),
    ]);
    if (reply === null) throw new Error(`no reply within ${CONNECT_TIMEOUT_MS} ms`);
    return {
      firstReplyMs: (reply.atMs ?? Date.now()) - startedAt,
      handshakeMs: null,
      directMs: directAt === null ? null : directAt - startedAt,
      error: null,
    };
  } finally {
    await ping.stop();
  }
}

interface Summary {
  readonly n: number;
  readonly medianMs: number | null;
  readonly maxMs: number | null;
}

function summarize(xs: readonly (number | null)[]): Summary {
  const ok = sortNum(xs.filter((x): x is number => x !== null));
  if (ok.length === 0) return { n: 0, medianMs: null, maxMs: null };
  return { n: ok.length, medianMs: percentile(ok, 50), maxMs: ok[ok.length - 1] ?? null };
}

const metric = (r: PartResult | undefined, m: 'firstReplyMs' | 'handshakeMs' | 'directMs') =>
  summarize(r?.rounds.map((x) => x[m]) ?? []);

function report(results: readonly PartResult[]): string {
  const base = metric(
    results.find((r) => r.part === 'a'),
    'firstReplyMs',
  ).medianMs;
  const line = (what: string, s: Summary, total: number, extra = '') =>
    `      ${what.padEnd(26)} median ${fmt(s.medianMs ?? NaN, 0).padStart(6)} ms, ` +
    `slowest ${fmt(s.maxMs ?? NaN, 0).padStart(6)} ms (${s.n}/${total} rounds)${extra}`;
  const lines = [
    '',
    `Connection set-up (ms from the start; ping every ${PING_INTERVAL_S * 1000} ms):`,
  ];
  for (const r of results) {
    const n = r.rounds.length;
    lines.push(`  (${r.part}) ${r.label}`);
    const first = metric(r, 'firstReplyMs');
    const ratio =
      r.part === 'b' && base && first.medianMs !== null
        ? `   b/a = ${fmt(first.medianMs / base, 2)}`
        : '';
    lines.push(line('first reply', first, n, ratio));
    if (r.part === 'a') lines.push(line('of which handshake', metric(r, 'handshakeMs'), n));
    if (r.part === 'b') lines.push(line('direct path', metric(r, 'directMs'), n));
    for (const e of new Set(r.rounds.map((x) => x.error).filter(Boolean))) {
      lines.push(`      failed: ${e}`);
    }
  }
  lines.push('');
  return lines.join('\n');
}

async function main(): Promise<number> {
  const opts = parseBenchArgs({
    parts: PARTS,
    count: { name: 'rounds', default: DEFAULT_ROUNDS, max: 100 },
    defaultOut: DEFAULT_OUT,
  });
  if (opts === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  requireLabPrerequisites(MESH_LAB_TOOLS);
  process.stdout.write('Building the lab…\n');
  const mesh = await buildMeshLab({ sites: BENCH_LAB_SITES });
  const results: PartResult[] = [];
  try {
    if (opts.parts.includes('a')) {
      results.push({
        part: 'a',
        label: PART_LABEL.a,
        rounds: await rounds('a', opts.count, () => plainWireGuard(mesh)),
      });
    }
    for (const [part, names] of [
      ['b', ['ez1', 'ez2']],
      ['c', ['hd1', 'hd2']],
    ] as const) {
      if (!opts.parts.includes(part)) continue;
      // Signed in once; every round restarts the daemons on that state.
      await mesh.start(...names);
      await mesh.up(...names);
      results.push({
        part,
        label: PART_LABEL[part],
        rounds: await rounds(part, opts.count, () => trellisRestart(mesh, names, part === 'b')),
      });
      await Promise.all(names.map((n) => mesh.device(n).daemon.stop()));
    }
  } finally {
    await mesh.dispose();
  }

  process.stdout.write(report(results));
  const a = metric(
    results.find((r) => r.part === 'a'),
    'firstReplyMs',
  ).medianMs;
  const b = metric(
    results.find((r) => r.part === 'b'),
    'firstReplyMs',
  ).medianMs;
  const json = {
    bench: 'connect',
    at: new Date().toISOString(),
    machine: machineInfo(),
    pingIntervalMs: PING_INTERVAL_S * 1000,
    parts: Object.fromEntries(
      results.map((r) => [
        r.part,
        {
          ...r,
          firstReply: metric(r, 'firstReplyMs'),
          handshake: metric(r, 'handshakeMs'),
          direct: metric(r, 'directMs'),
        },
      ]),
    ),
    ratios: { firstReplyBOverA: a && b !== null ? b / a : null },
  };
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify(json, null, 2)}\n`);
  process.stdout.write(`wrote ${opts.out}\n`);
  const complete = (r: PartResult) =>
    r.rounds.every((x) => x.error === null && (r.part !== 'b' || x.directMs !== null));
  return results.every(complete) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench:connect: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
