/** ICMP reachability between lab namespaces, with iputils `ping`. */
import { ExecError } from '../../src/helper/exec.js';
import type { NatLab } from './topology.js';

/** Attempts per check: one lost echo on a busy machine must not fail a reachability test. */
const PING_COUNT = 3;
/** Seconds between attempts (ping's -i; root may go below its 1 s default). */
const PING_INTERVAL_S = '0.2';
/** Seconds to wait for a reply: lab round trips are sub-millisecond. */
const PING_REPLY_WAIT_S = '1';

/** Whether `address` answers an ICMP echo from namespace `ns` (any one of a few attempts). */
export async function pings(lab: NatLab, ns: string, address: string): Promise<boolean> {
  try {
    await lab.exec(ns, 'ping', [
      '-n',
      '-q',
      '-c',
      String(PING_COUNT),
      '-i',
      PING_INTERVAL_S,
      '-W',
      PING_REPLY_WAIT_S,
      address,
    ]);
    return true;
  } catch (e) {
    // Without -w, ping exits 0 when any reply came back and 1 when none did; anything else
    // (2: bad address; ping missing) is a real error.
    if (e instanceof ExecError && e.reason === 'exit_status' && e.exitCode === 1) return false;
    throw e;
  }
}
