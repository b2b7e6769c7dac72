import { describe, expect, it } from 'vitest';
import { checkPolicy, runPolicyTests } from './tests.js';
import { mustParse, user } from './testing.js';

const BASE = `
  "groups": { "group:eng": ["alice@x.com", "group:backend"], "group:backend": [] },
  "tagOwners": { "tag:server": [], "tag:exit": [] },
  "hosts": { "db": "10.0.0.5", "lan": "10.0.0.0/24" },
  "postures": { "posture:p": [{ "kind": "min-client-version", "version": "9.0.0" }] },
  "acls": [
    { "action": "accept", "src": ["group:eng"], "dst": ["tag:server:22,1000-1999"], "proto": "tcp" },
    { "action": "accept", "src": ["tag:server"], "dst": ["db:5432", "lan:80"] },
    { "action": "accept", "src": ["autogroup:member"], "dst": ["autogroup:self:*", "autogroup:internet:443"] },
    { "action": "accept", "src": ["10.9.0.0/16"], "dst": ["tag:server:8080"] },
    { "action": "accept", "src": ["bob@x.com"], "dst": ["tag:server:9999"], "srcPosture": ["posture:p"] },
  ],
`;

/** The 1-based position of the nth occurrence of `needle`. */
function at(text: string, needle: string, nth = 0): { line: number; column: number } {
  let i = -1;
  for (let k = 0; k <= nth; k++) i = text.indexOf(needle, i + 1);
  const before = text.slice(0, i);
  return { line: before.split('\n').length, column: i - before.lastIndexOf('\n') };
}

const withTests = (tests: string): string => `{${BASE}\n  "tests": [\n${tests}\n  ],\n}`;

describe('policy tests', () => {
  it.each([
    [
      'user via declared group',
      '{"src": "alice@x.com", "accept": ["tag:server:22", "tag:server:1500"], "deny": ["tag:server:80"]}',
    ],
    [
      'IdP group (nested in a declared one)',
      '{"src": "group:backend", "accept": ["tag:server:22"]}',
    ],
    ['whole port range covered', '{"src": "group:eng", "accept": ["tag:server:1000-1999"]}'],
    [
      'proto mismatch is denied',
      '{"src": "alice@x.com", "proto": "udp", "deny": ["tag:server:22"]}',
    ],
    [
      'tag source to host and CIDR',
      '{"src": "tag:server", "accept": ["db:5432", "10.0.0.7:80", "lan:80"], "deny": ["10.0.0.7:5432"]}',
    ],
    [
      'autogroup:self for a user',
      '{"src": "carol@x.com", "accept": ["carol@x.com:22"], "deny": ["alice@x.com:22"]}',
    ],
    [
      'internet grant',
      '{"src": "carol@x.com", "accept": ["8.8.8.8:443", "autogroup:internet:443"], "deny": ["10.0.0.5:443", "8.8.8.8:80"]}',
    ],
    [
      'address source',
      '{"src": "10.9.1.2", "accept": ["tag:server:8080"], "deny": ["tag:server:22"]}',
    ],
    [
      'posture rules do not admit raw addresses',
      '{"src": "10.9.1.2", "deny": ["tag:server:9999"]}',
    ],
    ['synthetic sources pass postures', '{"src": "bob@x.com", "accept": ["tag:server:9999"]}'],
  ])('passes: %s', (_name, test) => {
    const r = checkPolicy(withTests(test));
    expect(r.ok ? [] : r.error).toEqual([]);
  });

  it('names a failing accept test with its line and column', () => {
    const text = withTests(
      '    {"src": "alice@x.com", "accept": ["tag:server:22", "tag:server:2000-2001"]},',
    );
    const r = checkPolicy(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toEqual([
      {
        code: 'test_failed',
        message:
          'test 1 (src alice@x.com): expected tag:server:2000-2001 (tcp) to be accepted, but no rule allows ports 2000-2001',
        path: ['tests', 0, 'accept', 1],
        ...at(text, '"tag:server:2000-2001"'),
      },
    ]);
  });

  it('names the rule that breaks a deny test', () => {
    const text = withTests(
      '    {"src": "alice@x.com", "deny": ["db:5432"]},\n    {"src": "tag:server", "deny": ["lan:79-81"]},',
    );
    const r = checkPolicy(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error).toHaveLength(1);
    expect(r.error[0]).toMatchObject({
      message:
        'test 2 (src tag:server): expected lan:79-81 (tcp) to be denied, but acls[1] allows it',
      ...at(text, '"lan:79-81"'),
    });
  });

  it('uses real users’ roles and IdP groups when given', () => {
    const policy = mustParse(
      `{"tagOwners": {"tag:server": []}, "acls": [{"action": "accept", "src": ["autogroup:admin"], "dst": ["tag:server:22"]}],
        "tests": [{"src": "carol@x.com", "accept": ["tag:server:22"]}]}`,
    );
    expect(runPolicyTests(policy)).toHaveLength(1); // a synthetic carol is a member
    expect(runPolicyTests(policy, { users: [user('carol', { role: 'admin' })] })).toEqual([]);
  });

  it('reports parse errors before running tests', () => {
    const r = checkPolicy('{"tests": [{"src": "nobody"}]}');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error[0]?.code).toBe('unknown_host');
  });
});
