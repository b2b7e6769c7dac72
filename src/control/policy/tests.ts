/**
 * The document's own `tests`: "src may reach these, may not reach those". A policy whose tests
 * fail is refused, each failure named and located, so an edit cannot silently cut off (or open)
 * access someone relies on.
 *
 * Tests run against synthetic identities, matched by the same code as compilation (match.ts):
 * - a user source or destination is that user — with their real role and IdP groups when the
 *   caller passes the network's users, else a member with no IdP groups;
 * - "group:x" is a member of exactly that group (and every declared group that includes it);
 * - "tag:x" is a device carrying that tag;
 * - an address, CIDR or host alias is those addresses (a CIDR must be covered whole to be
 *   accepted, and touched nowhere to be denied);
 * - synthetic sources pass every posture: tests check the rules, not today's device state.
 * A test's proto defaults to tcp; a rule with proto "any" matches every proto.
 */
import { err, ok, type Result } from '../../shared/result.js';
import type { PortRange } from '../../shared/schema/control/netmap.js';
import type { AclRule, ParseOptions, Policy, PolicyTest, PolicyTestEntry } from './document.js';
import { formatPath, parsePolicy } from './document.js';
import type { PolicyError } from './errors.js';
import { dstMatches, srcMatches, subjectOf, type PolicyUser, type Subject } from './match.js';
import { containsPrefix, INTERNET, overlaps, type Prefix } from './prefix.js';
import type { Selector } from './selector.js';

export interface TestOptions {
  /** The network's users, so user sources carry their real role and IdP groups. */
  readonly users?: Iterable<PolicyUser>;
}

/** A test party: an identity (user, group member, tagged device) or a set of addresses. */
type Party =
  | { readonly kind: 'subject'; readonly subject: Subject }
  | { readonly kind: 'prefix'; readonly prefix: Prefix };
type Target = Party | { readonly kind: 'internet' };

export function runPolicyTests(policy: Policy, opts: TestOptions = {}): PolicyError[] {
  const users = new Map<string, PolicyUser>();
  for (const u of opts.users ?? []) users.set(u.email.toLowerCase(), u);
  const errors: PolicyError[] = [];
  for (const test of policy.tests) {
    const src = party(policy, test.src, users);
    for (const entry of test.accept) {
      const target = targetOf(policy, entry, users);
      const allowed = allowedPorts(policy.acls, test, src, target, 'whole');
      const missing = entry.entry.ports.filter((r) => !covered(allowed.ranges, r));
      if (missing.length > 0) {
        errors.push(
          failure(
            policy,
            test,
            entry,
            `expected ${entry.text} (${test.proto}) to be accepted, but no rule allows ${portsText(missing)}`,
          ),
        );
      }
    }
    for (const entry of test.deny) {
      const target = targetOf(policy, entry, users);
      const allowed = allowedPorts(policy.acls, test, src, target, 'any');
      const hit = allowed.grants.find((g) =>
        g.ports.some((a) => entry.entry.ports.some((r) => a.first <= r.last && r.first <= a.last)),
      );
      if (hit) {
        errors.push(
          failure(
            policy,
            test,
            entry,
            `expected ${entry.text} (${test.proto}) to be denied, but ${formatPath(['acls', hit.rule])} allows it`,
          ),
        );
      }
    }
  }
  return errors;
}

/** Parses a policy and runs its tests: the gate a policy passes before it is saved. */
export function checkPolicy(
  text: string,
  opts: ParseOptions & TestOptions = {},
): Result<Policy, PolicyError[]> {
  const parsed = parsePolicy(text, opts);
  if (!parsed.ok) return parsed;
  const failures = runPolicyTests(parsed.value, opts);
  return failures.length > 0 ? err(failures) : ok(parsed.value);
}

function failure(
  policy: Policy,
  test: PolicyTest,
  entry: PolicyTestEntry,
  what: string,
): PolicyError {
  const pos = policy.positions.value(entry.path);
  return {
    code: 'test_failed',
    message: `test ${test.index + 1} (src ${test.srcText}): ${what}`,
    path: entry.path,
    line: pos.line,
    column: pos.column,
  };
}

function party(policy: Policy, sel: Selector, users: ReadonlyMap<string, PolicyUser>): Party {
  switch (sel.kind) {
    case 'user': {
      const user = users.get(sel.email) ?? {
        id: `test:${sel.email}`,
        email: sel.email,
        role: 'member',
        groups: [],
      };
      return { kind: 'subject', subject: subjectOf(policy, { type: 'user', user }, [], [], false) };
    }
    case 'group': {
      const user: PolicyUser = { id: `test:${sel.group}`, email: '', role: 'member', groups: [] };
      const base = subjectOf(policy, { type: 'user', user }, [], [], false);
      return {
        kind: 'subject',
        subject: {
          ...base,
          groups: policy.groups.groupsOf(null, [sel.group.slice('group:'.length)]),
        },
      };
    }
    case 'tag':
      return {
        kind: 'subject',
        subject: subjectOf(policy, { type: 'tagged', tags: [sel.tag] }, [], [], false),
      };
    case 'prefix':
      return { kind: 'prefix', prefix: sel.prefix };
    case 'all':
    case 'autogroup':
      // The parser admits neither as a test party except autogroup:internet as a destination.
      return {
        kind: 'subject',
        subject: subjectOf(policy, { type: 'tagged', tags: [] }, [], [], false),
      };
  }
}

function targetOf(
  policy: Policy,
  entry: PolicyTestEntry,
  users: ReadonlyMap<string, PolicyUser>,
): Target {
  const sel = entry.entry.selector;
  if (sel.kind === 'autogroup' && sel.autogroup === 'internet') return { kind: 'internet' };
  return party(policy, sel, users);
}

function srcAdmits(rule: AclRule, src: Party): boolean {
  if (src.kind === 'subject') return rule.src.some((s) => srcMatches(s, src.subject));
  // Raw addresses carry no posture, so rules requiring one never admit them (as in compile).
  if (rule.srcPosture.length > 0) return false;
  return rule.src.some(
    (s) => s.kind === 'all' || (s.kind === 'prefix' && containsPrefix(s.prefix, src.prefix)),
  );
}

function dstAdmits(sel: Selector, src: Party, target: Target, mode: 'whole' | 'any'): boolean {
  const fits = (p: Prefix, t: Prefix): boolean =>
    mode === 'whole' ? containsPrefix(p, t) : overlaps(p, t);
  switch (target.kind) {
    case 'internet':
      return sel.kind === 'all' || (sel.kind === 'autogroup' && sel.autogroup === 'internet');
    case 'prefix':
      if (sel.kind === 'all') return true;
      if (sel.kind === 'prefix') return fits(sel.prefix, target.prefix);
      if (sel.kind === 'autogroup' && sel.autogroup === 'internet') {
        return mode === 'whole'
          ? INTERNET.some((p) => containsPrefix(p, target.prefix))
          : INTERNET.some((p) => overlaps(p, target.prefix));
      }
      return false;
    case 'subject':
      if (sel.kind === 'autogroup' && sel.autogroup === 'self') {
        const a = src.kind === 'subject' ? src.subject.user : null;
        const b = target.subject.user;
        return a !== null && b !== null && a.email !== '' && a.email === b.email;
      }
      return dstMatches(sel, target.subject);
  }
}

function allowedPorts(
  acls: readonly AclRule[],
  test: PolicyTest,
  src: Party,
  target: Target,
  mode: 'whole' | 'any',
): { ranges: PortRange[]; grants: Array<{ rule: number; ports: readonly PortRange[] }> } {
  const grants: Array<{ rule: number; ports: readonly PortRange[] }> = [];
  for (const rule of acls) {
    if (rule.proto !== 'any' && rule.proto !== test.proto) continue;
    if (!srcAdmits(rule, src)) continue;
    for (const e of rule.dst) {
      if (dstAdmits(e.selector, src, target, mode))
        grants.push({ rule: rule.index, ports: e.ports });
    }
  }
  return { ranges: grants.flatMap((g) => g.ports), grants };
}

/** Whether the union of `allowed` covers every port of `r`. */
function covered(allowed: readonly PortRange[], r: PortRange): boolean {
  const sorted = [...allowed].sort((a, b) => a.first - b.first);
  let next = r.first;
  for (const a of sorted) {
    if (a.first > next) break;
    if (a.last >= next) next = a.last + 1;
    if (next > r.last) return true;
  }
  return next > r.last;
}

const portsText = (ranges: readonly PortRange[]): string =>
  ranges
    .map((r) =>
      r.first === r.last
        ? `port ${r.first}`
        : r.first === 0 && r.last === 65535
          ? 'all ports'
          : `ports ${r.first}-${r.last}`,
    )
    .join(', ');
