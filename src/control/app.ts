/**
 * trellis-control assembled: storage, the netmap hub, HTTP routes, the map stream and relay on
 * the same listener, and the STUN server beside it. `startControl` is what `serve` and the tests
 * call; it returns once everything listens.
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import type { RelayMap, RelayToken } from '../shared/schema/control/netmap.js';
import { keyFromBase64 } from '../shared/keys.js';
import {
  CONTROL_MIN_PROTOCOL_VERSION,
  CONTROL_PROTOCOL_VERSION,
  MAX_CONTROL_REQUEST_BYTES,
  type ServerInfo,
} from '../shared/schema/control.js';
import { TRELLIS_VERSION } from '../shared/version.js';
import { MapStreamServer } from './api/map-stream.js';
import { registerLoginRoutes } from './api/login-routes.js';
import { registerDeviceRoutes } from './api/register.js';
import { registerAdminRoutes } from './api/admin-routes.js';
import { registerOidcRoutes } from './api/oidc-routes.js';
import { registerConsole } from './console/index.js';
import { LoginWaiters } from './auth/login-waiters.js';
import { bootstrap, type BootstrapResult } from './bootstrap.js';
import { publicUrl as configPublicUrl, storeConfigOf, type ControlConfig } from './config.js';
import type { ControlContext } from './context.js';
import { GeoDatabaseFile, type GeoReload } from './geoip.js';
import { installErrorHandler } from './http/errors.js';
import { AUDIT_RETENTION_INTERVAL_MS, pruneAuditLog, recordExpiredKeys } from './housekeeping.js';
import { applyUpdate, loadHub } from './mesh.js';
import { DEFAULT_POLICY_TEXT, parsePolicy } from './policy/index.js';
import type { PolicyNetworkChange } from './netmap/policy.js';
import { NetmapHub } from './netmap/hub.js';
import { EnginePolicy } from './netmap/engine-policy.js';
import type { MeshDevice } from './netmap/device.js';
import {
  issueRelayToken,
  loadOrCreateRelaySigningKey,
  RelayServer,
  type RelayTokenKeyPair,
} from './relay/index.js';
import { openStore, type Store } from './store/index.js';
import { hashToken } from './store/tokens.js';
import { startStunServer, type StunServer } from './stun/index.js';
import { SourceRateLimiter } from './stun/rate-limiter.js';

/** Relay-token refresh and key-expiry checks run this often. */
const SWEEP_INTERVAL_MS = 60_000;

export interface ControlServer {
  readonly app: FastifyInstance;
  readonly ctx: ControlContext;
  readonly store: Store;
  readonly hub: NetmapHub;
  readonly relay: RelayServer | null;
  readonly stun: StunServer | null;
  readonly maps: MapStreamServer;
  readonly relayKeys: RelayTokenKeyPair;
  readonly bootstrap: BootstrapResult;
  /** The base URL the server answers on. */
  readonly url: string;
  /**
   * Re-reads the GeoIP database file if it changed (always, with `force`: SIGHUP) and applies
   * it to live netmaps; a broken file is refused and the old database stays. `unchanged` when
   * no database is configured.
   */
  reloadGeoDatabase(opts?: { force?: boolean }): Promise<GeoReload>;
  /** Every HTTP route served (method and path pattern): what docs/api.md must describe. */
  readonly routes: ReadonlyArray<{ readonly method: string; readonly url: string }>;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly logger?: Logger;
  readonly now?: () => number;
  /** PostgreSQL schema (tests isolate themselves with one). */
  readonly pgSchema?: string;
}

export async function startControl(
  config: ControlConfig,
  opts: StartOptions = {},
): Promise<ControlServer> {
  if (!config.tls && !config.insecureHttp) {
    throw new Error(
      'refusing plain HTTP: configure tls.certFile/keyFile, or set insecureHttp for a lab or a TLS-terminating proxy',
    );
  }
  const log = opts.logger ?? pino({ level: config.logLevel });
  const now = opts.now ?? Date.now;
  // Before anything opens: a broken database file stops the start (GeoDatabaseError).
  const geo = config.geoipDatabase ? await GeoDatabaseFile.open(config.geoipDatabase) : null;
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });

  const storeConfig = storeConfigOf(config);
  const store = await openStore(
    storeConfig.driver === 'postgres' && opts.pgSchema
      ? { ...storeConfig, schema: opts.pgSchema }
      : storeConfig,
    { now, onBackgroundError: (e) => log.error({ err: e }, 'database background error') },
  );
  await store.migrate();
  const boot = await bootstrap(store, config);
  const relayKeys = await loadOrCreateRelaySigningKey(
    path.join(config.dataDir, 'relay-signing-key.pem'),
  );

  let baseUrl = '';
  let relayMap: RelayMap = { regions: [] };
  const issueToken = async (d: MeshDevice): Promise<RelayToken | null> => {
    if (!d.approved) return null;
    const key = keyFromBase64(d.nodeKey);
    if (!key.ok) return null;
    const ttl = config.relay.tokenTtlSeconds;
    const at = new Date(now());
    const token = await issueRelayToken(relayKeys.privateKey, {
      nodeKey: key.value,
      networkId: d.networkId,
      ttlSeconds: ttl,
      now: at,
    });
    return { token, expiresAt: new Date(at.getTime() + ttl * 1000).toISOString() };
  };
  const policy = new EnginePolicy(geo?.lookup ?? null);
  const hub = new NetmapHub({
    relayMap: () => relayMap,
    issueRelayToken: issueToken,
    clock: now,
    policy,
  });
  for (const n of await store.networks.list()) await loadPolicy(store, policy, n.id, log);
  await loadHub(store, hub);

  const ctx: ControlContext = {
    config,
    store,
    hub,
    log,
    publicUrl: () => baseUrl,
    defaultNetwork: async () => (await store.networks.get(boot.network.id)) ?? boot.network,
    loginWaiters: new LoginWaiters(),
    signInLimiter: new SourceRateLimiter(
      {
        ratePerSecond: config.rateLimits.signInPerMinute / 60,
        burst: config.rateLimits.signInBurst,
        maxTrackedSources: 10_000,
      },
      now,
    ),
    registerLimiter: new SourceRateLimiter(
      {
        ratePerSecond: config.rateLimits.registerPerSecond,
        burst: config.rateLimits.registerBurst,
        maxTrackedSources: 10_000,
      },
      now,
    ),
    relaySigningKey: relayKeys.privateKey,
    now,
    policyOf: (networkId) => policy.policyOf(networkId),
    onPolicyChanged: async (networkId) => {
      const change = await loadPolicy(store, policy, networkId, log);
      if (change) hub.applyPolicyChange(networkId, change);
      // Devices whose routes the new autoApprovers approved are refreshed by the admin layer.
    },
    audit: async (entry) => {
      try {
        await store.audit.append(entry);
      } catch (e) {
        log.error({ err: e, action: entry.action }, 'audit append failed');
      }
    },
  };

  const https = config.tls
    ? { key: fs.readFileSync(config.tls.keyFile), cert: fs.readFileSync(config.tls.certFile) }
    : null;
  const app = Fastify({
    loggerInstance: log,
    bodyLimit: MAX_CONTROL_REQUEST_BYTES,
    trustProxy: false,
    ...(https ? { https } : {}),
  }) as unknown as FastifyInstance;
  installErrorHandler(app);
  const routes: Array<{ method: string; url: string }> = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) routes.push({ method, url: r.url });
  });
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 64 * 1024 },
    (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    },
  );
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/v1/info', async (): Promise<ServerInfo> => ({
    serverVersion: TRELLIS_VERSION,
    protocolVersion: CONTROL_PROTOCOL_VERSION,
    minProtocolVersion: CONTROL_MIN_PROTOCOL_VERSION,
  }));
  registerLoginRoutes(app, ctx);
  registerDeviceRoutes(app, ctx);
  registerAdminRoutes(app, ctx);
  registerOidcRoutes(app, ctx);
  registerConsole(app, ctx);

  const maps = new MapStreamServer({
    hub,
    authenticate: async (credential) => {
      const d = await store.devices.findByCredentialHash(hashToken(credential));
      return d ? { deviceId: d.id, nodeKey: d.nodeKey } : null;
    },
    onUpdate: (deviceId, update) =>
      applyUpdate(
        store,
        hub,
        deviceId,
        update,
        (id) => policy.policyOf(id),
        (e) => log.warn({ err: e, deviceId }, 'persisting device update failed'),
      ),
    onPresence: (deviceId) => {
      store.devices
        .markSeen(deviceId)
        .catch((e: unknown) => log.warn({ err: e, deviceId }, 'recording last-seen failed'));
    },
    log,
  });
  const relay = config.relay.enabled
    ? new RelayServer({
        publicKey: relayKeys.publicKey,
        regionId: config.relay.regionId,
        logger: log,
      })
    : null;

  app.server.on('upgrade', (req, socket, head) => {
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    if (pathname === '/v1/map') return maps.handleUpgrade(req, socket, head);
    if (relay?.handleUpgrade(req, socket, head)) return;
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });

  await app.listen({ host: config.listen.host, port: config.listen.port });
  const port = (app.server.address() as AddressInfo).port;
  baseUrl = configPublicUrl(config, port);

  let stun: StunServer | null = null;
  if (config.stun.enabled) {
    stun = await startStunServer({ host: config.stun.host, port: config.stun.port, logger: log });
  }
  relayMap = buildRelayMap(config, baseUrl, stun);

  const reloadGeoDatabase = async (o: { force?: boolean } = {}): Promise<GeoReload> => {
    if (!geo) return { type: 'unchanged' };
    const r = await geo.reload(o);
    if (r.type === 'failed') {
      log.error({ err: r.error }, 'GeoIP database refused; the previous one stays in force');
    } else if (r.type === 'reloaded') {
      for (const [networkId, change] of policy.setGeo(r.lookup))
        hub.applyPolicyChange(networkId, change);
      log.info({ path: geo.path }, 'GeoIP database reloaded');
    }
    return r;
  };

  const sweep = setInterval(() => {
    hub.sweep().catch((e: unknown) => log.warn({ err: e }, 'netmap sweep failed'));
    reloadGeoDatabase().catch((e: unknown) => log.warn({ err: e }, 'GeoIP reload failed'));
    removeStaleEphemeral(ctx).catch((e: unknown) =>
      log.warn({ err: e }, 'ephemeral cleanup failed'),
    );
    recordExpiredKeys(ctx).catch((e: unknown) =>
      log.warn({ err: e }, 'recording key expiries failed'),
    );
  }, SWEEP_INTERVAL_MS);
  sweep.unref();
  const prune = (): void => {
    pruneAuditLog(ctx).catch((e: unknown) => log.warn({ err: e }, 'audit retention failed'));
  };
  prune();
  const retention = setInterval(prune, AUDIT_RETENTION_INTERVAL_MS);
  retention.unref();

  if (boot.owner) {
    log.info({ email: boot.owner.email }, 'first run: created the network owner');
    // Printed, not only logged: the operator needs it once, and logs may go elsewhere.
    process.stdout.write(
      `\nTrellis control is set up. Sign in at ${baseUrl} as ${boot.owner.email} with password: ${boot.owner.password}\n` +
        `Change it with: trellis-control users set-password ${boot.owner.email}\n\n`,
    );
  }

  return {
    app,
    ctx,
    store,
    hub,
    relay,
    stun,
    maps,
    relayKeys,
    bootstrap: boot,
    url: baseUrl,
    reloadGeoDatabase,
    routes,
    stop: async () => {
      clearInterval(sweep);
      clearInterval(retention);
      hub.shutdown();
      maps.close();
      relay?.close();
      await stun?.close();
      await app.close();
      await store.close();
    },
  };
}

/**
 * Loads a network's policy in force into the engine. A stored policy that no longer parses (a
 * newer server wrote it, or the database was edited by hand) keeps the previous one and says so:
 * the mesh never falls open or shut because of a bad document.
 */
async function loadPolicy(
  store: Store,
  engine: EnginePolicy,
  networkId: string,
  log: Logger,
): Promise<PolicyNetworkChange | null> {
  const active = await store.policies.getActive(networkId);
  const users = await store.users.list(networkId);
  const parsed = parsePolicy(active?.text ?? DEFAULT_POLICY_TEXT, {
    knownGroups: new Set(users.flatMap((u) => u.groups)),
  });
  if (!parsed.ok) {
    log.error(
      { networkId, version: active?.version, problems: parsed.error.slice(0, 5) },
      'stored policy does not parse; keeping the previous one',
    );
    return null;
  }
  return engine.setPolicy(networkId, parsed.value);
}

/**
 * Ephemeral devices (CI runners, containers) are deleted once offline this long: long enough to
 * ride out a reconnect, short enough that a fleet of short-lived jobs does not pile up.
 */
export const EPHEMERAL_OFFLINE_TTL_MS = 5 * 60_000;

/** Deletes ephemeral devices that have been offline past the TTL (never one that is online). */
export async function removeStaleEphemeral(ctx: ControlContext): Promise<void> {
  const cutoff = ctx.now() - EPHEMERAL_OFFLINE_TTL_MS;
  for (const n of await ctx.store.networks.list()) {
    for (const d of [...ctx.hub.devices(n.id)]) {
      if (!d.ephemeral || ctx.hub.isOnline(d.id)) continue;
      const lastSeen = d.lastSeen ? Date.parse(d.lastSeen) : Date.parse(d.created);
      if (lastSeen > cutoff) continue;
      if (!(await ctx.store.devices.delete(d.id))) continue;
      ctx.hub.removeDevice(d.id);
      await ctx.audit({
        networkId: d.networkId,
        actor: { type: 'system', id: null },
        action: 'device.deleted',
        target: { type: 'device', id: d.id },
        diff: { name: d.name, reason: 'ephemeral device offline' },
      });
    }
  }
}

/** The built-in relay is region `relay.regionId` at this server's URL; configured regions follow. */
function buildRelayMap(config: ControlConfig, baseUrl: string, stun: StunServer | null): RelayMap {
  const regions: RelayMap['regions'] = [];
  if (config.relay.enabled) {
    const u = new URL(baseUrl);
    const wsUrl = `${u.protocol === 'https:' ? 'wss' : 'ws'}://${u.host}/v1/relay`;
    regions.push({
      id: config.relay.regionId,
      code: 'home',
      name: 'Built-in relay',
      relays: [
        {
          url: wsUrl,
          stunHost: u.hostname.replace(/^\[|\]$/g, ''),
          stunPort: stun?.address().port ?? config.stun.port,
        },
      ],
    });
  }
  for (const r of config.relayRegions) if (r.id !== config.relay.regionId) regions.push(r);
  return { regions };
}
