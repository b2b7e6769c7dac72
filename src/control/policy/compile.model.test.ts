/**
 * Model-based checks of the incremental engine. Random policies and random sequences of device,
 * user and policy changes; after every step:
 *  - visibility equals a reference written directly from the selector semantics in match.ts
 *    (no bitsets, no selector sets, no caches);
 *  - every packet filter equals that of a fresh engine built from the final state;
 *  - the reported delta is exact for visibility (gained/lost/self, or views for a policy
 *    change) and covers every filter and posture that really changed.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FilterRule } from '../../shared/schema/control/netmap.js';
import { PolicyEngine, type DeviceDelta, type PolicyDevice } from './compile.js';
import type { Policy } from './document.js';
import { dstMatches, srcMatches, subjectOf, type PolicyUser } from './match.js';
import { evaluatePostures } from './posture.js';
import { parseAddr, parsePrefixText, type Addr, type Prefix } from './prefix.js';
import { device, hostInfo, mustParse, user } from './testing.js';

const HEADER = `
  "groups": { "group:eng": ["u0@x.com", "group:backend"], "group:backend": [] },
  "tagOwners": { "tag:a": [], "tag:b": [] },
  "hosts": { "net": "10.0.0.0/16" },
  "postures": { "posture:new": [{ "kind": "min-client-version", "version": "1.4.0" }] },
`;
const SRC = [
  '"*"',
  '"group:eng"',
  '"group:backend"',
  '"tag:a"',
  '"tag:b"',
  '"autogroup:member"',
  '"autogroup:tagged"',
  '"autogroup:admin"',
  '"u1@x.com"',
  '"100.64.0.0/29"',
  '"net"',
  '"10.0.1.0/24"',
];
const DST = [
  '"*:*"',
  '"tag:a:22"',
  '"tag:b:*"',
  '"group:eng:80"',
  '"autogroup:self:*"',
  '"autogroup:internet:*"',
  '"10.0.1.0/24:*"',
  '"net:443"',
  '"autogroup:member:22"',
  '"u0@x.com:*"',
  '"100.64.0.3:*"',
  '"autogroup:tagged:1-1024"',
];

const ruleArb = fc.record({
  src: fc.uniqueArray(fc.constantFrom(...SRC), { minLength: 1, maxLength: 2 }),
  dst: fc.uniqueArray(fc.constantFrom(...DST), { minLength: 1, maxLength: 2 }),
  proto: fc.constantFrom('any', 'tcp', 'udp'),
  posture: fc.boolean(),
});
const policyArb = fc
  .array(ruleArb, { minLength: 0, maxLength: 4 })
  .map((rules) =>
    mustParse(
      `{${HEADER} "acls": [${rules
        .map(
          (r) =>
            `{"action": "accept", "src": [${r.src.join(',')}], "dst": [${r.dst.join(',')}], "proto": "${r.proto}"${r.posture ? ', "srcPosture": ["posture:new"]' : ''}}`,
        )
        .join(',')}]}`,
    ),
  );

const USERS = 4;
const userArb = fc.record({
  n: fc.integer({ min: 0, max: USERS - 1 }),
  role: fc.constantFrom('owner' as const, 'admin' as const, 'member' as const),
  groups: fc.subarray(['backend', 'ops']),
});
const toUser = (u: { n: number; role: PolicyUser['role']; groups: string[] }): PolicyUser =>
  user(`u${u.n}`, { role: u.role, groups: u.groups });

const DEVICES = 7;
const deviceArb = fc.record({
  n: fc.integer({ min: 1, max: DEVICES }),
  owner: fc.oneof(userArb, fc.record({ tags: fc.subarray(['tag:a', 'tag:b'], { minLength: 1 }) })),
  approved: fc.boolean(),
  // Routers and exit nodes are rarer than laptops, so most worlds test visibility on its own.
  routes: fc.oneof(
    { weight: 4, arbitrary: fc.constant([]) },
    { weight: 1, arbitrary: fc.subarray(['10.0.1.0/24', '10.0.2.0/24', '192.168.0.0/24']) },
  ),
  exitNode: fc.oneof(
    { weight: 6, arbitrary: fc.constant(false) },
    { weight: 1, arbitrary: fc.constant(true) },
  ),
  client: fc.constantFrom('1.2.0', '1.4.0'),
  moved: fc.boolean(),
});
type DeviceSpec = typeof deviceArb extends fc.Arbitrary<infer T> ? T : never;
const toDevice = (d: DeviceSpec): PolicyDevice => {
  const owner = 'tags' in d.owner ? { tags: d.owner.tags } : toUser(d.owner);
  const base = device(d.n, owner, {
    approved: d.approved,
    routes: d.routes,
    exitNode: d.exitNode,
    hostInfo: hostInfo({ clientVersion: d.client }),
  });
  return d.moved ? { ...base, addresses: { ...base.addresses, ipv4: `100.64.1.${d.n}` } } : base;
};

type Op =
  | { kind: 'upsert'; device: PolicyDevice }
  | { kind: 'remove'; id: string }
  | { kind: 'user'; user: PolicyUser }
  | { kind: 'policy'; policy: Policy };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: deviceArb.map((d): Op => ({ kind: 'upsert', device: toDevice(d) })) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 1, max: DEVICES })
      .map((n): Op => ({ kind: 'remove', id: `d${n}` })),
  },
  { weight: 1, arbitrary: userArb.map((u): Op => ({ kind: 'user', user: toUser(u) })) },
  { weight: 1, arbitrary: policyArb.map((p): Op => ({ kind: 'policy', policy: p })) },
);

// ---------------------------------------------------------------------------------------------
// The reference: visibility straight from the definitions.

function refVisible(policy: Policy, a: PolicyDevice, b: PolicyDevice): boolean {
  if (a.id === b.id || !a.approved || !b.approved) return false;
  const subj = (d: PolicyDevice) => {
    const addrs = [d.addresses.ipv4, d.addresses.ipv6]
      .map((t) => parseAddr(t))
      .filter((r) => r.ok)
      .map((r) => (r as { value: Addr }).value);
    const routes = d.routes
      .map((t) => parsePrefixText(t))
      .filter((r) => r.ok)
      .map((r) => (r as { value: Prefix }).value);
    return subjectOf(policy, d.owner, addrs, routes, d.exitNode);
  };
  const passed = (d: PolicyDevice) =>
    evaluatePostures(policy, { hostInfo: d.hostInfo, publicIp: d.publicIp }, null).passed;
  const userId = (d: PolicyDevice) => (d.owner.type === 'user' ? d.owner.user.id : null);
  const reaches = (s: PolicyDevice, t: PolicyDevice) =>
    policy.acls.some(
      (r) =>
        r.src.some((sel) => srcMatches(sel, subj(s))) &&
        r.srcPosture.every((p) => passed(s).has(p)) &&
        r.dst.some((e) =>
          e.selector.kind === 'autogroup' && e.selector.autogroup === 'self'
            ? userId(s) !== null && userId(s) === userId(t)
            : dstMatches(e.selector, subj(t)),
        ),
    );
  return reaches(a, b) || reaches(b, a);
}

const norm = (f: readonly FilterRule[]): string[] =>
  f.map((r) => JSON.stringify({ srcs: [...r.srcs].sort(), dsts: r.dsts, protos: r.protos })).sort();

interface World {
  policy: Policy;
  devices: Map<string, PolicyDevice>;
}

function visibility(w: World): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const a of w.devices.values())
    for (const b of w.devices.values()) out.set(`${a.id}|${b.id}`, refVisible(w.policy, a, b));
  return out;
}

function checkDeviceDelta(
  d: DeviceDelta,
  before: Map<string, boolean>,
  after: Map<string, boolean>,
  ids: string[],
  isNew: boolean,
): void {
  const x = d.id;
  const gained = ids.filter((v) => v !== x && !before.get(`${v}|${x}`) && after.get(`${v}|${x}`));
  const lost = ids.filter((v) => v !== x && before.get(`${v}|${x}`) && !after.get(`${v}|${x}`));
  expect([...d.gainedBy].sort()).toEqual(gained.sort());
  expect([...d.lostBy].sort()).toEqual(lost.sort());
  const added = ids.filter((t) => t !== x && !before.get(`${x}|${t}`) && after.get(`${x}|${t}`));
  const removed = ids.filter((t) => t !== x && before.get(`${x}|${t}`) && !after.get(`${x}|${t}`));
  // A new device gets a full netmap and no diff; otherwise its own diff must be exact.
  if (isNew) expect(d.self).toEqual({ added: [], removed: [], reshaped: [] });
  else {
    expect([...d.self.added].sort()).toEqual(added.sort());
    expect([...d.self.removed].sort()).toEqual(removed.sort());
  }
}

describe('compile: incremental engine against a reference model', () => {
  it('keeps views, filters and deltas exact through random changes', () => {
    fc.assert(
      fc.property(policyArb, fc.array(opArb, { minLength: 1, maxLength: 25 }), (policy, ops) => {
        const engine = new PolicyEngine(policy);
        const w: World = { policy, devices: new Map() };
        for (const op of ops) {
          const ids = () => [
            ...new Set([...w.devices.keys(), ...(op.kind === 'upsert' ? [op.device.id] : [])]),
          ];
          const before = visibility(w);
          const filtersBefore = new Map(
            [...w.devices.keys()].map((id) => [id, norm(engine.packetFilter(id))]),
          );
          const posturesBefore = new Map(
            [...w.devices.keys()].map((id) => [id, JSON.stringify(engine.posture(id)?.results)]),
          );
          let reportedFilters: Set<string>;
          let reportedPostures: Set<string>;
          switch (op.kind) {
            case 'upsert': {
              const isNew = !w.devices.has(op.device.id);
              const d = engine.upsertDevice(op.device);
              w.devices.set(op.device.id, op.device);
              checkDeviceDelta(d, before, visibility(w), ids(), isNew);
              reportedFilters = new Set(d.filters);
              reportedPostures = new Set(d.postureChanged ? [d.id] : []);
              break;
            }
            case 'remove': {
              const existed = w.devices.has(op.id);
              const d = engine.removeDevice(op.id);
              w.devices.delete(op.id);
              expect(d === null).toBe(!existed);
              if (d) {
                const lost = [...w.devices.keys()].filter((v) => before.get(`${v}|${op.id}`));
                expect([...d.lostBy].sort()).toEqual(lost.sort());
                expect(d.gainedBy).toEqual([]);
              }
              reportedFilters = new Set(d?.filters ?? []);
              reportedPostures = new Set();
              break;
            }
            case 'user': {
              const deltas = engine.upsertUser(op.user);
              reportedFilters = new Set(deltas.flatMap((d) => d.filters));
              reportedPostures = new Set(deltas.filter((d) => d.postureChanged).map((d) => d.id));
              for (const d of deltas) {
                const mid = visibility(w);
                const cur = w.devices.get(d.id);
                if (cur) w.devices.set(d.id, { ...cur, owner: { type: 'user', user: op.user } });
                checkDeviceDelta(d, mid, visibility(w), ids(), false);
              }
              break;
            }
            case 'policy': {
              const change = engine.setPolicy(op.policy);
              w.policy = op.policy;
              const after = visibility(w);
              for (const v of w.devices.keys()) {
                const want = { added: [] as string[], removed: [] as string[] };
                for (const t of w.devices.keys()) {
                  if (!before.get(`${v}|${t}`) && after.get(`${v}|${t}`)) want.added.push(t);
                  if (before.get(`${v}|${t}`) && !after.get(`${v}|${t}`)) want.removed.push(t);
                }
                const got = change.peerChanges(v);
                expect([...got.added].sort()).toEqual(want.added.sort());
                expect([...got.removed].sort()).toEqual(want.removed.sort());
                const changed = got.added.length + got.removed.length + got.reshaped.length > 0;
                if (changed) expect(change.views).toContain(v);
                const dev = w.devices.get(v);
                // Views may also list a router whose own routes' usability changed (nothing to send).
                if (!changed && dev && dev.routes.length === 0 && !dev.exitNode)
                  expect(change.views).not.toContain(v);
              }
              reportedFilters = new Set(change.filters);
              reportedPostures = new Set(change.postures);
              break;
            }
          }
          // A fresh engine loaded in bulk from the final state.
          const fresh = new PolicyEngine(w.policy);
          fresh.load(w.devices.values());
          // Engine visibility equals the reference.
          for (const [k, want] of visibility(w)) {
            const [a = '', b = ''] = k.split('|');
            expect(engine.visible(a, b), k).toBe(want);
            expect(fresh.visible(a, b), k).toBe(want);
          }
          // Filters equal the fresh engine's, and every real change was reported.
          for (const id of w.devices.keys()) {
            const now = norm(engine.packetFilter(id));
            expect(now).toEqual(norm(fresh.packetFilter(id)));
            const was = filtersBefore.get(id);
            if (was !== undefined && JSON.stringify(was) !== JSON.stringify(now))
              expect(reportedFilters, id).toContain(id);
            const pb = posturesBefore.get(id);
            if (pb !== undefined && pb !== JSON.stringify(engine.posture(id)?.results))
              expect(reportedPostures).toContain(id);
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});
