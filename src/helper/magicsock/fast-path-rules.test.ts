import { describe, expect, it } from 'vitest';
import type { IpPort } from '../../shared/ip.js';
import {
  FAST_PATH_TABLE,
  FastPathRuleError,
  fastPathProbeScript,
  fastPathRemoveScript,
  fastPathScript,
} from './fast-path-rules.js';

const v4 = (ip: string, port: number): IpPort => ({ ip, family: 'ipv4', port });
const v6 = (ip: string, port: number): IpPort => ({ ip, family: 'ipv6', port });
const setLine = (script: string, name: string): string =>
  script.split('\n').find((l) => l.trim().startsWith(`set ${name} `)) ?? '';

describe('fastPathScript', () => {
  const script = fastPathScript({
    magicsockPort: 41641,
    wireGuardPort: 51820,
    entries: [
      { addr: v4('203.0.113.9', 41641), outbound: true, inbound: true },
      { addr: v4('198.51.100.7', 5000), outbound: true, inbound: false },
      { addr: v6('2001:db8::7', 41641), outbound: true, inbound: true },
    ],
  });

  it('replaces the whole table in one script', () => {
    expect(script.startsWith(fastPathRemoveScript())).toBe(true);
    expect(script).toContain(`table inet ${FAST_PATH_TABLE} {`);
    expect(script.match(/^table /gm)).toHaveLength(1);
  });

  it('rewrites WireGuard port → magicsock port out (untracked), and back in after conntrack', () => {
    expect(script).toContain('type filter hook output priority raw; policy accept;');
    expect(script).toContain('type filter hook prerouting priority mangle; policy accept;');
    expect(script).toContain(
      'udp sport 51820 ip daddr . udp dport @out4 counter name "fastpath_out" udp sport set 41641 notrack',
    );
    expect(script).toContain(
      'udp sport 51820 ip6 daddr . udp dport @out6 counter name "fastpath_out" udp sport set 41641 notrack',
    );
    // Inbound only WireGuard messages: type 1–4 in the first byte, then three zero bytes.
    expect(script).toContain(
      'udp dport 41641 ip saddr . udp sport @in4 @th,72,24 0 @th,64,8 1-4 counter name "fastpath_in" udp dport set 51820\n',
    );
    expect(script).toContain('udp dport 41641 ip6 saddr . udp sport @in6');
  });

  it('lists each endpoint in the sets of its family and directions, sorted', () => {
    expect(setLine(script, 'out4')).toContain(
      'elements = { 198.51.100.7 . 5000, 203.0.113.9 . 41641 };',
    );
    expect(setLine(script, 'in4')).toContain('elements = { 203.0.113.9 . 41641 };');
    expect(setLine(script, 'out6')).toContain('elements = { 2001:db8::7 . 41641 };');
    expect(setLine(script, 'in6')).toContain('type ipv6_addr . inet_service;');
  });

  it('declares empty sets without elements (nft rejects "elements = { }")', () => {
    const empty = fastPathScript({ magicsockPort: 1, wireGuardPort: 2, entries: [] });
    for (const name of ['out4', 'in4', 'out6', 'in6']) {
      expect(setLine(empty, name)).toMatch(/inet_service; }$/);
    }
  });

  it('rejects bad ports and endpoints with a typed error', () => {
    const bad = [
      { magicsockPort: 0, wireGuardPort: 2, entries: [] },
      { magicsockPort: 1, wireGuardPort: 70000, entries: [] },
      { magicsockPort: 5, wireGuardPort: 5, entries: [] },
      {
        magicsockPort: 1,
        wireGuardPort: 2,
        entries: [{ addr: v4('1.2.3.4; flush ruleset', 5), outbound: true, inbound: false }],
      },
      {
        magicsockPort: 1,
        wireGuardPort: 2,
        entries: [{ addr: v4('1.2.3.4', 0), outbound: true, inbound: false }],
      },
    ];
    for (const rules of bad) expect(() => fastPathScript(rules)).toThrow(FastPathRuleError);
  });

  it('probes with a throwaway table it deletes in the same transaction', () => {
    const probe = fastPathProbeScript();
    expect(probe.trimEnd().split('\n').at(-1)).toBe(`delete table inet ${FAST_PATH_TABLE}`);
    expect(probe).toContain('notrack');
  });
});
