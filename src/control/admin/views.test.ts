import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AuditEvent } from '../../shared/schema/control/admin.js';
import type { AuditEntry, JsonValue } from '../store/audit.js';
import { ACTOR_TYPES } from '../store/audit.js';
import { auditView } from './views.js';

const entry = (over: Partial<AuditEntry>): AuditEntry => ({
  id: 7,
  networkId: 'net_a',
  at: new Date('2026-01-31T12:00:00Z'),
  actor: { type: 'user', id: 'usr_a' },
  action: 'device.renamed',
  target: { type: 'device', id: 'dev_a' },
  diff: null,
  ...over,
});

describe('auditView', () => {
  it('turns { from, to } pairs into old/new and plain values into new', () => {
    const v = auditView(
      entry({ diff: { name: { from: 'a', to: 'b' }, tags: ['tag:x'], via: 'cli' } }),
      new Map([['usr_a', 'a@example.com']]),
    );
    expect(v).toEqual({
      id: '7',
      time: '2026-01-31T12:00:00.000Z',
      actor: { type: 'user', id: 'usr_a', email: 'a@example.com' },
      action: 'device.renamed',
      target: { type: 'device', id: 'dev_a' },
      diff: [
        { field: 'name', old: 'a', new: 'b' },
        { field: 'tags', old: null, new: '["tag:x"]' },
        { field: 'via', old: null, new: 'cli' },
      ],
    });
    expect(auditView(entry({ actor: { type: 'api_key', id: 'api_k' } }), new Map()).actor).toEqual({
      type: 'api-key',
      id: 'api_k',
    });
  });

  it('always produces a valid AuditEvent, whatever a writer stored', () => {
    const json: fc.Arbitrary<JsonValue> = fc.jsonValue() as fc.Arbitrary<JsonValue>;
    fc.assert(
      fc.property(
        fc.constantFrom(...ACTOR_TYPES),
        fc.option(fc.string({ maxLength: 80 })),
        fc.string({ maxLength: 80 }),
        fc.option(fc.record({ type: fc.string({ maxLength: 80 }), id: fc.option(fc.string()) })),
        fc.option(fc.dictionary(fc.string({ maxLength: 200 }), json, { maxKeys: 100 })),
        (type, actorId, action, target, diff) => {
          const v = auditView(
            entry({ actor: { type, id: actorId }, action, target, diff }),
            new Map(),
          );
          expect(AuditEvent.safeParse(v).success).toBe(true);
        },
      ),
    );
  });
});
