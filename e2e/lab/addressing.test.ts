import { describe, expect, it } from 'vitest';
import { AddressPlan, inNetwork, segmentOf, SERVICES_SEGMENT, WAN_SEGMENT } from './addressing.js';
import { NAT_KINDS, natRouters, natRuleset } from './nat.js';

describe('lab address plan', () => {
  it('hands out service addresses on the services segment and refuses duplicates', () => {
    const plan = new AddressPlan();
    expect(plan.serviceAddress()).toEqual({ address: '198.51.100.10', segment: SERVICES_SEGMENT });
    expect(plan.serviceAddress('203.0.113.20').segment).toBe(WAN_SEGMENT);
    expect(() => plan.serviceAddress('203.0.113.20')).toThrow(/already in use/);
    // The automatic sequence skips an address claimed by hand.
    plan.serviceAddress('198.51.100.11');
    expect(plan.serviceAddress().address).toBe('198.51.100.12');
  });

  it('rejects addresses outside the segments and reserved ones', () => {
    const plan = new AddressPlan();
    for (const bad of ['10.0.0.1', '192.0.2.5', '198.51.100.1', '198.51.100.0', '203.0.113.255']) {
      expect(() => plan.serviceAddress(bad), bad).toThrow();
    }
  });

  it('keeps site WAN addresses clear of services', () => {
    const plan = new AddressPlan();
    plan.serviceAddress('203.0.113.100');
    expect(plan.wanAddress()).toBe('203.0.113.101');
    expect(plan.wanAddress()).toBe('203.0.113.102');
  });

  it("gives each 'none' site its own /28 and runs out after 16", () => {
    const plan = new AddressPlan();
    const lans = Array.from({ length: 16 }, () => plan.publicLan());
    expect(lans[1]).toMatchObject({ network: '192.0.2.16', gateway: '192.0.2.17' });
    expect(lans[1]?.deviceAddress(0)).toBe('192.0.2.18');
    expect(lans[15]?.network).toBe('192.0.2.240');
    expect(lans[0]?.maxDevices).toBe(13);
    expect(() => plan.publicLan()).toThrow(/at most 16/);
  });

  it('numbers NATed LANs and carrier links by site', () => {
    const plan = new AddressPlan();
    const n = plan.nextSiteIndex();
    expect(plan.natLan(n).deviceAddress(1)).toBe(`10.${n}.0.11`);
    expect(plan.carrierLink(n)).toMatchObject({ outer: `172.16.${n}.1`, inner: `172.16.${n}.2` });
    expect(segmentOf('198.51.100.77')).toBe(SERVICES_SEGMENT);
    expect(inNetwork('not-an-ip', '10.0.0.0', 8)).toBe(false);
  });
});

describe('NAT rulesets', () => {
  const inner = { lanCidr: '10.1.0.0/24', wanAddress: '203.0.113.101' };
  const outer = { lanCidr: '172.16.1.0/24', wanAddress: '203.0.113.102' };

  it('maps each kind to its routers', () => {
    const shape = Object.fromEntries(
      NAT_KINDS.map((k) => [
        k,
        natRouters(k, inner, outer).map((r) => `${r.mapping}/${r.outbound}`),
      ]),
    );
    expect(shape).toEqual({
      none: [],
      easy: ['preserve/all'],
      hard: ['random/all'],
      double: ['preserve/all', 'preserve/all'],
      blocked: ['preserve/tcp-only'],
    });
  });

  it('randomizes ports only for hard NAT and lets only TCP out of blocked sites', () => {
    const [hard] = natRouters('hard', inner).map(natRuleset);
    const [easy] = natRouters('easy', inner).map(natRuleset);
    const [blocked] = natRouters('blocked', inner).map(natRuleset);
    expect(hard).toContain('snat ip to 203.0.113.101 fully-random');
    expect(easy).toContain('snat ip to 203.0.113.101\n');
    expect(blocked).toContain('meta l4proto tcp accept');
    expect(easy).not.toContain('l4proto tcp');
    // Address-dependent filtering for easy NAT only.
    expect(easy).toContain('dnat ip to ip saddr . udp dport map @adf');
    expect(hard).not.toContain('@adf');
    expect(blocked).not.toContain('@adf');
  });
});
