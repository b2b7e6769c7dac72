import { describe, expect, it } from 'vitest';
import type { Netmap } from '../../shared/schema/control/netmap.js';
import { sampleNetmap, samplePeer } from '../../shared/schema/samples.js';
import { planDns } from './plan.js';

const prefs = { acceptDNS: true, advertiseExitNode: false };
const quiet = (nm: Netmap): Netmap => ({
  ...nm,
  dns: {
    ...nm.dns,
    magicDns: false,
    nameservers: [],
    splitDns: {},
    extraRecords: [],
    searchDomains: [],
  },
});

describe('planDns', () => {
  it('points system DNS at 100.100.100.100 with the mesh domain, split domains and extra names', () => {
    const plan = planDns({
      netmap: sampleNetmap(2),
      prefs,
      exitNode: null,
      resolverAvailable: true,
    });
    expect(plan.system).toEqual({
      nameservers: ['100.100.100.100'],
      searchDomains: ['acme.trellis'],
      matchDomains: ['acme.trellis', 'corp.example.com', 'git.acme.trellis'],
      // The netmap has nameservers: every name goes through MagicDNS.
      defaultRoute: true,
    });
    expect(plan.localAddresses).toEqual(['100.100.100.100/32']);
    expect(plan.resolver).toMatchObject({
      listen: ['100.100.100.100'],
      port: 53,
      upstreams: [{ address: '1.1.1.1', port: 53 }],
    });
    expect([...(plan.resolver?.splitDns ?? [])]).toEqual([
      ['corp.example.com', [{ address: '10.0.0.53', port: 53 }]],
    ]);
    expect(plan.resolver?.zone.records.get('peer-1.acme.trellis')).toHaveLength(2);
  });

  it('falls back to the system’s own nameservers, or through the exit node in use', () => {
    const nm = { ...sampleNetmap(2), dns: { ...sampleNetmap(2).dns, nameservers: [] } };
    const plain = planDns({ netmap: nm, prefs, exitNode: null, resolverAvailable: true });
    expect(plain.resolver?.upstreams).toBe('system');
    expect(plain.system?.defaultRoute).toBe(false);
    const exit = { ...samplePeer(1), exitNodeOffered: true };
    const via = planDns({ netmap: nm, prefs, exitNode: exit, resolverAvailable: true });
    expect(via.resolver?.upstreams).toEqual([{ address: exit.addresses.ipv4, port: 53 }]);
    expect(via.system?.defaultRoute).toBe(true);
  });

  it('takes over DNS for an exit node alone, but not when the network has nothing for it', () => {
    const nm = quiet(sampleNetmap(2));
    expect(planDns({ netmap: nm, prefs, exitNode: null, resolverAvailable: true })).toMatchObject({
      system: null,
      resolver: null,
      localAddresses: [],
    });
    const exit = { ...samplePeer(1), exitNodeOffered: true };
    const via = planDns({ netmap: nm, prefs, exitNode: exit, resolverAvailable: true });
    expect(via.system?.searchDomains).toEqual([]);
    expect(via.resolver?.upstreams).toEqual([{ address: exit.addresses.ipv4, port: 53 }]);
  });

  it('leaves system DNS alone without acceptDNS or without a resolver', () => {
    const nm = sampleNetmap(2);
    expect(
      planDns({
        netmap: nm,
        prefs: { ...prefs, acceptDNS: false },
        exitNode: null,
        resolverAvailable: true,
      }).system,
    ).toBeNull();
    expect(
      planDns({ netmap: nm, prefs, exitNode: null, resolverAvailable: false }).resolver,
    ).toBeNull();
  });

  it('an approved, advertising exit node answers its peers on its mesh address', () => {
    const nm = quiet(sampleNetmap(2));
    const exitNm = { ...nm, self: { ...nm.self, isExitNode: true } };
    const plan = planDns({
      netmap: exitNm,
      prefs: { acceptDNS: false, advertiseExitNode: true },
      exitNode: null,
      resolverAvailable: true,
    });
    expect(plan).toMatchObject({ system: null, localAddresses: [], servesExitNodeDns: true });
    expect(plan.resolver).toMatchObject({ listen: ['100.64.0.1'], upstreams: 'system' });
    // Advertising without approval: nobody may use it yet.
    expect(
      planDns({
        netmap: nm,
        prefs: { acceptDNS: false, advertiseExitNode: true },
        exitNode: null,
        resolverAvailable: true,
      }).servesExitNodeDns,
    ).toBe(false);
  });
});
