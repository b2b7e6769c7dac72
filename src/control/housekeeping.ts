/**
 * Periodic housekeeping the server runs beside the netmap sweep: recording key expiries as they
 * pass (once each, whichever replica sees them first) and deleting audit entries older than each
 * network's retention.
 */
import type { ControlContext } from './context.js';

type Deps = Pick<ControlContext, 'store' | 'now' | 'audit'>;

const DAY_MS = 86_400_000;

/**
 * Audit retention runs this often: the retention is counted in days, so an hour's lag is noise,
 * and one DELETE an hour per network costs nothing.
 */
export const AUDIT_RETENTION_INTERVAL_MS = 3_600_000;

/** Writes one `device.key_expired` entry (actor: system) for each key whose expiry just passed. */
export async function recordExpiredKeys(deps: Deps): Promise<number> {
  const expired = await deps.store.devices.claimExpiredKeys(new Date(deps.now()));
  for (const d of expired) {
    await deps.audit({
      networkId: d.networkId,
      actor: { type: 'system', id: null },
      action: 'device.key_expired',
      target: { type: 'device', id: d.id },
      diff: {
        name: d.name,
        keyExpiry: d.keyExpiry?.toISOString() ?? null,
        reason: 'the key reached its expiry date',
      },
    });
  }
  return expired.length;
}

/**
 * Deletes each network's audit entries older than its `auditRetentionDays` (0 keeps them
 * forever) and records how many went, as an `audit.pruned` entry.
 */
export async function pruneAuditLog(deps: Deps): Promise<number> {
  let total = 0;
  for (const n of await deps.store.networks.list()) {
    const days = n.settings.auditRetentionDays;
    if (days === 0) continue;
    const before = new Date(deps.now() - days * DAY_MS);
    const deleted = await deps.store.audit.prune(before, n.id);
    if (deleted === 0) continue;
    total += deleted;
    await deps.audit({
      networkId: n.id,
      actor: { type: 'system', id: null },
      action: 'audit.pruned',
      target: { type: 'network', id: n.id },
      diff: { entries: deleted, before: before.toISOString(), retentionDays: days },
    });
  }
  return total;
}
