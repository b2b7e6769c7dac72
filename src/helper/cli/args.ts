/**
 * `trellis` command lines → typed commands (node:util parseArgs). Pure: no I/O, so every flag
 * and every mistake is unit-tested. A usage error carries the one line the user sees.
 */
import { parseArgs } from 'node:util';
import { canonicalIp, normalizeCidr } from '../../shared/ip.js';
import { err, ok, type Result } from '../../shared/result.js';
import {
  MAX_PING_COUNT,
  type ExitNodeSelector,
  type PrefsPatch,
} from '../../shared/schema/localapi.js';

export interface Global {
  /** --socket; null uses TRELLIS_SOCKET or the default path. */
  readonly socket: string | null;
}

export type Command = Global &
  (
    | {
        readonly cmd: 'up';
        readonly controlUrl?: string;
        readonly authKey?: string;
        readonly hostname?: string;
        readonly prefs: PrefsPatch;
        /** Give up waiting for "running" after this long; null waits for as long as it takes. */
        readonly timeoutMs: number | null;
      }
    | {
        readonly cmd: 'login';
        readonly controlUrl?: string;
        readonly authKey?: string;
        readonly timeoutMs: number | null;
      }
    | { readonly cmd: 'down' }
    | { readonly cmd: 'logout' }
    | { readonly cmd: 'status'; readonly json: boolean }
    | { readonly cmd: 'ip'; readonly family: 4 | 6 | null; readonly peer: string | null }
    | {
        readonly cmd: 'ping';
        readonly peer: string;
        readonly count: number;
        readonly timeoutMs: number;
      }
    | { readonly cmd: 'version'; readonly json: boolean }
    | { readonly cmd: 'set'; readonly prefs: PrefsPatch }
    | { readonly cmd: 'netcheck'; readonly json: boolean }
    | { readonly cmd: 'exit-node'; readonly action: 'list' | 'suggest'; readonly json: boolean }
    | { readonly cmd: 'help'; readonly topic: string | null }
  );

export type UsageError = { readonly message: string };

const COMMANDS = [
  'up',
  'down',
  'login',
  'logout',
  'status',
  'ip',
  'ping',
  'version',
  'set',
  'netcheck',
  'exit-node',
  'help',
] as const;

/** Flags that may be given bare (`--accept-routes`) or with a value (`--accept-routes=false`). */
const PREF_BOOL_FLAGS = {
  'accept-routes': 'acceptRoutes',
  'advertise-exit-node': 'advertiseExitNode',
  'exit-node-allow-lan-access': 'exitNodeAllowLAN',
  'exit-node-allow-lan': 'exitNodeAllowLAN',
  'accept-dns': 'acceptDNS',
  'block-incoming': 'blockIncoming',
} as const;

type StringOpt = { type: 'string'; short?: string };
type BoolOpt = { type: 'boolean'; short?: string };
type Options = Record<string, StringOpt | BoolOpt>;

const globalOptions: Options = {
  socket: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};
const prefOptions: Options = {
  ...Object.fromEntries(
    Object.keys(PREF_BOOL_FLAGS).map((k) => [k, { type: 'string' } as StringOpt]),
  ),
  hostname: { type: 'string' },
  'advertise-routes': { type: 'string' },
  'exit-node': { type: 'string' },
};

function parseBool(flag: string, v: string): Result<boolean, UsageError> {
  switch (v.toLowerCase()) {
    case 'true':
    case '1':
    case 'yes':
      return ok(true);
    case 'false':
    case '0':
    case 'no':
      return ok(false);
    default:
      return err({ message: `--${flag} takes true or false, not ${JSON.stringify(v)}` });
  }
}

/** "30s", "2m", "500ms", "1h", or a bare number of seconds. */
export function parseDuration(text: string): Result<number, UsageError> {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return err({ message: `not a duration: ${JSON.stringify(text)} (try 30s, 2m)` });
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms =
    unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000;
  return ok(Math.round(ms));
}

/** `--exit-node`: "" clears it, "auto" picks one, an IP names a device's address, else a name. */
export function parseExitNode(text: string): ExitNodeSelector {
  const t = text.trim();
  if (t === '') return null;
  if (t === 'auto') return { type: 'auto' };
  const ip = canonicalIp(t);
  if (ip.ok) return { type: 'address', address: ip.value };
  return { type: 'name', name: t.toLowerCase().replace(/\.$/, '') };
}

function parseRoutes(text: string): Result<string[], UsageError> {
  const out: string[] = [];
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const r = normalizeCidr(part);
    if (!r.ok) return err({ message: `--advertise-routes: ${r.error.message}` });
    if (r.value !== part)
      return err({
        message: `--advertise-routes: ${part} has host bits set; did you mean ${r.value}?`,
      });
    out.push(r.value);
  }
  return ok(out);
}

/** The prefs patch the shared pref flags describe (only flags that were given). */
function prefsFrom(
  values: Record<string, string | boolean | undefined>,
): Result<PrefsPatch, UsageError> {
  const patch: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(PREF_BOOL_FLAGS)) {
    const v = values[flag];
    if (typeof v !== 'string') continue;
    const b = parseBool(flag, v);
    if (!b.ok) return b;
    patch[key] = b.value;
  }
  if (typeof values.hostname === 'string')
    patch.hostname = values.hostname === '' ? null : values.hostname;
  if (typeof values['advertise-routes'] === 'string') {
    const r = parseRoutes(values['advertise-routes']);
    if (!r.ok) return r;
    patch.advertiseRoutes = r.value;
  }
  if (typeof values['exit-node'] === 'string') patch.exitNode = parseExitNode(values['exit-node']);
  return ok(patch as PrefsPatch);
}

/** Bare boolean pref flags become `--flag=true`, so parseArgs can treat them all as strings. */
function normalizeBoolFlags(args: readonly string[]): string[] {
  return args.map((a) => (a.startsWith('--') && a.slice(2) in PREF_BOOL_FLAGS ? `${a}=true` : a));
}

function parse(args: readonly string[], options: Options) {
  try {
    const r = parseArgs({
      args: normalizeBoolFlags(args),
      options: { ...globalOptions, ...options },
      allowPositionals: true,
      strict: true,
    });
    return ok({
      values: r.values as Record<string, string | boolean | undefined>,
      positionals: r.positionals,
    });
  } catch (e) {
    return err({
      message: (e as Error).message.replace(/\. To specify a positional argument.*$/s, ''),
    });
  }
}

function noPositionals(cmd: string, positionals: string[]): UsageError | null {
  return positionals.length
    ? { message: `${cmd} takes no arguments (got ${JSON.stringify(positionals[0])})` }
    : null;
}

function timeoutOf(
  values: Record<string, string | boolean | undefined>,
): Result<number | null, UsageError> {
  if (typeof values.timeout !== 'string') return ok(null);
  const d = parseDuration(values.timeout);
  return d.ok ? ok(d.value > 0 ? d.value : null) : d;
}

export function parseCommand(argv: readonly string[]): Result<Command, UsageError> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help')
    return ok({ cmd: 'help', topic: null, socket: null });
  if (!(COMMANDS as readonly string[]).includes(name)) {
    return err({ message: `unknown command ${JSON.stringify(name)}` });
  }
  const cmd = name as (typeof COMMANDS)[number];
  const spec: Options = commandOptions[cmd];
  const p = parse(rest, spec);
  if (!p.ok) return p;
  const { values, positionals } = p.value;
  const socket = typeof values.socket === 'string' ? values.socket : null;
  if (values.help === true) return ok({ cmd: 'help', topic: cmd, socket });

  switch (cmd) {
    case 'help':
      return ok({ cmd, topic: positionals[0] ?? null, socket });
    case 'up': {
      const bad = noPositionals(cmd, positionals);
      if (bad) return err(bad);
      const prefs = prefsFrom(values);
      if (!prefs.ok) return prefs;
      const timeout = timeoutOf(values);
      if (!timeout.ok) return timeout;
      const { hostname, ...otherPrefs } = prefs.value;
      return ok({
        cmd,
        socket,
        // `--hostname=` clears the override: that is a prefs change, not an up argument.
        prefs: hostname === null ? { ...otherPrefs, hostname: null } : otherPrefs,
        timeoutMs: timeout.value,
        ...(typeof values['control-url'] === 'string' ? { controlUrl: values['control-url'] } : {}),
        ...(typeof values['auth-key'] === 'string' ? { authKey: values['auth-key'] } : {}),
        ...(typeof hostname === 'string' ? { hostname } : {}),
      });
    }
    case 'login': {
      const bad = noPositionals(cmd, positionals);
      if (bad) return err(bad);
      const timeout = timeoutOf(values);
      if (!timeout.ok) return timeout;
      return ok({
        cmd,
        socket,
        timeoutMs: timeout.value,
        ...(typeof values['control-url'] === 'string' ? { controlUrl: values['control-url'] } : {}),
        ...(typeof values['auth-key'] === 'string' ? { authKey: values['auth-key'] } : {}),
      });
    }
    case 'down':
    case 'logout': {
      const bad = noPositionals(cmd, positionals);
      return bad ? err(bad) : ok({ cmd, socket });
    }
    case 'status':
    case 'version':
    case 'netcheck': {
      const bad = noPositionals(cmd, positionals);
      return bad ? err(bad) : ok({ cmd, socket, json: values.json === true });
    }
    case 'ip': {
      if (positionals.length > 1) return err({ message: 'ip takes at most one peer' });
      if (values.ipv4 === true && values.ipv6 === true)
        return err({ message: 'ip: give -4 or -6, not both' });
      const family = values.ipv4 === true ? 4 : values.ipv6 === true ? 6 : null;
      return ok({ cmd, socket, family, peer: positionals[0] ?? null });
    }
    case 'ping': {
      if (positionals.length !== 1)
        return err({ message: 'ping needs exactly one peer (a name, FQDN or mesh IP)' });
      const count = typeof values.count === 'string' ? Number(values.count) : 4;
      if (!Number.isInteger(count) || count < 1 || count > MAX_PING_COUNT) {
        return err({ message: `ping -c takes a whole number from 1 to ${MAX_PING_COUNT}` });
      }
      let timeoutMs = 2000;
      if (typeof values.timeout === 'string') {
        const d = parseDuration(values.timeout);
        if (!d.ok) return d;
        if (d.value < 100 || d.value > 30_000)
          return err({ message: 'ping --timeout must be between 100ms and 30s' });
        timeoutMs = d.value;
      }
      return ok({ cmd, socket, peer: positionals[0] as string, count, timeoutMs });
    }
    case 'exit-node': {
      const [action, ...extra] = positionals;
      if (action !== 'list' && action !== 'suggest')
        return err({ message: 'exit-node needs `list` or `suggest`' });
      const bad = noPositionals(`exit-node ${action}`, extra);
      return bad ? err(bad) : ok({ cmd, socket, action, json: values.json === true });
    }
    case 'set': {
      const bad = noPositionals(cmd, positionals);
      if (bad) return err(bad);
      const prefs = prefsFrom(values);
      if (!prefs.ok) return prefs;
      if (Object.keys(prefs.value).length === 0)
        return err({ message: 'set needs at least one setting (see trellis help set)' });
      return ok({ cmd, socket, prefs: prefs.value });
    }
  }
}

const commandOptions: Record<(typeof COMMANDS)[number], Options> = {
  up: {
    ...prefOptions,
    'control-url': { type: 'string' },
    'auth-key': { type: 'string' },
    timeout: { type: 'string' },
  },
  login: {
    'control-url': { type: 'string' },
    'auth-key': { type: 'string' },
    timeout: { type: 'string' },
  },
  down: {},
  logout: {},
  status: { json: { type: 'boolean' } },
  version: { json: { type: 'boolean' } },
  netcheck: { json: { type: 'boolean' } },
  'exit-node': { json: { type: 'boolean' } },
  ip: { ipv4: { type: 'boolean', short: '4' }, ipv6: { type: 'boolean', short: '6' } },
  ping: { count: { type: 'string', short: 'c' }, timeout: { type: 'string' } },
  set: prefOptions,
  help: {},
};
