/**
 * trellisd's core: state directory, control client, tunnel, and the LocalAPI actions, tied
 * together. Everything that touches the OS or the network is injected (WireGuard backend, OS
 * configurator, host facts, pinger, clock), so the whole daemon runs in unit tests with fakes
 * and in the lab with the real thing.
 *
 * Rules it keeps:
 * - With a registration and wantRunning, tunnels come up from the cached netmap at start, before
 *   control answers (or while it never does).
 * - Every netmap change is applied as a diff; only stop() removes the interface.
 * - Trouble with control (down, garbage, errors) never touches the tunnels; only logout and
 *   `down` remove peers, and only stop() removes the interface and OS config.
 */
import { ipPortToString } from '../../shared/ip.js';
import { generateKeyPair, keyToBase64 } from '../../shared/keys.js';
import { err, ok, type Result } from '../../shared/result.js';
import type { RegisterAuth, UserSummary } from '../../shared/schema/control/auth.js';
import type { Endpoint, Netmap, Peer } from '../../shared/schema/control/netmap.js';
import {
  type BackendState,
  type BackendStateResponse,
  type ExitNodeSuggestion,
  type LoginRequest,
  type NetcheckReport,
  type PingAttempt,
  type PingRequest,
  type PingResponse,
  type Prefs,
  type PrefsPatch,
  type Status,
  type UpRequest,
} from '../../shared/schema/localapi.js';
import { TRELLIS_VERSION } from '../../shared/version.js';
import { systemClock, type Clock } from '../control-client/clock.js';
import { collectHostInfo, type HostEnv } from '../control-client/hostinfo.js';
import { ControlHttpClient } from '../control-client/http.js';
import {
  MapClient,
  type MapClientOptions,
  type MapClientState,
} from '../control-client/map-client.js';
import {
  buildStatus,
  chooseEndpoint,
  findPeer,
  osConfigFromNetmap,
  pickExitNode,
  routedPrefixes,
  tunnelPeers,
  wgConfigFromNetmap,
} from '../engine/index.js';
import { apiError, type LocalApiError } from '../localapi/errors.js';
import { WatchHub } from '../localapi/watch-hub.js';
import type { OsConfigurator } from '../os/types.js';
import type { StateIssue } from '../state/json-file.js';
import { freshNodeKey, type NodeKey, type Registration, type StateStore } from '../state/store.js';
import type { WireGuardBackend } from '../wg/types.js';
import { controlFailure } from './control-errors.js';
import { defaultPrefs } from './defaults.js';
import { DeviceFeatures, POSTURE_REFRESH_INTERVAL_MS, type DnsResolver } from './features.js';
import {
  EndpointUpdater,
  hostFamilies,
  Netcheck,
  netcheckOnOwnSockets,
} from '../netcheck/index.js';
import { healthWarnings } from './health.js';
import { InteractiveLogin, type LoginOutcome } from './login.js';
import { teeLogger, type Logger } from './log.js';
import type { Pinger } from './ping.js';
import { Tunnel } from './tunnel.js';
import type { Magicsock } from '../magicsock/magicsock.js';
import { PortMapper, type PortMapClient } from '../portmap/index.js';

/** While someone watches, WireGuard counters are re-read this often for the status events. */
export const STATS_REFRESH_INTERVAL_MS = 2_000;
/** A burst of deltas (peers coming online after a control restart) costs one netmap write. */
export const NETMAP_SAVE_DELAY_MS = 1_000;
/** Telling control about a logout is best effort; the local logout happens either way. */
const LOGOUT_TIMEOUT_MS = 5_000;

export interface DaemonConfig {
  readonly tunName: string;
  /** WireGuard's UDP port; 0 lets the device pick one. */
  readonly listenPort: number;
  readonly mtu: number;
  /** Prefs of a fresh state directory use this control URL. */
  readonly defaultControlUrl: string;
}

export interface DaemonDeps {
  readonly store: StateStore;
  readonly backend: WireGuardBackend;
  readonly os: OsConfigurator;
  readonly hostEnv: HostEnv;
  readonly pinger: Pinger;
  readonly log: Logger;
  readonly clock?: Clock;
  readonly now?: () => Date;
  readonly random?: () => number;
  readonly controlHttp?: (controlUrl: string) => ControlHttpClient;
  /** Extra map-client options (timing in tests). */
  readonly mapOptions?: Partial<MapClientOptions>;
  /**
   * magicsock, started and stopped with the daemon: it owns the UDP port, WireGuard listens on a
   * port of its own and reaches each peer through a loopback proxy, and pings are disco pings.
   * Without it WireGuard owns the port, peers are reached only at their advertised endpoints,
   * and pings go through `pinger`.
   */
  readonly magicsock?: Magicsock;
  /**
   * Port mapping on the default gateway (PCP, NAT-PMP, UPnP IGD) for magicsock's port; only with magicsock.
   * Absent in unit tests, which must not talk to the host's gateway.
   */
  readonly portMap?: {
    readonly client: PortMapClient;
    readonly gateway: () => Promise<string | null>;
  };
  /** The MagicDNS resolver; without it system DNS is left alone (e.g. with --netns). */
  readonly dns?: DnsResolver;
}

/** Spacing of the attempts of one `trellis ping`, so later attempts can take a newly found path. */
export const DISCO_PING_SPACING_MS = 200;

export class Daemon {
  readonly watch: WatchHub;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly now: () => Date;
  private readonly tunnel: Tunnel;
  private readonly features: DeviceFeatures;
  private nodeKey!: NodeKey;
  /** New on every start, never persisted. */
  private readonly discoKey: string;
  private registration: Registration | null = null;
  private prefs!: Prefs;
  private netmap: Netmap | null = null;
  private reauth: { message: string; since: Date } | null = null;
  private login: InteractiveLogin | null = null;
  private map: MapClient | null = null;
  private controlConnected = false;
  private controlDownSince: Date | null = null;
  private lastControlError: string | null = null;
  private tunnelErrorSince: Date | null = null;
  private stateIssues: readonly StateIssue[] = [];
  /** Endpoint candidates and netcheck reports (STUN through magicsock, when there is one). */
  private readonly endpoints: EndpointUpdater;
  private readonly netcheckOnMagicsock: Netcheck | null;
  private readonly portMapper: PortMapper | null;
  private readonly startedAt: Date;
  private lock: Promise<unknown> = Promise.resolve();
  private readonly timers = new Set<unknown>();
  private netmapSaveTimer: unknown = null;
  private stopped = false;

  constructor(
    private readonly config: DaemonConfig,
    private readonly deps: DaemonDeps,
  ) {
    this.clock = deps.clock ?? systemClock;
    this.now = deps.now ?? (() => new Date());
    this.discoKey = deps.magicsock?.discoPublicKey ?? keyToBase64(generateKeyPair().publicKey);
    this.startedAt = this.now();
    this.watch = new WatchHub(
      { status: () => this.status(), prefs: () => this.prefs },
      { clock: this.clock, log: deps.log },
    );
    this.log = teeLogger(
      deps.log,
      (level, message, time) => this.watch.logLine(level, message, time),
      this.now,
    );
    this.features = new DeviceFeatures(deps.dns ?? null, this.log);
    this.tunnel = new Tunnel({
      backend: deps.backend,
      os: deps.os,
      name: config.tunName,
      mtu: config.mtu,
      clock: this.clock,
      log: this.log,
      ...(deps.random ? { random: deps.random } : {}),
      onWireGuardApplied: (port) => this.deps.magicsock?.wireGuardConfigured(port),
      onChange: () => {
        this.deps.magicsock?.wireGuardConfigured(this.tunnel.actualListenPort);
        this.tunnelErrorSince = this.tunnel.error ? this.now() : null;
        // A retried apply may have added the resolver's address only now.
        if (!this.tunnel.error) void this.features.retryDns();
        this.changed();
      },
    });
    const ms = deps.magicsock;
    this.netcheckOnMagicsock = ms
      ? new Netcheck({
          transport: ms,
          families: hostFamilies,
          log: this.log,
        })
      : null;
    ms?.setStunSink(this.netcheckOnMagicsock);
    const portMap = ms ? deps.portMap : undefined;
    this.portMapper = portMap
      ? new PortMapper({
          client: portMap.client,
          gateway: portMap.gateway,
          localPort: () => ms!.port,
          clock: this.clock,
          log: this.log,
          onChange: () => this.endpoints.candidatesChanged(),
        })
      : null;
    const portMapper = this.portMapper;
    this.endpoints = new EndpointUpdater({
      netcheck: this.netcheckOnMagicsock,
      portMapper: portMapper && {
        probe: () => portMapper.probe(),
        get endpoint() {
          const m = portMapper.current;
          return m === null ? null : ipPortToString(m.externalAddress, m.externalPort);
        },
      },
      interfaces: () => deps.hostEnv.interfaces(),
      // Peers send to magicsock's port; without magicsock, to WireGuard's.
      localPort: () =>
        ms ? ms.port : (this.tunnel.actualListenPort ?? (this.config.listenPort || null)),
      meshInterface: config.tunName,
      clock: this.clock,
      log: this.log,
      ...(deps.random ? { random: deps.random } : {}),
      onChange: (endpoints, report) => this.reportEndpoints(endpoints, report),
    });
  }

  // -- lifecycle -------------------------------------------------------------------------------

  /** load() then run(). */
  async start(): Promise<void> {
    await this.load();
    await this.run();
  }

  /** Reads the state directory (no network, no interface): afterwards the LocalAPI can answer. */
  async load(): Promise<void> {
    const loaded = await this.deps.store.load();
    this.stateIssues = loaded.issues;
    for (const issue of loaded.issues) this.log.warn({ ...issue }, 'state file was unusable');
    this.nodeKey = loaded.nodeKey;
    this.registration = loaded.registration;
    this.prefs =
      loaded.prefs ??
      defaultPrefs(loaded.registration?.controlUrl ?? this.config.defaultControlUrl);
    if (this.registration && this.registration.controlUrl !== this.prefs.controlUrl) {
      // The credential belongs to the control it came from.
      this.prefs = { ...this.prefs, controlUrl: this.registration.controlUrl };
    }
    this.netmap = loaded.netmap;
    this.log.info(
      {
        nodeKey: this.nodeKey.publicKeyBase64,
        registered: this.registration !== null,
        wantRunning: this.prefs.wantRunning,
        cachedNetmap: this.netmap !== null,
      },
      'trellisd state loaded',
    );
  }

  /** When registered and wanted, brings the tunnels up (from the cached netmap) and connects to control. */
  async run(): Promise<void> {
    const ms = this.deps.magicsock;
    if (ms) {
      await ms.start();
      ms.on('home-region', (region) => this.map?.update({ preferredRelayRegion: region }));
      // Our NAT may have rebound: find our endpoints again for the next call-me-maybe.
      ms.on('direct-path-lost', () => void this.endpoints.runNow());
    }
    if (this.registration && this.prefs.wantRunning) {
      if (this.netmap) {
        this.log.info(
          { peers: this.netmap.peers.length },
          'bringing tunnels up from the cached netmap',
        );
        await this.applyTunnel();
      }
      this.startMap();
    }
    this.every(STATS_REFRESH_INTERVAL_MS, () => {
      if (this.watch.size > 0 && this.tunnel.hasDevice) this.watch.statusChanged();
    });
    this.every(POSTURE_REFRESH_INTERVAL_MS, () => void this.sendHostInfo());
  }

  /** Stops everything and leaves the machine's networking as it was found. State stays. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.login?.cancel();
    this.stopMap();
    this.netcheckOnMagicsock?.close();
    // Before magicsock closes, so no peer is sent to a mapping that leads nowhere.
    await this.portMapper?.stop();
    await this.flushNetmap();
    await this.tunnel.close();
    await this.features.close();
    await this.deps.magicsock?.close();
    this.watch.close();
    this.log.info({}, 'trellisd stopped');
  }

  // -- views -----------------------------------------------------------------------------------

  backendState(): BackendState {
    if (this.login?.loginUrl) return { state: 'needs-login', loginUrl: this.login.loginUrl };
    if (!this.registration || this.reauth) return { state: 'needs-login', loginUrl: null };
    if (!this.prefs.wantRunning) return { state: 'stopped' };
    if (this.tunnel.error) return { state: 'error', message: this.tunnel.error.slice(0, 2048) };
    if (!this.netmap) return { state: 'starting' };
    if (!this.netmap.self.approved) return { state: 'needs-approval' };
    // Running means traffic can flow: the WireGuard device and its routes are configured.
    if (this.tunnel.actualListenPort === null) return { state: 'starting' };
    return { state: 'running' };
  }

  async status(): Promise<Status> {
    const now = this.now();
    return buildStatus({
      daemonVersion: TRELLIS_VERSION,
      backend: this.backendState(),
      controlUrl: this.prefs.controlUrl,
      controlConnected: this.controlConnected,
      netmap: this.netmap,
      registration: this.registration,
      wgStats: await this.tunnel.stats(),
      health: healthWarnings({
        now,
        startedAt: this.startedAt,
        controlUrl: this.prefs.controlUrl,
        expectControl: this.registration !== null && this.prefs.wantRunning && this.reauth === null,
        controlConnected: this.controlConnected,
        controlDownSince: this.controlDownSince,
        lastControlError: this.lastControlError,
        tunnelError: this.tunnel.error,
        tunnelErrorSince: this.tunnelErrorSince,
        reauth: this.reauth,
        keyExpiry: this.netmap?.self.keyExpiry ?? this.registration?.keyExpiry ?? null,
        stateIssues: this.stateIssues,
        exitNodeProblem: this.prefs.wantRunning ? this.features.exitNodeProblem : null,
        dnsProblem:
          [this.features.dnsProblem, ...(this.deps.os.warnings?.() ?? [])]
            .filter((p) => p !== null)
            .join('; ') || null,
      }),
      exitNode: this.features.exitNodeInUse(this.prefs),
      hostOs: 'linux',
      now,
      ...(this.deps.magicsock ? { paths: (k: string) => this.deps.magicsock!.peerStatus(k) } : {}),
    });
  }

  getPrefs(): Prefs {
    return this.prefs;
  }

  // -- LocalAPI actions ------------------------------------------------------------------------

  up(req: UpRequest): Promise<Result<BackendStateResponse, LocalApiError>> {
    return this.exclusive(async () => {
      const moved = this.checkControlUrl(req.controlUrl);
      if (moved) return moved;
      const saved = await this.updatePrefs({
        ...(req.controlUrl ? { controlUrl: req.controlUrl } : {}),
        ...(req.hostname !== undefined ? { hostname: req.hostname } : {}),
        wantRunning: true,
      });
      if (!saved.ok) return saved;
      if (!this.registration || this.reauth) {
        if (req.authKey) return this.register({ type: 'preauth', key: req.authKey }, null);
        return this.startInteractiveLogin();
      }
      if (req.authKey) this.log.info({}, 'already logged in; ignoring the auth key');
      this.startMap();
      await this.applyTunnel();
      return ok({ backend: this.backendState() });
    });
  }

  down(): Promise<Result<BackendStateResponse, LocalApiError>> {
    return this.exclusive(async () => {
      const saved = await this.updatePrefs({ wantRunning: false });
      if (!saved.ok) return saved;
      this.login?.cancel();
      this.login = null;
      this.stopMap();
      await this.applyTunnel(); // wantRunning is false now: peers, routes and relays go
      this.log.info({}, 'down: peers and routes removed');
      this.changed();
      return ok({ backend: this.backendState() });
    });
  }

  loginWith(req: LoginRequest): Promise<Result<BackendStateResponse, LocalApiError>> {
    return this.exclusive(async () => {
      const moved = this.checkControlUrl(req.controlUrl);
      if (moved) return moved;
      if (req.controlUrl && req.controlUrl !== this.prefs.controlUrl) {
        const saved = await this.updatePrefs({ controlUrl: req.controlUrl });
        if (!saved.ok) return saved;
      }
      switch (req.method) {
        case 'auth-key':
          return this.register({ type: 'preauth', key: req.authKey }, null);
        case 'session':
          return this.register({ type: 'session', token: req.sessionToken }, null);
        case 'interactive':
          return this.startInteractiveLogin();
      }
    });
  }

  logout(): Promise<Result<BackendStateResponse, LocalApiError>> {
    return this.exclusive(async () => {
      this.login?.cancel();
      this.login = null;
      const reg = this.registration;
      if (!reg) return ok({ backend: this.backendState() });
      this.stopMap();
      const told = await this.http(reg.controlUrl).deviceLogout(
        reg.nodeCredential,
        AbortSignal.timeout(LOGOUT_TIMEOUT_MS),
      );
      if (!told.ok) {
        this.log.warn({ error: told.error.message }, 'could not tell control about the logout');
        this.watch.notify({
          level: 'warning',
          title: 'Logged out locally',
          body: `Control could not be told (${told.error.message.slice(0, 200)}); the device stays registered until an admin removes it.`,
        });
      }
      try {
        // A fresh key for the next login; control keeps the device's identity via oldNodeKey.
        this.nodeKey = await this.deps.store.rotateNodeKey(this.nodeKey, reg.nodePublicKey);
        await this.deps.store.saveRegistration(null);
        await this.deps.store.saveNetmap(null, null);
      } catch (e) {
        return apiError('internal', `saving the logout failed: ${(e as Error).message}`);
      }
      this.registration = null;
      this.netmap = null;
      this.reauth = null;
      this.clock.clearTimeout(this.netmapSaveTimer);
      this.netmapSaveTimer = null; // else the next login's netmap would never be saved
      await this.updatePrefs({ wantRunning: false });
      await this.applyTunnel(); // no registration now: peers, routes and relays go
      this.log.info({ deviceId: reg.deviceId }, 'logged out');
      this.changed();
      return ok({ backend: this.backendState() });
    });
  }

  patchPrefs(patch: PrefsPatch): Promise<Result<Prefs, LocalApiError>> {
    return this.exclusive(async () => {
      const moved = this.checkControlUrl(patch.controlUrl);
      if (moved) return moved;
      const before = this.prefs;
      const saved = await this.updatePrefs(patch);
      if (!saved.ok) return saved;
      const after = this.prefs;
      if (before.wantRunning !== after.wantRunning) {
        if (after.wantRunning) this.startMap();
        else this.stopMap();
      }
      const applied: Array<keyof Prefs> = [
        'wantRunning',
        'acceptRoutes',
        'exitNode',
        'exitNodeAllowLAN',
        'acceptDNS',
        'blockIncoming',
        'advertiseExitNode',
        'advertiseRoutes',
      ];
      if (applied.some((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))) {
        await this.applyTunnel();
      }
      if (
        before.hostname !== after.hostname ||
        before.advertiseExitNode !== after.advertiseExitNode ||
        JSON.stringify(before.advertiseRoutes) !== JSON.stringify(after.advertiseRoutes)
      ) {
        await this.sendHostInfo();
      }
      this.changed();
      return ok(after);
    });
  }

  async ping(req: PingRequest): Promise<Result<PingResponse, LocalApiError>> {
    if (!this.netmap)
      return apiError('not_logged_in', 'no netmap yet: log in and bring Trellis up first');
    const peer = findPeer(this.netmap, req.peer);
    if (!peer)
      return apiError(
        'not_found',
        `no peer named or addressed ${JSON.stringify(req.peer.slice(0, 100))}`,
      );
    if (!this.prefs.wantRunning || !this.tunnel.hasDevice)
      return apiError('conflict', 'Trellis is not up: run `trellis up` first');
    const ms = this.deps.magicsock;
    if (ms) {
      return ok({
        peerId: peer.id,
        peerName: peer.name,
        results: await this.discoPings(ms, peer, req),
      });
    }
    const results: PingAttempt[] = [];
    for (let seq = 0; seq < req.count; seq++) {
      let rtt: number | null;
      try {
        rtt = await this.deps.pinger.ping(peer.addresses.ipv4, req.timeoutMs);
      } catch (e) {
        return apiError('internal', `ping failed: ${(e as Error).message}`);
      }
      const stats = await this.tunnel.stats();
      const endpoint =
        stats?.peers.find((p) => p.publicKey === peer.nodeKey)?.endpoint ?? chooseEndpoint(peer);
      results.push(
        rtt !== null && endpoint
          ? {
              outcome: 'pong',
              seq,
              path: { type: 'direct', endpoint },
              latencyMs: Math.min(rtt, 3_600_000),
            }
          : { outcome: 'timeout', seq },
      );
    }
    return ok({ peerId: peer.id, peerName: peer.name, results });
  }

  /** `trellis ping` through magicsock: disco pings, each reporting the path that answered. */
  private async discoPings(ms: Magicsock, peer: Peer, req: PingRequest): Promise<PingAttempt[]> {
    const results: PingAttempt[] = [];
    for (let seq = 0; seq < req.count; seq++) {
      if (seq > 0) {
        await new Promise<void>((r) => this.clock.setTimeout(r, DISCO_PING_SPACING_MS));
      }
      const r = await ms.ping(peer.nodeKey, req.timeoutMs);
      results.push(
        r
          ? { outcome: 'pong', seq, path: r.path, latencyMs: Math.min(r.latencyMs, 3_600_000) }
          : { outcome: 'timeout', seq },
      );
    }
    return results;
  }

  /**
   * A fresh netcheck against the netmap's relay map: through magicsock's sockets when it runs
   * (the report then also updates our endpoints), else on sockets of its own.
   */
  async netcheck(): Promise<Result<NetcheckReport, LocalApiError>> {
    const relayMap = this.netmap?.relayMap;
    if (!relayMap) {
      return apiError('not_logged_in', 'no relay map yet: log in and bring Trellis up first');
    }
    if (this.netcheckOnMagicsock) {
      const report =
        (await this.endpoints.runNow()) ?? (await this.netcheckOnMagicsock.run(relayMap));
      return ok(report);
    }
    return ok(
      await netcheckOnOwnSockets(relayMap, { log: this.log, previous: this.endpoints.report }),
    );
  }

  /** The exit node `auto` would pick now: the online one with the lowest latency. */
  async suggestExitNode(): Promise<Result<ExitNodeSuggestion, LocalApiError>> {
    const netmap = this.netmap;
    const pick = netmap
      ? pickExitNode(
          netmap,
          (id) => this.peerLatency(netmap.peers.find((p) => p.id === id)?.nodeKey ?? ''),
          this.features.exitNodeInUse(this.prefs)?.id ?? null,
          this.now(),
        )
      : null;
    return ok({
      suggestion: pick
        ? {
            id: pick.peer.id,
            name: pick.peer.name,
            latencyMs: pick.latencyMs === null ? null : Math.min(pick.latencyMs, 3_600_000),
            reason: pick.reason,
          }
        : null,
    });
  }

  /** magicsock's latest disco round trip to a peer, when it runs and measured one. */
  private peerLatency(nodeKey: string): number | null {
    return this.deps.magicsock?.peerStatus(nodeKey)?.latencyMs ?? null;
  }

  // -- registration ----------------------------------------------------------------------------

  private async startInteractiveLogin(): Promise<Result<BackendStateResponse, LocalApiError>> {
    this.login?.cancel();
    const controlUrl = this.prefs.controlUrl;
    const login = new InteractiveLogin({
      http: this.http(controlUrl),
      hostname: this.prefs.hostname ?? this.deps.hostEnv.hostname(),
      clock: this.clock,
      log: this.log,
      ...(this.deps.random ? { random: this.deps.random } : {}),
      onOutcome: (o) =>
        void this.exclusive(() => this.onLoginOutcome(login, o)).catch((e: unknown) =>
          this.log.error({ error: (e as Error).message }, 'finishing the login failed'),
        ),
    });
    this.login = login;
    const started = await login.start();
    if (!started.ok) {
      this.login = null;
      return err(controlFailure(started.error, 'start a login', controlUrl));
    }
    this.log.info({ url: started.value }, 'waiting for the user to log in');
    this.changed();
    return ok({ backend: this.backendState() });
  }

  private async onLoginOutcome(login: InteractiveLogin, o: LoginOutcome): Promise<void> {
    if (this.login !== login) return;
    this.login = null;
    switch (o.type) {
      case 'complete': {
        const r = await this.register(
          { type: 'session', token: o.session.sessionToken },
          o.session.user,
        );
        if (!r.ok) {
          this.watch.notify({ level: 'error', title: 'Login failed', body: r.error.message });
        }
        break;
      }
      case 'denied':
        this.watch.notify({ level: 'error', title: 'Login denied', body: o.reason });
        break;
      case 'expired':
        this.watch.notify({
          level: 'warning',
          title: 'Login expired',
          body: 'The login link expired; start again.',
        });
        break;
    }
    this.changed();
  }

  /**
   * Registers with control. A device that registered before gets a fresh node key, and control
   * moves its identity (id, name, addresses) over via oldNodeKey. The new key is adopted (and
   * saved) only once control accepted it: a failed re-login leaves the working key and
   * credential in place.
   */
  private async register(
    auth: RegisterAuth,
    user: UserSummary | null,
  ): Promise<Result<BackendStateResponse, LocalApiError>> {
    const controlUrl = this.prefs.controlUrl;
    const previous = this.registration?.nodePublicKey ?? this.nodeKey.previousPublicKey;
    const key = this.registration ? freshNodeKey(previous) : this.nodeKey;
    const hostInfo = await collectHostInfo(
      this.deps.hostEnv,
      this.prefs,
      this.config.tunName,
      this.netmap?.postureQueries.processPaths,
    );
    const r = await this.http(controlUrl).register({
      nodeKey: key.publicKeyBase64,
      ...(previous ? { oldNodeKey: previous } : {}),
      hostInfo,
      auth,
    });
    if (!r.ok) {
      this.log.warn({ code: r.error.code, error: r.error.message }, 'registration failed');
      return err(controlFailure(r.error, 'register this device', controlUrl));
    }
    const res = r.value;
    const reg: Registration = {
      controlUrl,
      deviceId: res.deviceId,
      nodeCredential: res.nodeCredential,
      nodePublicKey: key.publicKeyBase64,
      name: res.name,
      fqdn: res.fqdn,
      addresses: res.addresses,
      network: res.network,
      user,
      keyExpiry: res.keyExpiry,
      registeredAt: this.now().toISOString(),
    };
    const sameDevice = this.registration?.deviceId === reg.deviceId;
    try {
      // Key first: should the registration write not happen (crash), the key file still names
      // the previous key, so the next login keeps the device's identity.
      await this.deps.store.saveNodeKey(key);
      this.nodeKey = key;
      await this.deps.store.saveRegistration(reg);
      if (!sameDevice) await this.deps.store.saveNetmap(null, null);
    } catch (e) {
      return apiError('internal', `saving the registration failed: ${(e as Error).message}`);
    }
    this.log.info(
      { deviceId: reg.deviceId, name: reg.name, ipv4: reg.addresses.ipv4 },
      'registered with control',
    );
    this.registration = reg;
    this.reauth = null;
    if (!sameDevice) this.netmap = null;
    const saved = await this.updatePrefs({ wantRunning: true });
    if (!saved.ok) return saved;
    this.stopMap();
    this.startMap();
    await this.applyTunnel();
    this.changed();
    return ok({ backend: this.backendState() });
  }

  /** A registration belongs to one control; moving to another needs a logout first. */
  private checkControlUrl(url: string | undefined): Result<never, LocalApiError> | null {
    if (!url || !this.registration || url === this.registration.controlUrl) return null;
    return apiError(
      'conflict',
      `this device is registered with ${this.registration.controlUrl}; run \`trellis logout\` before using ${url}`,
    );
  }

  // -- control stream --------------------------------------------------------------------------

  private startMap(): void {
    const reg = this.registration;
    if (this.map || !reg || this.reauth || !this.prefs.wantRunning || this.stopped) return;
    const map = new MapClient({
      controlUrl: reg.controlUrl,
      nodeCredential: reg.nodeCredential,
      nodeKey: reg.nodePublicKey,
      discoKey: this.discoKey,
      log: this.log,
      ...(this.deps.clock ? { clock: this.deps.clock } : {}),
      ...(this.deps.random ? { random: this.deps.random } : {}),
      ...this.deps.mapOptions,
    });
    this.map = map;
    this.controlDownSince = this.now();
    map.on('netmap', (netmap) => {
      if (this.map === map) this.onNetmap(netmap);
    });
    map.on('state', (s) => {
      if (this.map === map) this.onMapState(s);
    });
    map.on('control-error', (code, message) => {
      if (this.map !== map) return;
      this.lastControlError = `${code}: ${message}`.slice(0, 500);
      this.changed();
    });
    map.on('reauth-required', (reason, message) => {
      if (this.map === map) void this.exclusive(() => this.onReauth(reason, message));
    });
    this.sendHostInfo().catch((e: unknown) =>
      this.log.warn({ error: (e as Error).message }, 'collecting host info failed'),
    );
    this.endpoints.start();
    const home = this.deps.magicsock?.homeRegion ?? null;
    if (home !== null) map.update({ preferredRelayRegion: home });
    map.start();
  }

  private stopMap(): void {
    const map = this.map;
    if (!map) return;
    this.map = null;
    this.endpoints.stop();
    map.stop();
    map.removeAllListeners();
    this.controlConnected = false;
  }

  private onMapState(s: MapClientState): void {
    const connected = s.state === 'connected';
    if (connected === this.controlConnected) return;
    this.controlConnected = connected;
    if (connected) {
      this.lastControlError = null;
      this.controlDownSince = null;
      this.log.info({}, 'connected to control');
    } else {
      this.controlDownSince = this.now();
      this.log.warn({}, 'lost the connection to control; tunnels stay as they are');
    }
    this.changed();
  }

  private onNetmap(netmap: Netmap): void {
    const queries = JSON.stringify(this.netmap?.postureQueries ?? null);
    this.netmap = netmap;
    if (JSON.stringify(netmap.postureQueries) !== queries) {
      this.sendHostInfo().catch((e: unknown) =>
        this.log.warn({ error: (e as Error).message }, 'collecting host info failed'),
      );
    }
    this.scheduleNetmapSave();
    this.watch.netmapSummary({
      peerCount: netmap.peers.length,
      onlineCount: netmap.peers.filter((p) => p.online).length,
      collectedAt: netmap.collectedAt,
    });
    this.applyTunnel().catch((e: unknown) =>
      this.log.error({ error: (e as Error).message }, 'applying the netmap failed'),
    );
    this.changed();
  }

  private async onReauth(reason: string, message: string): Promise<void> {
    this.log.warn({ reason }, 'control requires a new login; tunnels stay until then');
    this.stopMap();
    this.reauth = { message: `log in again: ${message}`, since: this.now() };
    this.watch.notify({ level: 'warning', title: 'Login required', body: message.slice(0, 2048) });
    this.changed();
  }

  // -- tunnel and reports ----------------------------------------------------------------------

  private async applyTunnel(): Promise<void> {
    if (this.stopped) return;
    const ms = this.deps.magicsock;
    if (!this.registration || !this.prefs.wantRunning) {
      await ms?.setNetmap(null);
      this.features.clear();
      await this.tunnel.down();
      return this.features.applyDns(null);
    }
    const netmap = this.netmap;
    if (!netmap) return;
    const now = this.now();
    const plan = this.features.plan(netmap, this.prefs, now, (k) => this.peerLatency(k));
    // With magicsock, WireGuard reaches each peer at its loopback proxy and listens on a port of
    // its own: magicsock's port is the one peers send to.
    const peers = ms ? tunnelPeers(netmap, now) : [];
    const proxies = ms
      ? await ms.setNetmap({
          selfNodeKey: netmap.self.nodeKey,
          peers,
          relayMap: netmap.relayMap,
          relayToken: netmap.relayToken?.token ?? null,
          tunnelRoutes: peers.flatMap((p) => routedPrefixes(p, this.prefs)),
        })
      : null;
    await this.tunnel.set({
      wg: wgConfigFromNetmap({
        netmap,
        prefs: this.prefs,
        privateKey: this.nodeKey.privateKeyBase64,
        listenPort: ms ? 0 : this.config.listenPort,
        now,
        ...(proxies
          ? {
              endpointFor: (p: Peer) => proxies.get(p.nodeKey) ?? null,
              keepaliveFromFirstKeyOnly: true,
            }
          : {}),
        exitNode: plan.exitNode,
      }),
      os: osConfigFromNetmap({
        netmap,
        prefs: this.prefs,
        interfaceName: this.config.tunName,
        mtu: this.config.mtu,
        now,
        exitNode: plan.exitNode,
        dns: plan.dns,
      }),
    });
    await this.features.applyDns(plan.dns);
    ms?.wireGuardConfigured(this.tunnel.actualListenPort);
    this.endpoints.setRelayMap(netmap.relayMap);
    this.endpoints.refresh();
    this.changed();
  }

  /** New endpoint candidates or netcheck findings: to magicsock and to control. */
  private reportEndpoints(endpoints: Endpoint[], report: NetcheckReport | null): void {
    this.log.debug({ endpoints: endpoints.map((e) => e.addr) }, 'reporting endpoints');
    this.deps.magicsock?.setOwnEndpoints(endpoints);
    if (report) this.deps.magicsock?.setNetcheckReport(report);
    this.map?.update({
      endpoints,
      ...(report ? { netcheck: report, relayLatencies: report.regionLatencies } : {}),
    });
  }

  private async sendHostInfo(): Promise<void> {
    const map = this.map;
    if (!map) return;
    const hostInfo = await collectHostInfo(
      this.deps.hostEnv,
      this.prefs,
      this.config.tunName,
      this.netmap?.postureQueries.processPaths,
    );
    map.update({ hostInfo });
  }

  // -- persistence -----------------------------------------------------------------------------

  private async updatePrefs(patch: PrefsPatch): Promise<Result<Prefs, LocalApiError>> {
    const next: Prefs = { ...this.prefs };
    for (const [k, v] of Object.entries(patch)) {
      if (v !== undefined) (next as Record<string, unknown>)[k] = v;
    }
    if (JSON.stringify(next) === JSON.stringify(this.prefs)) return ok(this.prefs);
    try {
      await this.deps.store.savePrefs(next);
    } catch (e) {
      return apiError('internal', `saving prefs failed: ${(e as Error).message}`);
    }
    this.prefs = next;
    this.watch.prefsChanged(next);
    return ok(next);
  }

  private scheduleNetmapSave(): void {
    if (this.netmapSaveTimer !== null) return;
    this.netmapSaveTimer = this.clock.setTimeout(
      () => void this.flushNetmap(),
      NETMAP_SAVE_DELAY_MS,
    );
  }

  private async flushNetmap(): Promise<void> {
    if (this.netmapSaveTimer === null) return;
    this.clock.clearTimeout(this.netmapSaveTimer);
    this.netmapSaveTimer = null;
    const reg = this.registration;
    if (!reg || !this.netmap) return;
    try {
      await this.deps.store.saveNetmap(
        { deviceId: reg.deviceId, nodePublicKey: reg.nodePublicKey },
        this.netmap,
        this.now(),
      );
    } catch (e) {
      this.log.warn({ error: (e as Error).message }, 'saving the netmap failed');
    }
  }

  // -- plumbing --------------------------------------------------------------------------------

  private http(controlUrl: string): ControlHttpClient {
    return this.deps.controlHttp
      ? this.deps.controlHttp(controlUrl)
      : new ControlHttpClient(controlUrl);
  }

  /** State-changing actions run one at a time, in arrival order. */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private every(ms: number, fn: () => void): void {
    let handle: unknown;
    const tick = () => {
      this.timers.delete(handle);
      if (this.stopped) return;
      try {
        fn();
      } catch (e) {
        this.log.warn({ error: (e as Error).message }, 'periodic task failed');
      }
      handle = this.clock.setTimeout(tick, ms);
      this.timers.add(handle);
    };
    handle = this.clock.setTimeout(tick, ms);
    this.timers.add(handle);
  }

  private changed(): void {
    this.watch.statusChanged();
  }
}
