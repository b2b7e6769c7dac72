/**
 * Endpoint discovery: keeps the device's endpoint candidates (local interface addresses plus the
 * STUN-reflexive addresses of the latest netcheck) and the netcheck report current. It re-runs
 * netcheck every 20–26 s while running and at once when the host's addresses or magicsock's port
 * change, and emits (endpoints, report) whenever either changed. Timers go through the Clock, so
 * tests drive the schedule with a ManualClock while the STUN traffic stays real.
 */
import { MAX_ENDPOINTS } from '../../shared/schema/common.js';
import type { Endpoint, RelayMap } from '../../shared/schema/control/netmap.js';
import type { NetcheckReport, PortMappingSupport } from '../../shared/schema/netcheck.js';
import { systemClock, type Clock } from '../control-client/clock.js';
import type { InterfaceAddress } from '../control-client/hostinfo.js';
import { silentLogger, type Logger } from '../daemon/log.js';
import { localEndpoints } from './local-endpoints.js';
import { sameReport } from './report.js';

/**
 * Re-STUN period, as Tailscale's magicsock: NAT UDP mappings commonly expire after 30 s of
 * silence (some after 20 s of the RFC 4787 minimum's 2 min), so a STUN every 20–26 s keeps the
 * mapping we advertise alive and notices a rebinding within half a minute.
 */
export const RESTUN_INTERVAL_MS = 20_000;
/** Jitter on top, so devices that started together (after an outage) do not STUN in lockstep. */
export const RESTUN_JITTER_MS = 6_000;
/**
 * How often interface addresses are compared for a link change (a new Wi-Fi, a VPN, a DHCP
 * renewal). os.networkInterfaces() is a cheap getifaddrs call; 3 s makes roaming feel immediate.
 */
export const LINK_POLL_INTERVAL_MS = 3_000;

/** What the updater needs of port mapping (the PortMapper in production). */
export interface PortMapSource {
  /** Probes the gateway (and maps as needed) with every netcheck; null without a gateway. */
  probe(): Promise<PortMappingSupport | null>;
  /** The mapped public address, ip:port text, or null. */
  readonly endpoint: string | null;
}

/** What the updater needs of netcheck (Netcheck itself in production). */
export interface NetcheckRunner {
  run(relayMap: RelayMap): Promise<NetcheckReport>;
}

export interface EndpointUpdaterOptions {
  /** Null: no STUN socket yet (no magicsock), so only local endpoints are kept. */
  readonly netcheck: NetcheckRunner | null;
  /** Null or absent: no port mapping (the report's portMapping stays null). */
  readonly portMapper?: PortMapSource | null;
  readonly interfaces: () => readonly InterfaceAddress[];
  /** The UDP port peers should send to (magicsock's); null while unknown. */
  readonly localPort: () => number | null;
  /** The mesh interface, whose own addresses are never candidates. */
  readonly meshInterface: string;
  /** Called with the new state whenever the endpoints or (the gist of) the report changed. */
  readonly onChange: (endpoints: Endpoint[], report: NetcheckReport | null) => void;
  readonly clock?: Clock;
  readonly random?: () => number;
  readonly log?: Logger;
}

export class EndpointUpdater {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly log: Logger;
  private relayMap: RelayMap | null = null;
  private latest: NetcheckReport | null = null;
  private emitted: { endpoints: string; report: NetcheckReport | null } | null = null;
  private linkKey = '';
  private restunTimer: unknown = null;
  private pollTimer: unknown = null;
  private running: Promise<NetcheckReport | null> | null = null;
  /** A link change arrived during a run: run again when it ends. */
  private rerun = false;
  /** Bumped by start() and stop(), so a run that began before a restart is repeated. */
  private session = 0;
  private active = false;

  constructor(private readonly options: EndpointUpdaterOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.log = options.log ?? silentLogger;
  }

  /** The latest netcheck report, or null before the first. */
  get report(): NetcheckReport | null {
    return this.latest;
  }

  /**
   * The current candidates: the port mapping first (reachable from anywhere, even behind a hard
   * NAT), then reflexive (what remote peers most likely reach), then local.
   */
  get endpoints(): Endpoint[] {
    const port = this.options.localPort();
    const local =
      port === null
        ? []
        : localEndpoints(this.options.interfaces(), port, this.options.meshInterface);
    const mapped = this.options.portMapper?.endpoint ?? null;
    const stun: Endpoint[] = mapped === null ? [] : [{ addr: mapped, type: 'portmap' }];
    for (const addr of [this.latest?.globalV4, this.latest?.globalV6]) {
      if (addr) stun.push({ addr, type: 'stun' });
    }
    const seen = new Set<string>();
    const out: Endpoint[] = [];
    for (const e of [...stun, ...local]) {
      if (seen.has(e.addr)) continue;
      seen.add(e.addr);
      out.push(e);
    }
    return out.slice(0, MAX_ENDPOINTS);
  }

  /** Starts (or restarts) polling and STUN, and emits the current state at once. */
  start(): void {
    this.stop();
    this.active = true;
    this.session += 1;
    this.linkKey = this.currentLinkKey();
    this.emit(true);
    this.schedulePoll();
    this.runSoon();
  }

  stop(): void {
    this.active = false;
    this.session += 1;
    this.rerun = false;
    this.clock.clearTimeout(this.restunTimer);
    this.clock.clearTimeout(this.pollTimer);
    this.restunTimer = this.pollTimer = null;
    this.emitted = null;
  }

  /** The relay map from the netmap; a change of STUN servers triggers a netcheck. */
  setRelayMap(relayMap: RelayMap | null): void {
    const stunServers = (m: RelayMap | null) =>
      JSON.stringify(
        m?.regions.map((r) => [r.id, r.relays.map((x) => [x.stunHost, x.stunPort, x.url])]) ?? null,
      );
    const changed = stunServers(relayMap) !== stunServers(this.relayMap);
    this.relayMap = relayMap;
    if (changed && this.active) this.runSoon();
  }

  /** A candidate changed outside netcheck (a port mapping appeared or went away). */
  candidatesChanged(): void {
    this.emit(false);
  }

  /** Re-reads local addresses and port now (the tunnel came up, magicsock rebound). */
  refresh(): void {
    if (!this.active) return;
    this.checkLink();
  }

  /**
   * A fresh netcheck for the LocalAPI; joins a run in progress. Null without a netcheck or relay
   * map. Its result feeds the endpoints like any periodic run.
   */
  runNow(): Promise<NetcheckReport | null> {
    return this.running ?? this.runNetcheck();
  }

  private runSoon(): void {
    if (this.running) {
      this.rerun = true;
      return;
    }
    void this.runNetcheck();
  }

  private runNetcheck(): Promise<NetcheckReport | null> {
    const netcheck = this.options.netcheck;
    const relayMap = this.relayMap;
    if (netcheck === null || relayMap === null) return Promise.resolve(null);
    this.clock.clearTimeout(this.restunTimer);
    this.restunTimer = null;
    const run = this.netcheckOnce(netcheck, relayMap, this.session);
    this.running = run;
    return run;
  }

  /** One run and what follows it; runs never overlap (runSoon and runNow join a running one). */
  private async netcheckOnce(
    netcheck: NetcheckRunner,
    relayMap: RelayMap,
    session: number,
  ): Promise<NetcheckReport | null> {
    let report: NetcheckReport | null = null;
    try {
      const portMapper = this.options.portMapper ?? null;
      let probed: { support: PortMappingSupport | null } | null = null;
      const probing =
        portMapper === null
          ? null
          : portMapper.probe().then(
              (support) => (probed = { support }),
              () => (probed = { support: null }),
            );
      const r = await netcheck.run(relayMap);
      if (portMapper === null) {
        report = r;
      } else {
        // A gateway that speaks no port-mapping protocol answers nothing, so the probe often ends
        // only at its timeout, long after STUN did: publish the reflexive address (what a peer
        // needs to punch through to us) now, with the last run's port-mapping findings, and the
        // new findings when they come.
        if (probed === null && this.active && session === this.session) {
          this.latest = {
            ...r,
            portMapping: this.latest?.portMapping ?? null,
            portMapped: portMapper.endpoint,
          };
          this.emit(false);
        }
        const { support } = probed ?? (await probing)!;
        report = { ...r, portMapping: support, portMapped: portMapper.endpoint };
      }
    } catch (e) {
      this.log.warn({ error: (e as Error).message }, 'netcheck failed');
    }
    this.running = null;
    if (report !== null) this.latest = report;
    if (!this.active) return report;
    this.emit(false);
    // A link change during the run, or a restart since it began: its answers may be stale.
    if (this.rerun || session !== this.session) {
      this.rerun = false;
      void this.runNetcheck();
    } else {
      this.scheduleRestun();
    }
    return report;
  }

  private scheduleRestun(): void {
    this.clock.clearTimeout(this.restunTimer);
    const delay = RESTUN_INTERVAL_MS + Math.floor(this.random() * RESTUN_JITTER_MS);
    this.restunTimer = this.clock.setTimeout(() => {
      this.restunTimer = null;
      this.runSoon();
    }, delay);
  }

  private schedulePoll(): void {
    this.pollTimer = this.clock.setTimeout(() => {
      this.checkLink();
      if (this.active) this.schedulePoll();
    }, LINK_POLL_INTERVAL_MS);
  }

  private checkLink(): void {
    const key = this.currentLinkKey();
    if (key === this.linkKey) return;
    this.linkKey = key;
    this.log.info({}, 'network addresses changed: re-checking endpoints');
    // The local candidates are known now; the reflexive ones follow when the netcheck answers.
    this.emit(false);
    this.runSoon();
  }

  /** Addresses that could be candidates, and the port: what a change of endpoints depends on. */
  private currentLinkKey(): string {
    const addrs = this.options
      .interfaces()
      .filter((a) => !a.internal && a.interfaceName !== this.options.meshInterface)
      .map((a) => `${a.interfaceName} ${a.address}`)
      .sort();
    return JSON.stringify([this.options.localPort(), addrs]);
  }

  private emit(force: boolean): void {
    if (!this.active) return;
    const endpoints = this.endpoints;
    const key = JSON.stringify(endpoints);
    const e = this.emitted;
    if (!force && e !== null && e.endpoints === key && sameReport(e.report, this.latest)) return;
    this.emitted = { endpoints: key, report: this.latest };
    this.log.debug({ endpoints: endpoints.map((x) => x.addr) }, 'endpoints changed');
    this.options.onChange(endpoints, this.latest);
  }
}
