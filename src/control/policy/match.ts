/**
 * What a selector matches. A `Subject` is anything policy can name: a device (its owner's
 * identity, its tags, its addresses, the routes and exit node it serves) or a synthetic one that
 * policy tests and auto-approval build. The compiler, the test runner and the auto-approver all
 * decide membership here, so they cannot disagree.
 */
import type { PortRange } from '../../shared/schema/control/netmap.js';
import type { Policy } from './document.js';
import {
  containsAddr,
  hostPrefix,
  intersect,
  INTERNET,
  overlaps,
  type Addr,
  type Prefix,
  ALL_V4,
  ALL_V6,
} from './prefix.js';
import type { DstEntry, Selector } from './selector.js';

export type PolicyRole = 'owner' | 'admin' | 'member';

export interface PolicyUser {
  readonly id: string;
  /** Lower case, as the store keeps it. */
  readonly email: string;
  readonly role: PolicyRole;
  /** Group claims from the user's identity provider (raw names, without "group:"). */
  readonly groups: readonly string[];
}

/** Who owns a device: a user, or (servers) a set of tags instead of a user. */
export type PolicyOwner =
  | { readonly type: 'user'; readonly user: PolicyUser }
  | { readonly type: 'tagged'; readonly tags: readonly string[] };

export interface Subject {
  readonly user: PolicyUser | null;
  /** Policy groups the user is in (declared ones by email or nesting, and IdP ones). */
  readonly groups: ReadonlySet<string>;
  readonly tags: ReadonlySet<string>;
  readonly addrs: readonly Addr[];
  /** The same addresses as /32 and /128 prefixes (formatted once: filters use them often). */
  readonly hosts: readonly Prefix[];
  /** Approved subnet routes the device serves. */
  readonly routes: readonly Prefix[];
  /** An approved exit node. */
  readonly exitNode: boolean;
}

export function subjectOf(
  policy: Pick<Policy, 'groups'>,
  owner: PolicyOwner,
  addrs: readonly Addr[],
  routes: readonly Prefix[],
  exitNode: boolean,
): Subject {
  const user = owner.type === 'user' ? owner.user : null;
  return {
    user,
    groups: user ? policy.groups.groupsOf(user.email, user.groups) : new Set(),
    tags: new Set(owner.type === 'tagged' ? owner.tags : []),
    addrs,
    hosts: addrs.map(hostPrefix),
    routes,
    exitNode,
  };
}

/** Matches by who the subject is (not by address). False for address selectors and "*". */
export function identityMatches(sel: Selector, s: Subject): boolean {
  switch (sel.kind) {
    case 'user':
      return s.user !== null && s.user.email === sel.email;
    case 'group':
      return s.groups.has(sel.group);
    case 'tag':
      return s.tags.has(sel.tag);
    case 'autogroup':
      switch (sel.autogroup) {
        case 'member':
          return s.user !== null;
        case 'tagged':
          return s.tags.size > 0;
        case 'admin':
          return s.user !== null && (s.user.role === 'admin' || s.user.role === 'owner');
        case 'self':
        case 'internet':
          return false;
      }
      return false;
    case 'all':
    case 'prefix':
      return false;
  }
}

/** A prefix names a device when it holds one of its addresses or overlaps a route it serves. */
export const prefixNames = (p: Prefix, s: Subject): boolean =>
  s.addrs.some((a) => containsAddr(p, a)) || s.routes.some((r) => overlaps(p, r));

/** Whether a source selector admits the subject (for the netmap view). */
export function srcMatches(sel: Selector, s: Subject): boolean {
  if (sel.kind === 'all') return true;
  if (sel.kind === 'prefix') return prefixNames(sel.prefix, s);
  return identityMatches(sel, s);
}

/**
 * Whether a destination selector makes the subject a destination (autogroup:self is decided
 * per source, in the compiler).
 */
export function dstMatches(sel: Selector, s: Subject): boolean {
  switch (sel.kind) {
    case 'all':
      return true;
    case 'prefix':
      return prefixNames(sel.prefix, s);
    case 'autogroup':
      if (sel.autogroup === 'internet') return s.exitNode;
      return identityMatches(sel, s);
    default:
      return identityMatches(sel, s);
  }
}

/** The subject's own addresses as /32 and /128. */
export const ownPrefixes = (s: Subject): readonly Prefix[] => s.hosts;

/**
 * The destination prefixes a selector grants on this subject: its own addresses for identity
 * matches; the parts of its addresses and routes inside an address selector; everything behind
 * an exit node for "*"; the public internet behind an exit node for autogroup:internet.
 */
export function dstPrefixes(sel: Selector, s: Subject): Prefix[] {
  switch (sel.kind) {
    case 'all':
      return s.exitNode ? [ALL_V4, ALL_V6] : [...s.hosts, ...s.routes];
    case 'prefix': {
      const out = s.hosts.filter((h, i) => {
        const a = s.addrs[i];
        return a !== undefined && containsAddr(sel.prefix, a);
      });
      for (const r of s.routes) {
        const x = intersect(sel.prefix, r);
        if (x) out.push(x);
      }
      return out;
    }
    case 'autogroup':
      if (sel.autogroup === 'internet') return s.exitNode ? [...INTERNET] : [];
      return identityMatches(sel, s) ? [...s.hosts] : [];
    default:
      return identityMatches(sel, s) ? [...s.hosts] : [];
  }
}

/** Whether a rule's destination entries reach route `r` of a router (for the viewer's allowed IPs). */
export const entryCoversRoute = (e: DstEntry, r: Prefix): boolean =>
  e.selector.kind === 'all' || (e.selector.kind === 'prefix' && overlaps(e.selector.prefix, r));

/** Whether a rule's destination entries let sources use an exit node. */
export const entryCoversInternet = (e: DstEntry): boolean =>
  e.selector.kind === 'all' ||
  (e.selector.kind === 'autogroup' && e.selector.autogroup === 'internet');

export const portsCover = (ranges: readonly PortRange[], port: number): boolean =>
  ranges.some((r) => r.first <= port && port <= r.last);
