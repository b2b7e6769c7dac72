/**
 * Audit log: every sign-in, device and admin change, newest first, filtered by time, actor and
 * type of event, a page at a time.
 */
import { useCallback, useMemo, useState } from 'react';
import { AdminUser, AuditLog, type AuditEvent } from '../../../shared/schema/control/admin.js';
import { listAll, query, request } from '../api.js';
import { LoadStatus, PageHeader, Table } from '../components/controls.js';
import { Field, Form, SelectField, SubmitButton, TextField } from '../components/forms.js';
import { useLoad } from '../components/useLoad.js';
import { actorText, auditValue, dateTime } from '../format.js';

/** Entries per page: a screenful or two. */
const PAGE_SIZE = 50;

/** Event types control writes, offered as suggestions (any other type can be typed). */
const KNOWN_ACTIONS = [
  'login.succeeded',
  'login.failed',
  'login.denied',
  'session.revoked',
  'session.revoked_all',
  'user.created',
  'user.deleted',
  'user.disabled',
  'user.enabled',
  'user.renamed',
  'user.role_changed',
  'user.password_set',
  'device.added',
  'device.approved',
  'device.unapproved',
  'device.renamed',
  'device.tags_set',
  'device.deleted',
  'device.key_expired',
  'device.key_expiry_disabled',
  'device.key_expiry_enabled',
  'device.key_rotated',
  'device.reauthenticated',
  'device.logged_out',
  'route.approved',
  'route.unapproved',
  'preauth_key.created',
  'preauth_key.revoked',
  'api_key.created',
  'api_key.revoked',
  'policy.updated',
  'policy.rolled_back',
  'network.settings_updated',
  'audit.pruned',
];

interface Filters {
  readonly since: string;
  readonly until: string;
  readonly actor: string;
  readonly action: string;
}
const NO_FILTERS: Filters = { since: '', until: '', actor: '', action: '' };

/** A datetime-local value (the browser's local time) as an ISO instant; '' stays ''. */
const isoOf = (local: string): string => {
  if (!local) return '';
  const t = new Date(local);
  return Number.isNaN(t.getTime()) ? '' : t.toISOString();
};

export function Audit() {
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  /** Cursors of the pages before the current one; the last is the current page's. */
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);

  const load = useCallback(
    () =>
      request(
        AuditLog,
        'GET',
        `/v1/admin/audit${query({
          since: isoOf(filters.since),
          until: isoOf(filters.until),
          actor: filters.actor,
          action: filters.action.trim(),
          limit: PAGE_SIZE,
          cursor,
        })}`,
      ),
    [filters, cursor],
  );
  const log = useLoad(load);
  const loadUsers = useCallback(() => listAll(AdminUser, '/v1/admin/users'), []);
  const users = useLoad(loadUsers);

  const apply = (f: Filters) => {
    setFilters(f);
    setCursors([]);
  };
  const set = (k: keyof Filters) => (v: string) => setDraft((d) => ({ ...d, [k]: v }));

  return (
    <>
      <PageHeader
        title="Audit log"
        description="Sign-ins, device changes and admin actions, newest first."
        actions={
          <button type="button" onClick={log.reload} disabled={log.loading}>
            Refresh
          </button>
        }
      />
      <Form
        className="toolbar filters"
        aria-label="Filter the audit log"
        onSubmit={() => apply(draft)}
      >
        <TextField label="From" type="datetime-local" value={draft.since} onChange={set('since')} />
        <TextField
          label="Until"
          type="datetime-local"
          value={draft.until}
          onChange={set('until')}
        />
        <SelectField label="Actor" value={draft.actor} onChange={set('actor')}>
          <option value="">Anyone</option>
          <option value="user">Any user</option>
          {(users.data?.items ?? []).map((u) => (
            <option key={u.id} value={`user:${u.id}`}>
              {u.email ?? u.name}
            </option>
          ))}
          <option value="api-key">API keys</option>
          <option value="device">Devices</option>
          <option value="system">System</option>
        </SelectField>
        <Field label="Event type">
          {(c) => (
            <>
              <input
                {...c}
                list={`${c.id}-types`}
                value={draft.action}
                placeholder="any, e.g. device.approved"
                pattern="[a-z0-9][a-z0-9._\-]*"
                onChange={(e) => set('action')(e.target.value.toLowerCase())}
              />
              <datalist id={`${c.id}-types`}>
                {KNOWN_ACTIONS.map((a) => (
                  <option key={a} value={a} />
                ))}
              </datalist>
            </>
          )}
        </Field>
        <div className="filter-actions">
          <SubmitButton primary>Apply filters</SubmitButton>
          <button
            type="button"
            onClick={() => {
              setDraft(NO_FILTERS);
              apply(NO_FILTERS);
            }}
          >
            Clear
          </button>
        </div>
      </Form>
      <LoadStatus load={log} />
      {log.data && (
        <>
          <Table
            className="audit"
            caption="Audit events, newest first"
            columns={['Time', 'Actor', 'Event', 'Target', 'Changes']}
            empty={log.data.items.length === 0 && 'No events match.'}
          >
            {log.data.items.map((e) => (
              <AuditRow key={e.id} e={e} />
            ))}
          </Table>
          <nav className="pager" aria-label="Audit log pages">
            <button
              type="button"
              disabled={cursors.length === 0}
              onClick={() => setCursors((c) => c.slice(0, -1))}
            >
              Newer
            </button>
            <span className="muted">Page {cursors.length + 1}</span>
            <button
              type="button"
              disabled={log.data.nextCursor === null}
              onClick={() => {
                const next = log.data?.nextCursor;
                if (next) setCursors((c) => [...c, next]);
              }}
            >
              Older
            </button>
          </nav>
        </>
      )}
    </>
  );
}

/** Values longer than this (a policy's text diff) fold away behind a disclosure. */
const LONG_VALUE = 160;

function AuditChange(props: {
  readonly old: string | number | boolean | null;
  readonly new: string | number | boolean | null;
}) {
  const from = props.old === null ? null : auditValue(props.old);
  const to = auditValue(props.new);
  if ((from?.length ?? 0) + to.length > LONG_VALUE)
    return (
      <details>
        <summary>show</summary>
        {from !== null && <del className="long">{from}</del>}
        <ins className="long">{to}</ins>
      </details>
    );
  return (
    <>
      {from !== null && (
        <>
          <del>{from}</del> →{' '}
        </>
      )}
      <ins>{to}</ins>
    </>
  );
}

function AuditRow(props: { readonly e: AuditEvent }) {
  const e = props.e;
  const diff = useMemo(() => e.diff.filter((d) => d.field !== ''), [e.diff]);
  return (
    <tr data-action={e.action}>
      <td className="nowrap">{dateTime(e.time)}</td>
      <td>{actorText(e.actor)}</td>
      <td className="mono">{e.action}</td>
      <td className="small">{e.target ? `${e.target.type} ${e.target.id}` : '—'}</td>
      <td className="small">
        {diff.length > 0 && (
          <ul className="plain diff">
            {diff.map((d) => (
              <li key={d.field}>
                <span className="field">{d.field}</span>: <AuditChange old={d.old} new={d.new} />
              </li>
            ))}
          </ul>
        )}
      </td>
    </tr>
  );
}
