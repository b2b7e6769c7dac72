import { describe, expect, it } from 'vitest';
import type { Status } from '../../shared/schema/localapi.js';
import { samplePrefs, sampleStatus } from '../../shared/schema/samples.js';
import { ManualClock } from '../testing/manual-clock.js';
import { WatchHub, type WatchEventBody } from './watch-hub.js';

const flush = () => new Promise((r) => setImmediate(r));

function setup() {
  const clock = new ManualClock();
  let n = 0;
  let status: Status = sampleStatus(0);
  const hub = new WatchHub(
    { status: async () => status, prefs: () => samplePrefs() },
    { clock, minIntervalMs: 500 },
  );
  const got: WatchEventBody[] = [];
  const change = () => {
    n += 1;
    status = {
      ...sampleStatus(0),
      peers: [],
      health: [{ code: 'x', severity: 'info', message: String(n), since: null }],
    };
    hub.statusChanged();
  };
  return { clock, hub, got, change, statuses: () => got.filter((e) => e.type === 'status') };
}

describe('WatchHub', () => {
  it('sends the first change at once and later ones at most every interval, always the newest', async () => {
    const { clock, hub, got, change, statuses } = setup();
    await hub.subscribe({ logs: false, deliver: (e) => got.push(e) }, false);
    change();
    clock.advance(0);
    await flush();
    expect(statuses()).toHaveLength(1);
    change();
    change();
    change();
    clock.advance(499);
    await flush();
    expect(statuses()).toHaveLength(1);
    clock.advance(1);
    await flush();
    expect(statuses()).toHaveLength(2);
    const last = statuses()[1] as Extract<WatchEventBody, { type: 'status' }>;
    expect(last.status.health[0]?.message).toBe('4');
  });

  it('does not resend a status that did not change', async () => {
    const { clock, hub, got, change, statuses } = setup();
    await hub.subscribe({ logs: false, deliver: (e) => got.push(e) }, false);
    change();
    clock.advance(0);
    await flush();
    hub.statusChanged();
    clock.advance(1000);
    await flush();
    expect(statuses()).toHaveLength(1);
  });

  it('starts a subscriber with status and prefs, and sends logs only to those who asked', async () => {
    const { hub } = setup();
    const plain: WatchEventBody[] = [];
    const logs: WatchEventBody[] = [];
    await hub.subscribe({ logs: false, deliver: (e) => plain.push(e) }, true);
    await hub.subscribe({ logs: true, deliver: (e) => logs.push(e) }, false);
    expect(plain.map((e) => e.type)).toEqual(['status', 'prefs']);
    hub.logLine('info', 'hello', new Date(0));
    expect(plain).toHaveLength(2);
    expect(logs).toEqual([
      { type: 'log', level: 'info', message: 'hello', time: '1970-01-01T00:00:00.000Z' },
    ]);
  });
});
