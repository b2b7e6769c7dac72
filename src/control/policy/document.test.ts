import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_TEXT, defaultPolicy, parsePolicy, type Policy } from './document.js';
import type { PolicyError, PolicyErrorCode } from './errors.js';
import { MAX_POLICY_BYTES } from './schema.js';

/** The 1-based line/column of the nth occurrence of `needle` in `text`. */
function at(text: string, needle: string, nth = 0): { line: number; column: number } {
  let i = -1;
  for (let k = 0; k <= nth; k++) i = text.indexOf(needle, i + 1);
  if (i < 0) throw new Error(`${needle} not in text`);
  const before = text.slice(0, i);
  return { line: before.split('\n').length, column: i - before.lastIndexOf('\n') };
}

const FULL = `// A policy using every section.
{
  "groups": {
    "group:eng": ["Alice@X.com", "group:sre"],
    "group:sre": ["bob@x.com"],
    "group:admins": ["carol@x.com"],
  },
  "tagOwners": {
    "tag:server": ["group:admins", "autogroup:admin"],
    "tag:router": ["alice@x.com"],
    "tag:exit": [],
  },
  "hosts": { "db": "10.0.0.5", "lab": "10.1.0.0/16" },
  "postures": {
    "posture:corp": [
      { "kind": "min-client-version", "version": "1.4.0" },
      { "kind": "min-os-version", "name": "os", "linux": "5.15", "windows": "10.0.19045" },
      { "kind": "geolocation", "action": "allow", "countries": ["DE", "FR", "DE"] },
      { "kind": "local-network", "action": "deny", "ranges": ["192.168.66.0/24"] },
      { "kind": "process", "processes": [{ "linux": "/usr/bin/edr", "windows": "C:\\\\edr.exe" }] },
    ],
  },
  "acls": [
    { "action": "accept", "src": ["group:eng"], "dst": ["tag:server:22,80-90", "db:5432"], "proto": "tcp" },
    { "action": "accept", "src": ["autogroup:member"], "dst": ["autogroup:self:*"], "srcPosture": ["posture:corp"] },
    { "action": "accept", "src": ["10.0.0.0/8", "*"], "dst": ["[fd00::1]:443", "lab:*", "autogroup:internet:*"] },
  ],
  "autoApprovers": {
    "routes": { "10.0.0.0/8": ["tag:router", "group:sre"] },
    "exitNode": ["tag:exit"],
  },
  "tests": [
    { "src": "alice@x.com", "accept": ["tag:server:22"], "deny": ["tag:server:23"] },
  ],
}`;

function mustParse(text: string): Policy {
  const r = parsePolicy(text);
  if (!r.ok) throw new Error(JSON.stringify(r.error, null, 2));
  return r.value;
}

describe('parsePolicy: valid documents', () => {
  it('resolves every section of a full document', () => {
    const p = mustParse(FULL);
    expect(p.groups.groupsOf('alice@x.com', [])).toEqual(new Set(['group:eng']));
    // bob is in sre, which is nested in eng.
    expect(p.groups.groupsOf('bob@x.com', [])).toEqual(new Set(['group:sre', 'group:eng']));
    expect([...p.tagOwners.keys()]).toEqual(['tag:server', 'tag:router', 'tag:exit']);
    expect(p.hosts.get('db')?.text).toBe('10.0.0.5/32');
    expect(p.hosts.get('lab')?.text).toBe('10.1.0.0/16');
    expect(p.acls).toHaveLength(3);
    const [r0, r1, r2] = p.acls;
    expect(r0?.proto).toBe('tcp');
    expect(r0?.src).toEqual([{ kind: 'group', group: 'group:eng' }]);
    expect(r0?.dst.map((d) => d.ports)).toEqual([
      [
        { first: 22, last: 22 },
        { first: 80, last: 90 },
      ],
      [{ first: 5432, last: 5432 }],
    ]);
    expect(r1?.proto).toBe('any');
    expect(r1?.srcPosture).toEqual(['posture:corp']);
    expect(r1?.dst[0]?.selector).toEqual({ kind: 'autogroup', autogroup: 'self' });
    expect(r2?.dst.map((d) => d.selector.kind)).toEqual(['prefix', 'prefix', 'autogroup']);
    const checks = p.postures[0]?.checks ?? [];
    expect(checks.map((c) => c.name)).toEqual([
      'min-client-version',
      'os',
      'geolocation',
      'local-network',
      'process',
    ]);
    expect(checks[2]).toMatchObject({ countries: ['DE', 'FR'] });
    expect(p.autoApprovers.routes[0]?.prefix.text).toBe('10.0.0.0/8');
    expect(p.autoApprovers.exitNode).toEqual([{ kind: 'tag', tag: 'tag:exit' }]);
    expect(p.tests[0]).toMatchObject({ srcText: 'alice@x.com', proto: 'tcp' });
  });

  it('accepts an empty document (no rules: nothing is allowed)', () => {
    const p = mustParse('{}');
    expect(p.acls).toEqual([]);
  });

  it('ships a default policy that allows everything', () => {
    const p = defaultPolicy();
    expect(p.text).toBe(DEFAULT_POLICY_TEXT);
    expect(p.acls).toEqual([
      {
        index: 0,
        src: [{ kind: 'all' }],
        dst: [{ selector: { kind: 'all' }, ports: [{ first: 0, last: 65535 }] }],
        proto: 'any',
        srcPosture: [],
      },
    ]);
  });

  it('accepts groups that only the identity provider defines when told about them', () => {
    const text = '{"acls": [{"action": "accept", "src": ["group:backend"], "dst": ["*:*"]}]}';
    expect(parsePolicy(text).ok).toBe(false);
    expect(parsePolicy(text, { knownGroups: ['backend'] }).ok).toBe(true);
  });

  it('accepts declared groups with no static members (filled by IdP claims)', () => {
    const p = mustParse('{"groups": {"group:CN=Eng,OU=Groups": []}}');
    expect(p.groups.groupsOf('x@y.z', ['CN=Eng,OU=Groups'])).toEqual(
      new Set(['group:CN=Eng,OU=Groups']),
    );
  });
});

interface ErrorCase {
  name: string;
  text: string;
  code: PolicyErrorCode;
  /** Where the error must point: the nth occurrence of this text. */
  needle: string;
  nth?: number;
  message?: RegExp;
}

const rule = (src: string, dst: string, extra = ''): string =>
  `{"action": "accept", "src": [${src}], "dst": [${dst}]${extra}}`;

const ERRORS: ErrorCase[] = [
  {
    name: 'syntax error (json5 position)',
    text: '{\n  "acls": [\n    {"action": "accept" "src": []}\n  ]\n}',
    code: 'syntax',
    needle: '"src"',
    message: /invalid character/,
  },
  { name: 'empty text', text: '', code: 'syntax', needle: '', message: /end of input/ },
  {
    name: 'not an object',
    text: '[1, 2]',
    code: 'schema',
    needle: '[',
    message: /expected object/,
  },
  {
    name: 'unknown top-level key',
    text: '{\n  "acl": []\n}',
    code: 'schema',
    needle: '"acl"',
    message: /unknown key "acl"/,
  },
  {
    name: 'unknown rule key',
    text: `{"acls": [\n  {"action": "accept", "src": ["*"], "dst": ["*:*"], "port": 22}\n]}`,
    code: 'schema',
    needle: '"port"',
  },
  {
    name: 'wrong action',
    text: `{"acls": [\n  {"action": "deny", "src": ["*"], "dst": ["*:*"]}\n]}`,
    code: 'schema',
    needle: '"deny"',
    message: /only action is "accept"/,
  },
  {
    name: 'bad proto',
    text: `{"acls": [${rule('"*"', '"*:*"', ', "proto": "sctp"')}]}`,
    code: 'schema',
    needle: '"sctp"',
  },
  {
    name: 'empty src',
    text: `{"acls": [${rule('', '"*:*"')}]}`,
    code: 'schema',
    needle: '[]',
  },
  {
    name: 'duplicate key',
    text: '{\n  "groups": {"group:a": []},\n  "groups": {}\n}',
    code: 'duplicate_key',
    needle: '"groups"',
    nth: 1,
  },
  {
    name: 'bad group key',
    text: '{"groups": {\n  "eng": []\n}}',
    code: 'schema',
    needle: '"eng"',
    message: /group name/,
  },
  {
    name: 'unknown group in src',
    text: `{"acls": [\n  ${rule('"group:nope"', '"*:*"')}\n]}`,
    code: 'unknown_group',
    needle: '"group:nope"',
  },
  {
    name: 'unknown group nested in a group',
    text: '{"groups": {"group:a": ["alice@x.com", "group:nope"]}}',
    code: 'unknown_group',
    needle: '"group:nope"',
  },
  {
    name: 'group member that is neither user nor group',
    text: '{"groups": {"group:a": ["tag:x"]}}',
    code: 'invalid_selector',
    needle: '"tag:x"',
  },
  {
    name: 'group cycle',
    text: '{"groups": {\n  "group:a": ["group:b"],\n  "group:b": ["group:c"],\n  "group:c": ["group:a"]\n}}',
    code: 'group_cycle',
    needle: '"group:a"]',
    message: /group:a → group:b → group:c → group:a/,
  },
  {
    name: 'tag not in tagOwners',
    text: `{"tagOwners": {"tag:a": []}, "acls": [${rule('"tag:b"', '"*:*"')}]}`,
    code: 'unknown_tag',
    needle: '"tag:b"',
    message: /tagOwners/,
  },
  {
    name: 'unknown host',
    text: `{"hosts": {"db": "10.0.0.1"}, "acls": [${rule('"*"', '"dbx:22"')}]}`,
    code: 'unknown_host',
    needle: '"dbx:22"',
  },
  {
    name: 'bad CIDR (host bits set, names the intended prefix)',
    text: `{"acls": [${rule('"10.0.0.1/24"', '"*:*"')}]}`,
    code: 'invalid_address',
    needle: '"10.0.0.1/24"',
    message: /did you mean 10\.0\.0\.0\/24/,
  },
  {
    name: 'bad host address',
    text: '{"hosts": {"db": "10.0.0.300"}}',
    code: 'invalid_address',
    needle: '"10.0.0.300"',
  },
  {
    name: 'host alias that looks like an address',
    text: '{"hosts": {"10.1": "10.0.0.1"}}',
    code: 'invalid_selector',
    needle: '"10.1"',
  },
  {
    name: 'port out of range',
    text: `{"acls": [${rule('"*"', '"*:22", "*:70000"')}]}`,
    code: 'invalid_ports',
    needle: '"*:70000"',
  },
  {
    name: 'backwards port range',
    text: `{"acls": [${rule('"*"', '"*:90-80"')}]}`,
    code: 'invalid_ports',
    needle: '"*:90-80"',
    message: /did you mean 80-90/,
  },
  {
    name: 'destination without ports',
    text: `{"acls": [${rule('"*"', '"tag-less"')}]}`,
    code: 'invalid_ports',
    needle: '"tag-less"',
  },
  {
    name: 'autogroup:self as a source',
    text: `{"acls": [${rule('"autogroup:self"', '"*:*"')}]}`,
    code: 'invalid_selector',
    needle: '"autogroup:self"',
  },
  {
    name: 'unknown autogroup',
    text: `{"acls": [${rule('"autogroup:everyone"', '"*:*"')}]}`,
    code: 'invalid_selector',
    needle: '"autogroup:everyone"',
  },
  {
    name: 'unknown posture',
    text: `{"acls": [${rule('"*"', '"*:*"', ', "srcPosture": ["posture:nope"]')}]}`,
    code: 'unknown_posture',
    needle: '"posture:nope"',
  },
  {
    name: 'unknown posture check kind',
    text: '{"postures": {"posture:a": [\n  {"kind": "antivirus"}\n]}}',
    code: 'schema',
    needle: '"antivirus"',
    message: /min-client-version/,
  },
  {
    name: 'min-os-version with no OS',
    text: '{"postures": {"posture:a": [{"kind": "min-os-version"}]}}',
    code: 'schema',
    needle: '{"kind"',
  },
  {
    name: 'two checks with one name',
    text: '{"postures": {"posture:a": [{"kind": "min-client-version", "version": "1.0.0"}, {"kind": "min-client-version", "version": "2.0.0"}]}}',
    code: 'schema',
    needle: '{"kind"',
    nth: 1,
  },
  {
    name: 'bad local network range',
    text: '{"postures": {"posture:a": [{"kind": "local-network", "action": "allow", "ranges": ["192.168.1.1/24"]}]}}',
    code: 'invalid_address',
    needle: '"192.168.1.1/24"',
  },
  {
    name: 'bad semver',
    text: '{"postures": {"posture:a": [{"kind": "min-client-version", "version": "1.4"}]}}',
    code: 'schema',
    needle: '"1.4"',
  },
  {
    name: 'bad autoApprovers route',
    text: '{"autoApprovers": {"routes": {\n  "10.0.0.0/33": ["alice@x.com"]\n}}}',
    code: 'invalid_address',
    needle: '"10.0.0.0/33"',
  },
  {
    name: '"*" as an auto-approver',
    text: '{"autoApprovers": {"exitNode": ["*"]}}',
    code: 'invalid_selector',
    needle: '"*"',
  },
  {
    name: 'a tag as a tag owner',
    text: '{"tagOwners": {"tag:a": [], "tag:b": ["tag:a"]}}',
    code: 'invalid_selector',
    needle: '"tag:a"]',
  },
  {
    name: 'bad email',
    text: `{"acls": [${rule('"al ice@x.com"', '"*:*"')}]}`,
    code: 'invalid_selector',
    needle: '"al ice@x.com"',
  },
  {
    name: 'test with unknown tag',
    text: '{"tests": [{"src": "alice@x.com", "accept": ["tag:x:22"]}]}',
    code: 'unknown_tag',
    needle: '"tag:x:22"',
  },
];

describe('parsePolicy: errors carry code, message and position', () => {
  it.each(ERRORS)('$name', (c) => {
    const r = parsePolicy(c.text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const e = r.error.find((x) => x.code === c.code);
    expect(e, JSON.stringify(r.error)).toBeDefined();
    if (!e) return;
    const want = c.needle === '' ? { line: 1, column: 1 } : at(c.text, c.needle, c.nth);
    expect({ line: e.line, column: e.column }).toEqual(want);
    if (c.message) expect(e.message).toMatch(c.message);
  });

  it('reports several independent errors at once', () => {
    const text = `{"acls": [\n  ${rule('"group:x"', '"tag:y:22"')},\n  ${rule('"*"', '"*:99999"')}\n]}`;
    const r = parsePolicy(text);
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.error.map((e) => e.code).sort()).toEqual([
        'invalid_ports',
        'unknown_group',
        'unknown_tag',
      ]);
  });

  it('refuses text above MAX_POLICY_BYTES before parsing it', () => {
    const r = parsePolicy(`{"x": "${'a'.repeat(MAX_POLICY_BYTES)}"}`);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error[0]).toMatchObject({ code: 'too_large', line: 1, column: 1 });
  });
});

// ---------------------------------------------------------------------------------------------
// Property tests: whatever the input, a typed result; every error located inside the text.

function checkErrors(text: string, errors: readonly PolicyError[]): void {
  const lines = text.split('\n');
  expect(errors.length).toBeGreaterThan(0);
  for (const e of errors) {
    expect(typeof e.code).toBe('string');
    expect(e.message.length).toBeGreaterThan(0);
    expect(e.line).toBeGreaterThanOrEqual(1);
    expect(e.column).toBeGreaterThanOrEqual(1);
    expect(e.line).toBeLessThanOrEqual(lines.length);
    expect(e.column).toBeLessThanOrEqual((lines[e.line - 1]?.length ?? 0) + 1);
  }
}

function parseNeverThrows(text: string): void {
  const r = parsePolicy(text);
  if (!r.ok) checkErrors(text, r.error);
}

const fragments = [
  '"group:eng"',
  '"group:x"',
  '"tag:server"',
  '"tag:bad tag"',
  '"alice@x.com"',
  '"autogroup:member"',
  '"autogroup:self"',
  '"autogroup:internet"',
  '"*"',
  '"db"',
  '"10.0.0.0/8"',
  '"10.0.0.1/8"',
  '"fd00::/8"',
  '"::1"',
  '"tag:server:22"',
  '"*:*"',
  '"db:1-65535"',
  '"10.0.0.0/24:80,443"',
  '"[fd00::1]:99999"',
  '"x:9-1"',
  '"posture:corp"',
];

/** Documents shaped like policies, with plausible and implausible names. */
const policyish = fc
  .record(
    {
      groups: fc.dictionary(
        fc.constantFrom('group:eng', 'group:x', 'eng', 'group:'),
        fc.array(fc.constantFrom(...fragments), { maxLength: 4 }),
      ),
      tagOwners: fc.dictionary(
        fc.constantFrom('tag:server', 'tag:x', 'server'),
        fc.array(fc.constantFrom(...fragments), { maxLength: 3 }),
      ),
      hosts: fc.dictionary(
        fc.constantFrom('db', '10.1', 'Db'),
        fc.constantFrom('"10.0.0.5"', '"10.0.0.0/24"', '"nope"', '5'),
      ),
      acls: fc.array(
        fc.record({
          action: fc.constantFrom('"accept"', '"deny"'),
          src: fc.array(fc.constantFrom(...fragments), { maxLength: 3 }),
          dst: fc.array(fc.constantFrom(...fragments), { maxLength: 3 }),
          proto: fc.constantFrom('"tcp"', '"any"', '"gre"', '1'),
          srcPosture: fc.array(fc.constantFrom(...fragments), { maxLength: 2 }),
        }),
        { maxLength: 4 },
      ),
    },
    { requiredKeys: [] },
  )
  .map((doc) => {
    const list = (xs: readonly string[]) => `[${xs.join(', ')}]`;
    const obj = (o: Record<string, string>) =>
      `{${Object.entries(o)
        .map(([k, v]) => `${JSON.stringify(k)}: ${v}`)
        .join(',\n')}}`;
    const parts: string[] = [];
    if (doc.groups)
      parts.push(
        `"groups": ${obj(Object.fromEntries(Object.entries(doc.groups).map(([k, v]) => [k, list(v)])))}`,
      );
    if (doc.tagOwners)
      parts.push(
        `"tagOwners": ${obj(Object.fromEntries(Object.entries(doc.tagOwners).map(([k, v]) => [k, list(v)])))}`,
      );
    if (doc.hosts) parts.push(`"hosts": ${obj(doc.hosts)}`);
    if (doc.acls) {
      parts.push(
        `"acls": [${doc.acls
          .map(
            (r) =>
              `{"action": ${r.action}, "src": ${list(r.src)}, "dst": ${list(r.dst)}, "proto": ${r.proto}, "srcPosture": ${list(r.srcPosture)}}`,
          )
          .join(',\n  ')}]`,
      );
    }
    return `// generated\n{\n${parts.join(',\n')}\n}`;
  });

describe('parsePolicy: properties', () => {
  it('returns a typed result with in-text positions for arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), parseNeverThrows), { numRuns: 500 });
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), parseNeverThrows), {
      numRuns: 300,
    });
  });

  it('returns a typed result for any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (v) =>
        parseNeverThrows(JSON.stringify(v, null, 1)),
      ),
      { numRuns: 300 },
    );
  });

  it('returns a typed result for policy-shaped documents, and only resolvable ones parse', () => {
    fc.assert(
      fc.property(policyish, (text) => {
        const r = parsePolicy(text);
        if (!r.ok) checkErrors(text, r.error);
        else for (const rule of r.value.acls) expect(rule.src.length).toBeGreaterThan(0);
      }),
      { numRuns: 400 },
    );
  });

  it('returns a typed result for mutations of a valid document', () => {
    const edit = fc.record({
      at: fc.nat({ max: FULL.length }),
      del: fc.nat({ max: 8 }),
      ins: fc.constantFrom(
        '',
        ',',
        '}',
        ']',
        '"',
        "'",
        '/*',
        '//',
        ':',
        '\n',
        '{',
        '[',
        'x',
        '0',
        '\\',
        '@',
        '*',
        '-',
      ),
    });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        let text = FULL;
        for (const e of edits) {
          const at = Math.min(e.at, text.length);
          text = text.slice(0, at) + e.ins + text.slice(at + e.del);
        }
        parseNeverThrows(text);
      }),
      { numRuns: 500 },
    );
  });
});
