/** `trellis ping` output as the lab reads it (pure; the real CLI runs in mesh.test). */
import { describe, expect, it } from 'vitest';
import { parseCliPing } from './trellisd.js';

describe('parseCliPing', () => {
  it('reads the path and latency of each pong, and timeouts', () => {
    const out = [
      'pong from ez2b via 203.0.113.103:41641 in 0.8ms',
      'pong from ez2b via relay #2 in 3.1ms',
      'timeout waiting for ez2b (seq 2)',
      'pong from v6 via [fd7a:115c::1]:41641 in 12ms',
      '',
    ].join('\n');
    expect(parseCliPing(out)).toEqual([
      { outcome: 'pong', via: { type: 'direct', endpoint: '203.0.113.103:41641' }, latencyMs: 0.8 },
      { outcome: 'pong', via: { type: 'relay', region: 2 }, latencyMs: 3.1 },
      { outcome: 'timeout' },
      { outcome: 'pong', via: { type: 'direct', endpoint: '[fd7a:115c::1]:41641' }, latencyMs: 12 },
    ]);
  });

  it('fails loudly on a line it does not know, instead of reading it as no path', () => {
    expect(() => parseCliPing('pong from x over carrier pigeon in 3h')).toThrow(/unexpected/);
  });
});
