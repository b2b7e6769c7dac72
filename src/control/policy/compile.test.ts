import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PacketFilter, type FilterRule, type Peer } from '../../shared/schema/control/netmap.js';
import { PolicyEngine, type PolicyDevice } from './compile.js';
import { loadGeoCsvFile } from './geo.js';
import { INTERNET } from './prefix.js';
import { device, hostInfo, mustParse, user, v4, v6 } from './testing.js';

const alice = user('alice');
const bob = user('bob', { groups: ['backend'] });
const carol = user('carol', { role: 'admin' });
const dave = user('dave');

/**
 * The population every table case runs against:
 *   d1, d2  alice (d2 runs an old client)   d3  bob (IdP group "backend")   d4  carol (admin)
 *   d5      tag:server                      d6  tag:router serving 10.0.0.0/24 and 10.1.0.0/24
 *   d7      tag:exit, an exit node          d8  dave, not approved
 */
const DEVICES: PolicyDevice[] = [
  device(1, alice),
  device(2, alice, { hostInfo: hostInfo({ clientVersion: '1.2.0' }) }),
  device(3, bob),
  device(4, carol),
  device(5, { tags: ['tag:server'] }),
  device(6, { tags: ['tag:router'] }, { routes: ['10.0.0.0/24', '10.1.0.0/24'] }),
  device(7, { tags: ['tag:exit'] }, { exitNode: true }),
  device(8, dave, { approved: false }),
];

const HEADER = `
  "groups": {
    "group:eng": ["alice@x.com"],
    "group:backend": [],
    "group:all-eng": ["group:eng", "group:backend"],
  },
  "tagOwners": { "tag:server": [], "tag:router": [], "tag:exit": [] },
  "hosts": { "lan": "10.0.0.0/24", "printer": "10.0.0.9" },
  "postures": { "posture:current": [{ "kind": "min-client-version", "version": "1.4.0" }] },
`;

function engineFor(acls: string, devices = DEVICES): PolicyEngine {
  const e = new PolicyEngine(mustParse(`{${HEADER} "acls": [${acls}]}`));
  for (const d of devices) e.upsertDevice(d);
  return e;
}

function visiblePairs(e: PolicyEngine, devices = DEVICES): string[] {
  const out: string[] = [];
  for (const a of devices) {
    for (const b of devices) {
      if (a.id >= b.id) continue;
      const ab = e.visible(a.id, b.id);
      // Visibility is symmetric by definition; check it while collecting.
      expect(e.visible(b.id, a.id), `${b.id}→${a.id}`).toBe(ab);
      if (ab) out.push(`${a.id}-${b.id}`);
    }
  }
  return out;
}

const rule = (src: string, dst: string, extra = ''): string =>
  `{"action": "accept", "src": [${src}], "dst": [${dst}]${extra}}`;
const addrs = (...ns: number[]): string[] => ns.flatMap((n) => [`${v4(n)}/32`, `${v6(n)}/128`]);
const all = (n: number): string[] =>
  [1, 2, 3, 4, 5, 6, 7].filter((m) => m !== n).map((m) => (m < n ? `d${m}-d${n}` : `d${n}-d${m}`));

interface Case {
  name: string;
  acls: string;
  pairs: string[];
}

const CASES: Case[] = [
  {
    name: 'allow-all: every approved pair; the unapproved device sees nobody',
    acls: rule('"*"', '"*:*"'),
    pairs: [...new Set([1, 2, 3, 4, 5, 6, 7].flatMap(all))],
  },
  { name: 'no rules: nobody', acls: '', pairs: [] },
  {
    name: 'user → tag',
    acls: rule('"alice@x.com"', '"tag:server:22"'),
    pairs: ['d1-d5', 'd2-d5'],
  },
  {
    name: 'declared group → tag',
    acls: rule('"group:eng"', '"tag:server:22"'),
    pairs: ['d1-d5', 'd2-d5'],
  },
  { name: 'IdP group → tag', acls: rule('"group:backend"', '"tag:server:22"'), pairs: ['d3-d5'] },
  {
    name: 'nested groups (declared and IdP)',
    acls: rule('"group:all-eng"', '"tag:server:22"'),
    pairs: ['d1-d5', 'd2-d5', 'd3-d5'],
  },
  {
    name: 'tag → tag',
    acls: rule('"tag:server"', '"tag:router:*"'),
    pairs: ['d5-d6'],
  },
  {
    name: 'autogroup:member → autogroup:tagged',
    acls: rule('"autogroup:member"', '"autogroup:tagged:*"'),
    pairs: [
      'd1-d5',
      'd1-d6',
      'd1-d7',
      'd2-d5',
      'd2-d6',
      'd2-d7',
      'd3-d5',
      'd3-d6',
      'd3-d7',
      'd4-d5',
      'd4-d6',
      'd4-d7',
    ],
  },
  { name: 'autogroup:admin → everything', acls: rule('"autogroup:admin"', '"*:*"'), pairs: all(4) },
  {
    name: 'autogroup:self: only a user’s own devices',
    acls: rule('"autogroup:member"', '"autogroup:self:*"'),
    pairs: ['d1-d2'],
  },
  {
    name: 'destination CIDR reaches the router serving it',
    acls: rule('"group:eng"', '"10.0.0.0/16:80"'),
    pairs: ['d1-d6', 'd2-d6'],
  },
  { name: 'destination host alias', acls: rule('"bob@x.com"', '"printer:631"'), pairs: ['d3-d6'] },
  {
    name: 'autogroup:internet reaches exit nodes only',
    acls: rule('"autogroup:member"', '"autogroup:internet:*"'),
    pairs: ['d1-d7', 'd2-d7', 'd3-d7', 'd4-d7'],
  },
  {
    name: 'source CIDR selects devices by address',
    acls: rule(`"${v4(3)}/32", "${v4(4)}"`, '"tag:server:22"'),
    pairs: ['d3-d5', 'd4-d5'],
  },
  {
    name: 'srcPosture drops failing devices from the sources',
    acls: rule('"group:eng"', '"tag:server:22"', ', "srcPosture": ["posture:current"]'),
    pairs: ['d1-d5'],
  },
  {
    name: 'mesh address as destination',
    acls: rule('"carol@x.com"', `"${v4(3)}:22"`),
    pairs: ['d3-d4'],
  },
];

describe('compile: who sees whom', () => {
  it.each(CASES)('$name', (c) => {
    expect(visiblePairs(engineFor(c.acls)).sort()).toEqual([...c.pairs].sort());
  });
});

const sortFilter = (f: readonly FilterRule[]) =>
  f
    .map((r) => ({
      ...r,
      srcs: [...r.srcs].sort(),
      dsts: [...r.dsts].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

describe('compile: packet filters', () => {
  it('user group → tag on ports and proto', () => {
    const e = engineFor(rule('"group:eng"', '"tag:server:22,8000-8080"', ', "proto": "tcp"'));
    expect(sortFilter(e.packetFilter('d5'))).toEqual(
      sortFilter([
        {
          srcs: addrs(1, 2),
          dsts: [`${v4(5)}/32`, `${v6(5)}/128`].flatMap((cidr) => [
            { cidr, ports: { first: 22, last: 22 } },
            { cidr, ports: { first: 8000, last: 8080 } },
          ]),
          protos: ['tcp'],
        },
      ]),
    );
    // Sources get no inbound rule from it.
    expect(e.packetFilter('d1')).toEqual([]);
    expect(PacketFilter.safeParse(e.packetFilter('d5')).success).toBe(true);
  });

  it('"*" sources are written as prefixes, not expanded to devices', () => {
    const e = engineFor(rule('"*"', '"tag:server:443"'));
    expect(e.packetFilter('d5')[0]?.srcs).toEqual(['0.0.0.0/0', '::/0']);
  });

  it('with srcPosture, "*" means the devices that pass', () => {
    const e = engineFor(rule('"*"', '"tag:server:443"', ', "srcPosture": ["posture:current"]'));
    // d2 runs 1.2.0; d8 is not approved; d5 itself is a source of its own rule.
    expect([...(e.packetFilter('d5')[0]?.srcs ?? [])].sort()).toEqual(
      addrs(1, 3, 4, 5, 6, 7).sort(),
    );
  });

  it('subnet routes: only the part of the route the rule names', () => {
    const e = engineFor(rule('"group:eng"', '"10.0.0.128/25:80", "lan:443"'));
    expect(sortFilter(e.packetFilter('d6'))).toEqual(
      sortFilter([
        {
          srcs: addrs(1, 2),
          dsts: [
            { cidr: '10.0.0.128/25', ports: { first: 80, last: 80 } },
            { cidr: '10.0.0.0/24', ports: { first: 443, last: 443 } },
          ],
          protos: ['any'],
        },
      ]),
    );
  });

  it('autogroup:internet: the exit node accepts public destinations only', () => {
    const e = engineFor(rule('"autogroup:member"', '"autogroup:internet:*"'));
    const f = e.packetFilter('d7');
    expect(f).toHaveLength(1);
    expect(f[0]?.dsts.map((d) => d.cidr).sort()).toEqual(INTERNET.map((p) => p.text).sort());
    expect(f[0]?.dsts.some((d) => d.cidr === '10.0.0.0/8' || d.cidr.startsWith('192.168.'))).toBe(
      false,
    );
  });

  it('"*" destinations on an exit node cover everything behind it', () => {
    const e = engineFor(rule('"alice@x.com"', '"*:*"'));
    expect(e.packetFilter('d7')[0]?.dsts.map((d) => d.cidr)).toEqual(['0.0.0.0/0', '::/0']);
    expect(e.packetFilter('d6')[0]?.dsts.map((d) => d.cidr)).toEqual([
      ...addrs(6),
      '10.0.0.0/24',
      '10.1.0.0/24',
    ]);
  });

  it('autogroup:self: each device accepts only its own user’s devices', () => {
    const e = engineFor(rule('"*"', '"autogroup:self:22"'));
    expect(sortFilter(e.packetFilter('d1'))).toEqual(
      sortFilter([
        {
          srcs: addrs(1, 2),
          dsts: [
            { cidr: `${v4(1)}/32`, ports: { first: 22, last: 22 } },
            { cidr: `${v6(1)}/128`, ports: { first: 22, last: 22 } },
          ],
          protos: ['any'],
        },
      ]),
    );
    expect(e.packetFilter('d3')[0]?.srcs).toEqual(addrs(3));
    expect(e.packetFilter('d5')).toEqual([]); // tagged devices have no "self"
  });

  it('unapproved devices accept nothing and appear in no source list', () => {
    const e = engineFor(rule('"autogroup:member"', '"*:*"'));
    expect(e.packetFilter('d8')).toEqual([]);
    expect(e.packetFilter('d5')[0]?.srcs).not.toContain(`${v4(8)}/32`);
  });
});

describe('compile: routes and exit nodes per viewer', () => {
  const base = (): Peer => ({
    id: 'd6',
    name: 'router',
    fqdn: 'router.acme.trellis',
    nodeKey: 'x',
    discoKey: null,
    addresses: { ipv4: v4(6), ipv6: v6(6) },
    allowedIPs: [...addrs(6), '10.0.0.0/24', '10.1.0.0/24'],
    endpoints: [],
    homeRelayRegion: null,
    online: true,
    lastSeen: null,
    os: 'linux',
    owner: { type: 'tagged', tags: ['tag:router'] },
    exitNodeOffered: false,
    routesOffered: ['10.0.0.0/24', '10.1.0.0/24'],
    primaryRoutes: ['10.1.0.0/24'],
    keyExpiry: null,
    created: '2026-01-01T00:00:00.000Z',
  });

  it('keeps only the routes the viewer may use', () => {
    const e = engineFor(
      [rule('"group:eng"', '"lan:*"'), rule('"bob@x.com"', '"tag:router:22"')].join(','),
    );
    const forAlice = e.peerFor('d1', base());
    expect(forAlice.routesOffered).toEqual(['10.0.0.0/24']);
    expect(forAlice.allowedIPs).toEqual([...addrs(6), '10.0.0.0/24']);
    expect(forAlice.primaryRoutes).toEqual([]);
    const forBob = e.peerFor('d3', base());
    expect(forBob.routesOffered).toEqual([]);
    expect(forBob.allowedIPs).toEqual(addrs(6));
    expect(e.routeUsable('d1', '10.0.0.0/24')).toBe(true);
    expect(e.routeUsable('d3', '10.0.0.0/24')).toBe(false);
  });

  it('returns the base object itself when the viewer may use everything (cached JSON stays valid)', () => {
    const e = engineFor(rule('"*"', '"*:*"'));
    const b = base();
    expect(e.peerFor('d1', b)).toBe(b);
  });

  it('offers exit nodes only to viewers granted the internet', () => {
    const e = engineFor(
      [rule('"group:eng"', '"autogroup:internet:*"'), rule('"bob@x.com"', '"tag:exit:22"')].join(
        ',',
      ),
    );
    const exit: Peer = {
      ...base(),
      id: 'd7',
      exitNodeOffered: true,
      routesOffered: [],
      primaryRoutes: [],
      allowedIPs: addrs(7),
    };
    expect(e.peerFor('d1', exit).exitNodeOffered).toBe(true);
    expect(e.peerFor('d3', exit).exitNodeOffered).toBe(false);
    expect(e.exitUsable('d1')).toBe(true);
  });
});

describe('compile: deltas', () => {
  it('a posture failure removes the device from the rule: its peers, their filters and its own view', () => {
    const e = engineFor(
      rule('"group:eng"', '"tag:server:22"', ', "srcPosture": ["posture:current"]'),
    );
    expect(e.visible('d1', 'd5')).toBe(true);
    const d = e.upsertDevice(device(1, alice, { hostInfo: hostInfo({ clientVersion: '1.3.9' }) }));
    expect(d.lostBy).toEqual(['d5']);
    expect(d.gainedBy).toEqual([]);
    expect(d.filters).toContain('d5');
    expect(d.self).toEqual({ added: [], removed: ['d5'], reshaped: [] });
    expect(d.postureChanged).toBe(true);
    expect(e.posture('d1')?.results[0]).toMatchObject({
      passed: false,
      reason: 'Update Trellis to 1.4.0 or later (you have 1.3.9).',
    });
    expect(e.packetFilter('d5')).toEqual([]);
  });

  it('a change that affects nothing reports nothing (other devices stay untouched)', () => {
    const e = engineFor(rule('"group:eng"', '"tag:server:22"'));
    const d = e.upsertDevice(device(3, bob, { hostInfo: hostInfo({ hostname: 'renamed' }) }));
    expect(d).toMatchObject({ gainedBy: [], lostBy: [], filters: [], postureChanged: false });
    expect(d.self).toEqual({ added: [], removed: [], reshaped: [] });
  });

  it('an IdP group change re-evaluates the user’s devices', () => {
    const e = engineFor(rule('"group:backend"', '"tag:server:22"'));
    expect(e.visible('d1', 'd5')).toBe(false);
    const deltas = e.upsertUser({ ...alice, groups: ['backend'] });
    expect(deltas.map((d) => [d.id, d.gainedBy])).toEqual([
      ['d1', ['d5']],
      ['d2', ['d5']],
    ]);
    expect(e.visible('d2', 'd5')).toBe(true);
    expect([...(e.packetFilter('d5')[0]?.srcs ?? [])].sort()).toEqual(addrs(1, 2, 3).sort());
  });

  it('reports a filter whose destinations changed although no rule membership did', () => {
    // d3 is a destination of the rule through "*:*" already; joining group:backend makes the
    // port-80 entry name it too, which adds destinations to its filter.
    const e = engineFor(rule('"*"', '"group:backend:80", "*:*"'));
    const before = JSON.stringify(e.packetFilter('d1'));
    const [d] = e.upsertUser({ ...alice, groups: ['backend'] });
    expect(d?.filters).toContain('d1');
    expect(JSON.stringify(e.packetFilter('d1'))).not.toBe(before);
  });

  it('approving a device adds it to the views of exactly the devices policy lets see it', () => {
    const e = engineFor(rule('"autogroup:member"', '"tag:server:22"'));
    const d = e.upsertDevice(device(8, dave));
    expect(d.gainedBy).toEqual(['d5']);
    expect(d.filters).toEqual(expect.arrayContaining(['d5']));
    expect(d.self.added).toEqual(['d5']);
  });

  it('approving a route makes the router visible to its users and reshapes their view', () => {
    const e = engineFor(rule('"group:eng"', '"10.2.0.0/16:*"'));
    expect(e.visible('d1', 'd6')).toBe(false);
    const d = e.upsertDevice(
      device(6, { tags: ['tag:router'] }, { routes: ['10.0.0.0/24', '10.2.0.0/24'] }),
    );
    expect([...d.gainedBy].sort()).toEqual(['d1', 'd2']);
    expect(d.filters).toEqual(['d6']);
  });

  it('an address change rewrites the filters that list the device', () => {
    const e = engineFor(rule('"group:eng"', '"tag:server:22"'));
    const moved = device(1, alice);
    const d = e.upsertDevice({
      ...moved,
      addresses: { ipv4: '100.64.9.9', ipv6: moved.addresses.ipv6 },
    });
    expect(d.filters).toContain('d5');
    expect(d.gainedBy).toEqual([]);
    expect(e.packetFilter('d5')[0]?.srcs).toContain('100.64.9.9/32');
  });

  it('removing a device reports who lost it and whose filters change', () => {
    const e = engineFor(rule('"group:eng"', '"tag:server:22"'));
    const d = e.removeDevice('d2');
    expect(d?.lostBy).toEqual(['d5']);
    expect(d?.filters).toEqual(['d5']);
    expect(e.has('d2')).toBe(false);
    expect(e.packetFilter('d5')[0]?.srcs).toEqual(addrs(1));
    expect(e.removeDevice('d2')).toBeNull();
    // The freed slot is reused cleanly.
    e.upsertDevice(device(9, { tags: ['tag:server'] }));
    expect(e.visible('d9', 'd1')).toBe(true);
    expect(e.visible('d9', 'd2')).toBe(false);
  });

  it('moving a device between users updates autogroup:self relations', () => {
    const e = engineFor(rule('"autogroup:member"', '"autogroup:self:*"'));
    const d = e.upsertDevice(device(2, bob));
    expect(d.lostBy).toEqual(['d1']);
    expect(d.gainedBy).toEqual(['d3']);
    expect(e.packetFilter('d3')[0]?.srcs).toEqual(expect.arrayContaining(addrs(2, 3)));
  });
});

describe('compile: policy changes', () => {
  it('reports exactly the devices whose view, filter or posture changed', () => {
    const e = engineFor(
      [rule('"group:eng"', '"tag:server:22"'), rule('"bob@x.com"', '"tag:router:*"')].join(','),
    );
    const next = mustParse(
      `{${HEADER} "acls": [${[rule('"alice@x.com"', '"tag:server:22"'), rule('"bob@x.com"', '"tag:router:22"')].join(',')}],
      "postures": {"posture:current": [{"kind": "min-client-version", "version": "1.3.0"}]}}`.replace(
        `"postures": { "posture:current": [{ "kind": "min-client-version", "version": "1.4.0" }] },`,
        '',
      ),
    );
    const change = e.setPolicy(next);
    // group:eng is alice: views are unchanged; bob's rule narrows ports: only filters change.
    expect(change.views).toEqual([]);
    expect(change.filters).toEqual(['d6']);
    // Only d2 (client 1.2.0) fails, now with a reason naming 1.3.0; everyone else passes both.
    expect(change.postures).toEqual(['d2']);
    expect(change.peerChanges('d3')).toEqual({ added: [], removed: [], reshaped: [] });
  });

  it('a rule removal reaches only the devices on either side of it', () => {
    const e = engineFor(
      [rule('"group:eng"', '"tag:server:22"'), rule('"bob@x.com"', '"tag:router:*"')].join(','),
    );
    const change = e.setPolicy(
      mustParse(`{${HEADER} "acls": [${rule('"group:eng"', '"tag:server:22"')}]}`),
    );
    expect([...change.views].sort()).toEqual(['d3', 'd6']);
    expect(change.filters).toEqual(['d6']);
    expect(change.peerChanges('d3')).toEqual({ added: [], removed: ['d6'], reshaped: [] });
    expect(change.peerChanges('d1')).toEqual({ added: [], removed: [], reshaped: [] });
    e.upsertDevice(device(1, alice));
    expect(() => change.peerChanges('d3')).toThrow(/later engine mutation/);
  });
});

describe('compile: geolocation database changes', () => {
  it('re-evaluates postures and views when the operator loads a database', async () => {
    const policy = mustParse(`{
      "tagOwners": {"tag:server": []},
      "postures": {"posture:eu": [{"kind": "geolocation", "action": "allow", "countries": ["DE"]}]},
      "acls": [{"action": "accept", "src": ["autogroup:member"], "dst": ["tag:server:22"], "srcPosture": ["posture:eu"]}],
    }`);
    const e = new PolicyEngine(policy);
    e.load([
      device(1, alice, { publicIp: '192.0.2.10' }),
      device(2, bob, { publicIp: '203.0.113.5' }),
      device(5, { tags: ['tag:server'] }),
    ]);
    expect(e.visible('d1', 'd5')).toBe(false); // no database: fails closed
    const geo = await loadGeoCsvFile(fileURLToPath(new URL('./testdata/geo.csv', import.meta.url)));
    if (!geo.ok) throw new Error(geo.error.message);
    const change = e.setGeo(geo.value);
    expect([...change.views].sort()).toEqual(['d1', 'd5']);
    expect([...change.postures].sort()).toEqual(['d1', 'd2', 'd5']);
    expect(change.peerChanges('d5')).toEqual({ added: ['d1'], removed: [], reshaped: [] });
    expect(e.posture('d2')?.results[0]?.reason).toBe(
      'Access is allowed only from DE (this device appears to be in RU).',
    );
  });
});
