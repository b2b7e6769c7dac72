/** `trellis-control settings ...`: key expiry, device approval, DNS and audit retention. */
import {
  UpdateNetworkSettingsRequest,
  type NetworkSettingsView,
} from '../../../shared/schema/control/admin.js';
import { DnsRecord } from '../../../shared/schema/control/netmap.js';
import {
  CliError,
  onOff,
  parseRequest,
  str,
  usageError,
  type Command,
  type OptionValues,
} from '../command.js';
import { withAdmin } from '../session.js';

const list = (s: string): string[] =>
  s
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);

/** "corp.example.com=10.0.0.53+10.0.0.54,lab.example=10.1.0.53" → split-DNS map. */
function splitDnsOf(s: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const item of list(s)) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw usageError(`--split-dns: expected DOMAIN=IP[+IP...], got "${item}"`);
    out[item.slice(0, eq).trim()] = item
      .slice(eq + 1)
      .split('+')
      .map((t) => t.trim())
      .filter(Boolean);
  }
  return out;
}

const recordText = (r: DnsRecord): string => `${r.name} ${r.type} ${r.value}`;

function settingsText(s: NetworkSettingsView): string {
  const dns = s.dns;
  const split = Object.entries(dns.splitDns).map(([d, ns]) => `${d}=${ns.join('+')}`);
  return [
    `network              ${s.network.name} (${s.network.domain})`,
    `key expiry           ${s.keyExpiryDays} days`,
    `approval required    ${s.deviceApprovalRequired ? 'on' : 'off'}`,
    `audit retention      ${s.auditRetentionDays === 0 ? 'forever' : `${s.auditRetentionDays} days`}`,
    `MagicDNS             ${dns.magicDns ? 'on' : 'off'}`,
    `nameservers          ${dns.nameservers.join(', ') || '-'}`,
    `search domains       ${dns.searchDomains.join(', ') || '-'}`,
    `split DNS            ${split.join(', ') || '-'}`,
    `extra records        ${dns.extraRecords.length ? '' : '-'}`,
    ...dns.extraRecords.map((r) => `  ${recordText(r)}`),
  ].join('\n');
}

const days = (opts: OptionValues, name: string): number | undefined => {
  const v = str(opts, name);
  if (v === undefined) return undefined;
  if (!/^\d{1,6}$/.test(v)) throw usageError(`--${name}: expected a number of days`);
  return Number(v);
};

export const settingsCommands: Command[] = [
  {
    name: 'settings show',
    summary: 'show the network settings',
    run: ({ opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const s = await api.getSettings();
        out.emit(s, () => settingsText(s));
      }),
  },
  {
    name: 'settings set',
    summary: 'change network settings; DNS changes reach connected devices (with --server)',
    options: {
      'key-expiry-days': { type: 'string', value: 'N', description: 'node key lifetime in days' },
      'approval-required': {
        type: 'string',
        value: 'on|off',
        description: 'new devices wait for approval',
      },
      'audit-retention-days': {
        type: 'string',
        value: 'N',
        description: 'days the audit log keeps entries (0: forever)',
      },
      'magic-dns': {
        type: 'string',
        value: 'on|off',
        description: 'serve <device>.<domain> names',
      },
      nameservers: {
        type: 'string',
        value: 'IPS',
        description: 'comma-separated resolvers ("" for none)',
      },
      'search-domains': {
        type: 'string',
        value: 'DOMAINS',
        description: 'comma-separated search domains',
      },
      'split-dns': {
        type: 'string',
        value: 'MAP',
        description: 'per-domain resolvers: DOMAIN=IP[+IP],... ("" for none)',
      },
    },
    run: ({ opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const keyExpiryDays = days(opts, 'key-expiry-days');
        const auditRetentionDays = days(opts, 'audit-retention-days');
        const approval = str(opts, 'approval-required');
        const magic = str(opts, 'magic-dns');
        const ns = str(opts, 'nameservers');
        const search = str(opts, 'search-domains');
        const split = str(opts, 'split-dns');
        const dns = {
          ...(magic !== undefined ? { magicDns: onOff(magic, '--magic-dns') } : {}),
          ...(ns !== undefined ? { nameservers: list(ns) } : {}),
          ...(search !== undefined ? { searchDomains: list(search) } : {}),
          ...(split !== undefined ? { splitDns: splitDnsOf(split) } : {}),
        };
        const req = parseRequest(UpdateNetworkSettingsRequest, {
          ...(keyExpiryDays !== undefined ? { keyExpiryDays } : {}),
          ...(auditRetentionDays !== undefined ? { auditRetentionDays } : {}),
          ...(approval !== undefined
            ? { deviceApprovalRequired: onOff(approval, '--approval-required') }
            : {}),
          ...(Object.keys(dns).length ? { dns } : {}),
        });
        const s = await api.updateSettings(req);
        out.emit(s, () => settingsText(s));
      }),
  },
  {
    name: 'settings dns-record add',
    argsUsage: 'NAME TYPE VALUE',
    summary: 'add an extra DNS record (A, AAAA, CNAME or TXT) that MagicDNS answers',
    minArgs: 3,
    maxArgs: 3,
    run: ({ args, opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const [name = '', type = '', value = ''] = args;
        const record = parseRequest(DnsRecord, {
          name: name.toLowerCase().replace(/\.$/, ''),
          type: type.toUpperCase(),
          value,
        });
        const current = await api.getSettings();
        const s = await api.updateSettings({
          dns: { extraRecords: [...current.dns.extraRecords, record] },
        });
        out.emit(s, () => settingsText(s));
      }),
  },
  {
    name: 'settings dns-record remove',
    argsUsage: 'NAME [TYPE]',
    summary: "remove a name's extra DNS records (of one type, if given)",
    minArgs: 1,
    maxArgs: 2,
    run: ({ args, opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const name = (args[0] ?? '').toLowerCase().replace(/\.$/, '');
        const type = args[1]?.toUpperCase();
        const current = await api.getSettings();
        const keep = current.dns.extraRecords.filter(
          (r) => r.name !== name || (type !== undefined && r.type !== type),
        );
        if (keep.length === current.dns.extraRecords.length)
          throw new CliError(`no extra record ${name}${type ? ` ${type}` : ''}`);
        const s = await api.updateSettings({ dns: { extraRecords: keep } });
        out.emit(s, () => settingsText(s));
      }),
  },
];
