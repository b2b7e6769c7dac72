/**
 * Points the system's DNS at the MagicDNS resolver, and back.
 *
 * - systemd-resolved (when /etc/resolv.conf is its file): per-link DNS through `resolvectl` on
 *   the tunnel interface — our match domains go to us, the rest only with `defaultRoute`.
 *   `resolvectl revert` undoes it, and resolved forgets the link anyway when it disappears.
 * - Otherwise resolv.conf is rewritten in place (it may be a bind mount or a symlink's target),
 *   carrying the original inside it (dns/resolv-conf.ts), which is written back on teardown — or
 *   by the next start's teardown after a crash.
 *
 * Network namespaces: with a namespace, the file is /etc/netns/<ns>/resolv.conf, which
 * `ip netns exec` mounts over /etc/resolv.conf for programs run there; it must exist. Without
 * one, a process inside a network namespace other than the host's refuses to rewrite an
 * /etc/resolv.conf that is not a mount of its own: that file would be the host's.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  MAX_RESOLV_CONF_BYTES,
  parseOwnResolvConf,
  renderResolvConf,
  ResolvConfError,
} from '../dns/resolv-conf.js';
import type { Exec } from '../exec.js';
import { OsConfigError, type SystemDnsConfig } from './types.js';

export const SYSTEM_RESOLV_CONF = '/etc/resolv.conf';
const RESOLVED_DIR = '/run/systemd/resolve/';

/** The file system and process facts system DNS depends on, so the logic is unit-tested. */
export interface DnsHost {
  /** File contents, or null when it does not exist. */
  read(file: string): Promise<string | null>;
  /** Writes in place (truncate and write), following symlinks and keeping mounts. */
  write(file: string, text: string): Promise<void>;
  remove(file: string): Promise<void>;
  realpath(file: string): Promise<string | null>;
  /**
   * Why writing /etc/resolv.conf would touch a file that is not this network namespace's, or
   * null when it is fine.
   */
  foreignResolvConf(): Promise<string | null>;
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    const h = await fs.open(file, 'r');
    try {
      const buf = Buffer.alloc(MAX_RESOLV_CONF_BYTES + 1);
      const { bytesRead } = await h.read(buf, 0, buf.length, 0);
      return buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await h.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

export const systemDnsHost: DnsHost = {
  read: readIfExists,
  write: (file, text) => fs.writeFile(file, text, { mode: 0o644 }),
  remove: (file) => fs.rm(file, { force: true }),
  realpath: async (file) => {
    try {
      return await fs.realpath(file);
    } catch {
      return null;
    }
  },
  foreignResolvConf: async () => {
    const [self, init] = await Promise.all([
      fs.readlink('/proc/self/ns/net').catch(() => null),
      fs.readlink('/proc/1/ns/net').catch(() => null),
    ]);
    // Same namespace as init, or we cannot tell (no access to init's): the file is ours.
    if (self === null || init === null || self === init) return null;
    const mounts = (await readIfExists('/proc/self/mountinfo')) ?? '';
    const mounted = mounts.split('\n').some((l) => l.split(' ')[4] === SYSTEM_RESOLV_CONF);
    return mounted
      ? null
      : `this process runs in network namespace ${self} but ${SYSTEM_RESOLV_CONF} is the host's; create /etc/netns/<name>/resolv.conf before \`ip netns exec\``;
  },
};

export interface LinuxSystemDnsOptions {
  readonly exec: Exec;
  readonly interfaceName: string;
  readonly netns?: string;
  readonly host?: DnsHost;
}

type Mode = { type: 'resolvectl' } | { type: 'file'; file: string };

export class LinuxSystemDns {
  private readonly host: DnsHost;
  private mode: Mode | null = null;
  /** What the last successful apply wrote (a file's text, or resolvectl's arguments). */
  private applied: string | null = null;

  constructor(private readonly opts: LinuxSystemDnsOptions) {
    this.host = opts.host ?? systemDnsHost;
  }

  private async detect(): Promise<Mode> {
    if (this.opts.netns !== undefined) {
      return { type: 'file', file: path.join('/etc/netns', this.opts.netns, 'resolv.conf') };
    }
    const real = await this.host.realpath(SYSTEM_RESOLV_CONF);
    if (real?.startsWith(RESOLVED_DIR)) return { type: 'resolvectl' };
    return { type: 'file', file: SYSTEM_RESOLV_CONF };
  }

  async apply(config: SystemDnsConfig | null): Promise<void> {
    if (config === null) return this.teardown();
    this.mode ??= await this.detect();
    if (this.mode.type === 'resolvectl') return this.applyResolved(config);
    return this.applyFile(this.mode.file, config);
  }

  private async applyResolved(config: SystemDnsConfig): Promise<void> {
    const dev = this.opts.interfaceName;
    const domains = [
      ...config.matchDomains.map((d) => `~${d.replace(/\.$/, '')}`),
      ...config.searchDomains.map((d) => d.replace(/\.$/, '')),
    ];
    const commands = [
      ['dns', dev, ...config.nameservers],
      ['domain', dev, ...domains],
      ['default-route', dev, config.defaultRoute ? 'yes' : 'no'],
    ];
    const key = JSON.stringify(commands);
    if (this.applied === key) return;
    for (const args of commands) await this.opts.exec('resolvectl', args);
    this.applied = key;
  }

  private async applyFile(file: string, config: SystemDnsConfig): Promise<void> {
    if (this.opts.netns === undefined) {
      const foreign = await this.host.foreignResolvConf();
      if (foreign) throw new OsConfigError('bad_config', `not changing DNS: ${foreign}`);
    }
    const current = await this.host.read(file);
    if (current === null && this.opts.netns !== undefined) {
      throw new OsConfigError(
        'not_found',
        `${file} does not exist: create it for the namespace's own DNS settings`,
      );
    }
    const own = current === null ? null : parseOwnResolvConf(current);
    // Not ours (first apply, or someone rewrote it since): what is there now is the original.
    const original = own ? own.original : current;
    let text: string;
    try {
      text = renderResolvConf(
        { nameservers: config.nameservers, searchDomains: config.searchDomains },
        original,
      );
    } catch (e) {
      if (e instanceof ResolvConfError) throw new OsConfigError('bad_config', e.message);
      throw e;
    }
    if (text !== current) await this.host.write(file, text);
    this.applied = text;
  }

  /** Restores what the system had; also undoes a crashed predecessor's file. */
  async teardown(): Promise<void> {
    const mode = this.mode ?? (await this.detect());
    if (mode.type === 'resolvectl') {
      if (this.applied !== null) {
        await this.opts.exec('resolvectl', ['revert', this.opts.interfaceName]).catch(() => {
          // The link is gone, and resolved forgot its settings with it.
        });
      }
      this.applied = null;
      return;
    }
    const current = await this.host.read(mode.file);
    const own = current === null ? null : parseOwnResolvConf(current);
    if (own) {
      if (own.original === null) await this.host.remove(mode.file);
      else await this.host.write(mode.file, own.original);
    }
    this.applied = null;
  }
}
