import { describe, expect, it } from 'vitest';
import type { AppState } from '../../shared/schema/ipc.js';
import { sampleAppState } from '../../shared/schema/samples.js';
import { decideNotifications, EMPTY_MEMO, KEY_EXPIRY_WARNING_MS } from './notifications.js';

const NOW = new Date('2025-07-10T12:00:00.000Z');

/** The sample state, without a key expiry so only the rule under test speaks. */
function state(over: Partial<AppState> = {}): AppState {
  const s = sampleAppState();
  return { ...s, self: { ...s.self!, keyExpiry: null }, ...over };
}
const kinds = (prev: AppState | null, next: AppState, memo = EMPTY_MEMO) =>
  decideNotifications(prev, next, NOW, memo).notifications.map((n) => n.kind);
const withExpiry = (iso: string | null): AppState => {
  const s = state();
  return { ...s, self: { ...s.self!, keyExpiry: iso } };
};

describe('device approved', () => {
  it('notifies when the device leaves needs-approval', () => {
    const waiting = state({ connection: { state: 'needs-approval' } });
    expect(kinds(waiting, state())).toEqual(['device-approved']);
    expect(kinds(waiting, state({ connection: { state: 'connecting' } }))).toEqual([
      'device-approved',
    ]);
  });
  it('does not notify for other transitions', () => {
    expect(kinds(state({ connection: { state: 'disconnected' } }), state())).toEqual([]);
    const waiting = state({ connection: { state: 'needs-approval' } });
    expect(kinds(waiting, state({ connection: { state: 'needs-login', loginUrl: null } }))).toEqual(
      [],
    );
    expect(kinds(null, state())).toEqual([]);
  });
});

describe('key expiring soon', () => {
  const soon = new Date(NOW.getTime() + 3 * 24 * 3600_000).toISOString();
  it('warns once per expiry within the warning window', () => {
    const r = decideNotifications(null, withExpiry(soon), NOW, EMPTY_MEMO);
    expect(r.notifications).toHaveLength(1);
    expect(r.notifications[0]).toMatchObject({ kind: 'key-expiring', action: { type: 'sign-in' } });
    expect(r.notifications[0]?.body).toContain('3 days');
    expect(kinds(withExpiry(soon), withExpiry(soon), r.memo)).toEqual([]);
    // A re-login gives a new expiry; warning about that one again is right.
    const later = new Date(NOW.getTime() + 2 * 24 * 3600_000).toISOString();
    expect(kinds(withExpiry(soon), withExpiry(later), r.memo)).toEqual(['key-expiring']);
  });
  it('stays quiet far from expiry, after expiry and without expiry', () => {
    const far = new Date(NOW.getTime() + KEY_EXPIRY_WARNING_MS + 60_000).toISOString();
    expect(kinds(null, withExpiry(far))).toEqual([]);
    expect(kinds(null, withExpiry('2025-07-01T00:00:00.000Z'))).toEqual([]);
    expect(kinds(null, withExpiry(null))).toEqual([]);
  });
  it('says "less than a day" at the end', () => {
    const hours = new Date(NOW.getTime() + 5 * 3600_000).toISOString();
    const r = decideNotifications(null, withExpiry(hours), NOW, EMPTY_MEMO);
    expect(r.notifications[0]?.body).toContain('less than a day');
  });
});

describe('exit node went offline', () => {
  const using = (online: boolean): AppState => {
    const s = state();
    return {
      ...s,
      prefs: { ...s.prefs!, exitNode: { type: 'id', id: 'dev-2' } },
      exitNodes: s.exitNodes.map((o) => ({ ...o, active: true, online })),
    };
  };
  it('notifies when the exit node in use goes offline', () => {
    const r = decideNotifications(using(true), using(false), NOW, EMPTY_MEMO);
    expect(r.notifications).toMatchObject([
      { kind: 'exit-node-offline', action: { type: 'open-window', view: 'exit-node' } },
    ]);
    expect(r.notifications[0]?.body).toContain('peer-2');
  });
  it('notifies when it disappears from the netmap', () => {
    expect(kinds(using(true), { ...using(true), exitNodes: [] })).toEqual(['exit-node-offline']);
  });
  it('stays quiet when still online, already offline, or no longer used', () => {
    expect(kinds(using(true), using(true))).toEqual([]);
    expect(kinds(using(false), using(false))).toEqual([]);
    const dropped = { ...using(false), prefs: { ...using(false).prefs!, exitNode: null } };
    expect(kinds(using(true), dropped)).toEqual([]);
  });
});
