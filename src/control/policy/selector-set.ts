/**
 * A rule's selector list compiled for membership tests: hash sets of emails, groups and tags plus
 * flags, so testing a device against a rule costs O(groups the user is in), not O(selectors).
 * Semantics are exactly those of match.ts (the compiler's property tests check that).
 */
import type { Subject } from './match.js';
import { containsAddr, overlaps, type Prefix } from './prefix.js';
import type { Selector } from './selector.js';

const anyIn = (small: ReadonlySet<string>, big: ReadonlySet<string>): boolean => {
  if (small.size > big.size) return anyIn(big, small);
  for (const x of small) if (big.has(x)) return true;
  return false;
};

export class SelectorSet {
  all = false;
  member = false;
  tagged = false;
  admin = false;
  internet = false;
  readonly emails = new Set<string>();
  readonly groups = new Set<string>();
  readonly tags = new Set<string>();
  readonly prefixes: Prefix[] = [];
  /** Has user/group/tag/autogroup selectors (devices matched by who they are). */
  identity = false;

  constructor(selectors: readonly Selector[]) {
    for (const s of selectors) {
      switch (s.kind) {
        case 'all':
          this.all = true;
          break;
        case 'user':
          this.emails.add(s.email);
          this.identity = true;
          break;
        case 'group':
          this.groups.add(s.group);
          this.identity = true;
          break;
        case 'tag':
          this.tags.add(s.tag);
          this.identity = true;
          break;
        case 'prefix':
          this.prefixes.push(s.prefix);
          break;
        case 'autogroup':
          if (s.autogroup === 'member') this.member = this.identity = true;
          else if (s.autogroup === 'tagged') this.tagged = this.identity = true;
          else if (s.autogroup === 'admin') this.admin = this.identity = true;
          else if (s.autogroup === 'internet') this.internet = true;
          break;
      }
    }
  }

  /** Matched by who the subject is. */
  identityMatches(s: Subject): boolean {
    if (!this.identity) return false;
    const u = s.user;
    if (u) {
      if (this.member || this.emails.has(u.email)) return true;
      if (this.admin && (u.role === 'admin' || u.role === 'owner')) return true;
      if (this.groups.size > 0 && s.groups.size > 0 && anyIn(s.groups, this.groups)) return true;
    }
    if (s.tags.size > 0) {
      if (this.tagged) return true;
      if (this.tags.size > 0 && anyIn(s.tags, this.tags)) return true;
    }
    return false;
  }

  /** Matched by an address or route of the subject. */
  prefixMatches(s: Subject): boolean {
    for (const p of this.prefixes) {
      for (const a of s.addrs) if (containsAddr(p, a)) return true;
      for (const r of s.routes) if (overlaps(p, r)) return true;
    }
    return false;
  }

  srcMatches(s: Subject): boolean {
    return this.all || this.identityMatches(s) || this.prefixMatches(s);
  }

  dstMatches(s: Subject): boolean {
    return this.srcMatches(s) || (this.internet && s.exitNode);
  }
}
