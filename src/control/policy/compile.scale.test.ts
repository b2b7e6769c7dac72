/**
 * Scale: 10,000 devices and 200 rules. Prints compile time, per-change cost and policy-change
 * cost; the bounds are loose (an order of magnitude above what a shared CI core measures) so
 * they catch a quadratic regression, not noise. Ratios against baselines belong in bench/.
 */
import { describe, expect, it } from 'vitest';
import { PolicyEngine, type PolicyDevice } from './compile.js';
import { device, hostInfo, mustParse, user } from './testing.js';

const USERS = 2_500;
const GROUPS = 100;
const TAGS = 50;
const DEVICES = 10_000;
const RULES = 200;
/** Devices added one by one after the load, to measure the cost of a registration. */
const NEW_DEVICES = 200;

/** A deterministic generator so the printed numbers compare across runs. */
function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

function population(): { text: string; firstRule: string; devices: PolicyDevice[] } {
  const rnd = lcg(42);
  const pick = (n: number): number => Math.floor(rnd() * n);
  const groups = Array.from({ length: GROUPS }, (_, g) => `g${g}`);
  const tags = Array.from({ length: TAGS }, (_, t) => `tag:t${t}`);
  const rules: string[] = [];
  for (let r = 0; r < RULES; r++) {
    const kind = r % 10;
    const g = `"group:${groups[pick(GROUPS)]}"`;
    const t = `"${tags[pick(TAGS)]}:${22 + pick(1000)}"`;
    if (kind < 6) rules.push(`{"action": "accept", "src": [${g}], "dst": [${t}], "proto": "tcp"}`);
    else if (kind === 6)
      rules.push(`{"action": "accept", "src": ["${tags[pick(TAGS)]}"], "dst": [${t}]}`);
    else if (kind === 7)
      rules.push(
        `{"action": "accept", "src": [${g}], "dst": ["10.${pick(50)}.0.0/16:*"], "srcPosture": ["posture:current"]}`,
      );
    else if (kind === 8)
      rules.push(`{"action": "accept", "src": ["autogroup:member"], "dst": ["autogroup:self:*"]}`);
    else
      rules.push(
        `{"action": "accept", "src": [${g}, "autogroup:admin"], "dst": ["autogroup:internet:*", ${t}]}`,
      );
  }
  const text = `{
    "groups": {${groups.map((g) => `"group:${g}": []`).join(',')}},
    "tagOwners": {${tags.map((t) => `"${t}": []`).join(',')}},
    "postures": {"posture:current": [{"kind": "min-client-version", "version": "1.4.0"}]},
    "acls": [${rules.join(',\n')}],
  }`;
  const users = Array.from({ length: USERS }, (_, u) =>
    user(`u${u}`, {
      role: u % 100 === 0 ? 'admin' : 'member',
      groups: [groups[pick(GROUPS)] ?? 'g0', groups[pick(GROUPS)] ?? 'g0'],
    }),
  );
  const devices: PolicyDevice[] = [];
  for (let n = 1; n <= DEVICES; n++) {
    if (n % 5 === 0) {
      const router = n % 50 === 0;
      devices.push(
        device(
          n,
          { tags: [tags[pick(TAGS)] ?? 'tag:t0'] },
          {
            routes: router ? [`10.${pick(50)}.${pick(256)}.0/24`] : [],
            exitNode: n % 1000 === 0,
          },
        ),
      );
    } else {
      devices.push(
        device(n, users[pick(USERS)] ?? user('x'), {
          hostInfo: hostInfo({ clientVersion: rnd() < 0.9 ? '1.4.0' : '1.2.0' }),
        }),
      );
    }
  }
  return { text, firstRule: `${rules[0]},\n`, devices };
}

const ms = (t0: number): number => Math.round((performance.now() - t0) * 10) / 10;

describe('compile at scale', () => {
  it('10,000 devices × 200 rules: compile once, then per-change work', () => {
    const { text, firstRule, devices } = population();
    const policy = mustParse(text);
    expect(policy.acls).toHaveLength(RULES);

    // Compile once: the start-up load of every device.
    const initial = devices.slice(0, DEVICES - NEW_DEVICES);
    let t0 = performance.now();
    const engine = new PolicyEngine(policy);
    engine.load(initial);
    const load = ms(t0);

    // New devices one at a time, each with the list of viewers that gain it.
    t0 = performance.now();
    let gained = 0;
    for (const d of devices.slice(DEVICES - NEW_DEVICES))
      gained += engine.upsertDevice(d).gainedBy.length;
    const perNewDevice = ms(t0) / NEW_DEVICES;

    t0 = performance.now();
    const change = engine.setPolicy(
      mustParse(text.replace('"version": "1.4.0"', '"version": "1.3.0"')),
    );
    const recompile = ms(t0);

    // A change that does move peers: drop the first rule, then diff one affected viewer exactly.
    t0 = performance.now();
    const dropped = engine.setPolicy(mustParse(text.replace(firstRule, '')));
    const firstViewer = dropped.views[0];
    const diff = firstViewer === undefined ? null : dropped.peerChanges(firstViewer);
    const dropRule = ms(t0);

    t0 = performance.now();
    let filterRules = 0;
    for (const d of devices) filterRules += engine.packetFilter(d.id).length;
    const allFilters = ms(t0);

    // Per-change: flip devices' posture (drops them from posture rules) and back.
    const samples = 200;
    t0 = performance.now();
    let touched = 0;
    for (let i = 0; i < samples; i++) {
      const d = devices[(i * 37) % devices.length] as PolicyDevice;
      const flipped = { ...d, hostInfo: hostInfo({ clientVersion: i % 2 ? '1.2.0' : '1.4.0' }) };
      const delta = engine.upsertDevice(flipped);
      for (const id of delta.filters) engine.packetFilter(id);
      touched += delta.gainedBy.length + delta.lostBy.length + delta.filters.length;
    }
    const perChange = ms(t0) / samples;

    // Visibility queries as the hub makes them (one per subscriber per change).
    t0 = performance.now();
    let visible = 0;
    for (let i = 0; i < DEVICES; i++) if (engine.visible(`d${i + 1}`, 'd7')) visible++;
    const visibilityScan = ms(t0);

    console.log(
      `policy scale: ${DEVICES} devices, ${RULES} rules — load ${load} ms, ` +
        `per new device ${perNewDevice.toFixed(2)} ms (${(gained / NEW_DEVICES).toFixed(0)} viewers gain it on average), ` +
        `recompile+diff ${recompile} ms (${change.views.length} views, ${change.postures.length} postures changed), ` +
        `drop a rule ${dropRule} ms (${dropped.views.length} views, ${dropped.filters.length} filters changed), ` +
        `all filters ${allFilters} ms (${filterRules} filter rules), per change ${perChange.toFixed(2)} ms ` +
        `(${(touched / samples).toFixed(0)} devices touched on average), visibility scan ${visibilityScan} ms (${visible} see d7)`,
    );
    // The policy change only moved the posture threshold: views must not all change.
    expect(change.views.length).toBeLessThan(DEVICES);
    expect(change.postures.length).toBeGreaterThan(0);
    // Dropping one group → tag rule changes the views of that group's devices and the tag's.
    expect(dropped.views.length).toBeGreaterThan(0);
    expect(dropped.views.length).toBeLessThan(DEVICES / 2);
    expect((diff?.removed.length ?? 0) + (diff?.reshaped.length ?? 0)).toBeGreaterThan(0);
    expect(dropRule).toBeLessThan(60_000);
    expect(load).toBeLessThan(30_000);
    expect(perNewDevice).toBeLessThan(250);
    expect(recompile).toBeLessThan(60_000);
    expect(perChange).toBeLessThan(250);
    expect(visibilityScan).toBeLessThan(2_000);
  }, 300_000);
});
