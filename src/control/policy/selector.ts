/**
 * The words of a policy: who ("alice@x.com", "group:eng", "tag:server", "autogroup:member",
 * "db", "10.0.0.0/24", "*") and where ("tag:server:22", "10.0.0.0/24:80,443", "db:1000-2000").
 * Each place a selector may appear allows its own subset (autogroup:self only as a destination,
 * "*" never as an approver...), and every name must resolve: an unknown group, tag or host is an
 * error, not an empty set.
 */
import type { PortRange } from '../../shared/schema/control/netmap.js';
import { err, ok, type Result } from '../../shared/result.js';
import type { PolicyErrorCode } from './errors.js';
import { hostPrefix, parseAddr, parsePrefixText, type Prefix } from './prefix.js';

export type Autogroup = 'member' | 'tagged' | 'admin' | 'self' | 'internet';
const AUTOGROUPS: readonly Autogroup[] = ['member', 'tagged', 'admin', 'self', 'internet'];

export type Selector =
  | { readonly kind: 'all' }
  | { readonly kind: 'user'; readonly email: string }
  | { readonly kind: 'group'; readonly group: string }
  | { readonly kind: 'tag'; readonly tag: string }
  | { readonly kind: 'autogroup'; readonly autogroup: Autogroup }
  /** An address, CIDR or host alias; `text` is what the document said. */
  | { readonly kind: 'prefix'; readonly prefix: Prefix; readonly text: string };

export interface DstEntry {
  readonly selector: Selector;
  readonly ports: readonly PortRange[];
}

/** Where a selector appears; each place allows a different subset. */
export type SelectorPlace = 'src' | 'dst' | 'approver' | 'owner' | 'test-src' | 'test-dst';

export interface NameContext {
  readonly hosts: ReadonlyMap<string, Prefix>;
  /** Declared in `groups`, or a group name the identity provider is known to send. */
  isGroup(name: string): boolean;
  /** Declared in `tagOwners`. */
  isTag(tag: string): boolean;
}

export interface SelectorError {
  readonly code: PolicyErrorCode;
  readonly message: string;
}

/** Port ranges in one destination ("22,80,443,8000-8999"). */
export const MAX_PORT_RANGES = 64;

const TAG_RE = /^tag:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
/** An email as identity providers and the store hand them out: one "@", no spaces or colons. */
const EMAIL_RE = /^[^\s@:*/]+@[^\s@:*/]+$/;
const MAX_EMAIL_LENGTH = 254;

const fail = (code: PolicyErrorCode, message: string): Result<never, SelectorError> =>
  err({ code, message });
const quote = (t: string): string => JSON.stringify(t.length > 80 ? `${t.slice(0, 80)}…` : t);

const ALLOWED_AUTOGROUPS: Record<SelectorPlace, readonly Autogroup[]> = {
  src: ['member', 'tagged', 'admin'],
  dst: ['member', 'tagged', 'admin', 'self', 'internet'],
  approver: ['member', 'admin'],
  owner: ['member', 'admin'],
  'test-src': [],
  'test-dst': ['internet'],
};

const placeName: Record<SelectorPlace, string> = {
  src: 'a source',
  dst: 'a destination',
  approver: 'an auto-approver',
  owner: 'a tag owner',
  'test-src': 'a test source',
  'test-dst': 'a test destination',
};

export function parseSelector(
  text: string,
  place: SelectorPlace,
  ctx: NameContext,
): Result<Selector, SelectorError> {
  const where = placeName[place];
  if (text === '*') {
    if (place === 'src' || place === 'dst') return ok({ kind: 'all' });
    return fail('invalid_selector', `"*" cannot be ${where}`);
  }
  if (text.startsWith('autogroup:')) {
    const name = text.slice('autogroup:'.length);
    const known = AUTOGROUPS.find((a) => a === name);
    if (!known) {
      return fail(
        'invalid_selector',
        `unknown autogroup ${quote(text)} (known: ${AUTOGROUPS.map((a) => `autogroup:${a}`).join(', ')})`,
      );
    }
    if (!ALLOWED_AUTOGROUPS[place].includes(known)) {
      return fail('invalid_selector', `${text} cannot be ${where}`);
    }
    return ok({ kind: 'autogroup', autogroup: known });
  }
  if (text.startsWith('group:')) {
    if (text.length === 'group:'.length) return fail('invalid_selector', 'empty group name');
    if (!ctx.isGroup(text)) {
      return fail(
        'unknown_group',
        `${quote(text)} is not defined in "groups" and no identity provider reports it`,
      );
    }
    return ok({ kind: 'group', group: text });
  }
  if (text.startsWith('tag:')) {
    if (!TAG_RE.test(text)) return fail('invalid_selector', `${quote(text)} is not a valid tag`);
    if (place === 'owner') {
      return fail(
        'invalid_selector',
        `${quote(text)} cannot be ${where}: tags are owned by users and groups`,
      );
    }
    if (!ctx.isTag(text)) {
      return fail(
        'unknown_tag',
        `${quote(text)} has no entry in "tagOwners"; declare its owners first`,
      );
    }
    return ok({ kind: 'tag', tag: text });
  }
  if (text.includes('@')) {
    if (!EMAIL_RE.test(text) || text.length > MAX_EMAIL_LENGTH) {
      return fail('invalid_selector', `${quote(text)} is not an email address`);
    }
    return ok({ kind: 'user', email: text.toLowerCase() });
  }
  if (place === 'approver' || place === 'owner') {
    return fail('invalid_selector', `${quote(text)} cannot be ${where}: use a user, group or tag`);
  }
  return parseAddressOrHost(text, ctx);
}

function parseAddressOrHost(text: string, ctx: NameContext): Result<Selector, SelectorError> {
  if (text.includes('/')) {
    const p = parsePrefixText(text);
    if (!p.ok) return fail('invalid_address', p.error.message);
    return ok({ kind: 'prefix', prefix: p.value, text });
  }
  if (/^[0-9.]+$/.test(text) || text.includes(':')) {
    const a = parseAddr(text);
    if (!a.ok) return fail('invalid_address', a.error.message);
    return ok({ kind: 'prefix', prefix: hostPrefix(a.value), text });
  }
  const host = ctx.hosts.get(text);
  if (!host) {
    return fail(
      'unknown_host',
      `${quote(text)} is not a user, group, tag, autogroup, address or host defined in "hosts"`,
    );
  }
  return ok({ kind: 'prefix', prefix: host, text });
}

/** "tag:server:22", "[fd00::1]:443", "10.0.0.0/24:80,443", "*:*". */
export function parseDestination(
  text: string,
  place: 'dst' | 'test-dst',
  ctx: NameContext,
): Result<DstEntry, SelectorError> {
  let target: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']:');
    if (close < 0) return fail('invalid_selector', `${quote(text)}: expected "[address]:ports"`);
    target = text.slice(1, close);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) {
      return fail(
        'invalid_ports',
        `${quote(text)} has no ports: write e.g. "${text}:22" or "${text}:*"`,
      );
    }
    target = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  if (target === '') return fail('invalid_selector', `${quote(text)} names no destination`);
  const ports = parsePorts(portText);
  if (!ports.ok) return ports;
  const selector = parseSelector(target, place, ctx);
  if (!selector.ok) return selector;
  return ok({ selector: selector.value, ports: ports.value });
}

const PORT_RE = /^(?:0|[1-9]\d{0,4})$/;

/** "*", "22", "80,443", "1000-2000" or a comma list of those. */
export function parsePorts(text: string): Result<PortRange[], SelectorError> {
  if (text === '*') return ok([{ first: 0, last: 65535 }]);
  const parts = text.split(',');
  if (parts.length > MAX_PORT_RANGES) {
    return fail('invalid_ports', `at most ${MAX_PORT_RANGES} port ranges per destination`);
  }
  const out: PortRange[] = [];
  for (const part of parts) {
    const dash = part.indexOf('-');
    const a = dash < 0 ? part : part.slice(0, dash);
    const b = dash < 0 ? part : part.slice(dash + 1);
    if (!PORT_RE.test(a) || !PORT_RE.test(b) || Number(a) > 65535 || Number(b) > 65535) {
      return fail(
        'invalid_ports',
        `${quote(part)} is not a port (0-65535), a range such as "1000-2000", or "*"`,
      );
    }
    const first = Number(a);
    const last = Number(b);
    if (first > last) {
      return fail(
        'invalid_ports',
        `port range ${quote(part)} runs backwards; did you mean ${last}-${first}?`,
      );
    }
    out.push({ first, last });
  }
  return ok(out);
}

export const selectorText = (s: Selector): string => {
  switch (s.kind) {
    case 'all':
      return '*';
    case 'user':
      return s.email;
    case 'group':
      return s.group;
    case 'tag':
      return s.tag;
    case 'autogroup':
      return `autogroup:${s.autogroup}`;
    case 'prefix':
      return s.text;
  }
};
