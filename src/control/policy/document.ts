/**
 * The policy document: HuJSON text (JSON with comments and trailing commas; json5 reads it) in,
 * a resolved `Policy` or a list of errors with line and column out. Parsing never throws: syntax
 * errors carry json5's position, structural errors zod's path located in the text, and semantic
 * errors (unknown group, tag, host or posture, bad CIDR, bad ports, group cycles) the position of
 * the offending key or value.
 *
 * What each section means: README.md in this folder; the grammar of selectors: selector.ts.
 */
import JSON5 from 'json5';
import type * as z from 'zod';
import type { FilterProto } from '../../shared/schema/control/netmap.js';
import type { OsKind } from '../../shared/schema/common.js';
import { err, ok, type Result } from '../../shared/result.js';
import type { PolicyError, PolicyErrorCode } from './errors.js';
import { GroupIndex, isGroupCycle, type GroupDecl } from './groups.js';
import { indexPositions, type JsonPath, type PositionIndex } from './locate.js';
import { hostPrefix, parseAddr, parsePrefixText, type Prefix } from './prefix.js';
import {
  MAX_POLICY_BYTES,
  MAX_TOTAL_POSTURE_CHECKS,
  MAX_TOTAL_PROCESS_PATHS,
  RawPolicy,
  type RawCheck,
} from './schema.js';
import {
  parseDestination,
  parseSelector,
  type DstEntry,
  type NameContext,
  type Selector,
  type SelectorError,
} from './selector.js';

// ---------------------------------------------------------------------------------------------
// The resolved policy.

export interface AclRule {
  /** Position in `acls`, for messages and for locating the rule. */
  readonly index: number;
  readonly src: readonly Selector[];
  readonly dst: readonly DstEntry[];
  readonly proto: FilterProto;
  /** Postures every source device must pass for this rule to admit it. */
  readonly srcPosture: readonly string[];
}

export type CheckAction = 'allow' | 'deny';
export type ProcessOs = 'linux' | 'macos' | 'windows';
/** OSes a minimum-version check can name. */
export type VersionedOs = Exclude<OsKind, 'other'>;

export type PostureCheck =
  | { readonly kind: 'min-client-version'; readonly name: string; readonly version: string }
  | {
      readonly kind: 'min-os-version';
      readonly name: string;
      readonly minimums: Readonly<Partial<Record<VersionedOs, string>>>;
    }
  | {
      readonly kind: 'geolocation';
      readonly name: string;
      readonly action: CheckAction;
      readonly countries: readonly string[];
    }
  | {
      readonly kind: 'local-network';
      readonly name: string;
      readonly action: CheckAction;
      readonly ranges: readonly Prefix[];
    }
  | {
      readonly kind: 'process';
      readonly name: string;
      readonly processes: ReadonlyArray<Readonly<Partial<Record<ProcessOs, string>>>>;
    };

export interface Posture {
  readonly name: string;
  readonly checks: readonly PostureCheck[];
}

export interface AutoApprovers {
  readonly routes: ReadonlyArray<{
    readonly prefix: Prefix;
    readonly approvers: readonly Selector[];
  }>;
  readonly exitNode: readonly Selector[];
}

export interface PolicyTestEntry {
  readonly text: string;
  readonly entry: DstEntry;
  readonly path: JsonPath;
}

export interface PolicyTest {
  readonly index: number;
  readonly srcText: string;
  readonly src: Selector;
  readonly proto: 'tcp' | 'udp' | 'icmp';
  readonly accept: readonly PolicyTestEntry[];
  readonly deny: readonly PolicyTestEntry[];
}

export interface Policy {
  /** The document as written: stored, versioned and shown back to admins unchanged. */
  readonly text: string;
  readonly positions: PositionIndex;
  readonly groups: GroupIndex;
  readonly tagOwners: ReadonlyMap<string, readonly Selector[]>;
  readonly hosts: ReadonlyMap<string, Prefix>;
  readonly acls: readonly AclRule[];
  readonly postures: readonly Posture[];
  readonly autoApprovers: AutoApprovers;
  readonly tests: readonly PolicyTest[];
}

export interface ParseOptions {
  /**
   * Group names identity providers currently report for this network's users (raw claims, e.g.
   * "backend"): "group:backend" may then be used without declaring it under "groups".
   */
  readonly knownGroups?: Iterable<string>;
}

/** Errors reported at once; past this, the first ones are what an admin fixes first anyway. */
export const MAX_REPORTED_ERRORS = 100;

/** The policy in force when none was saved: every device of the network may reach every other. */
export const DEFAULT_POLICY_TEXT = `// The default Trellis policy: every device in the network may reach every other device,
// its approved subnet routes and exit nodes. Replace it to restrict access.
{
  "acls": [
    { "action": "accept", "src": ["*"], "dst": ["*:*"] },
  ],
}
`;

let defaultPolicyCache: Policy | null = null;
export function defaultPolicy(): Policy {
  if (!defaultPolicyCache) {
    const r = parsePolicy(DEFAULT_POLICY_TEXT);
    if (!r.ok) throw new Error(`the default policy does not parse: ${r.error[0]?.message}`);
    defaultPolicyCache = r.value;
  }
  return defaultPolicyCache;
}

// ---------------------------------------------------------------------------------------------

export function parsePolicy(text: string, opts: ParseOptions = {}): Result<Policy, PolicyError[]> {
  if (text.length > MAX_POLICY_BYTES || Buffer.byteLength(text, 'utf8') > MAX_POLICY_BYTES) {
    return err([
      {
        code: 'too_large',
        message: `the policy is larger than ${MAX_POLICY_BYTES} bytes`,
        path: [],
        line: 1,
        column: 1,
      },
    ]);
  }
  let value: unknown;
  try {
    value = JSON5.parse(text);
  } catch (e) {
    return err([syntaxError(e)]);
  }
  const positions = indexPositions(text);
  const errors = new Collector(positions);
  for (const d of positions.duplicates) {
    errors.add(
      'duplicate_key',
      `${formatPath(d.path)} appears twice in the same object`,
      d.path,
      true,
    );
  }
  const raw = RawPolicy.safeParse(value);
  if (!raw.success) {
    for (const issue of raw.error.issues) errors.zodIssue(issue);
    return err(errors.list);
  }
  const policy = resolve(text, positions, raw.data, opts, errors);
  return errors.list.length > 0 || !policy ? err(errors.list) : ok(policy);
}

function syntaxError(e: unknown): PolicyError {
  const x = e as { message?: unknown; lineNumber?: unknown; columnNumber?: unknown };
  const line = typeof x.lineNumber === 'number' && x.lineNumber >= 1 ? x.lineNumber : 1;
  const column = typeof x.columnNumber === 'number' && x.columnNumber >= 1 ? x.columnNumber : 1;
  const raw = typeof x.message === 'string' ? x.message : 'unreadable policy text';
  // json5 says "JSON5: invalid character 'x' at 3:3"; the position is reported separately.
  const message = raw.replace(/^JSON5: /, '').replace(/ at \d+:\d+$/, '');
  return { code: 'syntax', message, path: [], line, column };
}

class Collector {
  readonly list: PolicyError[] = [];
  constructor(private readonly positions: PositionIndex) {}

  add(code: PolicyErrorCode, message: string, path: JsonPath, atKey = false): void {
    if (this.list.length >= MAX_REPORTED_ERRORS) return;
    const pos = atKey ? this.positions.key(path) : this.positions.value(path);
    this.list.push({ code, message, path, line: pos.line, column: pos.column });
  }

  selector(e: SelectorError, path: JsonPath, atKey = false): void {
    this.add(e.code, `${formatPath(path)}: ${e.message}`, path, atKey);
  }

  zodIssue(issue: z.core.$ZodIssue): void {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          this.add(
            'schema',
            `${formatPath(path)}: unknown key ${JSON.stringify(key)}`,
            [...path, key],
            true,
          );
        }
        return;
      case 'invalid_key': {
        const inner = issue.issues[0]?.message ?? issue.message;
        const key = path[path.length - 1];
        this.add('schema', `key ${JSON.stringify(key)}: ${inner}`, path, true);
        return;
      }
      default:
        break;
    }
    this.add('schema', `${formatPath(path)}: ${issue.message}`, path);
  }
}

/** `acls[2].dst[0]`, `groups["group:eng"]`. */
export function formatPath(path: JsonPath): string {
  if (path.length === 0) return 'policy';
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(p)) out += out === '' ? p : `.${p}`;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Resolution: names to things.

function resolve(
  text: string,
  positions: PositionIndex,
  raw: RawPolicy,
  opts: ParseOptions,
  errors: Collector,
): Policy | null {
  const hosts = resolveHosts(raw, errors);
  const tags = new Set(Object.keys(raw.tagOwners ?? {}));
  const known = new Set<string>();
  for (const g of opts.knownGroups ?? []) known.add(`group:${g}`);
  const declared = new Set(Object.keys(raw.groups ?? {}));
  const ctx: NameContext = {
    hosts,
    isGroup: (name) => declared.has(name) || known.has(name),
    isTag: (tag) => tags.has(tag),
  };

  const groups = resolveGroups(raw, ctx, errors);

  const tagOwners = new Map<string, Selector[]>();
  for (const [tag, owners] of Object.entries(raw.tagOwners ?? {})) {
    tagOwners.set(tag, selectors(owners, 'owner', ['tagOwners', tag], ctx, errors));
  }

  const postures = resolvePostures(raw, errors);
  const postureNames = new Set(postures.map((p) => p.name));

  const acls: AclRule[] = (raw.acls ?? []).map((r, index) => {
    const base: JsonPath = ['acls', index];
    const srcPosture = r.srcPosture ?? [];
    srcPosture.forEach((p, i) => {
      if (!postureNames.has(p)) {
        errors.add(
          'unknown_posture',
          `${formatPath([...base, 'srcPosture', i])}: ${JSON.stringify(p)} is not defined in "postures"`,
          [...base, 'srcPosture', i],
        );
      }
    });
    return {
      index,
      src: selectors(r.src, 'src', [...base, 'src'], ctx, errors),
      dst: destinations(r.dst, 'dst', [...base, 'dst'], ctx, errors).map((d) => d.entry),
      proto: r.proto ?? 'any',
      srcPosture: [...new Set(srcPosture)],
    };
  });

  const autoApprovers: AutoApprovers = {
    routes: Object.entries(raw.autoApprovers?.routes ?? {}).flatMap(([cidr, list]) => {
      const path: JsonPath = ['autoApprovers', 'routes', cidr];
      const p = parsePrefixText(cidr);
      const approvers = selectors(list, 'approver', path, ctx, errors);
      if (!p.ok) {
        errors.add('invalid_address', `${formatPath(path)}: ${p.error.message}`, path, true);
        return [];
      }
      return [{ prefix: p.value, approvers }];
    }),
    exitNode: selectors(
      raw.autoApprovers?.exitNode ?? [],
      'approver',
      ['autoApprovers', 'exitNode'],
      ctx,
      errors,
    ),
  };

  const tests: PolicyTest[] = (raw.tests ?? []).flatMap((t, index) => {
    const base: JsonPath = ['tests', index];
    const src = parseSelector(t.src, 'test-src', ctx);
    if (!src.ok) errors.selector(src.error, [...base, 'src']);
    const accept = destinations(t.accept ?? [], 'test-dst', [...base, 'accept'], ctx, errors);
    const deny = destinations(t.deny ?? [], 'test-dst', [...base, 'deny'], ctx, errors);
    if (!src.ok) return [];
    return [{ index, srcText: t.src, src: src.value, proto: t.proto ?? 'tcp', accept, deny }];
  });

  if (!groups) return null;
  return { text, positions, groups, tagOwners, hosts, acls, postures, autoApprovers, tests };
}

function selectors(
  list: readonly string[],
  place: 'src' | 'approver' | 'owner',
  base: JsonPath,
  ctx: NameContext,
  errors: Collector,
): Selector[] {
  const out: Selector[] = [];
  list.forEach((text, i) => {
    const r = parseSelector(text, place, ctx);
    if (r.ok) out.push(r.value);
    else errors.selector(r.error, [...base, i]);
  });
  return out;
}

function destinations(
  list: readonly string[],
  place: 'dst' | 'test-dst',
  base: JsonPath,
  ctx: NameContext,
  errors: Collector,
): PolicyTestEntry[] {
  const out: PolicyTestEntry[] = [];
  list.forEach((text, i) => {
    const r = parseDestination(text, place, ctx);
    if (r.ok) out.push({ text, entry: r.value, path: [...base, i] });
    else errors.selector(r.error, [...base, i]);
  });
  return out;
}

function resolveHosts(raw: RawPolicy, errors: Collector): Map<string, Prefix> {
  const hosts = new Map<string, Prefix>();
  for (const [name, value] of Object.entries(raw.hosts ?? {})) {
    const path: JsonPath = ['hosts', name];
    if (/^[0-9.]+$/.test(name)) {
      errors.add(
        'invalid_selector',
        `host alias ${JSON.stringify(name)} looks like an address`,
        path,
        true,
      );
      continue;
    }
    if (value.includes('/')) {
      const p = parsePrefixText(value);
      if (p.ok) hosts.set(name, p.value);
      else errors.add('invalid_address', `${formatPath(path)}: ${p.error.message}`, path);
    } else {
      const a = parseAddr(value);
      if (a.ok) hosts.set(name, hostPrefix(a.value));
      else errors.add('invalid_address', `${formatPath(path)}: ${a.error.message}`, path);
    }
  }
  return hosts;
}

function resolveGroups(raw: RawPolicy, ctx: NameContext, errors: Collector): GroupIndex | null {
  const decls: GroupDecl[] = [];
  for (const [name, members] of Object.entries(raw.groups ?? {})) {
    const emails: string[] = [];
    const subgroups: Array<{ name: string; path: JsonPath }> = [];
    members.forEach((m, i) => {
      const path: JsonPath = ['groups', name, i];
      if (m.startsWith('group:') || m.includes('@')) {
        const r = parseSelector(m, 'owner', ctx);
        if (!r.ok) errors.selector(r.error, path);
        else if (r.value.kind === 'group') subgroups.push({ name: r.value.group, path });
        else if (r.value.kind === 'user') emails.push(r.value.email);
      } else {
        errors.add(
          'invalid_selector',
          `${formatPath(path)}: groups list users (emails) and other groups, not ${JSON.stringify(m)}`,
          path,
        );
      }
    });
    decls.push({ name, emails, subgroups });
  }
  const built = GroupIndex.build(decls);
  if (isGroupCycle(built)) {
    errors.add(
      'group_cycle',
      `groups include each other in a loop: ${built.loop.join(' → ')}`,
      built.path,
    );
    return null;
  }
  return built;
}

function resolvePostures(raw: RawPolicy, errors: Collector): Posture[] {
  const postures: Posture[] = [];
  let total = 0;
  const paths = new Set<string>();
  for (const [name, checks] of Object.entries(raw.postures ?? {})) {
    const seen = new Set<string>();
    const out: PostureCheck[] = [];
    checks.forEach((c, i) => {
      const path: JsonPath = ['postures', name, i];
      const checkName = c.name ?? c.kind;
      if (seen.has(checkName)) {
        errors.add(
          'schema',
          `${formatPath(path)}: ${name} has two checks named ${JSON.stringify(checkName)}; give one a "name"`,
          path,
        );
      }
      seen.add(checkName);
      const check = resolveCheck(c, checkName, path, errors);
      if (check?.kind === 'process') {
        for (const p of check.processes) for (const v of Object.values(p)) paths.add(v);
      }
      if (check) out.push(check);
    });
    total += checks.length;
    postures.push({ name, checks: out });
  }
  if (total > MAX_TOTAL_POSTURE_CHECKS) {
    errors.add(
      'too_many',
      `at most ${MAX_TOTAL_POSTURE_CHECKS} posture checks in all`,
      ['postures'],
      true,
    );
  }
  if (paths.size > MAX_TOTAL_PROCESS_PATHS) {
    errors.add(
      'too_many',
      `at most ${MAX_TOTAL_PROCESS_PATHS} distinct process paths across posture checks`,
      ['postures'],
      true,
    );
  }
  return postures;
}

function resolveCheck(
  c: RawCheck,
  name: string,
  path: JsonPath,
  errors: Collector,
): PostureCheck | null {
  switch (c.kind) {
    case 'min-client-version':
      return { kind: c.kind, name, version: c.version };
    case 'min-os-version': {
      const minimums: Partial<Record<VersionedOs, string>> = {};
      for (const os of ['linux', 'windows', 'macos', 'ios', 'android', 'freebsd'] as const) {
        const v = c[os];
        if (v !== undefined) minimums[os] = v;
      }
      return { kind: c.kind, name, minimums };
    }
    case 'geolocation':
      return { kind: c.kind, name, action: c.action, countries: [...new Set(c.countries)] };
    case 'local-network': {
      const ranges: Prefix[] = [];
      c.ranges.forEach((text, i) => {
        const p = parsePrefixText(text);
        if (p.ok) ranges.push(p.value);
        else {
          const at: JsonPath = [...path, 'ranges', i];
          errors.add('invalid_address', `${formatPath(at)}: ${p.error.message}`, at);
        }
      });
      return ranges.length === c.ranges.length
        ? { kind: c.kind, name, action: c.action, ranges }
        : null;
    }
    case 'process':
      return { kind: c.kind, name, processes: c.processes };
  }
}
