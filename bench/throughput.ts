/**
 * bench/throughput: TCP throughput with iperf3 (one stream, a few seconds) between two devices of
 * the namespace NAT lab (e2e/lab), over
 *
 *   (a) plain wireguard-go with a static config (`wg setconf`) between two easy-NAT sites: the
 *       baseline, the same path with nothing of Trellis on it;
 *   (b) a Trellis direct path between the same two devices;
 *   (c) a Trellis relayed path between two hard-NAT devices (where no direct path exists);
 *   (d) (b) with the direct fast path (`--fast-path on`): WireGuard's own port carries the
 *       packets, magicsock copies none of them. Its daemons run in a second lab of the same
 *       shape (b and c run with `--fast-path off`), built after the first one is gone.
 *
 * It prints Mbit/s per part and the ratios b/a, c/a and d/a (1.0 = as fast as plain WireGuard), and
 * writes the figures as JSON. Every part runs in the same command, on the same machine and lab,
 * so the ratios hold even where the absolute figures depend on the machine. Needs root and the
 * lab's tools (scripts/setup-system.sh); see docs/lab.md.
 *
 *   npm run bench:throughput
 *   npm run bench:throughput -- --seconds 10 --parts a,b --out out/bench/throughput.json
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  buildMeshLab,
  describePath,
  isDirectAt,
  MESH_LAB_TOOLS,
  waitForPeerPath,
  type MeshDevice,
  type MeshLab,
} from '../e2e/lab/mesh.js';
import { requireLabPrerequisites } from '../e2e/lab/netns.js';
import { staticWireGuardLink } from '../e2e/lab/static-wg.js';
import { BENCH_LAB_SITES, machineInfo, parseBenchArgs } from './cli.js';
import { fmt } from './stats.js';
import { runIperf, type IperfResult } from './throughput-iperf.js';

const HELP = `usage: npm run bench:throughput [-- --seconds N] [--parts a,b,c] [--out FILE]

  --seconds N   iperf3 run per part (default 5)
  --parts LIST  which parts: a = plain WireGuard, b = Trellis direct, c = Trellis relayed,
                d = Trellis direct with the fast path
  --out FILE    where to write the JSON result (default out/bench/throughput.json)
`;
const PARTS = ['a', 'b', 'c', 'd'] as const;
/** a2: (a) again in (d)'s lab, right before (d), so d/a2 compares within one lab too. */
type Part = (typeof PARTS)[number] | 'a2';
const PART_LABEL: Record<Part, string> = {
  a: 'plain wireguard-go, static config (easy ↔ easy)',
  b: 'Trellis, direct path (easy ↔ easy)',
  c: 'Trellis, relayed path (hard ↔ hard)',
  d: 'Trellis, direct path, fast path (easy ↔ easy)',
  a2: "plain wireguard-go, static config, in (d)'s lab",
};
const DEFAULT_SECONDS = 5;
const DEFAULT_OUT = 'out/bench/throughput.json';
/** Waiting for Trellis's path before measuring: hole punching takes seconds, not minutes. */
const PATH_TIMEOUT_MS = 60_000;
/** Waiting after the path is direct before measuring (d): a few fast-path ticks. */
const FAST_PATH_SETTLE_MS = 3_000;

interface PartResult {
  readonly part: Part;
  readonly label: string;
  /** The path measured, as a person reads it. */
  readonly path: string | null;
  readonly result: IperfResult | null;
  readonly error: string | null;
}

async function measure(
  part: Part,
  how: () => Promise<{ path: string; result: Awaited<ReturnType<typeof runIperf>> }>,
): Promise<PartResult> {
  const label = PART_LABEL[part];
  process.stdout.write(`(${part}) ${label}…\n`);
  try {
    const { path, result } = await how();
    if (!result.ok) return { part, label, path, result: null, error: result.error.message };
    return { part, label, path, result: result.value, error: null };
  } catch (e) {
    return { part, label, path: null, result: null, error: (e as Error).message };
  }
}

/** iperf3 from `a` to `b` over their mesh addresses. */
async function overTrellis(mesh: MeshLab, a: MeshDevice, b: MeshDevice, seconds: number) {
  const [from, to] = await Promise.all([a.daemon.self(), b.daemon.self()]);
  return runIperf(mesh.lab, {
    server: { ns: b.device.ns, address: to.addresses.ipv4 },
    client: { ns: a.device.ns, address: from.addresses.ipv4 },
    seconds,
  });
}

/** Brings two devices up and waits for `a`'s path to `b` to satisfy `want`. */
async function trellisPair(
  mesh: MeshLab,
  names: readonly [string, string],
  want: (a: MeshDevice, b: MeshDevice) => Parameters<typeof waitForPeerPath>[2],
): Promise<{ a: MeshDevice; b: MeshDevice; path: string }> {
  const [a, b] = [mesh.device(names[0]), mesh.device(names[1])];
  await mesh.start(a.name, b.name);
  await mesh.up(a.name, b.name);
  // A packet asks for the tunnel, as a user's first connection does.
  const ip = (await b.daemon.self()).addresses.ipv4;
  await a.daemon.ping(ip, 1).catch(() => undefined);
  const { peer } = await waitForPeerPath(a, b, want(a, b), PATH_TIMEOUT_MS);
  return { a, b, path: describePath(peer) };
}

/** (a): iperf3 over a static wireguard-go link between ez1 and ez2 (no Trellis running). */
async function plainWireGuard(mesh: MeshLab, seconds: number) {
  const [ez1, ez2] = [mesh.device('ez1'), mesh.device('ez2')];
  const link = await staticWireGuardLink(mesh.lab, ez1.device, ez2.device);
  try {
    const [client, server] = link.ends;
    const result = await runIperf(mesh.lab, {
      server: { ns: server.device.ns, address: server.address },
      client: { ns: client.device.ns, address: client.address },
      seconds,
    });
    return { path: `direct ${ez2.publicAddress}`, result };
  } finally {
    await link.dispose();
  }
}

function report(results: readonly PartResult[], seconds: number): string {
  const mbpsOf = (p: Part) => results.find((r) => r.part === p)?.result?.receivedMbps ?? null;
  const base = mbpsOf('a');
  const base2 = mbpsOf('a2');
  const ratios = (r: PartResult, mbps: number): string =>
    (r.part !== 'a' && r.part !== 'a2' && base ? `   ${r.part}/a = ${fmt(mbps / base, 2)}` : '') +
    (r.part === 'd' && base2 ? `   d/a2 = ${fmt(mbps / base2, 2)}` : '');
  const lines = [
    '',
    `iperf3 TCP, one stream, ${seconds} s per part (receiver's goodput):`,
    ...results.map((r) => {
      const figure = r.result
        ? `${fmt(r.result.receivedMbps).padStart(9)} Mbit/s${ratios(r, r.result.receivedMbps)}`
        : `   failed: ${r.error}`;
      return `  (${r.part.padEnd(2)}) ${r.label.padEnd(50)}${figure}${r.path ? `   [${r.path}]` : ''}`;
    }),
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<number> {
  const opts = parseBenchArgs({
    parts: PARTS,
    count: { name: 'seconds', default: DEFAULT_SECONDS, max: 600 },
    defaultOut: DEFAULT_OUT,
  });
  if (opts === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  requireLabPrerequisites([...MESH_LAB_TOOLS, 'iperf3']);
  process.stdout.write('Building the lab…\n');
  const mesh = await buildMeshLab({
    sites: BENCH_LAB_SITES,
    daemon: { extraArgs: ['--fast-path', 'off'] },
  });
  const results: PartResult[] = [];
  try {
    if (opts.parts.includes('a')) {
      results.push(await measure('a', () => plainWireGuard(mesh, opts.count)));
    }
    if (opts.parts.includes('b')) {
      results.push(
        await measure('b', async () => {
          const { a, b, path } = await trellisPair(
            mesh,
            ['ez1', 'ez2'],
            (_a, b) => (p) => isDirectAt(p, b.publicAddress),
          );
          return { path, result: await overTrellis(mesh, a, b, opts.count) };
        }),
      );
    }
    if (opts.parts.includes('c')) {
      results.push(
        await measure('c', async () => {
          const { a, b, path } = await trellisPair(
            mesh,
            ['hd1', 'hd2'],
            () => (p) => p.path.type === 'relay',
          );
          return { path, result: await overTrellis(mesh, a, b, opts.count) };
        }),
      );
    }
  } finally {
    await mesh.dispose();
  }
  if (opts.parts.includes('d')) {
    process.stdout.write('Building the lab again, with the fast path…\n');
    const fast = await buildMeshLab({
      sites: BENCH_LAB_SITES.slice(0, 2),
      daemon: { extraArgs: ['--fast-path', 'on'] },
    });
    try {
      results.push(await measure('a2', () => plainWireGuard(fast, opts.count)));
      results.push(
        await measure('d', async () => {
          const { a, b, path } = await trellisPair(
            fast,
            ['ez1', 'ez2'],
            (_a, b) => (p) => isDirectAt(p, b.publicAddress),
          );
          // The fast path takes over within a tick of the path becoming trusted.
          await new Promise((r) => setTimeout(r, FAST_PATH_SETTLE_MS));
          return {
            path: `${path}, fast path`,
            result: await overTrellis(fast, a, b, opts.count),
          };
        }),
      );
    } finally {
      await fast.dispose();
    }
  }

  process.stdout.write(report(results, opts.count));
  const mbps = (p: Part): number | null =>
    results.find((r) => r.part === p)?.result?.receivedMbps ?? null;
  const ratio = (p: Part, baseline: Part = 'a'): number | null => {
    const a = mbps(baseline);
    const x = mbps(p);
    return a && x !== null ? x / a : null;
  };
  const json = {
    bench: 'throughput',
    at: new Date().toISOString(),
    machine: machineInfo(),
    secondsPerPart: opts.count,
    parts: Object.fromEntries(results.map((r) => [r.part, r])),
    ratios: {
      bOverA: ratio('b'),
      cOverA: ratio('c'),
      dOverA: ratio('d'),
      dOverA2: ratio('d', 'a2'),
    },
  };
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, `${JSON.stringify(json, null, 2)}\n`);
  process.stdout.write(`wrote ${opts.out}\n`);
  return results.every((r) => r.result !== null) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench:throughput: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
