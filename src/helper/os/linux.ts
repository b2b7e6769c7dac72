/**
 * Linux OS configuration: the mesh addresses on the WireGuard interface, its MTU and link
 * state, and routes to peers and accepted subnets with iproute2; the inbound packet filter and
 * forwarding with nftables (nft-ruleset.ts); exit-node policy routing (exit-routing.ts); the
 * sysctls those need (sysctl.ts); and system DNS (system-dns.ts). Everything is applied as a
 * diff against what the kernel reports, so re-applying an unchanged netmap changes nothing.
 *
 * Ownership, so that teardown removes exactly what Trellis added, even after a crash:
 * - Routes go in the main table (ordinary longest-prefix routing) and carry our own routing
 *   protocol number, TRELLIS_ROUTE_PROTOCOL. A new configurator finds a crashed predecessor's
 *   routes by that number on our interface and removes them. Exit routing's rules and its
 *   table's routes carry the same number.
 * - Addresses: the interface is ours (created by the WireGuard backend), so every global- or
 *   host-scope address on it is ours (host scope: local-only ones such as MagicDNS's).
 *   (iproute2 6.1 cannot tag addresses with a protocol.)
 * - nftables: the table `inet trellis` is ours alone; its comment records the sysctls we changed
 *   and their original values.
 * - resolv.conf: a file of ours carries the original inside it.
 * - MTU and up/down state are restored on teardown to what the first apply found.
 *
 * One configurator per network namespace: the table, the rules and system DNS are
 * namespace-wide.
 */
import { lookup } from 'node:dns/promises';
import {
  formatIp,
  formatPrefix,
  hostPrefix,
  isIp,
  normalizeCidr,
  parseCidr,
  parseIp,
} from '../../shared/ip.js';
import { ExecError, runCommand, type Exec } from '../exec.js';
import {
  EXIT_ROUTE_TABLE,
  exitTableRoutes,
  LINK_SCOPE_PREFIXES,
  ownRules,
  planExitRules,
  rawRuleDeleteArgs,
  ruleArgs,
  ruleKey,
  type IpRuleSpec,
} from './exit-routing.js';
import { isValidInterfaceName, isValidNetnsName } from './ifname.js';
import { IpCommand, isNotFound, type IpRoute } from './iproute.js';
import { NftCommand } from './nft.js';
import { compileRuleset } from './nft-ruleset.js';
import {
  decodeSysctlRecord,
  encodeSysctlRecord,
  EXIT_ROUTING_SYSCTLS,
  FORWARDING_SYSCTLS,
  SysctlCommand,
} from './sysctl.js';
import { LinuxSystemDns, type DnsHost } from './system-dns.js';
import {
  OsConfigError,
  type ExitRouting,
  type InboundFilter,
  type OsConfigurator,
  type OsNetworkConfig,
  type SystemDnsConfig,
} from './types.js';

/**
 * 0x54 ('T'). iproute2's registry (rt_protos) reserves 0-4 for the kernel and names 8-18, 42,
 * 99 and 186-192 for routing daemons; 84 is unassigned, so nothing else marks routes with it.
 */
export const TRELLIS_ROUTE_PROTOCOL = 0x54;
/** IPv6, which the mesh carries, needs 1280; Linux accepts up to 65535. */
export const MIN_MTU = 1280;
export const MAX_MTU = 65535;
/** Bypass host names (control, relays) are looked up again after this long. */
export const BYPASS_RESOLVE_TTL_MS = 5 * 60_000;
/** A lookup that takes longer is skipped for this apply (the host then rides the tunnel). */
const BYPASS_RESOLVE_TIMEOUT_MS = 3_000;

export interface LinuxOsOptions {
  /** The interface this configurator owns; apply() configs must name it. */
  readonly interfaceName: string;
  /** Configure inside this network namespace (`ip -n`), for tests and the lab. */
  readonly netns?: string;
  readonly exec?: Exec;
  /** Resolves bypass host names to addresses (default: the system resolver). */
  readonly resolveHost?: (host: string) => Promise<string[]>;
  /** File-system facts for system DNS (default: the real ones). */
  readonly dnsHost?: DnsHost;
}

interface LinkState {
  readonly mtu: number;
  readonly up: boolean;
}

const familyOf = (cidr: string): 4 | 6 => (cidr.includes(':') ? 6 : 4);

/** `ip route` prints host routes without a length and 0/0 as "default". */
export function routeDstToCidr(dst: string, family: 4 | 6): string | null {
  if (dst === 'default') return family === 4 ? '0.0.0.0/0' : '::/0';
  if (dst.includes('/')) {
    const r = normalizeCidr(dst);
    return r.ok ? r.value : null;
  }
  const a = parseIp(dst);
  return a.ok ? formatPrefix(hostPrefix(a.value)) : null;
}

/** An interface address in canonical "address/length" form (host bits kept). */
function canonicalAddress(text: string): string | null {
  if (!text.includes('/')) {
    const a = parseIp(text);
    return a.ok ? formatPrefix(hostPrefix(a.value)) : null;
  }
  const c = parseCidr(text);
  return c.ok ? `${formatIp(c.value.address)}/${c.value.bits}` : null;
}

const HOST_NAME_RE = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]*)(?:\.[A-Za-z0-9_-]+)*\.?$/;
const DOMAIN_RE = /^[A-Za-z0-9_.-]{1,253}$/;

interface CanonicalOsConfig {
  readonly addresses: readonly string[];
  readonly localAddresses: readonly string[];
  readonly routes: readonly string[];
  readonly mtu: number;
  readonly filter: InboundFilter | null;
  readonly exitRouting: ExitRouting | null;
  readonly forwarding: boolean;
  readonly dns: SystemDnsConfig | null;
}

function checkDns(dns: SystemDnsConfig): SystemDnsConfig {
  for (const ns of dns.nameservers) {
    if (!isIp(ns)) throw new OsConfigError('bad_config', `not a nameserver: ${JSON.stringify(ns)}`);
  }
  for (const d of [...dns.searchDomains, ...dns.matchDomains]) {
    if (!DOMAIN_RE.test(d) || d.startsWith('-'))
      throw new OsConfigError('bad_config', `not a DNS domain: ${JSON.stringify(d)}`);
  }
  return dns;
}

export function canonicalOsConfig(
  config: OsNetworkConfig,
  interfaceName: string,
): CanonicalOsConfig {
  if (config.interfaceName !== interfaceName) {
    throw new OsConfigError(
      'bad_config',
      `this configurator owns ${interfaceName}, not ${config.interfaceName}`,
    );
  }
  if (!Number.isInteger(config.mtu) || config.mtu < MIN_MTU || config.mtu > MAX_MTU) {
    throw new OsConfigError('bad_config', `MTU must be ${MIN_MTU}-${MAX_MTU}, got ${config.mtu}`);
  }
  const canonicalAddresses = (list: readonly string[]): string[] => {
    const out = new Set<string>();
    for (const a of list) {
      const c = canonicalAddress(a);
      if (c === null) throw new OsConfigError('bad_config', `not an address: ${JSON.stringify(a)}`);
      out.add(c);
    }
    return [...out].sort();
  };
  const addresses = canonicalAddresses(config.addresses);
  const localAddresses = canonicalAddresses(config.localAddresses ?? []);
  const routes = new Set<string>();
  for (const r of config.routes) {
    // A bare address is a host route.
    const c = routeDstToCidr(r, familyOf(r));
    if (c === null || r === 'default') {
      throw new OsConfigError('bad_config', `not a prefix: ${JSON.stringify(r)}`);
    }
    if (c.endsWith('/0')) {
      throw new OsConfigError(
        'bad_config',
        `default route ${c} is exit-node routing (exitRouting), not a mesh route`,
      );
    }
    routes.add(c);
  }
  const exitRouting = config.exitRouting ?? null;
  for (const h of exitRouting?.bypass ?? []) {
    if (!isIp(h) && !HOST_NAME_RE.test(h))
      throw new OsConfigError('bad_config', `not a host: ${JSON.stringify(h)}`);
  }
  return {
    addresses,
    localAddresses,
    routes: [...routes].sort(),
    mtu: config.mtu,
    filter: config.filter ?? null,
    exitRouting,
    forwarding: config.forwarding ?? false,
    dns: config.dns ? checkDns(config.dns) : null,
  };
}

/** What to add and remove to get from `current` to `desired`. Pure. */
export function planSet(
  current: readonly string[],
  desired: readonly string[],
): { add: string[]; remove: string[] } {
  const have = new Set(current);
  const want = new Set(desired);
  return {
    add: [...want].filter((x) => !have.has(x)).sort(),
    remove: [...have].filter((x) => !want.has(x)).sort(),
  };
}

/** A delete of something already gone: ESRCH for routes, EADDRNOTAVAIL for addresses. */
function isAlreadyGone(e: unknown): boolean {
  return (
    isNotFound(e) ||
    (e instanceof ExecError && /No such process|Cannot assign requested address/.test(e.stderr))
  );
}

/** `ip -6 …` on a kernel without IPv6. */
function isNoIpv6(e: unknown): boolean {
  return e instanceof ExecError && /Address family not supported/.test(e.stderr);
}

const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  ip: 'iproute2',
  nft: 'nftables',
  sysctl: 'procps',
  resolvectl: 'systemd-resolved',
};

function osError(e: unknown): OsConfigError {
  if (e instanceof OsConfigError) return e;
  if (e instanceof ExecError) {
    if (e.reason === 'spawn_failed') {
      const pkg = TOOL_PACKAGES[e.command] ?? e.command;
      return new OsConfigError('not_found', `${e.message} (install ${pkg})`);
    }
    if (/Operation not permitted/.test(e.stderr))
      return new OsConfigError('not_permitted', e.message);
    if (isNotFound(e)) return new OsConfigError('not_found', e.message);
    return new OsConfigError('command_failed', e.message);
  }
  return new OsConfigError('command_failed', e instanceof Error ? e.message : String(e));
}

/** Runs the steps in order, each even when an earlier one failed; then throws them all as one. */
async function allSteps(steps: ReadonlyArray<readonly [string, () => Promise<void>]>) {
  const failures: OsConfigError[] = [];
  for (const [what, step] of steps) {
    try {
      await step();
    } catch (e) {
      const o = osError(e);
      failures.push(new OsConfigError(o.code, `${what}: ${o.message}`));
    }
  }
  const [first] = failures;
  if (!first) return;
  throw failures.length === 1
    ? first
    : new OsConfigError(first.code, failures.map((f) => f.message).join('; '));
}

async function systemResolve(host: string): Promise<string[]> {
  const all = await lookup(host, { all: true });
  return all.map((a) => a.address);
}

export class LinuxOsConfigurator implements OsConfigurator {
  readonly interfaceName: string;
  private readonly ip: IpCommand;
  private readonly nft: NftCommand;
  private readonly sysctl: SysctlCommand;
  private readonly systemDns: LinuxSystemDns;
  private readonly resolveHost: (host: string) => Promise<string[]>;
  private readonly proto = String(TRELLIS_ROUTE_PROTOCOL);
  /** The link as the first apply found it; restored by teardown. */
  private original: LinkState | null = null;
  /** Original values of the sysctls we changed (also in the table's comment); null: not read. */
  private sysctlRecord: Map<string, string> | null = null;
  /** The nft script the kernel has from us; null: unknown. */
  private nftScript: string | null = null;
  private readonly resolved = new Map<string, { addresses: string[]; at: number }>();
  private dnsWarning: string | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(options: LinuxOsOptions) {
    if (!isValidInterfaceName(options.interfaceName)) {
      throw new OsConfigError(
        'bad_config',
        `invalid interface name ${JSON.stringify(options.interfaceName)}`,
      );
    }
    if (options.netns !== undefined && !isValidNetnsName(options.netns)) {
      throw new OsConfigError(
        'bad_config',
        `invalid namespace name ${JSON.stringify(options.netns)}`,
      );
    }
    const exec = options.exec ?? runCommand;
    this.interfaceName = options.interfaceName;
    this.ip = new IpCommand(exec, options.netns);
    this.nft = new NftCommand(exec, options.netns);
    this.sysctl = new SysctlCommand(exec, options.netns);
    this.systemDns = new LinuxSystemDns({
      exec,
      interfaceName: options.interfaceName,
      ...(options.netns !== undefined ? { netns: options.netns } : {}),
      ...(options.dnsHost ? { host: options.dnsHost } : {}),
    });
    this.resolveHost = options.resolveHost ?? systemResolve;
  }

  /** Packets the inbound filter dropped so far; null when no filter is installed. */
  dropCounter(): Promise<{ packets: number; bytes: number } | null> {
    return this.nft.dropCounter();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  apply(config: OsNetworkConfig): Promise<void> {
    return this.serial(async () => {
      const want = canonicalOsConfig(config, this.interfaceName);
      const dev = this.interfaceName;
      try {
        const link = await this.ip.link(dev);
        if (!link) throw new OsConfigError('not_found', `interface ${dev} does not exist`);
        const up = link.flags.includes('UP');
        this.original ??= { mtu: link.mtu, up };
        if (link.mtu !== want.mtu)
          await this.ip.run(['link', 'set', 'dev', dev, 'mtu', String(want.mtu)]);
        if (!up) await this.ip.run(['link', 'set', 'dev', dev, 'up']);
      } catch (e) {
        throw osError(e);
      }
      // Filter first, and nothing else without it: no peer may meet an unfiltered interface.
      await allSteps([['packet filter', () => this.applyNft(want)]]);
      await allSteps([
        [
          'addresses',
          () =>
            this.applyAddresses([
              ...want.addresses.map((a) => `${a} global`),
              ...want.localAddresses.map((a) => `${a} host`),
            ]),
        ],
        ['routes', () => this.applyRoutes(want.routes)],
        ['exit-node routing', () => this.applyExitRouting(want.exitRouting)],
      ]);
      // Last, and not an apply failure: names may not resolve, but the tunnels work.
      try {
        await this.systemDns.apply(want.dns);
        this.dnsWarning = null;
      } catch (e) {
        this.dnsWarning = `system DNS not set: ${osError(e).message}`;
      }
    });
  }

  warnings(): readonly string[] {
    return this.dnsWarning === null ? [] : [this.dnsWarning];
  }

  // -- addresses and routes ----------------------------------------------------------------

  /** Our addresses as "address/len scope" (global: mesh; host: local only). */
  private async currentAddresses(): Promise<string[]> {
    const infos = (await this.ip.addresses(this.interfaceName)) ?? [];
    const out: string[] = [];
    for (const a of infos) {
      if ((a.scope !== 'global' && a.scope !== 'host') || a.local === undefined) continue;
      const c = canonicalAddress(`${a.local}/${a.prefixlen}`);
      if (c !== null) out.push(`${c} ${a.scope}`);
    }
    return out;
  }

  private async applyAddresses(desired: readonly string[]): Promise<void> {
    const plan = planSet(await this.currentAddresses(), desired);
    const dev = this.interfaceName;
    // Add first, so an address change never leaves the interface without one.
    for (const entry of plan.add) {
      const [a = '', scope = 'global'] = entry.split(' ');
      const extra = [
        // Host scope: never chosen as a source address, so no packet leaves from it.
        ...(scope === 'host' ? ['scope', 'host'] : []),
        // nodad: the address is ours alone on a point-to-point link; DAD would only delay it.
        ...(familyOf(a) === 6 ? ['nodad'] : []),
      ];
      await this.ip.run(['address', 'add', a, 'dev', dev, ...extra]);
    }
    for (const entry of plan.remove) {
      await this.ip.run(['address', 'del', entry.split(' ')[0] ?? '', 'dev', dev]);
    }
  }

  /** Our routes on our interface, as canonical prefixes. */
  private async currentRoutes(): Promise<string[]> {
    const out: string[] = [];
    for (const family of [4, 6] as const) {
      const routes: IpRoute[] = await this.ip.routes(family, [
        'table',
        'main',
        'proto',
        this.proto,
        'dev',
        this.interfaceName,
      ]);
      for (const r of routes) {
        const c = routeDstToCidr(r.dst, family);
        if (c !== null) out.push(c);
      }
    }
    return out;
  }

  private routeArgs(verb: 'add' | 'del', prefix: string): string[] {
    return [
      `-${familyOf(prefix)}`,
      'route',
      verb,
      prefix,
      'dev',
      this.interfaceName,
      'proto',
      this.proto,
      'table',
      'main',
    ];
  }

  private async applyRoutes(desired: readonly string[]): Promise<void> {
    const plan = planSet(await this.currentRoutes(), desired);
    // One conflicting route (e.g. a LAN already routes that subnet) must not block the others.
    const failures: string[] = [];
    for (const r of plan.add) {
      try {
        await this.ip.run(this.routeArgs('add', r));
      } catch (e) {
        failures.push(e instanceof Error ? e.message : String(e));
      }
    }
    for (const r of plan.remove) {
      try {
        await this.ip.run(this.routeArgs('del', r));
      } catch (e) {
        if (!isAlreadyGone(e)) failures.push(e instanceof Error ? e.message : String(e));
      }
    }
    if (failures.length > 0) {
      throw new OsConfigError('command_failed', `routes not applied: ${failures.join('; ')}`);
    }
  }

  // -- nftables and sysctls ----------------------------------------------------------------

  /** The sysctl record, read from a predecessor's table the first time. */
  private async record(): Promise<Map<string, string>> {
    if (this.sysctlRecord === null) {
      const comment = await this.nft.tableComment();
      // A table of ours means a script of ours is in the kernel, just not a known one.
      this.sysctlRecord = decodeSysctlRecord(comment ?? null);
      if (comment === undefined)
        this.nftScript = compileRuleset(this.rulesetFor(null, false, null));
    }
    return this.sysctlRecord;
  }

  private rulesetFor(filter: InboundFilter | null, forwarding: boolean, comment: string | null) {
    return { interfaceName: this.interfaceName, filter, forwarding, comment };
  }

  private async applyNft(want: CanonicalOsConfig): Promise<void> {
    const record = await this.record();
    const desired = new Set<string>([
      ...(want.forwarding ? FORWARDING_SYSCTLS : []),
      ...(want.exitRouting ? EXIT_ROUTING_SYSCTLS : []),
    ]);
    // Settings no longer needed go back first; the record keeps them until the table says so.
    for (const [name, value] of [...record]) {
      if (desired.has(name)) continue;
      await this.sysctl.set(name, value);
      record.delete(name);
    }
    const toSet: string[] = [];
    for (const name of desired) {
      if (record.has(name)) continue;
      const value = await this.sysctl.get(name);
      // A setting this kernel lacks (IPv6 off) is left out; forwarding the other family works.
      if (value === null) continue;
      record.set(name, value);
      if (value !== '1') toSet.push(name);
    }
    const script = compileRuleset(
      this.rulesetFor(
        want.filter,
        want.forwarding,
        record.size > 0 ? encodeSysctlRecord(record) : null,
      ),
    );
    if (script !== this.nftScript) {
      await this.nft.apply(script);
      this.nftScript = script;
    }
    // Changed only once the original is recorded in the kernel.
    for (const name of toSet) await this.sysctl.set(name, '1');
  }

  /** Restores recorded sysctls (ours or a crashed predecessor's) and deletes the table. */
  private async teardownNft(): Promise<void> {
    const comment = await this.nft.tableComment();
    const record = new Map([...decodeSysctlRecord(comment ?? null), ...(this.sysctlRecord ?? [])]);
    for (const [name, value] of record) await this.sysctl.set(name, value);
    if (comment !== undefined) await this.nft.deleteTable();
    this.sysctlRecord = null;
    this.nftScript = null;
  }

  // -- exit-node routing -------------------------------------------------------------------

  private async resolveBypass(hosts: readonly string[]): Promise<string[]> {
    const out: string[] = [];
    const now = Date.now();
    for (const h of hosts) {
      if (isIp(h)) {
        out.push(h);
        continue;
      }
      const cached = this.resolved.get(h);
      if (cached && now - cached.at < BYPASS_RESOLVE_TTL_MS) {
        out.push(...cached.addresses);
        continue;
      }
      let timer: NodeJS.Timeout | undefined;
      const addresses = await Promise.race([
        this.resolveHost(h).catch(() => [] as string[]),
        new Promise<string[]>((r) => {
          timer = setTimeout(() => r([]), BYPASS_RESOLVE_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
      const valid = addresses.filter(isIp);
      this.resolved.set(h, { addresses: valid, at: now });
      out.push(...valid);
    }
    return out;
  }

  /** The networks of the machine's other interfaces (allowLan). */
  private async lanPrefixes(): Promise<string[]> {
    const out: string[] = [];
    for (const link of await this.ip.allAddresses()) {
      if (link.ifname === this.interfaceName) continue;
      for (const a of link.addr_info) {
        if (a.scope !== 'global' || a.local === undefined) continue;
        out.push(`${a.local}/${a.prefixlen}`);
      }
    }
    return out;
  }

  /** Our rules per family; IPv6 is left out on a kernel without it. */
  private async currentRules(): Promise<
    Array<{ family: 4 | 6; rules: ReturnType<typeof ownRules> }>
  > {
    const out: Array<{ family: 4 | 6; rules: ReturnType<typeof ownRules> }> = [];
    for (const family of [4, 6] as const) {
      try {
        out.push({ family, rules: ownRules(family, await this.ip.rules(family), this.proto) });
      } catch (e) {
        if (family === 6 && isNoIpv6(e)) continue;
        throw e;
      }
    }
    return out;
  }

  private async tableRoutes(family: 4 | 6): Promise<IpRoute[]> {
    return this.ip.routes(family, ['table', String(EXIT_ROUTE_TABLE), 'proto', this.proto]);
  }

  private async applyExitRouting(exit: ExitRouting | null): Promise<void> {
    const current = await this.currentRules();
    if (exit === null) return this.removeExitRouting(current);
    const plan = planExitRules({
      bypass: await this.resolveBypass(exit.bypass),
      local: [...LINK_SCOPE_PREFIXES, ...(exit.allowLan ? await this.lanPrefixes() : [])],
    });
    for (const { family, rules } of current) {
      const want = plan.filter((r) => r.family === family);
      const wantKeys = new Set(want.map(ruleKey));
      const haveKeys = new Set<string>();
      // The routes first, so the catch-all rule never points at an empty table.
      await this.ensureTableRoutes(family);
      const stale = rules.filter((r) => r.spec === null || !wantKeys.has(ruleKey(r.spec)));
      for (const r of rules) if (r.spec) haveKeys.add(ruleKey(r.spec));
      // Specific rules before the catch-all when adding, the catch-all first when removing.
      for (const spec of want) {
        if (!haveKeys.has(ruleKey(spec))) await this.ip.run(ruleArgs('add', spec, this.proto));
      }
      for (const r of stale.sort((a, b) => b.raw.priority - a.raw.priority))
        await this.deleteRule(family, r);
    }
  }

  private async ensureTableRoutes(family: 4 | 6): Promise<void> {
    const have = await this.tableRoutes(family);
    const [dev, unreachable] = exitTableRoutes(family, this.interfaceName, this.proto);
    const hasDev = have.some((r) => r.dev === this.interfaceName && r.type !== 'unreachable');
    const hasUnreachable = have.some((r) => r.type === 'unreachable');
    if (!hasUnreachable && unreachable) await this.ip.run(unreachable);
    if (!hasDev && dev) await this.ip.run(dev);
  }

  private async deleteRule(
    family: 4 | 6,
    r: { spec: IpRuleSpec | null; raw: Parameters<typeof rawRuleDeleteArgs>[1] },
  ): Promise<void> {
    const args = r.spec
      ? ruleArgs('del', r.spec, this.proto)
      : rawRuleDeleteArgs(family, r.raw, this.proto);
    await this.ip.run(args).catch((e: unknown) => {
      if (!isAlreadyGone(e)) throw e;
    });
  }

  private async removeExitRouting(
    current: Array<{ family: 4 | 6; rules: ReturnType<typeof ownRules> }>,
  ): Promise<void> {
    for (const { family, rules } of current) {
      for (const r of [...rules].sort((a, b) => b.raw.priority - a.raw.priority))
        await this.deleteRule(family, r);
      for (const route of await this.tableRoutes(family)) {
        const dst = routeDstToCidr(route.dst, family) ?? route.dst;
        const args = [
          `-${family}`,
          'route',
          'del',
          ...(route.type === 'unreachable' ? ['unreachable'] : []),
          dst,
          ...(route.metric !== undefined ? ['metric', String(route.metric)] : []),
          'table',
          String(EXIT_ROUTE_TABLE),
          'proto',
          this.proto,
        ];
        await this.ip.run(args).catch((e: unknown) => {
          if (!isAlreadyGone(e)) throw e;
        });
      }
    }
  }

  // -- teardown ----------------------------------------------------------------------------

  teardown(): Promise<void> {
    return this.serial(async () => {
      await allSteps([
        [
          'system DNS',
          async () => {
            this.dnsWarning = null;
            await this.systemDns.teardown();
          },
        ],
        ['exit-node routing', async () => this.removeExitRouting(await this.currentRules())],
        ['packet filter', () => this.teardownNft()],
        ['interface', () => this.teardownLink()],
      ]);
    });
  }

  private async teardownLink(): Promise<void> {
    const dev = this.interfaceName;
    const link = await this.ip.link(dev);
    // The interface is gone, and everything on it with it.
    if (!link) {
      this.original = null;
      return;
    }
    const ignoreGone = (e: unknown): void => {
      if (!isAlreadyGone(e)) throw e;
    };
    for (const r of await this.currentRoutes()) {
      await this.ip.run(this.routeArgs('del', r)).catch(ignoreGone);
    }
    for (const entry of await this.currentAddresses()) {
      const a = entry.split(' ')[0] ?? '';
      await this.ip.run(['address', 'del', a, 'dev', dev]).catch(ignoreGone);
    }
    const original = this.original;
    if (original) {
      if (link.mtu !== original.mtu) {
        await this.ip.run(['link', 'set', 'dev', dev, 'mtu', String(original.mtu)]);
      }
      if (!original.up && link.flags.includes('UP')) {
        await this.ip.run(['link', 'set', 'dev', dev, 'down']);
      }
    }
    this.original = null;
  }
}
