/**
 * Netcheck (after Tailscale's net/netcheck): what this network lets the device do. It sends STUN
 * Binding requests to every relay region's STUN server over IPv4 and IPv6 at once, out of
 * magicsock's sockets (StunTransport), and turns the answers into a NetcheckReport: UDP works,
 * reflexive addresses, whether the NAT maps per destination, latency per region and the
 * preferred region. When no STUN server answers (UDP blocked), region latencies come from HTTP
 * requests to the relays instead, so a home relay is still chosen.
 */
import dns from 'node:dns/promises';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseIp } from '../../shared/ip.js';
import type { RelayMap } from '../../shared/schema/control/netmap.js';
import type { NetcheckReport } from '../../shared/schema/netcheck.js';
import { addrFromRemote, decodeStun, isStun } from '../../shared/stun/index.js';
import { systemClock, type Clock } from '../control-client/clock.js';
import { systemHostEnv, type InterfaceAddress } from '../control-client/hostinfo.js';
import type { Logger } from '../daemon/log.js';
import { silentLogger } from '../daemon/log.js';
import { StunClient } from '../stun/index.js';
import { httpLatency } from './http-latency.js';
import { buildReport, type StunAnswer } from './report.js';
import type {
  DatagramSource,
  Families,
  NetcheckCounters,
  StunSink,
  StunTransport,
} from './types.js';

/**
 * The whole run's time budget: a STUN answer later than this says the path is useless anyway,
 * and `trellis netcheck` should answer in seconds. It fits the STUN client's schedule
 * (transmissions at 0, 0.5 and 1.5 s), so a server gets three chances.
 */
export const NETCHECK_BUDGET_MS = 3_000;
/**
 * Relays probed per region. A region is a few replicas of one service; three answers are enough
 * to see past one that is down, and keep a netcheck of many regions to a few dozen packets.
 */
export const MAX_PROBED_RELAYS_PER_REGION = 3;
/**
 * Without any STUN answer this long into the run, HTTP probes to the relays start alongside:
 * loopback and LAN answers take microseconds, the farthest region of a healthy network well under
 * a second, so silence by then means UDP is likely blocked, and starting now keeps the whole run
 * within its budget.
 */
export const HTTP_FALLBACK_AFTER_MS = 1_000;
/** Bound on a STUN host name lookup, so a slow resolver cannot eat the whole budget. */
const DNS_TIMEOUT_MS = 1_000;

export interface NetcheckOptions {
  /** magicsock's sockets (or a standalone DgramStunTransport). */
  readonly transport: StunTransport;
  /** Families to probe; defaults to those the host has a usable (non-loopback) address for. */
  readonly families?: () => Families;
  /** Whole-run budget in ms (tests shorten it). */
  readonly budgetMs?: number;
  /** Delay before HTTP probes start when no STUN server has answered. */
  readonly httpFallbackAfterMs?: number;
  /** Relay → HTTP latency in ms, or null when it did not answer; injectable for tests. */
  readonly httpLatency?: (relayUrl: string, signal: AbortSignal) => Promise<number | null>;
  /** Host name → addresses; injectable for tests (IP literals never reach it). */
  readonly resolve?: (host: string) => Promise<readonly { address: string; family: number }[]>;
  /** Seeds the preferred-region hysteresis (a previous report from elsewhere). */
  readonly previous?: NetcheckReport | null;
  readonly clock?: Clock;
  readonly now?: () => Date;
  readonly log?: Logger;
}

interface Probe {
  readonly regionId: number;
  readonly family: 4 | 6;
  readonly host: string;
  readonly port: number;
}

/** One instance per transport; it is also the StunSink that transport feeds. */
export class Netcheck implements StunSink {
  private readonly client: StunClient;
  private readonly budgetMs: number;
  private readonly clock: Clock;
  private readonly log: Logger;
  private running: Promise<NetcheckReport> | null = null;
  private last: NetcheckReport | null;
  private unknownTransaction = 0;
  private notAResponse = 0;

  constructor(private readonly options: NetcheckOptions) {
    this.budgetMs = options.budgetMs ?? NETCHECK_BUDGET_MS;
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? silentLogger;
    this.last = options.previous ?? null;
    this.client = new StunClient({
      send: async (packet, to) => options.transport.sendStun(packet, to.host, to.port),
      now: () => performance.now(),
    });
  }

  /** The latest report, or null before the first run finished. */
  get report(): NetcheckReport | null {
    return this.last;
  }

  counters(): NetcheckCounters {
    return { unknownTransaction: this.unknownTransaction, notAResponse: this.notAResponse };
  }

  handleStun(packet: Uint8Array, from: DatagramSource): boolean {
    try {
      const source = addrFromRemote(String(from.address), Number(from.port));
      if (this.client.handle(packet, source)) return true;
      const decoded = isStun(packet) ? decodeStun(packet) : null;
      if (decoded?.ok && (decoded.value.cls === 'success' || decoded.value.cls === 'error')) {
        this.unknownTransaction += 1;
      } else {
        this.notAResponse += 1;
      }
    } catch (e) {
      // The codec never throws; this only keeps a future bug from reaching magicsock's socket.
      this.notAResponse += 1;
      this.log.warn({ error: (e as Error).message }, 'netcheck: STUN datagram handling failed');
    }
    return false;
  }

  /**
   * Runs a netcheck against `relayMap` and resolves with the report; never rejects. A call while
   * one runs joins it (both started within the last few seconds, so it is fresh either way).
   */
  run(relayMap: RelayMap): Promise<NetcheckReport> {
    this.running ??= this.measure(relayMap).finally(() => (this.running = null));
    return this.running;
  }

  /** Fails the STUN transactions in flight; a running netcheck finishes with what it has. */
  close(): void {
    this.client.close();
  }

  private async measure(relayMap: RelayMap): Promise<NetcheckReport> {
    const startedAt = this.clock.now();
    let families: Families;
    try {
      families = (this.options.families ?? hostFamilies)();
    } catch (e) {
      // Not knowing the interfaces costs at most the budget: probe both.
      this.log.warn({ error: (e as Error).message }, 'netcheck: reading interfaces failed');
      families = { ipv4: true, ipv6: true };
    }
    const probes = await this.plan(relayMap, families);
    const answers: StunAnswer[] = [];
    const httpAbort = new AbortController();
    let http: Promise<Map<number, number>> | null = null;
    const startHttp = () => {
      const remaining = this.budgetMs - (this.clock.now() - startedAt);
      if (remaining <= 0 || httpAbort.signal.aborted) return;
      http ??= this.measureHttp(relayMap, httpAbort.signal, remaining);
    };
    // A network that blocked UDP last time likely still does: probe HTTP from the start.
    if (this.last !== null && !this.last.udp) startHttp();
    const fallback = this.clock.setTimeout(
      startHttp,
      this.options.httpFallbackAfterMs ?? HTTP_FALLBACK_AFTER_MS,
    );
    const elapsed = this.clock.now() - startedAt;
    await Promise.all(
      probes.map(async (probe) => {
        const r = await this.client.binding(
          { host: probe.host, port: probe.port },
          { timeoutMs: Math.max(1, this.budgetMs - elapsed) },
        );
        if (!r.ok) {
          this.log.debug(
            { region: probe.regionId, server: `${probe.host}:${probe.port}`, error: r.error.code },
            'netcheck: STUN probe failed',
          );
          return;
        }
        // A server may claim anything; keep only what could be our address on that socket.
        const { mapped } = r.value;
        if (mapped.family !== probe.family || mapped.port === 0) return;
        answers.push({
          regionId: probe.regionId,
          family: probe.family,
          mapped,
          rttMs: r.value.rttMs,
        });
        httpAbort.abort(); // UDP works: the HTTP numbers will not be used
      }),
    );
    this.clock.clearTimeout(fallback);
    if (answers.length === 0) startHttp();
    const httpLatencies = http === null ? new Map<number, number>() : await http;
    const report = buildReport({
      answers,
      httpLatencies,
      previousPreferred: this.last?.preferredRegion ?? null,
      measuredAt: (this.options.now ?? (() => new Date()))(),
    });
    this.last = report;
    this.log.debug({ ...report }, 'netcheck done');
    return report;
  }

  /** Every region's first relays, resolved, over each usable family. */
  private async plan(relayMap: RelayMap, families: Families): Promise<Probe[]> {
    const perRelay = relayMap.regions.flatMap((region) =>
      region.relays.slice(0, MAX_PROBED_RELAYS_PER_REGION).map(async (relay) => {
        const addresses = await this.addressesOf(relay.stunHost);
        const probes: Probe[] = [];
        for (const family of [4, 6] as const) {
          const address = addresses.find((a) => a.family === family);
          // A loopback server (control on this machine) is reachable whatever the interfaces.
          const usable = (family === 4 ? families.ipv4 : families.ipv6) || isLoopback(address);
          if (address && usable) {
            probes.push({
              regionId: region.id,
              family,
              host: address.address,
              port: relay.stunPort,
            });
          }
        }
        return probes;
      }),
    );
    return (await Promise.all(perRelay)).flat();
  }

  private async addressesOf(host: string): Promise<{ address: string; family: number }[]> {
    const literal = isIP(host);
    if (literal !== 0) return [{ address: host, family: literal }];
    const resolve = this.options.resolve ?? ((h: string) => dns.lookup(h, { all: true }));
    let timer: unknown;
    try {
      return [
        ...(await Promise.race([
          resolve(host),
          new Promise<never>((_, reject) => {
            timer = this.clock.setTimeout(
              () => reject(new Error('lookup timed out')),
              DNS_TIMEOUT_MS,
            );
          }),
        ])),
      ];
    } catch (e) {
      this.log.debug({ host, error: (e as Error).message }, 'netcheck: STUN host lookup failed');
      return [];
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  /** Best HTTP latency per region over its first relays. */
  private async measureHttp(
    relayMap: RelayMap,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<Map<number, number>> {
    const measure =
      this.options.httpLatency ??
      (async (url: string, s: AbortSignal) => {
        const r = await httpLatency(url, s);
        return r.ok ? r.value : null;
      });
    const timeout = new AbortController();
    const timer = this.clock.setTimeout(() => timeout.abort(), timeoutMs);
    const both = AbortSignal.any([signal, timeout.signal]);
    const out = new Map<number, number>();
    await Promise.all(
      relayMap.regions.flatMap((region) =>
        region.relays.slice(0, MAX_PROBED_RELAYS_PER_REGION).map(async (relay) => {
          const ms = await measure(relay.url, both).catch(() => null);
          if (ms === null || both.aborted) return;
          const old = out.get(region.id);
          if (old === undefined || ms < old) out.set(region.id, ms);
        }),
      ),
    );
    this.clock.clearTimeout(timer);
    return out;
  }
}

function isLoopback(address: { address: string } | undefined): boolean {
  const ip = address === undefined ? null : parseIp(address.address);
  return ip?.ok === true && ip.value.range() === 'loopback';
}

/** familiesOf this host's interfaces: the default of NetcheckOptions.families. */
export function hostFamilies(): Families {
  return familiesOf(systemHostEnv.interfaces());
}

/**
 * Families with a usable address: any non-loopback IPv4; for IPv6 a global or unique-local one
 * (link-local needs a zone no STUN server can use). Probing a family the host lacks would only
 * hold every run to its full budget.
 */
export function familiesOf(addrs: readonly InterfaceAddress[]): Families {
  let ipv4 = false;
  let ipv6 = false;
  for (const a of addrs) {
    if (a.internal) continue;
    const ip = parseIp(a.address);
    if (!ip.ok) continue;
    const range = ip.value.range();
    if (range === 'loopback' || range === 'linkLocal' || range === 'unspecified') continue;
    if (ip.value.kind() === 'ipv4') ipv4 = true;
    else ipv6 = true;
  }
  return { ipv4, ipv6 };
}
