import { describe, expect, it } from 'vitest';
import type { NetcheckReport } from '../../shared/schema/netcheck.js';
import {
  type StunAnswer,
  buildReport,
  choosePreferredRegion,
  mappingVariesByDest,
  sameReport,
} from './report.js';

const at = new Date('2026-01-02T03:04:05.000Z');
const answer = (
  regionId: number,
  family: 4 | 6,
  address: string,
  port: number,
  rttMs: number,
): StunAnswer => ({ regionId, family, mapped: { address, port, family }, rttMs });
const latencies = (o: Record<number, number>) =>
  new Map(Object.entries(o).map(([k, v]) => [Number(k), v]));

describe('choosePreferredRegion', () => {
  it('picks the lowest latency, the lower id on a tie, and null without any', () => {
    expect(choosePreferredRegion(latencies({ 1: 30, 2: 10, 3: 20 }), null)).toBe(2);
    expect(choosePreferredRegion(latencies({ 3: 10, 2: 10 }), null)).toBe(2);
    expect(choosePreferredRegion(new Map(), 1)).toBeNull();
  });

  it('keeps the previous region until another is under 2/3 of its latency', () => {
    expect(choosePreferredRegion(latencies({ 1: 30, 2: 21 }), 1)).toBe(1);
    expect(choosePreferredRegion(latencies({ 1: 30, 2: 20 }), 1)).toBe(1); // exactly 2/3: stays
    expect(choosePreferredRegion(latencies({ 1: 30, 2: 19.9 }), 1)).toBe(2);
    expect(choosePreferredRegion(latencies({ 1: 30, 2: 31 }), 1)).toBe(1);
  });

  it('leaves a previous region that no longer answers', () => {
    expect(choosePreferredRegion(latencies({ 2: 500 }), 1)).toBe(2);
  });
});

describe('mappingVariesByDest', () => {
  it('is null until two servers of one family answered', () => {
    expect(mappingVariesByDest([])).toBeNull();
    expect(mappingVariesByDest([answer(1, 4, '198.51.100.1', 1000, 1)])).toBeNull();
    expect(
      mappingVariesByDest([
        answer(1, 4, '198.51.100.1', 1000, 1),
        answer(2, 6, '2001:db8::1', 1000, 1),
      ]),
    ).toBeNull();
  });

  it('is true when servers saw different ports or addresses, false when they agree', () => {
    const a = answer(1, 4, '198.51.100.1', 1000, 1);
    expect(mappingVariesByDest([a, answer(2, 4, '198.51.100.1', 1000, 5)])).toBe(false);
    expect(mappingVariesByDest([a, answer(2, 4, '198.51.100.1', 1001, 5)])).toBe(true);
    expect(mappingVariesByDest([a, answer(2, 4, '198.51.100.2', 1000, 5)])).toBe(true);
    // IPv6 disagreeing counts even when IPv4 agrees.
    expect(
      mappingVariesByDest([
        a,
        answer(2, 4, '198.51.100.1', 1000, 5),
        answer(1, 6, '2001:db8::1', 7, 1),
        answer(2, 6, '2001:db8::1', 8, 1),
      ]),
    ).toBe(true);
  });
});

describe('buildReport', () => {
  it('advertises what the fastest server saw and keeps the best RTT per region', () => {
    const report = buildReport({
      answers: [
        answer(1, 4, '198.51.100.1', 1000, 12.345),
        answer(1, 4, '198.51.100.1', 1000, 9.87),
        answer(2, 4, '198.51.100.1', 2000, 4),
        answer(2, 6, '2001:db8::1', 3000, 6),
      ],
      httpLatencies: latencies({ 1: 1 }),
      previousPreferred: null,
      measuredAt: at,
    });
    expect(report).toEqual({
      udp: true,
      ipv4: true,
      ipv6: true,
      globalV4: '198.51.100.1:2000',
      globalV6: '[2001:db8::1]:3000',
      mappingVariesByDest: true,
      preferredRegion: 2,
      regionLatencies: { '1': 9.9, '2': 4 },
      portMapping: null,
      measuredAt: '2026-01-02T03:04:05.000Z',
    } satisfies NetcheckReport);
  });

  it('uses HTTP latencies only when no STUN server answered', () => {
    const report = buildReport({
      answers: [],
      httpLatencies: latencies({ 2: 40, 1: 80 }),
      previousPreferred: 1,
      measuredAt: at,
    });
    expect(report).toMatchObject({
      udp: false,
      ipv4: false,
      globalV4: null,
      mappingVariesByDest: null,
      regionLatencies: { '1': 80, '2': 40 },
      preferredRegion: 2, // 40 < 2/3 × 80
    });
  });
});

describe('sameReport', () => {
  const base = buildReport({
    answers: [answer(1, 4, '198.51.100.1', 1000, 10), answer(2, 4, '198.51.100.1', 1000, 20)],
    httpLatencies: new Map(),
    previousPreferred: null,
    measuredAt: at,
  });
  it('ignores the time and latency jitter, not the substance', () => {
    expect(sameReport(base, { ...base, measuredAt: new Date(0).toISOString() })).toBe(true);
    expect(sameReport(base, { ...base, regionLatencies: { '1': 11, '2': 19 } })).toBe(true);
    expect(sameReport(base, { ...base, regionLatencies: { '1': 11 } })).toBe(false);
    expect(sameReport(base, { ...base, preferredRegion: 2 })).toBe(false);
    expect(sameReport(base, { ...base, globalV4: '198.51.100.1:1001' })).toBe(false);
    expect(sameReport(base, null)).toBe(false);
    expect(sameReport(null, null)).toBe(true);
  });
});
