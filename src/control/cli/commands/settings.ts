/** `trellis-control settings ...`: key expiry, device approval and DNS of the network. */
import {
  UpdateNetworkSettingsRequest,
  type NetworkSettingsView,
} from '../../../shared/schema/control/admin.js';
import { onOff, parseRequest, str, usageError, type Command } from '../command.js';
import { withAdmin } from '../session.js';

const list = (s: string): string[] =>
  s
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);

function settingsText(s: NetworkSettingsView): string {
  const dns = s.dns;
  const split = Object.entries(dns.splitDns).map(([d, ns]) => `${d}=${ns.join('+')}`);
  return [
    `network              ${s.network.name} (${s.network.domain})`,
    `key expiry           ${s.keyExpiryDays} days`,
    `approval required    ${s.deviceApprovalRequired ? 'on' : 'off'}`,
    `MagicDNS             ${dns.magicDns ? 'on' : 'off'}`,
    `nameservers          ${dns.nameservers.join(', ') || '-'}`,
    `search domains       ${dns.searchDomains.join(', ') || '-'}`,
    `split DNS            ${split.join(', ') || '-'}`,
  ].join('\n');
}

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
    },
    run: ({ opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const days = str(opts, 'key-expiry-days');
        if (days !== undefined && !/^\d{1,5}$/.test(days))
          throw usageError('--key-expiry-days: expected a number of days');
        const approval = str(opts, 'approval-required');
        const magic = str(opts, 'magic-dns');
        const ns = str(opts, 'nameservers');
        const search = str(opts, 'search-domains');
        const dns = {
          ...(magic !== undefined ? { magicDns: onOff(magic, '--magic-dns') } : {}),
          ...(ns !== undefined ? { nameservers: list(ns) } : {}),
          ...(search !== undefined ? { searchDomains: list(search) } : {}),
        };
        const req = parseRequest(UpdateNetworkSettingsRequest, {
          ...(days !== undefined ? { keyExpiryDays: Number(days) } : {}),
          ...(approval !== undefined
            ? { deviceApprovalRequired: onOff(approval, '--approval-required') }
            : {}),
          ...(Object.keys(dns).length ? { dns } : {}),
        });
        const s = await api.updateSettings(req);
        out.emit(s, () => settingsText(s));
      }),
  },
];
