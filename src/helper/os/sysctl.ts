/**
 * Kernel settings the helper changes — IP forwarding (exit node, subnet router) and
 * src_valid_mark (exit-node client) — and the record of their original values.
 *
 * The record lives in the comment of the helper's nftables table (nft-ruleset.ts), which exists
 * exactly as long as the helper has changed anything: a helper that crashed leaves the table, and
 * its successor's teardown reads the originals from it, restores them and deletes the table.
 */
import { ExecError, type Exec } from '../exec.js';
import { nsExec } from './ns-exec.js';

/** Forwarding for peers' traffic (exit node, subnet router), both families. */
export const FORWARDING_SYSCTLS = ['net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding'] as const;
/**
 * Lets the reverse-path filter see the WireGuard packets' fwmark, so replies from peer endpoints
 * pass it while the default route points into the tunnel (wg-quick sets it for the same reason).
 */
export const EXIT_ROUTING_SYSCTLS = ['net.ipv4.conf.all.src_valid_mark'] as const;

/** Short names keep the record within nft's 128-byte comment. */
const SHORT_NAMES: Readonly<Record<string, string>> = {
  'net.ipv4.ip_forward': 'v4fwd',
  'net.ipv6.conf.all.forwarding': 'v6fwd',
  'net.ipv4.conf.all.src_valid_mark': 'srcmark',
};
const LONG_NAMES = new Map(Object.entries(SHORT_NAMES).map(([k, v]) => [v, k]));
const RECORD_PREFIX = 'trellis-restore';
const VALUE_RE = /^\d{1,3}$/;

/** Original values by full sysctl name. */
export type SysctlRecord = ReadonlyMap<string, string>;

export function encodeSysctlRecord(record: SysctlRecord): string {
  const parts = [...record]
    .filter(([k, v]) => SHORT_NAMES[k] !== undefined && VALUE_RE.test(v))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${SHORT_NAMES[k]}=${v}`);
  return [RECORD_PREFIX, ...parts].join(' ');
}

/** The record in a table comment; empty for anything that is not one. */
export function decodeSysctlRecord(comment: string | null): Map<string, string> {
  const out = new Map<string, string>();
  const words = (comment ?? '').trim().split(/\s+/);
  if (words[0] !== RECORD_PREFIX) return out;
  for (const w of words.slice(1)) {
    const [short = '', value = ''] = w.split('=');
    const name = LONG_NAMES.get(short);
    if (name !== undefined && VALUE_RE.test(value)) out.set(name, value);
  }
  return out;
}

export class SysctlCommand {
  constructor(
    private readonly exec: Exec,
    private readonly netns?: string,
  ) {}

  /** The current value, or null when the kernel has no such setting (e.g. IPv6 disabled). */
  async get(name: string): Promise<string | null> {
    try {
      const { stdout } = await nsExec(this.exec, this.netns, 'sysctl', ['-n', name]);
      return stdout.trim();
    } catch (e) {
      if (e instanceof ExecError && e.reason === 'exit_status' && /cannot stat/i.test(e.stderr))
        return null;
      throw e;
    }
  }

  async set(name: string, value: string): Promise<void> {
    await nsExec(this.exec, this.netns, 'sysctl', ['-q', '-w', `${name}=${value}`]);
  }
}
