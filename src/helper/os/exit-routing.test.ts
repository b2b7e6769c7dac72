/** Exit-node policy routing as data: the rule plan, and reading `ip -json rule show` back. */
import { describe, expect, it } from 'vitest';
import {
  exitTableRoutes,
  ownRules,
  planExitRules,
  ruleArgs,
  ruleKey,
  type IpRuleSpec,
} from './exit-routing.js';

// Verbatim `ip -4 -json rule show` (iproute2 6.1) after an apply, plus rules that are not ours.
const IP_RULES_JSON = [
  { priority: 0, src: 'all', table: 'local' },
  { priority: 5210, src: 'all', fwmark: '0x80000', fwmask: '0xff0000', table: 'main' },
  {
    priority: 5300,
    src: 'all',
    fwmark: '0x540000',
    fwmask: '0xff0000',
    table: 'main',
    protocol: '84',
  },
  { priority: 5310, src: 'all', dst: '192.168.7.50', table: 'main', protocol: '84' },
  { priority: 5320, src: 'all', dst: '192.168.7.0', dstlen: 24, table: 'main', protocol: '84' },
  { priority: 5350, src: 'all', table: '84', protocol: '84' },
  { priority: 32766, src: 'all', table: 'main' },
];

describe('exit routing rules', () => {
  it('plans mark, bypass, local and catch-all rules per family, canonical and merged', () => {
    const plan = planExitRules({
      bypass: ['192.168.7.50', '192.168.7.50', 'fd00::1'],
      local: ['192.168.7.9/24', '192.168.0.0/16'],
    });
    expect(plan.map(ruleKey)).toEqual([
      '4 5300 all mark main',
      '4 5310 192.168.7.50/32 - main',
      '4 5320 192.168.0.0/16 - main',
      '4 5350 all - 84',
      '6 5300 all mark main',
      '6 5310 fd00::1/128 - main',
      '6 5350 all - 84',
    ]);
    expect(ruleArgs('add', plan[0] as IpRuleSpec, '84')).toEqual([
      '-4',
      'rule',
      'add',
      'priority',
      '5300',
      'fwmark',
      '0x540000/0xff0000',
      'lookup',
      'main',
      'proto',
      '84',
    ]);
  });

  it('reads back exactly its own rules (protocol 84) from ip’s JSON', () => {
    const own = ownRules(4, IP_RULES_JSON, '84');
    expect(own.map((r) => (r.spec ? ruleKey(r.spec) : null))).toEqual([
      '4 5300 all mark main',
      '4 5310 192.168.7.50/32 - main',
      '4 5320 192.168.7.0/24 - main',
      '4 5350 all - 84',
    ]);
    // What apply planned is what it reads back: no churn on the next apply.
    const plan = planExitRules({ bypass: ['192.168.7.50'], local: ['192.168.7.0/24'] }).filter(
      (r) => r.family === 4,
    );
    expect(plan.map(ruleKey)).toEqual(own.map((r) => (r.spec ? ruleKey(r.spec) : '')));
  });

  it('marks our rules it cannot read as such, so teardown still deletes them', () => {
    const own = ownRules(
      4,
      [{ priority: 5399, fwmark: '0x1', fwmask: '0xff', table: '99', protocol: '84' }],
      '84',
    );
    expect(own).toEqual([{ spec: null, raw: expect.objectContaining({ priority: 5399 }) }]);
  });

  it('puts the tunnel route and the fail-closed fallback in table 84', () => {
    expect(exitTableRoutes(6, 'trellis0', '84').map((a) => a.join(' '))).toEqual([
      '-6 route add ::/0 dev trellis0 table 84 proto 84',
      '-6 route add unreachable ::/0 metric 65535 table 84 proto 84',
    ]);
  });
});
