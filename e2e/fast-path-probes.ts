/**
 * Lab probes of the direct fast path (src/helper/magicsock/fast-path*.ts), inside a device's
 * namespace: WireGuard's endpoint for a peer (`wg show`) and the fast path's nft counters. Used
 * by e2e/fast-path.test.ts and e2e/nat-matrix.test.ts.
 */
import * as z from 'zod';
import { ExecError } from '../src/helper/exec.js';
import {
  FAST_PATH_COUNTER_IN,
  FAST_PATH_COUNTER_OUT,
  FAST_PATH_FAMILY,
  FAST_PATH_TABLE,
} from '../src/helper/magicsock/fast-path-rules.js';
import type { MeshDevice } from './lab/mesh.js';
import { parseHostPort } from './lab/script-output.js';

const POLL_MS = 200;

const counterListing = z.object({
  nftables: z.array(z.record(z.string(), z.unknown())),
});
const counter = z.object({ packets: z.number().int().nonnegative() });

/** Packets the fast path's rules rewrote in the device's namespace; null when there is no table. */
export async function fastPathCounters(d: MeshDevice): Promise<{ out: number; in: number } | null> {
  const read = async (name: string): Promise<number | null> => {
    let stdout: string;
    try {
      ({ stdout } = await d.daemon.lab.exec(d.device.ns, 'nft', [
        '-j',
        'list',
        'counter',
        FAST_PATH_FAMILY,
        FAST_PATH_TABLE,
        name,
      ]));
    } catch (e) {
      if (e instanceof ExecError && /No such file or directory/.test(e.stderr)) return null;
      throw e;
    }
    for (const item of counterListing.parse(JSON.parse(stdout)).nftables) {
      if (item.counter !== undefined) return counter.parse(item.counter).packets;
    }
    throw new Error(`nft listed no counter ${name}`);
  };
  const [out, inn] = await Promise.all([read(FAST_PATH_COUNTER_OUT), read(FAST_PATH_COUNTER_IN)]);
  return out === null || inn === null ? null : { out, in: inn };
}

/** WireGuard's endpoint for `peer` on `d`'s interface, as `wg show` reports it (null: none). */
export async function wgEndpoint(d: MeshDevice, peer: MeshDevice): Promise<string | null> {
  const key = (await peer.daemon.self()).nodeKey;
  const { stdout } = await d.daemon.lab.exec(d.device.ns, 'wg', [
    'show',
    d.daemon.tunName,
    'endpoints',
  ]);
  for (const line of stdout.trim().split('\n')) {
    const [k, endpoint] = line.split('\t');
    if (k === key) return endpoint && endpoint !== '(none)' ? endpoint : null;
  }
  return null;
}

/**
 * Waits until WireGuard on `d` sends to `peer` at `address` (the peer's public address on the
 * fast path, 127.0.0.1 through magicsock's proxy); resolves with the endpoint.
 */
export async function waitForWgEndpointAt(
  d: MeshDevice,
  peer: MeshDevice,
  address: string,
  timeoutMs: number,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await wgEndpoint(d, peer);
    if (last !== null && parseHostPort(last)?.address === address) return last;
    if (Date.now() > deadline) {
      throw new Error(
        `${d.name}: WireGuard's endpoint for ${peer.name} is ${last ?? 'none'}, not at ${address}, ` +
          `after ${timeoutMs} ms\nrecent log of ${d.name}:\n` +
          d.daemon.output().split('\n').slice(-40).join('\n'),
      );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
