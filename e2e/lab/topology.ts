/**
 * A small internet built from network namespaces (see docs/lab.md):
 *
 *                      ┌──────────── internet namespace ────────────┐
 *   service hosts ──── │ ix-svc bridge 198.51.100.1/24   (routes)   │
 *   (control, STUN,    │ ix-wan bridge 203.0.113.1/24               │
 *    relays, ...)      └───────────────┬────────────────────────────┘
 *                                      │ wan 203.0.113.1xx
 *                               site router (nftables NAT)          'double': a second router
 *                                      │ lan bridge 10.n.0.1/24     (the "isp") sits between
 *                               device  device ...                  the internet and the site
 *
 * `createNatLab()` builds the internet namespace; `lab.service()` adds a host on the internet,
 * `lab.site()` a site behind a router with a chosen NAT kind, `site.device()` a device in it.
 * Programs run in any of them with `lab.spawn()` (tracked, stopped on dispose) or `lab.exec()`.
 *
 * Names visible on the host (namespaces, the work directory) carry the run's prefix; interface
 * names inside lab namespaces (eth0, wan, lan, d-<device>, ...) are local to their namespace and
 * stay short and readable. Everything is removed on dispose, on exit, on SIGINT/SIGTERM and by
 * the next run's cleanupStale() (netns.ts).
 */
import { isAbsolute, join } from 'node:path';
import { runCommand, type ExecOptions, type ExecResult } from '../../src/helper/exec.js';
import {
  AddressPlan,
  cidr,
  PORTMAP_WAN_SEGMENT,
  SEGMENTS,
  WAN_SEGMENT,
  type LanPlan,
  type Segment,
} from './addressing.js';
import { hostHardwareLinks, isolationProblems } from './isolation.js';
import {
  natRouters,
  natRuleset,
  ROUTER_LAN_IF,
  ROUTER_WAN_IF,
  type NatKind,
  type NatRouterSpec,
} from './nat.js';
import { createLab, type Lab } from './netns.js';
import { MINIUPNPD, portMapRuleset, writeMiniupnpdConfig } from './portmap.js';
import {
  labEnv,
  nodeScriptCommand,
  REPO_ROOT,
  spawnInNamespace,
  type LabProcess,
  type SpawnOptions,
} from './process.js';

/** The interface of a host or device: a veth to its router or to the internet. */
export const HOST_IF = 'eth0';
/** Site names end up in namespace and interface names (`r-<site>` must fit in 15 characters). */
const SITE_NAME_RE = /^[a-z][a-z0-9]{0,7}$/;
/** Device and service names become `d-<name>` / `s-<name>` interface names. */
const HOST_NAME_RE = /^[a-z][a-z0-9]{0,11}$/;
/** Names whose namespaces would collide: `<site>-router`, `<site>-isp`, `svc-<service>`. */
const RESERVED_DEVICE_NAMES = new Set(['router', 'isp']);
const RESERVED_SITE_NAMES = new Set(['svc']);

export interface Internet {
  readonly ns: string;
  readonly segments: readonly Segment[];
}

/** A host on the internet (its own namespace) where tests run servers. */
export interface Service {
  readonly name: string;
  readonly ns: string;
  readonly address: string;
  readonly segment: Segment;
}

export interface Router {
  readonly ns: string;
  /** Its address on the upstream link (the internet, or the outer router for 'double'). */
  readonly wanAddress: string;
  /** Its address on the downstream link: the next hop's default gateway. */
  readonly lanAddress: string;
  readonly lanCidr: string;
  /** The nftables ruleset it runs, or null when it only routes. */
  readonly ruleset: string | null;
}

export interface Device {
  readonly name: string;
  readonly ns: string;
  readonly site: string;
  readonly nat: NatKind;
  readonly lanAddress: string;
  readonly gateway: string;
  /** The address the internet sees this device's packets come from (follows rebindNat()). */
  readonly publicAddress: string;
}

export interface Site {
  readonly name: string;
  readonly nat: NatKind;
  readonly index: number;
  /** The router the devices sit behind. */
  readonly router: Router;
  /** 'double' only: the outer (carrier) router between `router` and the internet. */
  readonly outer: Router | null;
  /**
   * The address the internet sees this site's traffic come from ('none': the router's); it
   * follows rebindNat().
   */
  readonly publicAddress: string;
  readonly lan: LanPlan;
  /** Whether the router runs miniupnpd (SiteOptions.portMapping). */
  readonly portMapping: boolean;
  devices(): readonly Device[];
  device(name: string): Promise<Device>;
  /**
   * Forgets every NAT mapping of the site's router(s) (`conntrack -F`), addresses unchanged, as
   * a router reboot does: 'hard' flows then get new random ports, while 'easy' ones usually get
   * their old ports back (the mapping is port-preserving), so for them see rebindNat().
   */
  flushNat(): Promise<void>;
  /**
   * A NAT rebinding that always changes the mapping, as when a home router comes back with a new
   * address from its ISP: the site's internet-facing router translates to a new WAN address from
   * now on (keeping its NAT kind) and forgets every mapping, so every flow leaves from a new
   * public ip:port. `publicAddress` (the site's and its devices') follows. Returns the new
   * public address. A 'none' site has no NAT to rebind.
   */
  rebindNat(): Promise<string>;
}

export interface SiteOptions {
  readonly name: string;
  readonly nat: NatKind;
  /**
   * The router also runs miniupnpd (NAT-PMP and PCP on its LAN address, see portmap.ts), as a
   * home router with port mapping on does. Single-router NAT kinds only. Its WAN address then
   * comes from PORTMAP_WAN_SEGMENT (miniupnpd refuses documentation ranges).
   */
  readonly portMapping?: boolean;
}

export interface ServiceOptions {
  /** An address in 198.51.100.0/24 or 203.0.113.0/24; by default the next free one in the first. */
  readonly address?: string;
}

export interface NatLab {
  readonly prefix: string;
  /** The netns toolkit underneath (namespaces, veths, exec). */
  readonly base: Lab;
  readonly internet: Internet;
  /** This run's work directory (configs, data directories), removed with the lab. */
  workDir(): string;
  service(name: string, options?: ServiceOptions): Promise<Service>;
  site(options: SiteOptions): Promise<Site>;
  services(): readonly Service[];
  sites(): readonly Site[];
  devices(): readonly Device[];
  /** Runs a program in a lab namespace to completion. */
  exec(
    ns: string,
    command: string,
    args: readonly string[],
    options?: ExecOptions,
  ): Promise<ExecResult>;
  /** Runs a lab TypeScript script (`node --import tsx`) in a namespace to completion. */
  runScript(
    ns: string,
    script: string,
    args: readonly string[],
    options?: ExecOptions,
  ): Promise<ExecResult>;
  /** Starts a long-running program in a lab namespace; it is stopped on dispose. */
  spawn(
    ns: string,
    command: string,
    args: readonly string[],
    options?: SpawnOptions,
  ): Promise<LabProcess>;
  /** Starts a lab TypeScript script in a namespace; it is stopped on dispose. */
  spawnScript(
    ns: string,
    script: string,
    args: readonly string[],
    options?: SpawnOptions,
  ): Promise<LabProcess>;
  /** Every namespace of the lab. */
  namespaces(): string[];
  /** Throws if any lab link reaches beyond the lab or a host interface has moved. */
  assertIsolated(): Promise<void>;
  /** Stops tracked processes (SIGTERM, then SIGKILL), then deletes every namespace. */
  dispose(): Promise<void>;
}

/** Resolves a script path: absolute, or relative to the repository root. */
export function resolveScript(script: string): string {
  return isAbsolute(script) ? script : join(REPO_ROOT, script);
}

class NatLabImpl implements NatLab {
  readonly internet: Internet;
  private readonly plan = new AddressPlan();
  private readonly serviceList: Service[] = [];
  private readonly siteList: SiteImpl[] = [];
  private readonly siteNames = new Set<string>();
  private readonly hostNames = new Set<string>();
  private readonly processes = new Set<LabProcess>();
  private disposing: Promise<void> | undefined;

  constructor(
    readonly base: Lab,
    internetNs: string,
    private readonly hostLinksAtStart: readonly string[],
  ) {
    this.internet = { ns: internetNs, segments: SEGMENTS };
  }

  get prefix(): string {
    return this.base.prefix;
  }

  workDir(): string {
    return this.base.workDir();
  }

  /** A fresh address on the wan segment, e.g. for a router's new public address. */
  nextWanAddress(): string {
    return this.plan.wanAddress();
  }

  /** `ip -n <ns> ...` */
  ip(ns: string, args: readonly string[]): Promise<ExecResult> {
    return runCommand('ip', ['-n', ns, ...args]);
  }

  sysctl(ns: string, settings: readonly string[]): Promise<ExecResult> {
    return this.base.exec(ns, 'sysctl', ['-q', '-w', ...settings]);
  }

  claimHostName(name: string, what: 'service' | 'device'): void {
    if (!HOST_NAME_RE.test(name)) {
      throw new Error(`${what} name ${JSON.stringify(name)} must match ${HOST_NAME_RE}`);
    }
    if (what === 'device' && RESERVED_DEVICE_NAMES.has(name)) {
      throw new Error(`device name ${name} is reserved`);
    }
    if (this.hostNames.has(name)) throw new Error(`${what} name ${name} is already taken`);
    this.hostNames.add(name);
  }

  /**
   * A veth from `ns` to the internet namespace's bridge for `segment`, with `address` on it and
   * a default route through the internet namespace.
   */
  async plugIntoInternet(
    ns: string,
    nsIf: string,
    port: string,
    segment: Segment,
    address: string,
  ): Promise<void> {
    const inet = this.internet.ns;
    await this.base.createVeth(inet, port, ns, nsIf);
    await this.ip(inet, ['link', 'set', 'dev', port, 'master', segment.bridge]);
    await this.base.setUp(inet, port);
    await this.base.setUp(ns, nsIf);
    await this.base.addAddress(ns, nsIf, `${address}/${segment.prefixLength}`);
    await this.ip(ns, ['route', 'add', 'default', 'via', segment.gateway]);
    await this.base.waitLinkReady(ns, nsIf);
  }

  async service(name: string, options: ServiceOptions = {}): Promise<Service> {
    this.claimHostName(name, 'service');
    const { address, segment } = this.plan.serviceAddress(options.address);
    const ns = await this.base.createNamespace(`-svc-${name}`);
    await this.plugIntoInternet(ns, HOST_IF, `s-${name}`, segment, address);
    const service: Service = { name, ns, address, segment };
    this.serviceList.push(service);
    return service;
  }

  async site(options: SiteOptions): Promise<Site> {
    const { name, nat } = options;
    if (!SITE_NAME_RE.test(name)) {
      throw new Error(`site name ${JSON.stringify(name)} must match ${SITE_NAME_RE}`);
    }
    if (RESERVED_SITE_NAMES.has(name)) throw new Error(`site name ${name} is reserved`);
    if (this.siteNames.has(name)) throw new Error(`site ${name} exists`);
    const portMapping = options.portMapping ?? false;
    if (portMapping && (nat === 'none' || nat === 'double')) {
      throw new Error(`port mapping needs a single NAT router, not a '${nat}' site`);
    }
    this.siteNames.add(name);
    const index = this.plan.nextSiteIndex();
    const wanSegment = portMapping ? PORTMAP_WAN_SEGMENT : WAN_SEGMENT;
    const wan = this.plan.wanAddress(wanSegment);
    const lan = nat === 'none' ? this.plan.publicLan() : this.plan.natLan(index);
    const lanCidr = cidr(lan.network, lan.prefixLength);

    let outerNs: string | null = null;
    let routerWan = wan;
    const routerNs = await this.base.createNamespace(`-${name}-router`);
    if (nat === 'double') {
      const carrier = this.plan.carrierLink(index);
      outerNs = await this.base.createNamespace(`-${name}-isp`);
      await this.plugIntoInternet(outerNs, ROUTER_WAN_IF, `r-${name}`, WAN_SEGMENT, wan);
      await this.base.createVeth(outerNs, ROUTER_LAN_IF, routerNs, ROUTER_WAN_IF);
      await this.base.setUp(outerNs, ROUTER_LAN_IF);
      await this.base.setUp(routerNs, ROUTER_WAN_IF);
      await this.base.addAddress(
        outerNs,
        ROUTER_LAN_IF,
        `${carrier.outer}/${carrier.prefixLength}`,
      );
      await this.base.addAddress(
        routerNs,
        ROUTER_WAN_IF,
        `${carrier.inner}/${carrier.prefixLength}`,
      );
      await this.ip(routerNs, ['route', 'add', 'default', 'via', carrier.outer]);
      await this.base.waitLinkReady(routerNs, ROUTER_WAN_IF);
      await this.sysctl(outerNs, ['net.ipv4.ip_forward=1']);
      routerWan = carrier.inner;
    } else {
      await this.plugIntoInternet(routerNs, ROUTER_WAN_IF, `r-${name}`, wanSegment, wan);
    }
    await this.ip(routerNs, ['link', 'add', 'name', ROUTER_LAN_IF, 'type', 'bridge']);
    await this.base.setUp(routerNs, ROUTER_LAN_IF);
    await this.base.addAddress(routerNs, ROUTER_LAN_IF, `${lan.gateway}/${lan.prefixLength}`);
    await this.sysctl(routerNs, ['net.ipv4.ip_forward=1']);

    const carrier = this.plan.carrierLink(index);
    const specs = natRouters(
      nat,
      { lanCidr, wanAddress: routerWan },
      { lanCidr: cidr(carrier.network, carrier.prefixLength), wanAddress: wan },
    );
    const [innerSpec, outerSpec] = specs;
    const routerRules = innerSpec ? natRuleset(innerSpec) : null;
    const outerRules = outerSpec ? natRuleset(outerSpec) : null;
    if (routerRules !== null)
      await this.base.exec(routerNs, 'nft', ['-f', '-'], { input: routerRules });
    if (outerNs !== null && outerRules !== null) {
      await this.base.exec(outerNs, 'nft', ['-f', '-'], { input: outerRules });
    }
    if (portMapping) await this.startPortMapping(routerNs, name, lanCidr);
    if (nat === 'none') {
      // The public /28 is routed to the site: its devices are reachable from anywhere.
      await this.ip(this.internet.ns, ['route', 'add', lanCidr, 'via', wan]);
    }

    const router: Router = {
      ns: routerNs,
      wanAddress: routerWan,
      lanAddress: lan.gateway,
      lanCidr,
      ruleset: routerRules,
    };
    const outer: Router | null =
      outerNs === null
        ? null
        : {
            ns: outerNs,
            wanAddress: wan,
            lanAddress: carrier.outer,
            lanCidr: cidr(carrier.network, carrier.prefixLength),
            ruleset: outerRules,
          };
    const site = new SiteImpl(this, name, nat, index, router, outer, wan, lan, portMapping, {
      inner: innerSpec ?? null,
      outer: outerSpec ?? null,
    });
    this.siteList.push(site);
    return site;
  }

  /** miniupnpd in the router namespace, up once it listens on 5351; stopped with the lab. */
  private async startPortMapping(routerNs: string, site: string, lanCidr: string): Promise<void> {
    await this.base.exec(routerNs, 'nft', ['-f', '-'], { input: portMapRuleset() });
    const config = await writeMiniupnpdConfig(this.workDir(), site, lanCidr);
    const pidFile = `${config}.pid`;
    // -d: stay in the foreground and log to stderr (the process tail shows it on failure).
    const proc = await this.spawn(routerNs, MINIUPNPD, ['-f', config, '-d', '-P', pidFile], {
      label: `miniupnpd (${site})`,
    });
    const deadline = Date.now() + 15_000;
    while (!/Listening for NAT-PMP\/PCP traffic/.test(proc.output())) {
      if (proc.hasExited() || Date.now() > deadline) {
        throw new Error(`miniupnpd did not start on ${site}'s router:\n${proc.output()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  services(): readonly Service[] {
    return [...this.serviceList];
  }

  sites(): readonly Site[] {
    return [...this.siteList];
  }

  devices(): readonly Device[] {
    return this.siteList.flatMap((s) => s.devices());
  }

  exec(
    ns: string,
    command: string,
    args: readonly string[],
    options?: ExecOptions,
  ): Promise<ExecResult> {
    return this.base.exec(ns, command, args, options);
  }

  runScript(
    ns: string,
    script: string,
    args: readonly string[],
    options: ExecOptions = {},
  ): Promise<ExecResult> {
    const node = nodeScriptCommand(resolveScript(script));
    return this.base.exec(ns, node.command, [...node.args, ...args], {
      ...options,
      env: options.env ?? labEnv(),
    });
  }

  async spawn(
    ns: string,
    command: string,
    args: readonly string[],
    options: SpawnOptions = {},
  ): Promise<LabProcess> {
    if (this.disposing) throw new Error('lab is disposed');
    if (!this.base.namespaceNames().includes(ns)) {
      throw new Error(`namespace ${ns} does not belong to this lab`);
    }
    const p = await spawnInNamespace(ns, command, args, options);
    this.processes.add(p);
    void p.exited.then(() => this.processes.delete(p));
    return p;
  }

  spawnScript(
    ns: string,
    script: string,
    args: readonly string[],
    options: SpawnOptions = {},
  ): Promise<LabProcess> {
    const path = resolveScript(script);
    const node = nodeScriptCommand(path);
    return this.spawn(ns, node.command, [...node.args, ...args], {
      ...options,
      label: options.label ?? path.slice(REPO_ROOT.length),
    });
  }

  namespaces(): string[] {
    return this.base.namespaceNames();
  }

  async assertIsolated(): Promise<void> {
    const problems = await isolationProblems(this.namespaces(), this.prefix, this.hostLinksAtStart);
    if (problems.length > 0) throw new Error(`lab is not isolated:\n${problems.join('\n')}`);
  }

  dispose(): Promise<void> {
    this.disposing ??= (async () => {
      await Promise.all([...this.processes].map((p) => p.stop()));
      await this.base.dispose();
    })();
    return this.disposing;
  }
}

type MutableDevice = { -readonly [K in keyof Device]: Device[K] };

class SiteImpl implements Site {
  private readonly deviceList: MutableDevice[] = [];

  constructor(
    private readonly lab: NatLabImpl,
    readonly name: string,
    readonly nat: NatKind,
    readonly index: number,
    // Mutable: rebindNat() changes the public address and the internet-facing router's rules.
    public router: Router,
    public outer: Router | null,
    public publicAddress: string,
    readonly lan: LanPlan,
    readonly portMapping: boolean,
    private readonly specs: { inner: NatRouterSpec | null; outer: NatRouterSpec | null },
  ) {}

  async flushNat(): Promise<void> {
    for (const r of [this.router, this.outer]) {
      // Prints "N flow entries have been deleted" on stderr, and exits 0 even when N is 0.
      if (r?.ruleset) await this.lab.base.exec(r.ns, 'conntrack', ['-F']);
    }
  }

  async rebindNat(): Promise<string> {
    const facing = this.outer ?? this.router;
    const spec = this.specs.outer ?? this.specs.inner;
    if (spec === null) throw new Error(`site ${this.name} (${this.nat}) has no NAT to rebind`);
    // The flush below would take miniupnpd's table with it.
    if (this.portMapping) throw new Error(`site ${this.name} runs miniupnpd: no rebind`);
    const address = this.lab.nextWanAddress();
    // The old address stays on the link (the internet's routes to it keep working) but nothing is
    // translated to it any more: what arrives there for an old mapping finds no flow.
    await this.lab.ip(facing.ns, [
      'address',
      'add',
      `${address}/${WAN_SEGMENT.prefixLength}`,
      'dev',
      ROUTER_WAN_IF,
    ]);
    const ruleset = natRuleset({ ...spec, wanAddress: address });
    // One transaction: the router is never without its filter.
    await this.lab.base.exec(facing.ns, 'nft', ['-f', '-'], {
      input: `flush ruleset\n${ruleset}`,
    });
    if (this.outer) this.outer = { ...this.outer, ruleset };
    else this.router = { ...this.router, ruleset };
    this.publicAddress = address;
    for (const d of this.deviceList) d.publicAddress = address;
    await this.flushNat();
    return address;
  }

  devices(): readonly Device[] {
    return [...this.deviceList];
  }

  async device(name: string): Promise<Device> {
    this.lab.claimHostName(name, 'device');
    const i = this.deviceList.length;
    if (i >= this.lan.maxDevices) throw new Error(`site ${this.name} is full`);
    const lanAddress = this.lan.deviceAddress(i);
    const device: MutableDevice = {
      name,
      ns: await this.lab.base.createNamespace(`-${this.name}-${name}`),
      site: this.name,
      nat: this.nat,
      lanAddress,
      gateway: this.lan.gateway,
      publicAddress: this.nat === 'none' ? lanAddress : this.publicAddress,
    };
    // Reserved before the awaits below, so concurrent device() calls get distinct addresses.
    this.deviceList.push(device);
    const port = `d-${name}`;
    const { base } = this.lab;
    await base.createVeth(this.router.ns, port, device.ns, HOST_IF);
    await this.lab.ip(this.router.ns, ['link', 'set', 'dev', port, 'master', ROUTER_LAN_IF]);
    await base.setUp(this.router.ns, port);
    await base.setUp(device.ns, HOST_IF);
    await base.addAddress(device.ns, HOST_IF, `${lanAddress}/${this.lan.prefixLength}`);
    await this.lab.ip(device.ns, ['route', 'add', 'default', 'via', this.lan.gateway]);
    await base.waitLinkReady(device.ns, HOST_IF);
    return device;
  }
}

/**
 * Builds the internet namespace of a new lab run (after cleaning up dead runs' leftovers).
 * Dispose the result; exit and signal hooks dispose it too.
 */
export async function createNatLab(): Promise<NatLab> {
  const hostLinks = await hostHardwareLinks();
  const base = createLab();
  try {
    const ns = await base.createNamespace('-inet');
    // It routes between the segments and to 'none' sites; redirects would only confuse hosts
    // that share a segment.
    await base.exec(ns, 'sysctl', [
      '-q',
      '-w',
      'net.ipv4.ip_forward=1',
      'net.ipv4.conf.all.send_redirects=0',
      'net.ipv4.conf.default.send_redirects=0',
    ]);
    for (const s of SEGMENTS) {
      await runCommand('ip', ['-n', ns, 'link', 'add', 'name', s.bridge, 'type', 'bridge']);
      await base.setUp(ns, s.bridge);
      await base.addAddress(ns, s.bridge, `${s.gateway}/${s.prefixLength}`);
    }
    return new NatLabImpl(base, ns, hostLinks);
  } catch (e) {
    await base.dispose();
    throw e;
  }
}
