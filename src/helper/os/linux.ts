/**
 * Linux OS configuration with iproute2: the mesh addresses on the WireGuard interface, its MTU
 * and link state, and routes to peers and accepted subnets — applied as a diff against what the
 * kernel reports (`ip -json`), so re-applying an unchanged netmap runs no command at all.
 *
 * Ownership, so that teardown removes exactly what Trellis added, even after a crash:
 * - Routes go in the main table (ordinary longest-prefix routing, no policy rules needed) and
 *   carry our own routing protocol number, TRELLIS_ROUTE_PROTOCOL. A new configurator finds a
 *   crashed predecessor's routes by that number on our interface and removes them.
 * - Addresses: the interface is ours (created by the WireGuard backend), so every global-scope
 *   address on it is ours. (iproute2 6.1 cannot tag addresses with a protocol.)
 * - MTU and up/down state are restored on teardown to what the first apply found.
 *
 * Default routes (/0) are refused: exit-node routing needs policy routing that keeps control and
 * peer traffic off the tunnel, which is a separate module's job.
 */
import {
  formatIp,
  normalizeCidr,
  parseCidr,
  parseIp,
  hostPrefix,
  formatPrefix,
} from '../../shared/ip.js';
import { ExecError, runCommand, type Exec } from '../exec.js';
import { isValidInterfaceName, isValidNetnsName } from './ifname.js';
import { IpCommand, isNotFound, type IpRoute } from './iproute.js';
import { OsConfigError, type OsConfigurator, type OsNetworkConfig } from './types.js';

/**
 * 0x54 ('T'). iproute2's registry (rt_protos) reserves 0-4 for the kernel and names 8-18, 42,
 * 99 and 186-192 for routing daemons; 84 is unassigned, so nothing else marks routes with it.
 */
export const TRELLIS_ROUTE_PROTOCOL = 0x54;
/** IPv6, which the mesh carries, needs 1280; Linux accepts up to 65535. */
export const MIN_MTU = 1280;
export const MAX_MTU = 65535;

export interface LinuxOsOptions {
  /** The interface this configurator owns; apply() configs must name it. */
  readonly interfaceName: string;
  /** Configure inside this network namespace (`ip -n`), for tests and the lab. */
  readonly netns?: string;
  readonly exec?: Exec;
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

interface CanonicalOsConfig {
  readonly addresses: readonly string[];
  readonly routes: readonly string[];
  readonly mtu: number;
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
  const addresses = new Set<string>();
  for (const a of config.addresses) {
    const c = canonicalAddress(a);
    if (c === null) throw new OsConfigError('bad_config', `not an address: ${JSON.stringify(a)}`);
    addresses.add(c);
  }
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
        `default route ${c} is exit-node routing, not a mesh route`,
      );
    }
    routes.add(c);
  }
  return { addresses: [...addresses].sort(), routes: [...routes].sort(), mtu: config.mtu };
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

function osError(e: unknown): OsConfigError {
  if (e instanceof OsConfigError) return e;
  if (e instanceof ExecError) {
    if (e.reason === 'spawn_failed') {
      return new OsConfigError('not_found', `${e.message} (install iproute2)`);
    }
    if (/Operation not permitted/.test(e.stderr))
      return new OsConfigError('not_permitted', e.message);
    if (isNotFound(e)) return new OsConfigError('not_found', e.message);
    return new OsConfigError('command_failed', e.message);
  }
  return new OsConfigError('command_failed', e instanceof Error ? e.message : String(e));
}

export class LinuxOsConfigurator implements OsConfigurator {
  readonly interfaceName: string;
  private readonly ip: IpCommand;
  private readonly proto = String(TRELLIS_ROUTE_PROTOCOL);
  /** The link as the first apply found it; restored by teardown. */
  private original: LinkState | null = null;
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
    this.interfaceName = options.interfaceName;
    this.ip = new IpCommand(options.exec ?? runCommand, options.netns);
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
        await this.applyAddresses(want.addresses);
        await this.applyRoutes(want.routes);
      } catch (e) {
        throw osError(e);
      }
    });
  }

  private async currentAddresses(): Promise<string[]> {
    const infos = (await this.ip.addresses(this.interfaceName)) ?? [];
    const out: string[] = [];
    for (const a of infos) {
      if (a.scope !== 'global' || a.local === undefined) continue;
      const c = canonicalAddress(`${a.local}/${a.prefixlen}`);
      if (c !== null) out.push(c);
    }
    return out;
  }

  private async applyAddresses(desired: readonly string[]): Promise<void> {
    const plan = planSet(await this.currentAddresses(), desired);
    const dev = this.interfaceName;
    // Add first, so an address change never leaves the interface without one.
    for (const a of plan.add) {
      // nodad: the address is ours alone on a point-to-point link; DAD would only delay it.
      const extra = familyOf(a) === 6 ? ['nodad'] : [];
      await this.ip.run(['address', 'add', a, 'dev', dev, ...extra]);
    }
    for (const a of plan.remove) await this.ip.run(['address', 'del', a, 'dev', dev]);
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

  teardown(): Promise<void> {
    return this.serial(async () => {
      const dev = this.interfaceName;
      try {
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
        for (const a of await this.currentAddresses()) {
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
      } catch (e) {
        throw osError(e);
      }
    });
  }
}
