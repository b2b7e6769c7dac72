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
 * Network namespaces: with a namespace (--netns), the file is /etc/netns/<ns>/resolv.conf, which
 * `ip netns exec` mounts over /etc/resolv.conf for programs run there; it must exist. Without
 * one, /etc/resolv.conf is written (or restored) only when it is provably this network
 * namespace's own (resolv-conf-owner.ts): otherwise it may be the host's, and system DNS is
 * refused with a ResolvConfNotOwnedError, which the daemon reports as a health warning while
 * MagicDNS keeps answering on its own address. Writes keep the inode and never leave the file
 * empty or half-written (in-place-file.ts).
 */
import fs from 'node:fs/promises';
import { parseOwnResolvConf, renderResolvConf, ResolvConfError } from '../dns/resolv-conf.js';
import type { Exec } from '../exec.js';
import { readFileBounded, writeFileInPlace } from './in-place-file.js';
import {
  netnsResolvConf,
  resolvConfOwner,
  SYSTEM_RESOLV_CONF,
  systemProcReader,
  type ResolvConfOwner,
} from './resolv-conf-owner.js';
import { OsConfigError, type SystemDnsConfig } from './types.js';

export { SYSTEM_RESOLV_CONF };
const RESOLVED_DIR = '/run/systemd/resolve/';

/** The file system and process facts system DNS depends on, so the logic is unit-tested. */
export interface DnsHost {
  /** File contents, or null when it does not exist. */
  read(file: string): Promise<string | null>;
  /** Replaces the content in place (same inode, symlinks followed), never leaving it torn. */
  write(file: string, text: string): Promise<void>;
  remove(file: string): Promise<void>;
  realpath(file: string): Promise<string | null>;
  /** Whether /etc/resolv.conf is this network namespace's own file. */
  resolvConfOwner(): Promise<ResolvConfOwner>;
}

/** System DNS refused: /etc/resolv.conf cannot be proven to be this namespace's own. */
export class ResolvConfNotOwnedError extends OsConfigError {
  constructor(readonly reason: string) {
    super('not_permitted', `not changing DNS: ${reason}`);
    this.name = 'ResolvConfNotOwnedError';
  }
}

export const systemDnsHost: DnsHost = {
  read: (file) => readFileBounded(file),
  write: (file, text) => writeFileInPlace(file, text),
  remove: (file) => fs.rm(file, { force: true }),
  realpath: systemProcReader.realpath,
  resolvConfOwner: () => resolvConfOwner(systemProcReader),
};

export interface LinuxSystemDnsOptions {
  readonly exec: Exec;
  readonly interfaceName: string;
  readonly netns?: string;
  readonly host?: DnsHost;
}

/** How system DNS is set; `guarded`: the file is /etc/resolv.conf, written only when provably ours. */
type Mode =
  | { type: 'resolvectl' }
  | { type: 'file'; file: string; guarded: boolean }
  | { type: 'refused'; reason: string };

export class LinuxSystemDns {
  private readonly host: DnsHost;
  /** How system DNS is set here; a refusal is not kept, so every apply looks again. */
  private mode: Exclude<Mode, { type: 'refused' }> | null = null;
  /** What the last successful apply wrote (a file's text, or resolvectl's arguments). */
  private applied: string | null = null;

  constructor(private readonly opts: LinuxSystemDnsOptions) {
    this.host = opts.host ?? systemDnsHost;
  }

  private async detect(): Promise<Mode> {
    if (this.opts.netns !== undefined) {
      return { type: 'file', file: netnsResolvConf(this.opts.netns), guarded: false };
    }
    const owner = await this.host.resolvConfOwner();
    switch (owner.kind) {
      case 'refused':
        return { type: 'refused', reason: owner.reason };
      case 'netns':
        // The namespace's own file. systemd-resolved serves the host's namespace, never this one
        // (resolvectl would even name a link by this namespace's interface index).
        return { type: 'file', file: SYSTEM_RESOLV_CONF, guarded: true };
      case 'initial': {
        const real = await this.host.realpath(SYSTEM_RESOLV_CONF);
        if (real?.startsWith(RESOLVED_DIR)) return { type: 'resolvectl' };
        return { type: 'file', file: SYSTEM_RESOLV_CONF, guarded: true };
      }
    }
  }

  /** Right before /etc/resolv.conf is written: is it (still) provably this namespace's own? */
  private async refusal(mode: Mode): Promise<string | null> {
    if (mode.type === 'refused') return mode.reason;
    if (mode.type !== 'file' || !mode.guarded) return null;
    const owner = await this.host.resolvConfOwner();
    return owner.kind === 'refused' ? owner.reason : null;
  }

  async apply(config: SystemDnsConfig | null): Promise<void> {
    if (config === null) return this.teardown();
    const mode = this.mode ?? (await this.detect());
    if (mode.type === 'refused') throw new ResolvConfNotOwnedError(mode.reason);
    this.mode = mode;
    if (mode.type === 'resolvectl') return this.applyResolved(config);
    return this.applyFile(mode, config);
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

  private async applyFile(
    mode: Extract<Mode, { type: 'file' }>,
    config: SystemDnsConfig,
  ): Promise<void> {
    const { file } = mode;
    const current = await this.host.read(file);
    if (current === null && !mode.guarded) {
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
    if (text !== current) {
      const refused = await this.refusal(mode);
      if (refused !== null) throw new ResolvConfNotOwnedError(refused);
      await this.host.write(file, text);
    }
    this.applied = text;
  }

  /** Restores what the system had; also undoes a crashed predecessor's file. */
  async teardown(): Promise<void> {
    const mode = this.mode ?? (await this.detect());
    const applied = this.applied;
    this.applied = null;
    if (mode.type === 'refused') return;
    if (mode.type === 'resolvectl') {
      if (applied !== null) {
        await this.opts.exec('resolvectl', ['revert', this.opts.interfaceName]).catch(() => {
          // The link is gone, and resolved forgot its settings with it.
        });
      }
      return;
    }
    const current = await this.host.read(mode.file);
    const own = current === null ? null : parseOwnResolvConf(current);
    if (!own) return;
    // Ours in form only, in a file that may be the host's: some other process wrote it.
    if ((await this.refusal(mode)) !== null) return;
    if (own.original === null) await this.host.remove(mode.file);
    else await this.host.write(mode.file, own.original);
  }
}
