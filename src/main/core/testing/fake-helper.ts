/**
 * An in-memory trellisd for tests: a small model of the daemon's behaviour (login, up/down,
 * prefs, exit nodes) that serves both as an in-process HelperApi (unit tests) and as
 * LocalApiHandlers + watch sources for a real LocalApiServer on a socket (UI tests).
 * It is a fake of the helper, not the helper: the real daemon is tested in e2e.
 */
import { err, ok, type Result } from '../../../shared/result.js';
import type {
  BackendState,
  LocalApiErrorCode,
  NetcheckReport,
  PeerStatus,
  Prefs,
  PrefsPatch,
  Status,
  WatchEvent,
} from '../../../shared/schema/localapi.js';
import { samplePrefs, sampleStatus } from '../../../shared/schema/samples.js';
import type { LocalApiHandlers } from '../../../helper/localapi/handlers.js';
import type { WatchEventBody } from '../../../helper/localapi/watch-hub.js';
import type { LocalApiError } from '../../../helper/localapi/errors.js';
import type { HelperApi, HelperError, WatchHandlers } from '../helper-api.js';
import { fakePeers } from './fake-peers.js';

export const FAKE_DAEMON_VERSION = '0.1.0';

export interface FakeHelperOptions {
  readonly peers?: number;
  readonly loggedIn?: boolean;
  /** Session tokens the fake "control" accepts at login. */
  readonly acceptTokens?: readonly string[];
  readonly controlUrl?: string;
}

type Listener = (
  ev:
    { type: 'status' } | { type: 'prefs' } | { type: 'notification'; title: string; body: string },
) => void;

export class FakeHelper {
  status: Status;
  prefs: Prefs;
  /** When set, every call fails with it, as a stopped daemon or a closed socket would. */
  unreachable: HelperError | null = null;
  readonly calls: string[] = [];
  readonly acceptTokens: Set<string>;
  private readonly listeners = new Set<Listener>();
  private readonly allPeers: PeerStatus[];
  private loggedIn: boolean;

  constructor(opts: FakeHelperOptions = {}) {
    this.allPeers = fakePeers(opts.peers ?? 3);
    this.loggedIn = opts.loggedIn ?? true;
    this.acceptTokens = new Set(opts.acceptTokens ?? []);
    const base = sampleStatus(0);
    this.prefs = {
      ...samplePrefs(),
      controlUrl: opts.controlUrl ?? samplePrefs().controlUrl,
      wantRunning: this.loggedIn,
    };
    this.status = { ...base, controlUrl: this.prefs.controlUrl };
    this.rebuild();
  }

  // -- the model --------------------------------------------------------------------------------

  private backend(): BackendState {
    if (!this.loggedIn) return { state: 'needs-login', loginUrl: this.pendingLoginUrl };
    return this.prefs.wantRunning ? { state: 'running' } : { state: 'stopped' };
  }

  private pendingLoginUrl: string | null = null;

  /** Recomputes the status from the model and tells watchers. */
  rebuild(): void {
    const base = sampleStatus(0);
    const exit = this.resolveExitNode();
    const peers = this.loggedIn
      ? this.allPeers.map((p) => ({ ...p, exitNode: p.id === exit?.id }))
      : [];
    this.status = {
      ...this.status,
      backend: this.backend(),
      controlUrl: this.prefs.controlUrl,
      user: this.loggedIn ? base.user : null,
      network: this.loggedIn ? base.network : null,
      self: this.loggedIn ? base.self : null,
      peers,
      exitNode:
        this.loggedIn && exit
          ? {
              id: exit.id,
              name: exit.name,
              online: exit.online,
              allowLAN: this.prefs.exitNodeAllowLAN,
            }
          : null,
      posture: this.loggedIn ? this.status.posture : [],
      updatedAt: new Date().toISOString(),
    };
    this.emit({ type: 'status' });
  }

  private resolveExitNode(): PeerStatus | null {
    const sel = this.prefs.exitNode;
    if (!sel || !this.prefs.wantRunning) return null;
    const options = this.allPeers.filter((p) => p.exitNodeOption);
    switch (sel.type) {
      case 'auto':
        return (
          options
            .filter((p) => p.online)
            .sort((a, b) => (a.latencyMs ?? Infinity) - (b.latencyMs ?? Infinity))[0] ?? null
        );
      case 'id':
        return options.find((p) => p.id === sel.id) ?? null;
      case 'name':
        return options.find((p) => p.name === sel.name || p.fqdn === sel.name) ?? null;
      case 'address':
        return (
          options.find(
            (p) => p.addresses.ipv4 === sel.address || p.addresses.ipv6 === sel.address,
          ) ?? null
        );
    }
  }

  /** Changes a peer (e.g. takes an exit node offline) and publishes the new status. */
  patchPeer(id: string, patch: Partial<PeerStatus>): void {
    const i = this.allPeers.findIndex((p) => p.id === id);
    const p = this.allPeers[i];
    if (!p) throw new Error(`no peer ${id}`);
    this.allPeers[i] = { ...p, ...patch };
    this.rebuild();
  }

  /** Replaces parts of the status (health, posture, self, backend) and publishes it. */
  patchStatus(patch: Partial<Status>): void {
    this.status = { ...this.status, ...patch };
    this.emit({ type: 'status' });
  }

  get peers(): readonly PeerStatus[] {
    return this.allPeers;
  }

  notify(title: string, body: string): void {
    this.emit({ type: 'notification', title, body });
  }

  on(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  private emit(ev: Parameters<Listener>[0]): void {
    for (const l of this.listeners) l(ev);
  }

  private fail(code: LocalApiErrorCode, message: string): Result<never, LocalApiError> {
    return err({ code, message });
  }

  // -- LocalAPI behaviour ---------------------------------------------------------------------

  readonly handlers: LocalApiHandlers = {
    status: async () => ok(this.status),
    getPrefs: async () => ok(this.prefs),
    patchPrefs: async (patch: PrefsPatch) => {
      this.calls.push(`patchPrefs ${JSON.stringify(patch)}`);
      this.prefs = { ...this.prefs, ...patch };
      this.emit({ type: 'prefs' });
      this.rebuild();
      return ok(this.prefs);
    },
    up: async () => {
      this.calls.push('up');
      this.prefs = { ...this.prefs, wantRunning: true };
      if (!this.loggedIn)
        this.pendingLoginUrl = `${this.prefs.controlUrl}/login/tr_login_fakefakefakefakefakefake`;
      this.emit({ type: 'prefs' });
      this.rebuild();
      return ok({ backend: this.status.backend });
    },
    down: async () => {
      this.calls.push('down');
      this.prefs = { ...this.prefs, wantRunning: false };
      this.emit({ type: 'prefs' });
      this.rebuild();
      return ok({ backend: this.status.backend });
    },
    login: async (req) => {
      this.calls.push(`login ${req.method}`);
      if (req.controlUrl) this.prefs = { ...this.prefs, controlUrl: req.controlUrl };
      if (req.method === 'interactive') {
        this.pendingLoginUrl = `${this.prefs.controlUrl}/login/tr_login_fakefakefakefakefakefake`;
      } else if (req.method === 'session' && this.acceptTokens.has(req.sessionToken)) {
        this.loggedIn = true;
        this.pendingLoginUrl = null;
        this.prefs = { ...this.prefs, wantRunning: true };
      } else if (req.method === 'session') {
        return this.fail('not_logged_in', 'control refused the session');
      }
      this.rebuild();
      return ok({ backend: this.status.backend });
    },
    logout: async () => {
      this.calls.push('logout');
      this.loggedIn = false;
      this.pendingLoginUrl = null;
      this.prefs = { ...this.prefs, wantRunning: false };
      this.rebuild();
      return ok({ backend: this.status.backend });
    },
    netcheck: async () => {
      this.calls.push('netcheck');
      return ok(FAKE_NETCHECK);
    },
    ping: async (req) => {
      this.calls.push(`ping ${req.peer}`);
      const p = this.allPeers.find(
        (x) => x.name === req.peer || x.id === req.peer || x.addresses.ipv4 === req.peer,
      );
      if (!p) return this.fail('not_found', `no peer named ${req.peer}`);
      return ok({
        peerId: p.id,
        peerName: p.name,
        results: Array.from({ length: req.count }, (_, seq) =>
          p.online
            ? {
                outcome: 'pong' as const,
                seq,
                path:
                  p.path.type === 'relay'
                    ? { type: 'relay' as const, region: p.path.region }
                    : { type: 'direct' as const, endpoint: '198.51.100.1:41641' },
                latencyMs: p.latencyMs ?? 1,
              }
            : { outcome: 'timeout' as const, seq },
        ),
      });
    },
    suggestExitNode: async () => {
      const best = this.allPeers
        .filter((p) => p.exitNodeOption && p.online)
        .sort((a, b) => (a.latencyMs ?? Infinity) - (b.latencyMs ?? Infinity))[0];
      return ok({
        suggestion: best
          ? { id: best.id, name: best.name, latencyMs: best.latencyMs, reason: 'lowest latency' }
          : null,
      });
    },
  };

  /** Completes a pending interactive login, as a user finishing in the browser would. */
  completeInteractiveLogin(): void {
    this.loggedIn = true;
    this.pendingLoginUrl = null;
    this.prefs = { ...this.prefs, wantRunning: true };
    this.rebuild();
  }

  // -- in-process HelperApi -------------------------------------------------------------------

  api(): HelperApi {
    const guard = async <T>(
      f: () => Promise<Result<T, LocalApiError>>,
    ): Promise<Result<T, HelperError>> => (this.unreachable ? err(this.unreachable) : f());
    const h = this.handlers;
    return {
      hello: () =>
        guard(async () =>
          ok({
            daemonVersion: FAKE_DAEMON_VERSION,
            protocolVersion: 1,
            minProtocolVersion: 1,
            compatible: true,
          }),
        ),
      status: () => guard(() => h.status(undefined)),
      getPrefs: () => guard(() => h.getPrefs(undefined)),
      patchPrefs: (p) => guard(() => h.patchPrefs(p)),
      up: (r) => guard(() => h.up({ ...r })),
      down: () => guard(() => h.down({})),
      login: (r) => guard(() => h.login(r)),
      logout: () => guard(() => h.logout({})),
      netcheck: () => guard(() => h.netcheck(undefined)),
      ping: (r) => guard(() => h.ping({ count: 4, timeoutMs: 2000, ...r })),
      suggestExitNode: () => guard(() => h.suggestExitNode(undefined)),
      watch: async (handlers: WatchHandlers) => {
        if (this.unreachable) return err(this.unreachable);
        let seq = 0;
        const send = (ev: WatchEventBody) => handlers.event({ ...ev, seq: ++seq } as WatchEvent);
        send({ type: 'status', status: structuredClone(this.status) });
        send({ type: 'prefs', prefs: structuredClone(this.prefs) });
        const off = this.on((ev) => {
          if (ev.type === 'status') send({ type: 'status', status: structuredClone(this.status) });
          else if (ev.type === 'prefs') send({ type: 'prefs', prefs: structuredClone(this.prefs) });
          else
            send({
              type: 'notification',
              notification: { level: 'info', title: ev.title, body: ev.body },
            });
        });
        const watcher = { handlers, off };
        this.watchers.add(watcher);
        return ok({
          close: () => {
            off();
            this.watchers.delete(watcher);
          },
        });
      },
    };
  }

  private readonly watchers = new Set<{ handlers: WatchHandlers; off: () => void }>();

  /** Ends every watch stream with an error, as a daemon crash or restart would. */
  dropWatchers(
    e: HelperError = { code: 'transport', message: 'watch stream closed (1006)' },
  ): void {
    for (const w of [...this.watchers]) {
      w.off();
      this.watchers.delete(w);
      w.handlers.closed(e);
    }
  }

  get watcherCount(): number {
    return this.watchers.size;
  }
}

export const FAKE_NETCHECK: NetcheckReport = {
  udp: true,
  ipv4: true,
  ipv6: false,
  globalV4: '203.0.113.7:41641',
  globalV6: null,
  mappingVariesByDest: false,
  preferredRegion: 1,
  regionLatencies: { '1': 11.5, '2': 48 },
  portMapping: { upnp: false, natPmp: true, pcp: true },
  portMapped: '203.0.113.7:41641',
  measuredAt: '2025-01-15T12:00:00.000Z',
};
