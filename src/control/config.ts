/**
 * trellis-control configuration: a JSON5 file (comments allowed) overlaid by TRELLIS_* environment
 * variables, validated with zod. Defaults give the embedded setup: SQLite in the data directory,
 * plain HTTP on loopback, STUN and relay built in.
 */
import fs from 'node:fs';
import path from 'node:path';
import JSON5 from 'json5';
import { z } from 'zod';
import { err, ok, type Result } from '../shared/result.js';
import type { StoreConfig } from './store/index.js';

const Port = z.number().int().min(0).max(65535);

/** Plain http to this URL never leaves the host: a loopback address or `localhost`. */
export function isLoopbackHttpUrl(u: URL): boolean {
  const h = u.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    u.protocol === 'http:' &&
    (h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h))
  );
}

/** An OIDC issuer must use TLS, except on loopback where nothing crosses a network. */
function secureIssuer(issuer: string): boolean {
  try {
    const u = new URL(issuer);
    return u.protocol === 'https:' || isLoopbackHttpUrl(u);
  } catch {
    return false;
  }
}

/** One relay region as operators configure it; sent to devices in the netmap's relay map. */
const RelayRegionConfig = z.object({
  id: z.number().int().min(1).max(65535),
  code: z.string().min(1).max(32),
  name: z.string().min(1).max(128),
  relays: z
    .array(
      z.object({
        url: z.string().url(),
        stunHost: z.string().min(1).max(255),
        stunPort: Port,
      }),
    )
    .min(1)
    .max(16),
});

export const ControlConfig = z.object({
  /** Where state lives: the SQLite file, the relay signing key, the first-run marker. */
  dataDir: z.string().default('/var/lib/trellis-control'),
  listen: z
    .object({ host: z.string().default('127.0.0.1'), port: Port.default(8080) })
    .default({ host: '127.0.0.1', port: 8080 }),
  /** TLS from certificate files. Without it the server refuses to start unless insecureHttp. */
  tls: z.object({ certFile: z.string(), keyFile: z.string() }).optional(),
  insecureHttp: z.boolean().default(false),
  /** The URL devices and browsers use to reach this server (login links, relay URLs). */
  publicUrl: z.string().url().optional(),
  database: z
    .discriminatedUnion('driver', [
      z.object({ driver: z.literal('sqlite'), path: z.string().optional() }),
      z.object({
        driver: z.literal('postgres'),
        url: z.string().min(1),
        poolSize: z.number().int().min(1).max(200).optional(),
      }),
    ])
    .default({ driver: 'sqlite' }),
  network: z
    .object({
      name: z.string().min(1).max(64).default('default'),
      domain: z.string().min(1).max(253).default('trellis.internal'),
    })
    .default({ name: 'default', domain: 'trellis.internal' }),
  stun: z
    .object({
      enabled: z.boolean().default(true),
      host: z.string().default('0.0.0.0'),
      port: Port.default(3478),
    })
    .default({ enabled: true, host: '0.0.0.0', port: 3478 }),
  relay: z
    .object({
      /** Serve the built-in relay at /v1/relay on the control listener. */
      enabled: z.boolean().default(true),
      regionId: z.number().int().min(1).default(1),
      /** Relay tokens are short-lived: a leaked one is useless within minutes. */
      tokenTtlSeconds: z.number().int().min(60).max(86_400).default(3600),
    })
    .default({ enabled: true, regionId: 1, tokenTtlSeconds: 3600 }),
  /** Extra regions (relays on other hosts). The built-in relay forms region `relay.regionId`. */
  relayRegions: z.array(RelayRegionConfig).max(64).default([]),
  /** Sign-in through an OpenID Connect provider; see docs/control.md "OIDC sign-in". */
  oidc: z
    .object({
      name: z.string().default('SSO'),
      /** https:// required; plain http only for a loopback issuer (a lab or test IdP). */
      issuer: z
        .string()
        .url()
        .refine(secureIssuer, 'issuer must be https:// (plain http only on loopback)'),
      clientId: z.string().min(1),
      clientSecret: z.string().optional(),
      /** How the client secret reaches the token endpoint; basic is the OIDC default. */
      clientAuthMethod: z
        .enum(['client_secret_basic', 'client_secret_post'])
        .default('client_secret_basic'),
      scopes: z.array(z.string()).default(['openid', 'email', 'profile']),
      allowedDomains: z.array(z.string()).default([]),
      groupsClaim: z.string().default('groups'),
    })
    .optional(),
  sessions: z
    .object({
      userSessionTtlSeconds: z
        .number()
        .int()
        .min(60)
        .default(30 * 86_400),
      loginSessionTtlSeconds: z
        .number()
        .int()
        .min(30)
        .default(10 * 60),
    })
    .default({ userSessionTtlSeconds: 30 * 86_400, loginSessionTtlSeconds: 600 }),
  /** Per-client-IP limits. Defaults: a person never notices; a guesser gets ~10 tries a minute. */
  rateLimits: z
    .object({
      signInPerMinute: z.number().positive().default(10),
      signInBurst: z.number().int().min(1).default(10),
      registerPerSecond: z.number().positive().default(10),
      registerBurst: z.number().int().min(1).default(100),
    })
    .default({ signInPerMinute: 10, signInBurst: 10, registerPerSecond: 10, registerBurst: 100 }),
  /**
   * The operator's GeoIP country database (a "trellis geo CSV" file, docs/policy.md) for
   * geolocation posture checks; without it every geolocation check fails closed. Re-read when
   * the file changes; a broken file at start-up stops the server.
   */
  geoipDatabase: z.string().min(1).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});
export type ControlConfig = z.infer<typeof ControlConfig>;

export interface ConfigError {
  readonly code: 'config_unreadable' | 'config_invalid';
  readonly message: string;
}

/** Environment overrides: the handful of settings operators set per deployment. */
function envOverlay(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  const listen: Record<string, unknown> = {};
  if (env.TRELLIS_DATA_DIR) o.dataDir = env.TRELLIS_DATA_DIR;
  if (env.TRELLIS_LISTEN_HOST) listen.host = env.TRELLIS_LISTEN_HOST;
  if (env.TRELLIS_LISTEN_PORT) listen.port = Number(env.TRELLIS_LISTEN_PORT);
  if (Object.keys(listen).length) o.listen = listen;
  if (env.TRELLIS_PUBLIC_URL) o.publicUrl = env.TRELLIS_PUBLIC_URL;
  if (env.TRELLIS_DATABASE_URL) {
    const url = env.TRELLIS_DATABASE_URL;
    o.database = url.startsWith('postgres')
      ? { driver: 'postgres', url }
      : { driver: 'sqlite', path: url.replace(/^sqlite:/, '') };
  }
  if (env.TRELLIS_INSECURE_HTTP)
    o.insecureHttp = env.TRELLIS_INSECURE_HTTP === '1' || env.TRELLIS_INSECURE_HTTP === 'true';
  if (env.TRELLIS_LOG_LEVEL) o.logLevel = env.TRELLIS_LOG_LEVEL;
  if (env.TRELLIS_GEOIP_DATABASE) o.geoipDatabase = env.TRELLIS_GEOIP_DATABASE;
  return o;
}

function merge(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] =
      v &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      b &&
      typeof b === 'object' &&
      !Array.isArray(b)
        ? merge(b as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export function parseConfig(
  raw: unknown,
  env: NodeJS.ProcessEnv = {},
): Result<ControlConfig, ConfigError> {
  const base =
    raw && typeof raw === 'object' && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const parsed = ControlConfig.safeParse(merge(base, envOverlay(env)));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : '(root)';
    return err({ code: 'config_invalid', message: `${where}: ${issue?.message ?? 'invalid'}` });
  }
  return ok(parsed.data);
}

export function loadConfig(
  file: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Result<ControlConfig, ConfigError> {
  let raw: unknown = {};
  if (file) {
    try {
      raw = JSON5.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      return err({ code: 'config_unreadable', message: `${file}: ${(e as Error).message}` });
    }
  }
  return parseConfig(raw, env);
}

/** Resolves the SQLite path: explicit, else `<dataDir>/control.db`. */
export function sqlitePath(cfg: ControlConfig): string | undefined {
  return cfg.database.driver === 'sqlite'
    ? (cfg.database.path ?? path.join(cfg.dataDir, 'control.db'))
    : undefined;
}

/** The public URL, defaulting to the listen address. */
export function publicUrl(cfg: ControlConfig, boundPort?: number): string {
  if (cfg.publicUrl) return cfg.publicUrl.replace(/\/$/, '');
  const scheme = cfg.tls ? 'https' : 'http';
  const host =
    cfg.listen.host === '0.0.0.0' || cfg.listen.host === '::' ? '127.0.0.1' : cfg.listen.host;
  const h = host.includes(':') ? `[${host}]` : host;
  return `${scheme}://${h}:${boundPort ?? cfg.listen.port}`;
}

/** The store configuration this control config describes. */
export function storeConfigOf(config: ControlConfig): StoreConfig {
  if (config.database.driver === 'postgres') {
    return {
      driver: 'postgres',
      url: config.database.url,
      ...(config.database.poolSize ? { poolSize: config.database.poolSize } : {}),
    };
  }
  return { driver: 'sqlite', path: sqlitePath(config) ?? ':memory:' };
}
