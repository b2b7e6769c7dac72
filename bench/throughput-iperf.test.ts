import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIperf3Json } from './throughput-iperf.js';

/** Trimmed from a real `iperf3 -c … --json` run (iperf 3.12): the fields the parser reads. */
const REPORT = JSON.stringify({
  start: { test_start: { protocol: 'TCP', num_streams: 1, duration: 1 } },
  intervals: [],
  end: {
    sum_sent: {
      start: 0,
      end: 1.000325,
      seconds: 1.000325,
      bytes: 395837440,
      bits_per_second: 3165670677.0299654,
      retransmits: 4,
      sender: true,
    },
    sum_received: {
      start: 0,
      end: 1.012956,
      seconds: 1.012956,
      bytes: 394526720,
      bits_per_second: 3115844873.8148546,
      sender: true,
    },
  },
});

/** What iperf3 3.12 writes when the server is not there (tabs and all). */
const REFUSED = `{
\t"start":\t{
\t\t"connected":\t[],
\t\t"version":\t"iperf 3.12"
\t},
\t"intervals":\t[],
\t"end":\t{
\t},
\t"error":\t"unable to connect to server: Connection refused"
}`;

describe('parseIperf3Json', () => {
  it('reads goodput (receiver side), sender rate, bytes and retransmits', () => {
    const r = parseIperf3Json(REPORT);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.receivedMbps).toBeCloseTo(3115.845, 3);
    expect(r.value.sentMbps).toBeCloseTo(3165.671, 3);
    expect(r.value.bytesReceived).toBe(394526720);
    expect(r.value.seconds).toBeCloseTo(1.013, 3);
    expect(r.value.retransmits).toBe(4);
  });

  it("reports iperf3's own error as iperf_error", () => {
    expect(parseIperf3Json(REFUSED)).toEqual({
      ok: false,
      error: { code: 'iperf_error', message: 'unable to connect to server: Connection refused' },
    });
  });

  it('rejects non-JSON and reports without the end sums', () => {
    expect(parseIperf3Json('iperf3: error - unable to connect')).toMatchObject({
      ok: false,
      error: { code: 'not_json' },
    });
    expect(parseIperf3Json('{"end":{}}')).toMatchObject({
      ok: false,
      error: { code: 'bad_report' },
    });
    expect(parseIperf3Json('{"end":{"sum_sent":{"bits_per_second":-1}}}')).toMatchObject({
      ok: false,
      error: { code: 'bad_report' },
    });
    expect(parseIperf3Json('[]')).toMatchObject({ ok: false, error: { code: 'bad_report' } });
  });

  it('never throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        const r = parseIperf3Json(text);
        expect(typeof r.ok).toBe('boolean');
      }),
    );
  });
});
