/**
 * Proof that a lab stays off the host's network: every link inside a lab namespace is loopback,
 * a bridge, a tunnel, or a veth whose other end is in another namespace of the same lab; and the
 * host's own interfaces (its NICs) are all still where they were, never moved into the lab.
 */
import { runCommand } from '../../src/helper/exec.js';

interface LinkJson {
  ifname?: unknown;
  link_netnsid?: unknown;
  linkinfo?: { info_kind?: unknown };
}

/** Link kinds that cannot reach beyond the namespace they are in. */
const SELF_CONTAINED_KINDS = new Set(['bridge', 'tun', 'wireguard']);

async function links(ns: string | null): Promise<LinkJson[]> {
  const args = ['-d', '-json', 'link', 'show'];
  const { stdout } = await runCommand('ip', ns === null ? args : ['-n', ns, ...args]);
  return stdout.trim() === '' ? [] : (JSON.parse(stdout) as LinkJson[]);
}

const kindOf = (l: LinkJson): string | undefined =>
  typeof l.linkinfo?.info_kind === 'string' ? l.linkinfo.info_kind : undefined;
const nameOf = (l: LinkJson): string => (typeof l.ifname === 'string' ? l.ifname : '?');

/**
 * The host's hardware-like links (no link kind: NICs and loopback): what a lab must never move
 * into a namespace. Taken when a lab starts and compared by isolationProblems().
 */
export async function hostHardwareLinks(): Promise<string[]> {
  return (await links(null)).filter((l) => kindOf(l) === undefined).map(nameOf);
}

/** The namespace names that `ns` knows peers in by nsid. */
async function nsidNames(ns: string): Promise<Map<number, string>> {
  const { stdout } = await runCommand('ip', ['-n', ns, '-json', 'netns', 'list-id']);
  const entries =
    stdout.trim() === '' ? [] : (JSON.parse(stdout) as { nsid?: unknown; name?: unknown }[]);
  const map = new Map<number, string>();
  for (const e of entries) {
    if (typeof e.nsid === 'number' && typeof e.name === 'string') map.set(e.nsid, e.name);
  }
  return map;
}

/** Everything that would connect the lab to the host's network; [] when it is isolated. */
export async function isolationProblems(
  labNamespaces: readonly string[],
  prefix: string,
  hostLinksAtStart: readonly string[],
): Promise<string[]> {
  const problems: string[] = [];
  const ours = new Set(labNamespaces);
  const hostNow = await links(null);
  const hostNames = new Set(hostNow.map(nameOf));
  for (const name of hostLinksAtStart) {
    if (!hostNames.has(name)) problems.push(`host link ${name} has left the host namespace`);
  }
  for (const l of hostNow) {
    if (nameOf(l).startsWith(prefix)) problems.push(`host namespace has lab link ${nameOf(l)}`);
  }
  for (const ns of labNamespaces) {
    const peers = await nsidNames(ns);
    for (const l of await links(ns)) {
      const name = nameOf(l);
      const kind = kindOf(l);
      if (name === 'lo' && kind === undefined) continue;
      if (kind !== undefined && SELF_CONTAINED_KINDS.has(kind)) continue;
      if (kind !== 'veth') {
        problems.push(`${ns}/${name} is a ${kind ?? 'hardware'} link`);
        continue;
      }
      if (l.link_netnsid === undefined) continue; // both ends in this namespace
      const peerNs = typeof l.link_netnsid === 'number' ? peers.get(l.link_netnsid) : undefined;
      if (peerNs === undefined || !ours.has(peerNs)) {
        problems.push(`${ns}/${name} is a veth into ${peerNs ?? 'an unnamed (host?) namespace'}`);
      }
    }
  }
  return problems;
}
