/** The IPv4 default gateway of this network namespace, from the kernel's routing table. */
import { readFile } from 'node:fs/promises';

/**
 * Parses /proc/net/route: the gateway of the default route (destination 0, RTF_GATEWAY) with the
 * lowest metric, or null. Fields are little-endian hex, as the kernel prints them.
 */
export function defaultGatewayFromProcRoute(text: string): string | null {
  const RTF_UP = 0x1;
  const RTF_GATEWAY = 0x2;
  let best: { gateway: string; metric: number } | null = null;
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [, destination, gatewayHex, flagsHex, , , metricText, mask] = f;
    const flags = Number.parseInt(flagsHex!, 16);
    if (destination !== '00000000' || mask !== '00000000') continue;
    if ((flags & RTF_UP) === 0 || (flags & RTF_GATEWAY) === 0) continue;
    if (!/^[0-9A-Fa-f]{8}$/.test(gatewayHex!)) continue;
    const n = Number.parseInt(gatewayHex!, 16);
    const gateway = [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join('.');
    const metric = Number.parseInt(metricText!, 10);
    if (best === null || metric < best.metric) best = { gateway, metric };
  }
  return best?.gateway ?? null;
}

/** Reads the default gateway now; null when there is none (or no /proc, as off Linux). */
export async function defaultGateway(): Promise<string | null> {
  try {
    return defaultGatewayFromProcRoute(await readFile('/proc/net/route', 'utf8'));
  } catch {
    return null;
  }
}
