/**
 * DNS and network settings: what `GET/PATCH /v1/admin/settings` offers. Saving sends only the
 * fields that changed, so the audit log records exactly what the admin changed; DNS changes
 * reach connected devices at once. A line that does not parse is shown at its field.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ComponentProps } from 'react';
import {
  MAX_AUDIT_RETENTION_DAYS,
  MAX_KEY_EXPIRY_DAYS,
  NetworkSettingsView,
  type DnsSettings,
  type UpdateNetworkSettingsRequest,
} from '../../../shared/schema/control/admin.js';
import { err, ok, type Result } from '../../../shared/result.js';
import { request } from '../api.js';
import { LoadStatus, PageHeader, Section, Switch } from '../components/controls.js';
import { Form, SubmitButton, TextAreaField, TextField } from '../components/forms.js';
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
      <LoadStatus load={settings} />
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

/** A text field whose lines did not parse, and what is wrong. */
interface Invalid {
  readonly field: 'splitDns' | 'records';
  readonly message: string;
}

/** A list edited as text, one entry per line. */
function LinesField(props: ComponentProps<typeof TextAreaField>) {
  return <TextAreaField rows={3} className="code" {...props} />;
}

/** A whole number of days between `min` and `max`. */
function DaysField(props: ComponentProps<typeof TextField>) {
  return <TextField type="number" required {...props} />;
}

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
  const [invalid, setInvalid] = useState<Invalid | null>(null);
  const splitDnsField = useRef<HTMLTextAreaElement>(null);
  const recordsField = useRef<HTMLTextAreaElement>(null);
  const { busy, run } = useAction();
  const say = useSay();

  // Focus the field that did not parse once its error is on screen, so both are read together.
  useEffect(() => {
    if (invalid) (invalid.field === 'splitDns' ? splitDnsField : recordsField).current?.focus();
  }, [invalid]);
  const errorOf = (field: Invalid['field']) => (invalid?.field === field ? invalid.message : null);

  const changes = (): Result<UpdateNetworkSettingsRequest, Invalid> => {
    const split = parseSplitDns(splitDns);
    if (!split.ok) return err({ field: 'splitDns', message: split.error });
    const extra = parseRecords(records);
    if (!extra.ok) return err({ field: 'records', message: extra.error });
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
    return ok(out);
  };

  const save = async () => {
    const body = changes();
    setInvalid(body.ok ? null : body.error);
    if (!body.ok) return;
    if (Object.keys(body.value).length === 0) {
      say('ok', 'Nothing changed.');
      return;
    }
    await run(async () => {
      await request(NetworkSettingsView, 'PATCH', '/v1/admin/settings', body.value);
      props.onSaved();
      return 'Settings saved.';
    });
  };

  return (
    <Form busy={busy} onSubmit={save}>
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
        <DaysField
          label="Key expiry (days)"
          hint={`How long a device's key lasts before it must sign in again (1–${MAX_KEY_EXPIRY_DAYS}).`}
          min={1}
          max={MAX_KEY_EXPIRY_DAYS}
          value={keyExpiryDays}
          onChange={setKeyExpiryDays}
        />
      </Section>
      <Section title="DNS">
        <Switch
          label="MagicDNS"
          description={`Devices answer <device>.${init.network.domain} names themselves.`}
          checked={magicDns}
          onChange={setMagicDns}
        />
        <LinesField
          label="Nameservers"
          hint="One address per line. Empty: devices keep their own resolvers."
          value={nameservers}
          onChange={setNameservers}
        />
        <LinesField
          label="Search domains"
          hint="One domain per line."
          value={searchDomains}
          onChange={setSearchDomains}
        />
        <LinesField
          label="Split DNS"
          hint="One domain per line with its nameservers: corp.example.com: 10.0.0.53, 10.0.0.54"
          ref={splitDnsField}
          error={errorOf('splitDns')}
          value={splitDns}
          onChange={setSplitDns}
        />
        <LinesField
          label="Extra records"
          hint="Answered by MagicDNS. One per line: nas.corp.example.com A 192.168.1.10 (A, AAAA, CNAME or TXT)."
          rows={4}
          ref={recordsField}
          error={errorOf('records')}
          value={records}
          onChange={setRecords}
        />
      </Section>
      <Section title="Audit log">
        <DaysField
          label="Keep entries for (days)"
          hint={`0 keeps them forever (at most ${MAX_AUDIT_RETENTION_DAYS}).`}
          min={0}
          max={MAX_AUDIT_RETENTION_DAYS}
          value={retention}
          onChange={setRetention}
        />
      </Section>
      <div className="form-actions">
        <SubmitButton primary>Save settings</SubmitButton>
      </div>
    </Form>
  );
}
