/**
 * macOS: the WireGuard interface is a utun device made by wireguard-go (the same userspace
 * backend as on Linux), configured with `ifconfig` and `route`, and DNS with `scutil` (the
 * dynamic store configd reads resolver settings from).
 *
 * - utun naming: the kernel names utun devices utun0, utun1, ...; wireguard-go creates the one
 *   it is asked for, so the helper picks the first free index (darwinTunName).
 * - wireguard-go's housekeeping speaks iproute2 (`ip link ...`, wireguard-go.ts); macOS has no
 *   `ip`, so darwinIpExec translates those few calls to ifconfig and to removing the UAPI
 *   socket (wireguard-go on macOS exits when its socket file is deleted, taking the utun with
 *   it), and passes everything else through.
 * - Addresses and routes are applied step by step (CommandOsConfigurator, shared with Windows).
 * - Inbound filter: pf rules in an anchor under "com.apple/" (which the stock pf.conf evaluates),
 *   pf enabled with a reference token that teardown releases.
 * - DNS: a supplemental resolver for the match domains under a key named TRELLIS_SCUTIL_PREFIX,
 *   which teardown finds by listing, so a crashed helper's key is removed too. A resolver for
 *   all names would need Trellis to be the primary network service, which a utun interface is
 *   not, so only the match domains are routed.
 *
 * Everything here is command generation, unit-tested on Linux; nothing here has run on a Mac.
 */
import { unlinkSync } from 'node:fs';
import { formatIp, ipFamily, parseCidr } from '../../shared/ip.js';
import { ExecError, type Exec, type ExecResult } from '../exec.js';
import { uapiSocketPath } from '../wg/uapi.js';
import { isValidInterfaceName } from './ifname.js';
import { OsConfigError, type InboundFilter, type SystemDnsConfig } from './types.js';
import {
  CommandOsConfigurator,
  ipv4Mask,
  type CanonicalOsConfig,
  type CommandOsOptions,
  type OsCommand,
  type OsCommandSet,
} from './windows.js';

export const UTUN_RE = /^utun(\d{1,4})$/;

/** The first utunN not in `existing` (`ifconfig -l` lists them). */
export function darwinTunName(existing: readonly string[]): string {
  const used = new Set<number>();
  for (const name of existing) {
    const m = UTUN_RE.exec(name);
    if (m) used.add(Number(m[1]));
  }
  let n = 0;
  while (used.has(n)) n++;
  return `utun${n}`;
}

function checkUtun(name: string): void {
  if (!UTUN_RE.test(name) || !isValidInterfaceName(name)) {
    throw new OsConfigError(
      'bad_config',
      `macOS tunnel interfaces are named utunN, not ${JSON.stringify(name)}`,
    );
  }
}

export function darwinCommandSet(name: string): OsCommandSet {
  checkUtun(name);
  const cidrOf = (text: string) => {
    const c = parseCidr(text);
    if (!c.ok)
      throw new OsConfigError('bad_config', `not an address/prefix: ${JSON.stringify(text)}`);
    return { ip: formatIp(c.value.address), bits: c.value.bits, family: ipFamily(c.value.address) };
  };
  return {
    // wireguard-go leaves the utun down; bringing it up with the MTU is wg-quick's order too.
    mtu: (mtu) => [{ command: 'ifconfig', args: [name, 'mtu', String(mtu), 'up'] }],
    address: (verb, cidr) => {
      const c = cidrOf(cidr);
      if (c.family === 'ipv4') {
        // utun is point-to-point: the address is its own destination.
        return verb === 'add'
          ? {
              command: 'ifconfig',
              args: [name, 'inet', c.ip, c.ip, 'netmask', ipv4Mask(c.bits), 'alias'],
            }
          : { command: 'ifconfig', args: [name, 'inet', c.ip, '-alias'] };
      }
      return verb === 'add'
        ? { command: 'ifconfig', args: [name, 'inet6', c.ip, 'prefixlen', String(c.bits), 'alias'] }
        : { command: 'ifconfig', args: [name, 'inet6', c.ip, '-alias'] };
    },
    route: (verb, prefix) => {
      const c = cidrOf(prefix);
      return {
        command: 'route',
        args: [
          '-q',
          '-n',
          verb,
          c.family === 'ipv4' ? '-inet' : '-inet6',
          `${c.ip}/${c.bits}`,
          '-interface',
          name,
        ],
      };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// DNS through scutil

/** Trellis's keys in the dynamic store: `State:/Network/Service/<prefix><n>/DNS`. */
export const TRELLIS_SCUTIL_PREFIX = 'com.trellis.dns-';
const dnsKey = (n: number) => `State:/Network/Service/${TRELLIS_SCUTIL_PREFIX}${n}/DNS`;
const KEY_LIST_PATTERN = `State:/Network/Service/${TRELLIS_SCUTIL_PREFIX.replace(/\./g, '\\.')}[0-9]+/DNS`;
const KEY_LINE_RE = new RegExp(
  `= (State:/Network/Service/${TRELLIS_SCUTIL_PREFIX.replace(/\./g, '\\.')}\\d+/DNS)\\s*$`,
);

const scutil = (lines: readonly string[]): OsCommand => ({
  command: 'scutil',
  args: [],
  input: `${['open', ...lines, 'quit'].join('\n')}\n`,
});

/** Lists Trellis's DNS keys (output parsed by parseScutilKeys). */
export const darwinDnsListCommand = (): OsCommand => scutil([`list ${KEY_LIST_PATTERN}`]);

/** The keys in `scutil list` output ("  subKey [0] = State:/..."). */
export function parseScutilKeys(output: string): string[] {
  const keys: string[] = [];
  for (const line of output.split('\n')) {
    const m = KEY_LINE_RE.exec(line);
    if (m?.[1]) keys.push(m[1]);
  }
  return keys;
}

/**
 * The scutil script that removes `stale` keys and sets one supplemental resolver: the
 * nameservers for the match domains, with the search domains. A utun interface is never the
 * primary service, so `defaultRoute` (all other names too) cannot be honoured here: only the
 * match domains are routed (docs/install.md says so).
 */
export function darwinDnsCommand(dns: SystemDnsConfig, stale: readonly string[]): OsCommand {
  const lines = stale.map((k) => `remove ${k}`);
  const domains = [...new Set(dns.matchDomains.map((d) => d.replace(/\.$/, '')))].filter(Boolean);
  if (dns.nameservers.length > 0 && domains.length > 0) {
    lines.push(
      'd.init',
      `d.add ServerAddresses * ${dns.nameservers.join(' ')}`,
      `d.add SupplementalMatchDomains * ${domains.join(' ')}`,
    );
    if (dns.searchDomains.length > 0)
      lines.push(`d.add SearchDomains * ${dns.searchDomains.join(' ')}`);
    lines.push(`set ${dnsKey(0)}`);
  }
  return scutil(lines);
}

export const darwinDnsRemoveCommand = (keys: readonly string[]): OsCommand =>
  scutil(keys.map((k) => `remove ${k}`));

// ---------------------------------------------------------------------------------------------
// Inbound filter with pf

/**
 * The pf anchor for the filter. macOS's /etc/pf.conf evaluates every anchor under "com.apple/",
 * so rules loaded there apply without editing the main ruleset.
 */
export const TRELLIS_PF_ANCHOR = 'com.apple/trellis';

const pfList = (xs: readonly string[]): string =>
  xs.length === 1 ? xs[0]! : `{ ${xs.join(', ')} }`;

/**
 * pf rules for an inbound filter on `name`: drop what comes in on the tunnel, then pass what
 * the rules allow (pf: the last matching rule wins; `quick` is not used so the order reads
 * like the policy). Replies to our own connections pass through pf's state table.
 */
export function darwinPfRules(name: string, filter: InboundFilter): string {
  checkUtun(name);
  const lines = [`block drop in on ${name} all`];
  if (!filter.blockIncoming) {
    for (const rule of filter.rules) {
      if (rule.srcs.length === 0) continue;
      for (const d of rule.dsts) {
        const ports =
          d.ports.first === 0 && d.ports.last === 65535
            ? ''
            : d.ports.first === d.ports.last
              ? ` port ${d.ports.first}`
              : ` port ${d.ports.first}:${d.ports.last}`;
        const v6 = d.cidr.includes(':');
        const srcs = rule.srcs.filter((x) => x.includes(':') === v6);
        if (srcs.length === 0) continue;
        const from = `from ${pfList(srcs)} to ${d.cidr}`;
        const af = v6 ? 'inet6' : 'inet';
        for (const proto of rule.protos) {
          if (proto === 'tcp' || proto === 'udp') {
            lines.push(`pass in on ${name} ${af} proto ${proto} ${from}${ports} keep state`);
          } else if (proto === 'icmp') {
            lines.push(
              `pass in on ${name} ${af} proto ${v6 ? 'icmp6' : 'icmp'} ${from} keep state`,
            );
          } else if (ports === '') {
            lines.push(`pass in on ${name} ${af} ${from} keep state`);
          } else {
            lines.push(`pass in on ${name} ${af} proto { tcp, udp } ${from}${ports} keep state`);
          }
        }
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

export const darwinPfLoadCommand = (rules: string): OsCommand => ({
  command: 'pfctl',
  args: ['-a', TRELLIS_PF_ANCHOR, '-f', '-'],
  input: rules,
});
export const darwinPfFlushCommand = (): OsCommand => ({
  command: 'pfctl',
  args: ['-a', TRELLIS_PF_ANCHOR, '-F', 'all'],
});
/** `pfctl -E` enables pf and returns a reference token; `-X token` releases only ours. */
export const darwinPfEnableCommand = (): OsCommand => ({ command: 'pfctl', args: ['-E'] });
export const darwinPfReleaseCommand = (token: string): OsCommand => ({
  command: 'pfctl',
  args: ['-X', token],
});
/** pfctl prints "Token : 1234567890" (on stderr or stdout, depending on the release). */
export function parsePfToken(output: string): string | null {
  return /Token\s*:\s*(\d+)/.exec(output)?.[1] ?? null;
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export class DarwinOsConfigurator extends CommandOsConfigurator {
  private pfRules: string | null = null;
  private pfToken: string | null = null;
  private dns: SystemDnsConfig | null = null;

  constructor(options: CommandOsOptions) {
    super(options, darwinCommandSet(options.interfaceName), 'macOS');
  }

  private async currentKeys(): Promise<string[]> {
    return parseScutilKeys(await this.run(darwinDnsListCommand()));
  }

  protected async applyExtra(want: CanonicalOsConfig): Promise<void> {
    const rules = want.filter === null ? null : darwinPfRules(this.interfaceName, want.filter);
    if (rules !== this.pfRules) {
      if (rules === null) await this.run(darwinPfFlushCommand());
      else {
        await this.run(darwinPfLoadCommand(rules));
        if (this.pfToken === null) {
          const r = await this.exec('pfctl', darwinPfEnableCommand().args);
          this.pfToken = parsePfToken(`${r.stdout}\n${r.stderr}`);
        }
      }
      this.pfRules = rules;
    }
    if (!sameJson(want.dns, this.dns)) {
      const stale = await this.currentKeys();
      if (want.dns === null) {
        if (stale.length > 0) await this.run(darwinDnsRemoveCommand(stale));
      } else {
        await this.run(darwinDnsCommand(want.dns, stale));
      }
      this.dns = want.dns;
    }
  }

  protected async teardownExtra(): Promise<void> {
    await this.run(darwinPfFlushCommand());
    this.pfRules = null;
    if (this.pfToken !== null) {
      await this.run(darwinPfReleaseCommand(this.pfToken));
      this.pfToken = null;
    }
    const keys = await this.currentKeys();
    if (keys.length > 0) await this.run(darwinDnsRemoveCommand(keys));
    this.dns = null;
  }
}

// ---------------------------------------------------------------------------------------------
// `ip` for wireguard-go's housekeeping

/** `ifconfig -v utun5`'s first line: "utun5: flags=8051<UP,POINTOPOINT,RUNNING> mtu 1380 index 20". */
const IFCONFIG_HEAD_RE = /^(\S+): flags=[0-9a-f]+<([^>]*)> mtu (\d+)(?: index (\d+))?/;

/** The `ip -json link show` record for an ifconfig listing, or null when it does not parse. */
export function linkFromIfconfig(output: string): object | null {
  const m = IFCONFIG_HEAD_RE.exec(output.split('\n')[0] ?? '');
  if (!m) return null;
  return {
    ifindex: Number(m[4] ?? 0),
    ifname: m[1],
    mtu: Number(m[3]),
    flags: (m[2] ?? '').split(',').filter(Boolean),
    linkinfo: { info_kind: 'tun' },
  };
}

const notFound = (args: readonly string[], name: string): ExecError =>
  new ExecError('exit_status', 'ip', args, 1, null, `Device "${name}" does not exist.`);

/**
 * An Exec that answers the iproute2 calls of wireguard-go.ts with macOS tools (see the module
 * comment) and passes every other command to `exec` unchanged.
 */
export function darwinIpExec(exec: Exec, removeFile: (path: string) => void = unlinkSync): Exec {
  return async (command, args, options): Promise<ExecResult> => {
    if (command !== 'ip') return exec(command, args, options);
    const a = [...args];
    const name = a[a.length - 1] ?? '';
    const is = (...prefix: string[]) => prefix.every((p, i) => a[i] === p);
    if (is('-json', '-details', 'link', 'show', 'dev') && a.length === 6) {
      let out: ExecResult;
      try {
        out = await exec('ifconfig', ['-v', name], options);
      } catch (e) {
        if (e instanceof ExecError && e.reason === 'exit_status') throw notFound(a, name);
        throw e;
      }
      const link = linkFromIfconfig(out.stdout);
      if (!link) throw new ExecError('exit_status', 'ip', a, 1, null, 'unparsable ifconfig output');
      return { stdout: JSON.stringify([link]), stderr: '' };
    }
    if (is('link', 'set', 'dev') && a.length === 6 && a[4] === 'mtu') {
      const dev = a[3] ?? '';
      return exec('ifconfig', [dev, 'mtu', a[5] ?? ''], options);
    }
    if (is('link', 'del', 'dev') && a.length === 4) {
      checkUtun(name);
      try {
        removeFile(uapiSocketPath(name));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(a, name);
        throw e;
      }
      return { stdout: '', stderr: '' };
    }
    throw new ExecError(
      'exit_status',
      'ip',
      a,
      1,
      null,
      `macOS has no iproute2 (ip ${a.join(' ')})`,
    );
  };
}
