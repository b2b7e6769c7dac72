/**
 * Plain WireGuard between two lab devices, set up the classic way: wireguard-go and `wg setconf`
 * with a static config that names each peer's public endpoint. Nothing of Trellis is involved;
 * it is the baseline Trellis's tunnels are measured against (bench/throughput.ts) on the same
 * devices, NATs and path.
 *
 * Both ends send a keepalive as their interface comes up, so between endpoint-independent NATs
 * (none, easy, double) the two first packets open both NATs. Between other kinds a static config
 * cannot connect, which is the point of Trellis.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPair, keyToBase64, type KeyPair } from '../../src/shared/keys.js';
import { DEFAULT_MTU } from '../../src/helper/engine/index.js';
import { uapiSocketPath } from '../../src/helper/wg/uapi.js';
import { pingUntilReply } from './ping.js';
import { labEnv, type LabProcess } from './process.js';
import type { Device, NatLab } from './topology.js';

/** WireGuard's customary port; trellisd's (41641) stays free on the same devices. */
export const STATIC_WG_PORT = 51820;
/** Tunnel addresses: a private range the lab uses nowhere else. */
const TUNNEL_ADDRESSES = ['10.250.0.1', '10.250.0.2'] as const;
const TUNNEL_PREFIX_LENGTH = 24;
/** Persistent keepalive (WireGuard's usual 25 s): it also makes each end send at once when up. */
const KEEPALIVE_S = 25;
const SOCKET_TIMEOUT_MS = 15_000;
/** Both ends' first handshakes cross within a second; a retry comes after 5 s (REKEY_TIMEOUT). */
const CONNECT_DEADLINE_S = 30;

export interface StaticWgEnd {
  readonly device: Device;
  readonly ifname: string;
  /** Its address inside the tunnel. */
  readonly address: string;
}

export interface StaticWgLink {
  readonly ends: readonly [StaticWgEnd, StaticWgEnd];
  /**
   * When (Unix ms) setting the link up began (before the first wireguard-go started), when both
   * ends were configured and up, and when the first ping reply came through the tunnel (at the
   * resolution of `pingIntervalS`).
   */
  readonly timings: {
    readonly startedAt: number;
    readonly upAt: number;
    readonly repliedAt: number;
  };
  /** Stops both wireguard-go processes (which removes their interfaces). */
  dispose(): Promise<void>;
}

export interface StaticWgOptions {
  readonly port?: number;
  /** Same default as trellisd, so a comparison measures the path, not the MTU. */
  readonly mtu?: number;
  /** Ping interval while waiting for the tunnel: the resolution of repliedAt (default 0.2). */
  readonly pingIntervalS?: number;
}

const counters = new WeakMap<NatLab, number>();

function config(
  self: KeyPair,
  peer: KeyPair,
  peerAddress: string,
  peerEndpoint: string,
  port: number,
) {
  return [
    '[Interface]',
    `PrivateKey = ${keyToBase64(self.privateKey)}`,
    `ListenPort = ${port}`,
    '',
    '[Peer]',
    `PublicKey = ${keyToBase64(peer.publicKey)}`,
    `AllowedIPs = ${peerAddress}/32`,
    `Endpoint = ${peerEndpoint}`,
    `PersistentKeepalive = ${KEEPALIVE_S}`,
    '',
  ].join('\n');
}

async function waitForSocket(ifname: string, proc: LabProcess): Promise<void> {
  const deadline = Date.now() + SOCKET_TIMEOUT_MS;
  while (!existsSync(uapiSocketPath(ifname))) {
    if (proc.hasExited()) throw new Error(`wireguard-go ${ifname} exited:\n${proc.output()}`);
    if (Date.now() > deadline) throw new Error(`wireguard-go ${ifname}: no UAPI socket`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Connects `a` and `b` with plain WireGuard and waits until a ping crosses the tunnel. Each end's
 * endpoint for the other is the other's public address and the (port-preserved) WireGuard port.
 */
export async function staticWireGuardLink(
  lab: NatLab,
  a: Device,
  b: Device,
  options: StaticWgOptions = {},
): Promise<StaticWgLink> {
  const port = options.port ?? STATIC_WG_PORT;
  const mtu = options.mtu ?? DEFAULT_MTU;
  const dir = join(lab.workDir(), 'static-wg');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const n = counters.get(lab) ?? 0;
  counters.set(lab, n + 2);
  const keys = [generateKeyPair(), generateKeyPair()] as const;
  const end = (device: Device, i: 0 | 1): StaticWgEnd => ({
    device,
    ifname: lab.base.ifname(`s${n + i + 1}`),
    address: TUNNEL_ADDRESSES[i],
  });
  const ends = [end(a, 0), end(b, 1)] as const;
  const procs: LabProcess[] = [];
  const dispose = async (): Promise<void> => {
    await Promise.all(procs.map((p) => p.stop()));
  };
  const startedAt = Date.now();
  try {
    for (const i of [0, 1] as const) {
      const self = ends[i];
      const other = ends[1 - i]!;
      const proc = await lab.spawn(self.device.ns, 'wireguard-go', ['-f', self.ifname], {
        label: `wireguard-go ${self.ifname}`,
        env: labEnv({ WG_PROCESS_FOREGROUND: '1', LOG_LEVEL: 'error' }),
      });
      procs.push(proc);
      await waitForSocket(self.ifname, proc);
      const file = join(dir, `${self.ifname}.conf`);
      const endpoint = `${other.device.publicAddress}:${port}`;
      writeFileSync(file, config(keys[i], keys[1 - i]!, other.address, endpoint, port), {
        mode: 0o600,
      });
      const { ns } = self.device;
      await lab.exec(ns, 'wg', ['setconf', self.ifname, file]);
      const cidr = `${self.address}/${TUNNEL_PREFIX_LENGTH}`;
      await lab.exec(ns, 'ip', ['address', 'add', cidr, 'dev', self.ifname]);
      await lab.exec(ns, 'ip', ['link', 'set', 'dev', self.ifname, 'mtu', String(mtu), 'up']);
    }
    const upAt = Date.now();
    const reply = await pingUntilReply(lab, a.ns, ends[1].address, {
      intervalS: options.pingIntervalS ?? 0.2,
      deadlineS: CONNECT_DEADLINE_S,
    });
    if (reply === null) {
      throw new Error(
        `plain WireGuard ${a.name} → ${b.name} did not connect in ${CONNECT_DEADLINE_S} s`,
      );
    }
    // startPing runs ping with -D, so every reply carries its arrival time.
    return { ends, timings: { startedAt, upAt, repliedAt: reply.atMs ?? Date.now() }, dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}
