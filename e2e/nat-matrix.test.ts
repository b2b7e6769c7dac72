/**
 * Issue #6's checks, in the namespace NAT lab with real trellisd, real wireguard-go and real
 * NATs (docs/lab.md "The NAT-traversal matrix"):
 *
 * - the connectivity matrix: a pair of sites per row, one device each; every pair pings across
 *   the tunnel, and the path (status on both sides, and `trellis ping`) is direct wherever at
 *   least one side maps endpoint-independently (none, easy, double) and neither blocks UDP,
 *   relayed otherwise;
 * - the time from both devices online to the first ping reply and to a direct path, printed
 *   (goal: < 1 s and < 2 s) and asserted only against a bound a loaded machine cannot miss;
 * - the direct fast path (trellisd's default): WireGuard's own endpoint for a direct peer is the
 *   peer's public address, for a relayed one magicsock's loopback proxy;
 * - relay failover: the relayed pair's region stops, the pair moves to the other region and its
 *   pings keep being answered;
 * - control down: the tunnel keeps working; after the NAT in front of one side rebinds (new
 *   public address, mappings flushed) the tunnel recovers and the new endpoint is found.
 *
 * One lab serves every case. Pairs run one after another, each device with a fresh trellisd;
 * pairs no later case needs are stopped when done, so the machine stays quiet for the timings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForWgEndpointAt } from './fast-path-probes.js';
import { DEMO_REGION_IDS } from './lab/demo.js';
import {
  buildMeshLab,
  describePath,
  isDirectAt,
  measureConnect,
  peerStatus,
  pingThroughTunnel,
  waitForPeerPath,
  type ConnectTimes,
  type MeshDevice,
  type MeshLab,
} from './lab/mesh.js';
import type { NatKind } from './lab/nat.js';
import { longestReplyGapMs, pingUntilReply, startPing } from './lab/ping.js';
import { parseHostPort } from './lab/script-output.js';

type PathKind = 'direct' | 'relay';

/** Where WireGuard reaches a peer through magicsock's per-peer proxy. */
const LOOPBACK = '127.0.0.1';

/** Kinds whose mapping is endpoint-independent: a peer can punch a hole towards them. */
const ENDPOINT_INDEPENDENT: ReadonlySet<NatKind> = new Set(['none', 'easy', 'double']);

/**
 * Why a direct path is harder than the rule makes it look, for the failure message. The lab's
 * easy NAT filters by address and port (conntrack), so against a hard NAT, whose mapping towards
 * the easy side is a fresh random port, simultaneous punching is not enough (docs/lab.md).
 */
const DIRECT_NOTES: Readonly<Record<string, string>> = {
  'easy-hard':
    "no direct path: the easy side's router drops the hard side's fresh random port, so that " +
    'mapping must be found by probing many ports (docs/lab.md, "Note on easy-hard")',
};

/** The rule for which path a pair must end up on. */
function expectedPath(a: NatKind, b: NatKind): PathKind {
  if (a === 'blocked' || b === 'blocked') return 'relay'; // no UDP out of a blocked site at all
  return ENDPOINT_INDEPENDENT.has(a) || ENDPOINT_INDEPENDENT.has(b) ? 'direct' : 'relay';
}

const SHORT: Record<NatKind, string> = {
  none: 'no',
  easy: 'ez',
  hard: 'hd',
  double: 'dbl',
  blocked: 'blk',
};
const PAIR_KINDS: readonly (readonly [NatKind, NatKind])[] = [
  ['none', 'none'],
  ['easy', 'easy'],
  ['easy', 'hard'],
  ['hard', 'hard'],
  ['double', 'easy'],
  ['blocked', 'easy'],
];
interface Pair {
  readonly label: string;
  readonly kinds: readonly [NatKind, NatKind];
  readonly expect: PathKind;
  /** Site (and device) names, e.g. 'ez3a' and 'hd3b'. */
  readonly names: readonly [string, string];
}
const PAIRS: readonly Pair[] = PAIR_KINDS.map(([a, b], i) => ({
  label: `${a}-${b}`,
  kinds: [a, b],
  expect: expectedPath(a, b),
  names: [`${SHORT[a]}${i + 1}a`, `${SHORT[b]}${i + 1}b`],
}));
const pairOf = (label: string): Pair => {
  const p = PAIRS.find((x) => x.label === label);
  if (!p) throw new Error(`no pair ${label}`);
  return p;
};
/** Pairs later cases reuse, kept running after their matrix row. */
const FAILOVER_PAIR = pairOf('hard-hard');
const CONTROL_DOWN_PAIR = pairOf('easy-easy');

/** The bound the timings are asserted against: far above the goals, so load cannot flake it. */
const CONNECT_BOUND_MS = 15_000;
/** How long a relayed pair may take to move to the other region. */
const FAILOVER_BOUND_MS = 30_000;
/** Control down + NAT rebinding: until pings are answered again (a relay path is enough)… */
const RECOVERY_BOUND_MS = 30_000;
/** …and until the rebound side's new endpoint carries a direct path (a re-STUN is 20–26 s). */
const NEW_ENDPOINT_BOUND_MS = 60_000;
/** Bringing a pair up: two daemons start (Node + tsx) and register on a shared machine. */
const PAIR_TIMEOUT_MS = 300_000;

let mesh: MeshLab;
const rows = new Map<string, { times: ConnectTimes | null; path: string }>();
const notes: string[] = [];
const devicesOf = (p: Pair): [MeshDevice, MeshDevice] => [
  mesh.device(p.names[0]),
  mesh.device(p.names[1]),
];
const meshIp = async (d: MeshDevice): Promise<string> => (await d.daemon.self()).addresses.ipv4;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function onPath(expected: PathKind, other: MeshDevice) {
  return (p: Parameters<typeof isDirectAt>[0]): boolean =>
    expected === 'direct' ? isDirectAt(p, other.publicAddress) : p?.path.type === 'relay';
}

const ms = (v: number | null): string => (v === null ? '—' : `${v} ms`);

function printSummary(): void {
  const lines = [
    '',
    'NAT matrix: from both devices online to the first ping reply and to a direct path',
    '(goals: first reply < 1000 ms, direct < 2000 ms)',
    `${'pair'.padEnd(14)}${'expected'.padEnd(10)}${'path a → b'.padEnd(30)}${'first reply'.padEnd(13)}direct`,
  ];
  for (const p of PAIRS) {
    const r = rows.get(p.label);
    lines.push(
      `${p.label.padEnd(14)}${p.expect.padEnd(10)}${(r?.path ?? 'not run').padEnd(30)}` +
        `${ms(r?.times?.firstReplyMs ?? null).padEnd(13)}${ms(r?.times?.directMs ?? null)}`,
    );
  }
  lines.push(...notes, '');
  process.stdout.write(`${lines.join('\n')}\n`);
}

beforeAll(async () => {
  mesh = await buildMeshLab({
    sites: PAIRS.flatMap((p) => [
      { name: p.names[0], nat: p.kinds[0] },
      { name: p.names[1], nat: p.kinds[1] },
    ]),
  });
}, 300_000);

afterAll(async () => {
  printSummary();
  await mesh?.dispose();
});

describe('NAT matrix', () => {
  for (const pair of PAIRS) {
    describe(pair.label, () => {
      afterAll(async () => {
        if (pair === FAILOVER_PAIR || pair === CONTROL_DOWN_PAIR || !mesh) return;
        await Promise.all(devicesOf(pair).map((d) => d.daemon.stop()));
      });

      it(
        `pings across the tunnel on a ${pair.expect} path (status and trellis ping agree)`,
        async () => {
          const [a, b] = devicesOf(pair);
          await mesh.start(a.name, b.name);
          await mesh.up(a.name, b.name);
          const times = await measureConnect(a, b, CONNECT_BOUND_MS);
          rows.set(pair.label, { times, path: describePath(await peerStatus(a, b)) });
          expect(times.firstReplyMs, 'no ping reply through the tunnel').not.toBeNull();
          expect(times.firstReplyMs!).toBeLessThanOrEqual(CONNECT_BOUND_MS);
          if (pair.expect === 'direct') {
            expect(times.directMs, DIRECT_NOTES[pair.label] ?? 'no direct path').not.toBeNull();
            expect(times.directMs!).toBeLessThanOrEqual(CONNECT_BOUND_MS);
          }

          // The path both sides report: direct at the other's public address, or a relay.
          const [ab, ba] = await Promise.all([
            waitForPeerPath(a, b, onPath(pair.expect, b), CONNECT_BOUND_MS),
            waitForPeerPath(b, a, onPath(pair.expect, a), CONNECT_BOUND_MS),
          ]);
          rows.set(pair.label, { times, path: describePath(ab.peer) });
          expect(ab.peer.path.type).toBe(pair.expect);
          expect(ba.peer.path.type).toBe(pair.expect);
          // trellisd's default direct fast path: WireGuard itself sends to a direct peer's public
          // address; a relayed peer stays at its loopback proxy in magicsock.
          await Promise.all([
            waitForWgEndpointAt(
              a,
              b,
              pair.expect === 'direct' ? b.publicAddress : LOOPBACK,
              CONNECT_BOUND_MS,
            ),
            waitForWgEndpointAt(
              b,
              a,
              pair.expect === 'direct' ? a.publicAddress : LOOPBACK,
              CONNECT_BOUND_MS,
            ),
          ]);

          // Packets both ways through the tunnel, with the system ping.
          const [ipA, ipB] = await Promise.all([meshIp(a), meshIp(b)]);
          const [there, back] = await Promise.all([
            pingThroughTunnel(a, ipB),
            pingThroughTunnel(b, ipA),
          ]);
          expect(there.replies.length, `${a.name} → ${b.name}`).toBeGreaterThan(0);
          expect(back.replies.length, `${b.name} → ${a.name}`).toBeGreaterThan(0);

          // The path `trellis ping` reports (a → b) and LocalAPI /ping (b → a).
          const cli = await a.daemon.cliPing(ipB, 3);
          const pongs = cli.flatMap((l) => (l.outcome === 'pong' ? [l.via] : []));
          expect(pongs.length, 'trellis ping got no pong').toBeGreaterThan(0);
          for (const via of pongs) {
            expect(via.type).toBe(pair.expect);
            if (via.type === 'direct') {
              expect(parseHostPort(via.endpoint)?.address).toBe(b.publicAddress);
            }
          }
          const api = await b.daemon.ping(ipA, 3);
          const apiPongs = api.results.flatMap((r) => (r.outcome === 'pong' ? [r.path] : []));
          expect(apiPongs.length, 'LocalAPI ping got no pong').toBeGreaterThan(0);
          for (const path of apiPongs) {
            expect(path.type).toBe(pair.expect);
            if (path.type === 'direct') {
              expect(parseHostPort(path.endpoint)?.address).toBe(a.publicAddress);
            }
          }
        },
        PAIR_TIMEOUT_MS,
      );

      it('netcheck on both devices reports what their NAT allows', async () => {
        const [a, b] = devicesOf(pair);
        const reports = await Promise.all([a.daemon.netcheck(), b.daemon.netcheck()]);
        for (const [i, r] of reports.entries()) {
          const d = i === 0 ? a : b;
          const kind = pair.kinds[i]!;
          if (kind === 'blocked') {
            expect(r.udp, `${d.name}: UDP is blocked`).toBe(false);
            expect(r.globalV4).toBeNull();
            continue;
          }
          expect(r.udp, `${d.name}: UDP works`).toBe(true);
          expect(parseHostPort(r.globalV4 ?? '')?.address).toBe(d.publicAddress);
          expect(r.mappingVariesByDest, `${d.name} (${kind})`).toBe(kind === 'hard');
          expect(Object.keys(r.regionLatencies).sort()).toEqual(
            [DEMO_REGION_IDS.builtIn, DEMO_REGION_IDS.second].map(String).sort(),
          );
          expect([DEMO_REGION_IDS.builtIn, DEMO_REGION_IDS.second]).toContain(r.preferredRegion);
        }
      });
    });
  }
});

describe('relay failover', () => {
  it(
    `${FAILOVER_PAIR.label}: its region stops, the pair moves to the other region and keeps answering`,
    async () => {
      const [a, b] = devicesOf(FAILOVER_PAIR);
      const { peer } = await waitForPeerPath(
        a,
        b,
        (p) => p.path.type === 'relay',
        CONNECT_BOUND_MS,
      );
      if (peer.path.type !== 'relay') throw new Error('unreachable: waited for a relay path');
      const used = peer.path.region;
      const other = mesh.regions.find((r) => r.id !== used);
      if (!other) throw new Error(`no region besides ${used}`);
      const ipB = await meshIp(b);
      const ping = await startPing(mesh.lab, a.device.ns, ipB, { intervalS: 0.2 });
      await sleep(1_000);
      const stoppedAt = Date.now();
      await mesh.region(used).stop();
      try {
        await waitForPeerPath(
          a,
          b,
          (p) => p.path.type === 'relay' && p.path.region === other.id,
          FAILOVER_BOUND_MS,
        );
        const movedMs = Date.now() - stoppedAt;
        await waitForPeerPath(
          b,
          a,
          (p) => p.path.type === 'relay' && p.path.region !== used,
          FAILOVER_BOUND_MS,
        );
        // Keep pinging on the new region for a while before judging.
        await sleep(3_000);
        const endedAt = Date.now();
        const run = await ping.stop();
        const gap = longestReplyGapMs(run.replies, stoppedAt, endedAt);
        const answeredLate = run.replies.filter((r) => (r.atMs ?? 0) > endedAt - 2_000);
        notes.push(
          `relay failover (${FAILOVER_PAIR.label}): region ${used} stopped → region ${other.id} ` +
            `in ${movedMs} ms (as ${a.name}'s status shows it, polled every 100 ms); ` +
            `longest gap between ping replies ${gap} ms; ` +
            `${run.replies.length}/${run.transmitted} answered`,
        );
        expect(answeredLate.length, 'pings answered on the new region').toBeGreaterThan(0);
        expect(gap).toBeLessThanOrEqual(FAILOVER_BOUND_MS);
        const cli = await a.daemon.cliPing(ipB, 2);
        const pongs = cli.flatMap((l) => (l.outcome === 'pong' ? [l.via] : []));
        expect(pongs.length).toBeGreaterThan(0);
        for (const via of pongs) expect(via).toEqual({ type: 'relay', region: other.id });
      } finally {
        await ping.stop().catch(() => undefined);
        await mesh.region(used).start();
      }
    },
    PAIR_TIMEOUT_MS,
  );
});

describe('control plane down', () => {
  it(
    `${CONTROL_DOWN_PAIR.label}: the tunnel keeps working; after a NAT rebinding it recovers on the new endpoint`,
    async () => {
      const [a, b] = devicesOf(CONTROL_DOWN_PAIR);
      await waitForPeerPath(a, b, (p) => isDirectAt(p, b.publicAddress), CONNECT_BOUND_MS);
      const [ipA, ipB] = await Promise.all([meshIp(a), meshIp(b)]);
      await mesh.control.stop();
      try {
        const deadline = Date.now() + NEW_ENDPOINT_BOUND_MS;
        for (const d of [a, b]) {
          while ((await d.daemon.status()).controlConnected) {
            if (Date.now() > deadline) throw new Error(`${d.name} did not notice control is down`);
            await sleep(200);
          }
        }
        const steady = await pingThroughTunnel(a, ipB, {
          count: 10,
          intervalS: 0.3,
          replyWaitS: 2,
        });
        expect(steady.replies.length, 'pings answered with control down').toBe(10);

        const old = a.publicAddress;
        const rebindAt = Date.now();
        const fresh = await a.site.rebindNat();
        expect(fresh).not.toBe(old);
        const again = await pingUntilReply(mesh.lab, a.device.ns, ipB, {
          intervalS: 0.2,
          deadlineS: RECOVERY_BOUND_MS / 1000,
        });
        const recoveredAt = again?.atMs ?? null;
        const back = await pingThroughTunnel(b, ipA);
        const found = await waitForPeerPath(
          b,
          a,
          (p) => isDirectAt(p, fresh),
          NEW_ENDPOINT_BOUND_MS,
        ).then(
          () => Date.now() - rebindAt,
          (e: unknown) => e as Error,
        );
        notes.push(
          `control down, ${a.name}'s NAT rebound ${old} → ${fresh}: pings answered again after ` +
            `${ms(recoveredAt === null ? null : recoveredAt - rebindAt)}, direct on the new ` +
            `endpoint after ${ms(typeof found === 'number' ? found : null)}`,
        );
        expect(recoveredAt, 'pings answered again after the rebinding').not.toBeNull();
        expect(back.replies.length, `${b.name} → ${a.name} after the rebinding`).toBeGreaterThan(0);
        if (typeof found !== 'number') throw found;
        const cli = await b.daemon.cliPing(ipA, 2);
        const pongs = cli.flatMap((l) => (l.outcome === 'pong' ? [l.via] : []));
        expect(pongs.length).toBeGreaterThan(0);
        for (const via of pongs) {
          expect(via.type === 'direct' && parseHostPort(via.endpoint)?.address).toBe(fresh);
        }
      } finally {
        await mesh.control.start();
      }
    },
    PAIR_TIMEOUT_MS,
  );
});
