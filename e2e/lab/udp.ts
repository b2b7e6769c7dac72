/** Single UDP datagrams from a lab namespace, for checking what a NAT lets in. */
import type { HostPort } from './script-output.js';
import type { NatLab } from './topology.js';

/**
 * Sends one datagram from namespace `ns` to `to`, from an ephemeral port, with bash's /dev/udp
 * (no extra tool, no Node startup). The address and port are positional parameters, never
 * spliced into the script text.
 */
export async function sendDatagram(lab: NatLab, ns: string, to: HostPort): Promise<void> {
  await lab.exec(ns, 'bash', [
    '-c',
    'printf trellis-lab > "/dev/udp/$1/$2"',
    'send-datagram',
    to.address,
    String(to.port),
  ]);
}
