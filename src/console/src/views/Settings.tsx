/**
 * DNS and network settings: what `GET/PATCH /v1/admin/settings` offers. Saving sends only the
 * fields that changed, so the audit log records exactly what the admin changed; DNS changes
 * reach connected devices at once.
 */
import { useCallback, useState } from 'react';
import {
  MAX_AUDIT_RETENTION_DAYS,
  MAX_KEY_EXPIRY_DAYS,
  NetworkSettingsView,
  type DnsSettings,
  type UpdateNetworkSettingsRequest,
} from '../../../shared/schema/control/admin.js';
import { request } from '../api.js';
import { Field, LoadStatus, PageHeader, Section, Switch } from '../components/controls.js';
import { useAction, useSay } from '../components/notices.js';
import { useLoad } from '../components/useLoad.js';
import { formatRecords, formatSplitDns, parseRecords, parseSplitDns } from '../dns-text.js';
import { splitList } from '../format.js';

export function Settings() {
  const load = useCallback(() => request(NetworkSettingsView, 'GET', '/v1/admin/settings'), []);
  const settings = useLoad(load);
  return (
    <>
      <PageHeader
        title="DNS & settings"
        description="Network-wide settings for devices, DNS and the audit log."
      />
      <LoadStatus
        loading={settings.loading}
        error={settings.error}
        onRetry={settings.reload}
        hasData={settings.data !== null}
      />
      {settings.data && (
        // Each load starts the form afresh from what control holds.
        <SettingsForm
          key={JSON.stringify(settings.data)}
          initial={settings.data}
          onSaved={settings.reload}
        />
      )}
    </>
  );
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function SettingsForm(props: {
  readonly initial: NetworkSettingsView;
  readonly onSaved: () => void;
}) {
  const init = props.initial;
  const [approval, setApproval] = useState(init.deviceApprovalRequired);
  const [keyExpiryDays, setKeyExpiryDays] = useState(String(init.keyExpiryDays));
  const [retention, setRetention] = useState(String(init.auditRetentionDays));
  const [magicDns, setMagicDns] = useState(init.dns.magicDns);
  const [nameservers, setNameservers] = useState(init.dns.nameservers.join('\n'));
  const [searchDomains, setSearchDomains] = useState(init.dns.searchDomains.join('\n'));
  const [splitDns, setSplitDns] = useState(formatSplitDns(init.dns.splitDns));
  const [records, setRecords] = useState(formatRecords(init.dns.extraRecords));
  const { busy, run } = useAction();
  const say = useSay();

  const changes = (): UpdateNetworkSettingsRequest | string => {
    const split = parseSplitDns(splitDns);
    if (!split.ok) return split.error;
    const extra = parseRecords(records);
    if (!extra.ok) return extra.error;
    const dns: Partial<DnsSettings> = {};
    const next: DnsSettings = {
      magicDns,
      nameservers: splitList(nameservers),
      searchDomains: splitList(searchDomains).map((d) => d.toLowerCase()),
      splitDns: split.value,
      extraRecords: extra.value,
    };
    for (const k of Object.keys(next) as Array<keyof DnsSettings>)
      if (!same(next[k], init.dns[k])) Object.assign(dns, { [k]: next[k] });
    const out: {
      -readonly [K in keyof UpdateNetworkSettingsRequest]: UpdateNetworkSettingsRequest[K];
    } = {};
    if (approval !== init.deviceApprovalRequired) out.deviceApprovalRequired = approval;
    if (Number(keyExpiryDays) !== init.keyExpiryDays) out.keyExpiryDays = Number(keyExpiryDays);
    if (Number(retention) !== init.auditRetentionDays) out.auditRetentionDays = Number(retention);
    if (Object.keys(dns).length > 0) out.dns = dns;
    return out;
  };

  return (
    <form
      onSubmit={(e) => {
        e.preventDefault();
        const body = changes();
        if (typeof body === 'string') {
          say('error', body);
          return;
        }
        if (Object.keys(body).length === 0) {
          say('ok', 'Nothing changed.');
          return;
        }
        void run(async () => {
          await request(NetworkSettingsView, 'PATCH', '/v1/admin/settings', body);
          props.onSaved();
          return 'Settings saved.';
        });
      }}
    >
      <Section title="Network">
        <dl className="facts">
          <dt>Name</dt>
          <dd>{init.network.name}</dd>
          <dt>Domain</dt>
          <dd className="mono">{init.network.domain}</dd>
        </dl>
      </Section>
      <Section title="Devices">
        <Switch
          label="Require device approval"
          description="New devices wait for an admin's approval before they get peers (pre-approved keys skip it)."
          checked={approval}
          onChange={setApproval}
        />
        <Field
          label="Key expiry (days)"
          hint={`How long a device's key lasts before it must sign in again (1–${MAX_KEY_EXPIRY_DAYS}).`}
        >
          {(id, hint) => (
            <input
              id={id}
              aria-describedby={hint}
              type="number"
              min={1}
              max={MAX_KEY_EXPIRY_DAYS}
              required
              value={keyExpiryDays}
              onChange={(e) => setKeyExpiryDays(e.target.value)}
            />
          )}
        </Field>
      </Section>
      <Section title="DNS">
        <Switch
          label="MagicDNS"
          description={`Devices answer <device>.${init.network.domain} names themselves.`}
          checked={magicDns}
          onChange={setMagicDns}
        />
        <Field
          label="Nameservers"
          hint="One address per line. Empty: devices keep their own resolvers."
        >
          {(id, hint) => (
            <textarea
              id={id}
              aria-describedby={hint}
              rows={3}
              className="code"
              value={nameservers}
              onChange={(e) => setNameservers(e.target.value)}
            />
          )}
        </Field>
        <Field label="Search domains" hint="One domain per line.">
          {(id, hint) => (
            <textarea
              id={id}
              aria-describedby={hint}
              rows={3}
              className="code"
              value={searchDomains}
              onChange={(e) => setSearchDomains(e.target.value)}
            />
          )}
        </Field>
        <Field
          label="Split DNS"
          hint="One domain per line with its nameservers: corp.example.com: 10.0.0.53, 10.0.0.54"
        >
          {(id, hint) => (
            <textarea
              id={id}
              aria-describedby={hint}
              rows={3}
              className="code"
              value={splitDns}
              onChange={(e) => setSplitDns(e.target.value)}
            />
          )}
        </Field>
        <Field
          label="Extra records"
          hint="Answered by MagicDNS. One per line: nas.corp.example.com A 192.168.1.10 (A, AAAA, CNAME or TXT)."
        >
          {(id, hint) => (
            <textarea
              id={id}
              aria-describedby={hint}
              rows={4}
              className="code"
              value={records}
              onChange={(e) => setRecords(e.target.value)}
            />
          )}
        </Field>
      </Section>
      <Section title="Audit log">
        <Field
          label="Keep entries for (days)"
          hint={`0 keeps them forever (at most ${MAX_AUDIT_RETENTION_DAYS}).`}
        >
          {(id, hint) => (
            <input
              id={id}
              aria-describedby={hint}
              type="number"
              min={0}
              max={MAX_AUDIT_RETENTION_DAYS}
              required
              value={retention}
              onChange={(e) => setRetention(e.target.value)}
            />
          )}
        </Field>
      </Section>
      <div className="form-actions">
        <button type="submit" className="primary" disabled={busy}>
          Save settings
        </button>
      </div>
    </form>
  );
}
