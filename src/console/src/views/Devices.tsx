/**
 * Devices: every device of the network with search and a status filter; approve waiting
 * devices from the list, and rename, tag, approve or unapprove, switch key expiry, expire the
 * key or delete from a device's dialog.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { AdminDevice, type UpdateDeviceRequest } from '../../../shared/schema/control/admin.js';
import { Empty, listAll, request } from '../api.js';
import { Badge, LoadStatus, PageHeader, Switch, Table } from '../components/controls.js';
import { ConfirmButton, Dialog } from '../components/Dialog.js';
import { Form, Options, SelectField, SubmitButton, TextField } from '../components/forms.js';
import { Said, useAction, useSay } from '../components/notices.js';
import { useLoad } from '../components/useLoad.js';
import { dateTime, keyExpiryState, ownerText, parseTags, relativeTime } from '../format.js';

/** Online state and last-seen times move on their own: refresh the list this often. */
const REFRESH_MS = 30_000;

type StatusFilter = 'all' | 'pending' | 'online' | 'offline' | 'expired';
const FILTERS: ReadonlyArray<[StatusFilter, string]> = [
  ['all', 'All devices'],
  ['pending', 'Needs approval'],
  ['online', 'Online'],
  ['offline', 'Offline'],
  ['expired', 'Key expired'],
];

const devicePath = (id: string) => `/v1/admin/devices/${encodeURIComponent(id)}`;
const updateDevice = (id: string, body: UpdateDeviceRequest) =>
  request(AdminDevice, 'PATCH', devicePath(id), body);

function matches(d: AdminDevice, q: string, f: StatusFilter, now: number): boolean {
  if (f === 'pending' && d.approved) return false;
  if (f === 'online' && !d.online) return false;
  if (f === 'offline' && d.online) return false;
  if (f === 'expired' && keyExpiryState(d, now).state !== 'expired') return false;
  if (!q) return true;
  const hay = [
    d.name,
    d.fqdn,
    d.hostname,
    d.addresses.ipv4,
    d.addresses.ipv6,
    d.os,
    d.osVersion,
    ownerText(d.owner),
  ]
    .join(' ')
    .toLowerCase();
  return q
    .toLowerCase()
    .split(/\s+/)
    .every((w) => hay.includes(w));
}

export function Devices() {
  const load = useCallback(() => listAll(AdminDevice, '/v1/admin/devices'), []);
  const devices = useLoad(load);
  const [q, setQ] = useState('');
  const [filter, setFilter] = useState<StatusFilter>('all');
  const [managing, setManaging] = useState<string | null>(null);
  const [now, setNow] = useState(() => Date.now());
  const { busy, run } = useAction();
  const { reload } = devices;

  useEffect(() => {
    const t = setInterval(() => {
      if (document.visibilityState !== 'visible') return;
      setNow(Date.now());
      reload();
    }, REFRESH_MS);
    return () => clearInterval(t);
  }, [reload]);

  const all = useMemo(() => devices.data?.items ?? [], [devices.data]);
  const shown = useMemo(
    () => all.filter((d) => matches(d, q.trim(), filter, now)),
    [all, q, filter, now],
  );
  const pending = all.filter((d) => !d.approved).length;
  const selected = all.find((d) => d.id === managing) ?? null;

  const approve = (d: AdminDevice) =>
    run(async () => {
      await updateDevice(d.id, { approved: true });
      reload();
      return `Approved ${d.name}.`;
    });

  return (
    <>
      <PageHeader
        title="Devices"
        description={`${all.length} device${all.length === 1 ? '' : 's'} in the network${pending ? `, ${pending} waiting for approval` : ''}.`}
        actions={
          <button type="button" onClick={reload} disabled={devices.loading}>
            Refresh
          </button>
        }
      />
      <div className="toolbar" role="search">
        <TextField
          label="Search devices"
          type="search"
          value={q}
          placeholder="Name, address, owner, OS, tag"
          onChange={setQ}
        />
        <SelectField label="Show" value={filter} onChange={(v) => setFilter(v as StatusFilter)}>
          <Options list={FILTERS} />
        </SelectField>
      </div>
      <LoadStatus load={devices} />
      {devices.data?.truncated && (
        <p className="muted">Showing the first {all.length} devices; search to narrow down.</p>
      )}
      {devices.data && (
        <Table
          caption={`Devices (${shown.length} of ${all.length} shown)`}
          columns={['Device', 'Addresses', 'OS', 'Owner', 'Status', 'Key expiry']}
          actions="Actions"
          empty={
            shown.length === 0 &&
            (all.length === 0
              ? 'No devices yet. Sign a device in with the Trellis app or a pre-auth key.'
              : 'No device matches.')
          }
        >
          {shown.map((d) => (
            <tr key={d.id} data-device={d.name}>
              <th scope="row">
                <span className="name">{d.name}</span>
                <span className="muted small block">{d.fqdn}</span>
                {d.ephemeral && <Badge tone="muted">ephemeral</Badge>}
              </th>
              <td className="mono small">
                {d.addresses.ipv4}
                <span className="block muted">{d.addresses.ipv6}</span>
              </td>
              <td>
                {d.os}
                {d.osVersion && <span className="muted small block">{d.osVersion}</span>}
              </td>
              <td>
                {d.owner.type === 'user'
                  ? ownerText(d.owner)
                  : d.owner.tags.map((t) => (
                      <Badge key={t} tone="info">
                        {t}
                      </Badge>
                    ))}
              </td>
              <td>
                {d.approved ? null : <Badge tone="warn">Needs approval</Badge>}
                {d.online ? (
                  <Badge tone="ok">Online</Badge>
                ) : (
                  <span className="muted small">
                    {d.lastSeen ? `Seen ${relativeTime(d.lastSeen, now)}` : 'Never connected'}
                  </span>
                )}
              </td>
              <td>
                <ExpiryCell d={d} now={now} />
              </td>
              <td className="actions">
                {!d.approved && (
                  <button
                    type="button"
                    className="primary"
                    disabled={busy}
                    aria-label={`Approve ${d.name}`}
                    onClick={() => void approve(d)}
                  >
                    Approve
                  </button>
                )}
                <button
                  type="button"
                  aria-label={`Manage ${d.name}`}
                  onClick={() => setManaging(d.id)}
                >
                  Manage
                </button>
              </td>
            </tr>
          ))}
        </Table>
      )}
      {selected && (
        <DeviceDialog
          device={selected}
          now={now}
          onChanged={reload}
          onClose={() => setManaging(null)}
        />
      )}
    </>
  );
}

function ExpiryCell(props: { readonly d: AdminDevice; readonly now: number }) {
  const s = keyExpiryState(props.d, props.now);
  switch (s.state) {
    case 'disabled':
      return <Badge tone="muted">Expiry disabled</Badge>;
    case 'none':
      return <span className="muted">—</span>;
    case 'expired':
      return (
        <span title={dateTime(s.at)}>
          <Badge tone="bad">Expired</Badge>
        </span>
      );
    case 'expires':
      return (
        <span title={dateTime(s.at)} className={s.soon ? 'warn-text' : undefined}>
          {relativeTime(s.at, props.now)}
        </span>
      );
  }
}

function DeviceDialog(props: {
  readonly device: AdminDevice;
  readonly now: number;
  readonly onChanged: () => void;
  readonly onClose: () => void;
}) {
  const d = props.device;
  const [name, setName] = useState(d.name);
  const [tags, setTags] = useState(d.owner.type === 'tagged' ? d.owner.tags.join(', ') : '');
  const { busy, run, said } = useAction({ inline: true });
  const say = useSay();
  const { onChanged, onClose } = props;

  const change = (body: UpdateDeviceRequest, done: string) =>
    run(async () => {
      await updateDevice(d.id, body);
      onChanged();
      return done;
    });

  return (
    <Dialog title={`Device ${d.name}`} onClose={onClose} wide>
      <dl className="facts">
        <dt>Name</dt>
        <dd>{d.fqdn}</dd>
        <dt>Addresses</dt>
        <dd className="mono">
          {d.addresses.ipv4}, {d.addresses.ipv6}
        </dd>
        <dt>Owner</dt>
        <dd>{ownerText(d.owner)}</dd>
        <dt>Host</dt>
        <dd>
          {d.hostname || '—'} · {d.os} {d.osVersion} · Trellis {d.clientVersion || '?'}
        </dd>
        <dt>Added</dt>
        <dd>{dateTime(d.created)}</dd>
        <dt>Key expiry</dt>
        <dd>
          <ExpiryCell d={d} now={props.now} />
        </dd>
        {d.posture.length > 0 && (
          <>
            <dt>Posture</dt>
            <dd>
              <ul className="plain">
                {d.posture.map((p) => (
                  <li key={p.check}>
                    <Badge tone={p.passed ? 'ok' : 'bad'}>{p.passed ? 'pass' : 'fail'}</Badge>{' '}
                    {p.check}
                    {p.reason && <span className="muted small"> — {p.reason}</span>}
                  </li>
                ))}
              </ul>
            </dd>
          </>
        )}
      </dl>

      <Form
        className="inline-form"
        busy={busy}
        onSubmit={() => change({ name: name.trim() }, `Renamed ${d.name} to ${name.trim()}.`)}
      >
        <TextField
          label="Device name"
          hint="Its MagicDNS name: lowercase letters, digits and dashes."
          value={name}
          required
          maxLength={63}
          pattern="[a-z0-9]([a-z0-9\-]*[a-z0-9])?"
          onChange={(v) => setName(v.toLowerCase())}
        />
        <SubmitButton disabled={name.trim() === d.name}>Rename</SubmitButton>
      </Form>

      <Form
        className="inline-form"
        busy={busy}
        onSubmit={() => {
          const next = parseTags(tags);
          return change(
            { tags: next },
            next.length
              ? `Tagged ${d.name}: ${next.join(', ')}.`
              : `Removed the tags of ${d.name}.`,
          );
        }}
      >
        <TextField
          label="Tags"
          hint="Comma-separated, e.g. tag:server, db. A tagged device no longer belongs to a user."
          value={tags}
          onChange={setTags}
        />
        <SubmitButton>Save tags</SubmitButton>
      </Form>

      <Switch
        label="Approved"
        description="Only approved devices get peers and can be reached."
        checked={d.approved}
        disabled={busy}
        onChange={(approved) =>
          void change(
            { approved },
            approved ? `Approved ${d.name}.` : `Revoked the approval of ${d.name}.`,
          )
        }
      />
      <Switch
        label="Key expiry"
        description="When on, the device must sign in again when its key expires."
        checked={!d.keyExpiryDisabled}
        disabled={busy}
        onChange={(on) =>
          void change(
            { keyExpiryDisabled: !on },
            on ? `Key expiry enabled for ${d.name}.` : `Key expiry disabled for ${d.name}.`,
          )
        }
      />

      <Said said={said} />
      <div className="dialog-actions split">
        <div>
          <ConfirmButton
            disabled={busy}
            confirm={{
              title: `Expire the key of ${d.name}?`,
              body: 'The device is disconnected and must sign in again to rejoin the network.',
              action: 'Expire key',
              danger: true,
            }}
            onConfirmed={() =>
              run(async () => {
                await request(AdminDevice, 'POST', `${devicePath(d.id)}/expire`);
                onChanged();
                return `The key of ${d.name} expired.`;
              })
            }
          >
            Expire key
          </ConfirmButton>{' '}
          <ConfirmButton
            className="danger"
            disabled={busy}
            confirm={{
              title: `Delete ${d.name}?`,
              body: 'The device leaves the network at once. To come back it must be signed in again.',
              action: 'Delete device',
              danger: true,
            }}
            onConfirmed={async () => {
              const ok = await run(async () => {
                await request(Empty, 'DELETE', devicePath(d.id));
                onChanged();
                return null;
              });
              if (ok) {
                onClose();
                say('ok', `Deleted ${d.name}.`);
              }
            }}
          >
            Delete device
          </ConfirmButton>
        </div>
        <button type="button" onClick={onClose}>
          Close
        </button>
      </div>
    </Dialog>
  );
}
