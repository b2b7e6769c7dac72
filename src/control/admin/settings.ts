/**
 * Network settings: key expiry, device approval, DNS and audit retention. A DNS change reaches
 * every connected device as a netmap delta (deps.mesh.networkChanged).
 */
import type {
  NetworkSettingsView,
  UpdateNetworkSettingsRequest,
} from '../../shared/schema/control/admin.js';
import type { DnsRecord } from '../../shared/schema/control/netmap.js';
import type { AuditDiff } from '../store/audit.js';
import type { NetworkSettings } from '../store/networks.js';
import { auditAs, change, type AdminDeps, type Caller } from './deps.js';
import { badRequest, notFound } from './errors.js';
import { settingsView } from './views.js';

export async function getSettings(deps: AdminDeps, caller: Caller): Promise<NetworkSettingsView> {
  const n = await deps.store.networks.get(caller.networkId);
  if (!n) throw notFound('network');
  return settingsView(n);
}

const DNS_FIELDS = [
  'magicDns',
  'nameservers',
  'searchDomains',
  'splitDns',
  'extraRecords',
] as const;

function settingsDiff(a: NetworkSettings, b: NetworkSettings): AuditDiff {
  const diff: AuditDiff = {};
  if (a.keyExpiryDays !== b.keyExpiryDays)
    diff.keyExpiryDays = change(a.keyExpiryDays, b.keyExpiryDays);
  if (a.deviceApprovalRequired !== b.deviceApprovalRequired)
    diff.deviceApprovalRequired = change(a.deviceApprovalRequired, b.deviceApprovalRequired);
  if (a.auditRetentionDays !== b.auditRetentionDays)
    diff.auditRetentionDays = change(a.auditRetentionDays, b.auditRetentionDays);
  for (const k of DNS_FIELDS) {
    const from = JSON.stringify(a.dns[k]);
    const to = JSON.stringify(b.dns[k]);
    if (from !== to) diff[`dns.${k}`] = { from, to };
  }
  return diff;
}

const recordText = (r: DnsRecord): string => `${r.name} ${r.type} ${r.value}`;

/**
 * What the wire schema cannot say about a set of extra records: each record appears once, a
 * name with a CNAME has no other record (RFC 1034 §3.6.2), and a CNAME does not point at itself.
 */
export function checkExtraRecords(records: readonly DnsRecord[]): void {
  const seen = new Set<string>();
  const types = new Map<string, Set<string>>();
  records.forEach((r, i) => {
    const where = `dns.extraRecords.${i}`;
    const text = recordText(r);
    if (seen.has(text)) throw badRequest(`${where}: "${text}" is listed twice`);
    seen.add(text);
    if (r.type === 'CNAME' && r.value === r.name)
      throw badRequest(`${where}: ${r.name} is a CNAME to itself`);
    let t = types.get(r.name);
    if (!t) types.set(r.name, (t = new Set()));
    if (t.has('CNAME') || (r.type === 'CNAME' && t.size > 0))
      throw badRequest(`${where}: ${r.name} has a CNAME, so it can have no other record`);
    t.add(r.type);
  });
}

export async function updateSettings(
  deps: AdminDeps,
  caller: Caller,
  r: UpdateNetworkSettingsRequest,
): Promise<NetworkSettingsView> {
  if (r.dns?.extraRecords) checkExtraRecords(r.dns.extraRecords);
  const before = await deps.store.networks.get(caller.networkId);
  if (!before) throw notFound('network');
  const after = await deps.store.networks.updateSettings(caller.networkId, {
    ...(r.keyExpiryDays !== undefined ? { keyExpiryDays: r.keyExpiryDays } : {}),
    ...(r.deviceApprovalRequired !== undefined
      ? { deviceApprovalRequired: r.deviceApprovalRequired }
      : {}),
    ...(r.auditRetentionDays !== undefined ? { auditRetentionDays: r.auditRetentionDays } : {}),
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
