/**
 * A Trellis mesh in the NAT lab: the demo lab's internet (control, relay regions 1 and 2 as hosts
 * of their own, so each can be stopped alone) and sites of chosen NAT kinds with one device each,
 * every device with its own trellisd (trellisd.ts) that joins with control's pre-auth key.
 *
 * Helpers for the NAT-traversal checks (e2e/nat-matrix.test.ts, bench/throughput.ts): wait for a
 * peer's path, ping through the tunnel with the system ping inside a device's namespace, time a
 * connection from "both online" to the first reply and to a direct path; stopping and starting a
 * region or control and rebinding a site's NAT are on `control`, `region(id)` and `site`.
 */
import { join } from 'node:path';
import type { PeerStatus, Status } from '../../src/shared/schema/localapi.js';
import { buildDemoLab, type DemoControl, type DemoLab, type DemoRegion } from './demo.js';
import type { NatKind } from './nat.js';
import { requireLabPrerequisites } from './netns.js';
import { pingUntilReply, runPing, type PingOptions, type PingRun } from './ping.js';
import { parseHostPort } from './script-output.js';
import type { Device, NatLab, Site } from './topology.js';
import { LabTrellisd, type LabTrellisdOptions } from './trellisd.js';

/** What the mesh lab needs on the machine (besides root). */
export const MESH_LAB_TOOLS = ['nft', 'ping', 'wireguard-go', 'wg', 'conntrack'] as const;
/** Status polls while waiting for a path: fine enough for the timings we print. */
const STATUS_POLL_MS = 100;
/** Each device's log is also written here when set, and kept after the lab is gone. */
export const LOG_DIR_ENV = 'TRELLIS_LAB_LOG_DIR';

export interface MeshSiteSpec {
  /** The site's name; its one device has the same name (and hostname). */
  readonly name: string;
  readonly nat: NatKind;
  /** The site router runs miniupnpd (NAT-PMP/PCP). */
  readonly portMapping?: boolean;
}

export interface MeshDevice {
  readonly name: string;
  readonly site: Site;
  readonly device: Device;
  readonly daemon: LabTrellisd;
  /** The address the internet sees it at now (follows site.rebindNat()). */
  readonly publicAddress: string;
}

export interface MeshLab {
  readonly demo: DemoLab;
  readonly lab: NatLab;
  readonly control: DemoControl;
  readonly regions: readonly DemoRegion[];
  readonly devices: readonly MeshDevice[];
  device(name: string): MeshDevice;
  region(id: number): DemoRegion;
  /** Starts these devices' daemons (all when none are named), concurrently. */
  start(...names: string[]): Promise<void>;
  /** `trellis up --auth-key` on these devices (all when none are named), concurrently. */
  up(...names: string[]): Promise<void>;
  dispose(): Promise<void>;
}

export interface MeshLabOptions {
  readonly sites: readonly MeshSiteSpec[];
  /** Start every daemon and bring it up before returning (default false). */
  readonly upAll?: boolean;
  readonly daemon?: Omit<LabTrellisdOptions, 'controlUrl' | 'logFile'>;
}

export async function buildMeshLab(options: MeshLabOptions): Promise<MeshLab> {
  requireLabPrerequisites(MESH_LAB_TOOLS);
  const daemons = new Map<string, LabTrellisd>();
  const logDir = process.env[LOG_DIR_ENV];
  const demo = await buildDemoLab({
    builtInRelay: false,
    sites: options.sites.map((s) => ({
      name: s.name,
      nat: s.nat,
      devices: [s.name],
      ...(s.portMapping ? { portMapping: true } : {}),
    })),
    onDevice: async ({ lab, device, control }) => {
      const logFile = logDir ? join(logDir, `${lab.prefix}-${device.name}.log`) : undefined;
      daemons.set(
        device.name,
        new LabTrellisd(lab, device, {
          ...options.daemon,
          controlUrl: control.url,
          ...(logFile ? { logFile } : {}),
        }),
      );
    },
  });
  const devices: MeshDevice[] = demo.sites.map((site) => {
    const [device] = site.devices();
    const daemon = device && daemons.get(device.name);
    if (!device || !daemon) throw new Error(`site ${site.name} has no device`);
    return {
      name: device.name,
      site,
      device,
      daemon,
      get publicAddress() {
        // The site's live device record, which rebindNat() updates.
        return device.publicAddress;
      },
    };
  });
  const byName = (name: string): MeshDevice => {
    const d = devices.find((x) => x.name === name);
    if (!d) throw new Error(`no device ${name} in the mesh lab`);
    return d;
  };
  const pick = (names: string[]): MeshDevice[] =>
    names.length === 0 ? devices : names.map(byName);
  const mesh: MeshLab = {
    demo,
    lab: demo.lab,
    control: demo.control,
    regions: demo.regions,
    devices,
    device: byName,
    region: (id) => {
      const r = demo.regions.find((x) => x.id === id);
      if (!r) throw new Error(`no region ${id}`);
      return r;
    },
    start: async (...names) => {
      await Promise.all(pick(names).map((d) => d.daemon.start()));
    },
    up: async (...names) => {
      await Promise.all(pick(names).map((d) => d.daemon.up(demo.control.authKey)));
    },
    dispose: () => demo.lab.dispose(),
  };
  try {
    if (options.upAll) {
      await mesh.start();
      await mesh.up();
    }
    return mesh;
  } catch (e) {
    await mesh.dispose();
    throw e;
  }
}

/** `to` as `from` sees it right now, or undefined when it is not in from's netmap. */
export async function peerStatus(
  from: MeshDevice,
  to: MeshDevice,
): Promise<PeerStatus | undefined> {
  const [status, self] = await Promise.all([from.daemon.status(), to.daemon.self()]);
  return findPeer(status, self.id);
}

function findPeer(status: Status, id: string): PeerStatus | undefined {
  return status.peers.find((p) => p.id === id);
}

/** The peer's path, for messages: "direct 1.2.3.4:5", "relay 2", "none". */
export function describePath(p: PeerStatus | undefined): string {
  if (!p) return 'not a peer';
  switch (p.path.type) {
    case 'direct':
      return `direct ${p.path.endpoint}`;
    case 'relay':
      return `relay ${p.path.region}`;
    case 'none':
      return 'none';
  }
}

/** Whether a direct path's endpoint is at `address` (a peer's public address). */
export function isDirectAt(p: PeerStatus | undefined, address: string): boolean {
  if (p?.path.type !== 'direct') return false;
  return parseHostPort(p.path.endpoint)?.address === address;
}

/**
 * Polls `from`'s status until its view of `to` satisfies `predicate`; resolves with that view
 * and how long it took. Throws after `timeoutMs` with the last view and from's recent log.
 */
export async function waitForPeerPath(
  from: MeshDevice,
  to: MeshDevice,
  predicate: (p: PeerStatus) => boolean,
  timeoutMs: number,
): Promise<{ peer: PeerStatus; elapsedMs: number }> {
  const started = Date.now();
  // `to` may have just started and not have its netmap yet: its id comes with it.
  let toId: string | null = null;
  let last: PeerStatus | undefined;
  for (;;) {
    toId ??= await to.daemon.self().then(
      (s) => s.id,
      () => null,
    );
    last = toId === null ? undefined : findPeer(await from.daemon.status(), toId);
    if (last && predicate(last)) return { peer: last, elapsedMs: Date.now() - started };
    if (Date.now() - started > timeoutMs) {
      throw new Error(
        `${from.name} → ${to.name}: path still ${describePath(last)} after ${timeoutMs} ms\n` +
          `recent log of ${from.name}:\n${from.daemon.output().split('\n').slice(-40).join('\n')}`,
      );
    }
    await new Promise((r) => setTimeout(r, STATUS_POLL_MS));
  }
}

/** The system ping from `from`'s namespace to a mesh address (through the tunnel). */
export function pingThroughTunnel(
  from: MeshDevice,
  toMeshIp: string,
  options: PingOptions = { count: 3, intervalS: 0.2, replyWaitS: 2 },
): Promise<PingRun> {
  return runPing(from.daemon.lab, from.device.ns, toMeshIp, options);
}

/**
 * Waits until both daemons run with each other online in their netmaps; resolves with the time
 * (Unix ms) the harness first saw it, the moment connection timings start from.
 */
export async function waitBothOnline(
  a: MeshDevice,
  b: MeshDevice,
  timeoutMs: number,
): Promise<number> {
  const started = Date.now();
  const [idA, idB] = await Promise.all([a.daemon.self(), b.daemon.self()]).then((s) =>
    s.map((x) => x.id),
  );
  for (;;) {
    const [sa, sb] = await Promise.all([a.daemon.status(), b.daemon.status()]);
    const online = (s: Status, id: string | undefined): boolean =>
      s.backend.state === 'running' && id !== undefined && findPeer(s, id)?.online === true;
    if (online(sa, idB) && online(sb, idA)) return Date.now();
    if (Date.now() - started > timeoutMs) {
      throw new Error(`${a.name} and ${b.name} did not both come online in ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, STATUS_POLL_MS));
  }
}

export interface ConnectTimes {
  /** From both online to the first ping reply through the tunnel; null if none came. */
  readonly firstReplyMs: number | null;
  /** From both online until `a` reports a direct path to `b`; null if it did not. */
  readonly directMs: number | null;
}

/** Ping interval while timing the first reply: the timing's resolution. */
const CONNECT_PING_INTERVAL_S = 0.05;

/**
 * Times a connection as a user meets it: from the moment both devices are online to the first
 * reply of a ping from `a` to `b` through the tunnel, and to `a` reporting a direct path.
 * Call right after bringing the two up. Neither timing throws: a missing one is null.
 */
export async function measureConnect(
  a: MeshDevice,
  b: MeshDevice,
  timeoutMs: number,
): Promise<ConnectTimes> {
  const t0 = await waitBothOnline(a, b, timeoutMs);
  const bIp = (await b.daemon.self()).addresses.ipv4;
  const [first, direct] = await Promise.all([
    pingUntilReply(a.daemon.lab, a.device.ns, bIp, {
      intervalS: CONNECT_PING_INTERVAL_S,
      deadlineS: Math.ceil(timeoutMs / 1000),
    }),
    waitForPeerPath(a, b, (p) => p.path.type === 'direct', timeoutMs).then(
      () => Date.now() - t0,
      () => null,
    ),
  ]);
  const at = first?.atMs ?? null;
  return { firstReplyMs: at === null ? null : at - t0, directMs: direct };
}
