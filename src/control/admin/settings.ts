/**
 * Network settings: key expiry, device approval and DNS. A DNS change reaches every connected
 * device as a netmap delta (deps.mesh.networkChanged).
 */
import type {
  NetworkSettingsView,
  UpdateNetworkSettingsRequest,
} from '../../shared/schema/control/admin.js';
import type { AuditDiff } from '../store/audit.js';
import type { NetworkSettings } from '../store/networks.js';
import { auditAs, change, type AdminDeps, type Caller } from './deps.js';
import { notFound } from './errors.js';
import { settingsView } from './views.js';

export async function getSettings(deps: AdminDeps, caller: Caller): Promise<NetworkSettingsView> {
  const n = await deps.store.networks.get(caller.networkId);
  if (!n) throw notFound('network');
  return settingsView(n);
}

function settingsDiff(a: NetworkSettings, b: NetworkSettings): AuditDiff {
  const diff: AuditDiff = {};
  if (a.keyExpiryDays !== b.keyExpiryDays)
    diff.keyExpiryDays = change(a.keyExpiryDays, b.keyExpiryDays);
  if (a.deviceApprovalRequired !== b.deviceApprovalRequired)
    diff.deviceApprovalRequired = change(a.deviceApprovalRequired, b.deviceApprovalRequired);
  for (const k of ['magicDns', 'nameservers', 'searchDomains', 'splitDns'] as const) {
    const from = JSON.stringify(a.dns[k]);
    const to = JSON.stringify(b.dns[k]);
    if (from !== to) diff[`dns.${k}`] = { from, to };
  }
  return diff;
}

export async function updateSettings(
  deps: AdminDeps,
  caller: Caller,
  r: UpdateNetworkSettingsRequest,
): Promise<NetworkSettingsView> {
  const before = await deps.store.networks.get(caller.networkId);
  if (!before) throw notFound('network');
  const after = await deps.store.networks.updateSettings(caller.networkId, {
    ...(r.keyExpiryDays !== undefined ? { keyExpiryDays: r.keyExpiryDays } : {}),
    ...(r.deviceApprovalRequired !== undefined
      ? { deviceApprovalRequired: r.deviceApprovalRequired }
      : {}),
    ...(r.dns ? { dns: r.dns } : {}),
  });
  if (!after) throw notFound('network');
  const diff = settingsDiff(before.settings, after.settings);
  if (Object.keys(diff).length > 0) {
    await auditAs(
      deps,
      caller,
      'network.settings_updated',
      { type: 'network', id: after.id },
      diff,
    );
    deps.mesh.networkChanged(after);
  }
  return settingsView(after);
}
