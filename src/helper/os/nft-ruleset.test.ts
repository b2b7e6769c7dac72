/**
 * The nftables compiler as text: what each kind of filter rule becomes. The kernel's view of the
 * same scripts (real packets, counters) is e2e/os-linux.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { FilterRule } from '../../shared/schema/control/netmap.js';
import { compileFilterRules, compileRuleset, MAX_NFT_COMMENT_LENGTH } from './nft-ruleset.js';
import { mergePrefixes } from './prefixes.js';

const port = (first: number, last = first) => ({ first, last });

describe('compileFilterRules', () => {
  it('compiles sources to a named interval set and destinations × ports to one rule each group', () => {
    const rule: FilterRule = {
      srcs: ['100.64.0.2/32', '100.64.0.3/32', 'fd7a::2/128'],
      dsts: [
        { cidr: '100.64.0.1/32', ports: port(22) },
        { cidr: '100.64.0.1/32', ports: port(443) },
        { cidr: '10.1.0.0/16', ports: port(22) },
        { cidr: '10.1.0.0/16', ports: port(443) },
        { cidr: 'fd7a::1/128', ports: port(8000, 8100) },
      ],
      protos: ['tcp'],
    };
    const { sets, rules } = compileFilterRules([rule]);
    expect(sets.join('\n')).toContain('set r0_src4 {');
    expect(sets.join('\n')).toContain('elements = { 100.64.0.2/32, 100.64.0.3/32 }');
    expect(sets.join('\n')).toContain('set r0_src6 {');
    expect(rules.map((r) => r.trim())).toEqual([
      'ip saddr @r0_src4 ip daddr { 10.1.0.0/16, 100.64.0.1/32 } tcp dport { 22, 443 } accept',
      'ip6 saddr @r0_src6 ip6 daddr fd7a::1/128 tcp dport 8000-8100 accept',
    ]);
  });

  it('lets icmp cover ICMPv6, ignores ports for it, and lets any absorb the other protocols', () => {
    const { rules } = compileFilterRules([
      {
        srcs: ['0.0.0.0/0', '::/0'],
        dsts: [
          { cidr: '0.0.0.0/0', ports: port(0, 65535) },
          { cidr: '::/0', ports: port(0, 65535) },
        ],
        protos: ['icmp', 'udp'],
      },
      {
        srcs: ['100.64.0.9/32'],
        dsts: [{ cidr: '100.64.0.1/32', ports: port(0, 65535) }],
        protos: ['tcp', 'any'],
      },
    ]);
    expect(rules.map((r) => r.trim())).toEqual([
      'meta nfproto ipv4 meta l4proto udp accept',
      'meta nfproto ipv4 meta l4proto icmp accept',
      'meta nfproto ipv6 meta l4proto udp accept',
      'meta nfproto ipv6 meta l4proto ipv6-icmp accept',
      'ip saddr @r1_src4 ip daddr 100.64.0.1/32 accept',
    ]);
  });

  it('narrows "any" with ports to TCP and UDP, so ICMP is not allowed by a port rule', () => {
    const { rules } = compileFilterRules([
      {
        srcs: ['100.64.0.2/32'],
        dsts: [{ cidr: '100.64.0.1/32', ports: port(53) }],
        protos: ['any'],
      },
    ]);
    expect(rules.map((r) => r.trim())).toEqual([
      'ip saddr @r0_src4 ip daddr 100.64.0.1/32 meta l4proto { tcp, udp } th dport 53 accept',
    ]);
  });

  it('merges overlapping prefixes and port ranges, and skips a family without sources or destinations', () => {
    const { sets, rules } = compileFilterRules([
      {
        srcs: ['10.0.0.0/8', '10.1.2.3/32', '10.1.0.0/16', '100.64.0.5/32'],
        dsts: [
          { cidr: '100.64.0.1/32', ports: port(20, 30) },
          { cidr: '100.64.0.1/32', ports: port(25, 40) },
          { cidr: '100.64.0.1/32', ports: port(41) },
          { cidr: 'fd7a::1/128', ports: port(22) },
        ],
        protos: ['udp'],
      },
    ]);
    expect(sets.join('\n')).toContain('elements = { 10.0.0.0/8, 100.64.0.5/32 }');
    expect(rules.map((r) => r.trim())).toEqual([
      'ip saddr @r0_src4 ip daddr 100.64.0.1/32 udp dport 20-41 accept',
    ]);
  });

  it('compiles an empty filter to no rules (everything new is dropped)', () => {
    expect(compileFilterRules([])).toEqual({ sets: [], rules: [] });
  });
});

describe('compileRuleset', () => {
  const base = { interfaceName: 'trellis0', comment: null };

  it('replaces the table atomically: add, delete, then the whole definition', () => {
    const script = compileRuleset({
      ...base,
      filter: { rules: [], blockIncoming: false },
      forwarding: false,
    });
    expect(
      script.startsWith(
        'add table inet trellis\ndelete table inet trellis\ntable inet trellis {\n',
      ),
    ).toBe(true);
    expect(script).toContain(
      [
        '\tchain input {',
        '\t\ttype filter hook input priority filter; policy accept;',
        '\t\tiifname "trellis0" ct state established,related accept',
        '\t\tiifname "trellis0" jump mesh_allow',
        '\t\tiifname "trellis0" counter name "filter_dropped" drop',
        '\t}',
      ].join('\n'),
    );
    expect(script).toContain('\tchain forward {');
    expect(script).not.toContain('masquerade');
  });

  it('blockIncoming closes the input hook only; forwarding adds the masquerade', () => {
    const script = compileRuleset({
      ...base,
      filter: { rules: [], blockIncoming: true },
      forwarding: true,
    });
    const input = script.slice(script.indexOf('chain input'), script.indexOf('chain forward'));
    const forward = script.slice(
      script.indexOf('chain forward'),
      script.indexOf('chain postrouting'),
    );
    expect(input).not.toContain('jump mesh_allow');
    expect(forward).toContain('jump mesh_allow');
    expect(script).toContain('type nat hook postrouting priority srcnat; policy accept;');
    expect(script).toContain('iifname "trellis0" oifname != "trellis0" masquerade');
  });

  it('only deletes the table when nothing is wanted, and keeps it for a record alone', () => {
    expect(compileRuleset({ ...base, filter: null, forwarding: false })).toBe(
      'add table inet trellis\ndelete table inet trellis\n',
    );
    const recordOnly = compileRuleset({
      interfaceName: 'trellis0',
      filter: null,
      forwarding: false,
      comment: 'trellis-restore srcmark=0',
    });
    expect(recordOnly).toContain('table inet trellis {\n\tcomment "trellis-restore srcmark=0"\n}');
  });

  it('refuses a comment nft would not keep or that could break out of its quotes', () => {
    const run = (comment: string) =>
      compileRuleset({ interfaceName: 't', filter: null, forwarding: true, comment });
    expect(() => run('x'.repeat(MAX_NFT_COMMENT_LENGTH + 1))).toThrow(/comment/);
    expect(() => run('a" ; flush ruleset ; "')).toThrow(/comment/);
  });
});

describe('mergePrefixes', () => {
  it('canonicalizes, splits by family and drops prefixes inside others', () => {
    expect(
      mergePrefixes([
        '10.1.2.3/8',
        '10.2.0.0/16',
        '192.0.2.1',
        'fd00::1/64',
        'fd00::/56',
        'junk',
        '::/0',
      ]),
    ).toEqual({ v4: ['10.0.0.0/8', '192.0.2.1/32'], v6: ['::/0'] });
  });
});
