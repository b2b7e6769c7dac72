/**
 * Keys: pre-auth keys (register servers and containers without a browser) and admin API keys
 * (automation). New keys' secrets are shown once, at creation; lists show only their prefixes.
 */
import { useCallback, useState } from 'react';
import {
  AdminUser,
  ApiKeyInfo,
  CreateApiKeyResponse,
  CreatePreauthKeyResponse,
  PreauthKeyInfo,
} from '../../../shared/schema/control/admin.js';
import { useSession } from '../session.js';
import { Empty, listAll, request } from '../api.js';
import {
  Badge,
  Field,
  LoadStatus,
  PageHeader,
  SecretOnce,
  Section,
} from '../components/controls.js';
import { Dialog, useConfirm } from '../components/Dialog.js';
import { Said, useAction } from '../components/notices.js';
import { useLoad } from '../components/useLoad.js';
import { useNow } from '../components/useNow.js';
import { dateTime, parseTags, relativeTime } from '../format.js';

const HOUR = 3_600;
const DAY = 24 * HOUR;
const PREAUTH_EXPIRIES: ReadonlyArray<[number, string]> = [
  [HOUR, '1 hour'],
  [DAY, '1 day'],
  [7 * DAY, '7 days'],
  [30 * DAY, '30 days'],
  [90 * DAY, '90 days'],
  [365 * DAY, '1 year'],
];
/** 0: never expires. */
const API_KEY_EXPIRIES: ReadonlyArray<[number, string]> = [
  [0, 'Never'],
  [30 * DAY, '30 days'],
  [90 * DAY, '90 days'],
  [365 * DAY, '1 year'],
];

function preauthStatus(k: PreauthKeyInfo, now: number) {
  if (k.revoked) return <Badge tone="muted">Revoked</Badge>;
  if (Date.parse(k.expiresAt) <= now) return <Badge tone="muted">Expired</Badge>;
  if (!k.reusable && k.usedCount > 0) return <Badge tone="muted">Used</Badge>;
  return <Badge tone="ok">Active</Badge>;
}

function apiKeyStatus(k: ApiKeyInfo, now: number) {
  if (k.revoked) return <Badge tone="muted">Revoked</Badge>;
  if (k.expiresAt && Date.parse(k.expiresAt) <= now) return <Badge tone="muted">Expired</Badge>;
  return <Badge tone="ok">Active</Badge>;
}

export function Keys() {
  return (
    <>
      <PageHeader
        title="Keys"
        description="Pre-auth keys sign devices in without a browser; API keys let scripts use the admin API."
      />
      <PreauthKeys />
      <ApiKeys />
    </>
  );
}

function PreauthKeys() {
  const load = useCallback(() => listAll(PreauthKeyInfo, '/v1/admin/preauth-keys'), []);
  const keys = useLoad(load);
  const [creating, setCreating] = useState(false);
  const { busy, run } = useAction();
  const confirm = useConfirm();
  const now = useNow();
  return (
    <Section
      title="Pre-auth keys"
      actions={
        <button type="button" className="primary" onClick={() => setCreating(true)}>
          Create pre-auth key
        </button>
      }
    >
      <LoadStatus
        loading={keys.loading}
        error={keys.error}
        onRetry={keys.reload}
        hasData={keys.data !== null}
      />
      {keys.data && keys.data.items.length === 0 && <p className="empty">No pre-auth keys yet.</p>}
      {keys.data && keys.data.items.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Pre-auth keys</caption>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Options</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Used</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.items.map((k) => (
                <tr key={k.id} data-key={k.prefix}>
                  <th scope="row">
                    <span className="mono">{k.prefix}…</span>
                    {k.description && <span className="muted small block">{k.description}</span>}
                  </th>
                  <td>
                    {k.reusable && <Badge tone="info">reusable</Badge>}
                    {k.ephemeral && <Badge tone="info">ephemeral</Badge>}
                    {k.preapproved && <Badge tone="info">pre-approved</Badge>}
                    {k.tags.map((t) => (
                      <Badge key={t} tone="info">
                        {t}
                      </Badge>
                    ))}
                  </td>
                  <td title={dateTime(k.createdAt)}>{relativeTime(k.createdAt, now)}</td>
                  <td title={dateTime(k.expiresAt)}>{relativeTime(k.expiresAt, now)}</td>
                  <td>{k.usedCount}</td>
                  <td>{preauthStatus(k, now)}</td>
                  <td className="actions">
                    {!k.revoked && (
                      <button
                        type="button"
                        className="danger"
                        disabled={busy}
                        aria-label={`Revoke pre-auth key ${k.prefix}`}
                        onClick={async () => {
                          const yes = await confirm({
                            title: `Revoke ${k.prefix}…?`,
                            body: 'It can no longer register devices. Devices it already registered stay.',
                            action: 'Revoke key',
                            danger: true,
                          });
                          if (yes)
                            await run(async () => {
                              await request(
                                Empty,
                                'DELETE',
                                `/v1/admin/preauth-keys/${encodeURIComponent(k.id)}`,
                              );
                              keys.reload();
                              return `Revoked ${k.prefix}….`;
                            });
                        }}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {creating && (
        <CreatePreauthKeyDialog onClose={() => setCreating(false)} onCreated={keys.reload} />
      )}
    </Section>
  );
}

function CreatePreauthKeyDialog(props: {
  readonly onClose: () => void;
  readonly onCreated: () => void;
}) {
  const me = useSession().user;
  const loadUsers = useCallback(() => listAll(AdminUser, '/v1/admin/users'), []);
  const users = useLoad(loadUsers);
  const [description, setDescription] = useState('');
  const [reusable, setReusable] = useState(false);
  const [ephemeral, setEphemeral] = useState(false);
  const [preapproved, setPreapproved] = useState(false);
  const [tags, setTags] = useState('');
  const [user, setUser] = useState(me.id);
  const [expiresIn, setExpiresIn] = useState(DAY);
  const [created, setCreated] = useState<CreatePreauthKeyResponse | null>(null);
  const { busy, run, said } = useAction({ inline: true });
  const tagged = parseTags(tags).length > 0;
  const { onClose, onCreated } = props;

  if (created)
    return (
      <Dialog title="Pre-auth key created" onClose={onClose}>
        <SecretOnce label="Pre-auth key" secret={created.secret} />
        <p className="muted small">
          Sign a device in with <code>trellis up --auth-key &lt;key&gt;</code>.
        </p>
        <div className="dialog-actions">
          <button type="button" className="primary" onClick={onClose}>
            Done
          </button>
        </div>
      </Dialog>
    );

  return (
    <Dialog title="Create a pre-auth key" onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run(async () => {
            const r = await request(CreatePreauthKeyResponse, 'POST', '/v1/admin/preauth-keys', {
              description: description.trim(),
              reusable,
              ephemeral,
              preapproved,
              tags: parseTags(tags),
              expiresIn,
              ...(tagged ? {} : { user }),
            });
            setCreated(r);
            onCreated();
            return null;
          });
        }}
      >
        <Field label="Description" hint="What it is for, e.g. “CI runners”.">
          {(id, hint) => (
            <input
              id={id}
              aria-describedby={hint}
              value={description}
              maxLength={128}
              onChange={(e) => setDescription(e.target.value)}
            />
          )}
        </Field>
        <fieldset>
          <legend>Options</legend>
          <label className="check">
            <input
              type="checkbox"
              checked={reusable}
              onChange={(e) => setReusable(e.target.checked)}
            />{' '}
            Reusable
            <span className="muted small"> — registers any number of devices, not just one</span>
          </label>
          <label className="check">
            <input
              type="checkbox"
              checked={ephemeral}
              onChange={(e) => setEphemeral(e.target.checked)}
            />{' '}
            Ephemeral
            <span className="muted small"> — its devices are removed once offline</span>
          </label>
          <label className="check">
            <input
              type="checkbox"
              checked={preapproved}
              onChange={(e) => setPreapproved(e.target.checked)}
            />{' '}
            Pre-approved
            <span className="muted small"> — its devices skip device approval</span>
          </label>
        </fieldset>
        <Field
          label="Tags"
          hint="Comma-separated. Tagged devices belong to their tags, not to a user."
        >
          {(id, hint) => (
            <input
              id={id}
              aria-describedby={hint}
              value={tags}
              onChange={(e) => setTags(e.target.value)}
            />
          )}
        </Field>
        <Field label="Devices belong to">
          {(id) => (
            <select
              id={id}
              value={user}
              disabled={tagged}
              onChange={(e) => setUser(e.target.value)}
            >
              {(users.data?.items ?? [{ id: me.id, email: me.email, name: me.name }]).map((u) => (
                <option key={u.id} value={u.id}>
                  {u.email ?? u.name}
                  {u.id === me.id ? ' (you)' : ''}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Expires after">
          {(id) => (
            <select
              id={id}
              value={expiresIn}
              onChange={(e) => setExpiresIn(Number(e.target.value))}
            >
              {PREAUTH_EXPIRIES.map(([s, text]) => (
                <option key={s} value={s}>
                  {text}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Said said={said} />
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy}>
            Create key
          </button>
        </div>
      </form>
    </Dialog>
  );
}

function ApiKeys() {
  const load = useCallback(() => listAll(ApiKeyInfo, '/v1/admin/api-keys'), []);
  const keys = useLoad(load);
  const [creating, setCreating] = useState(false);
  const { busy, run } = useAction();
  const confirm = useConfirm();
  const now = useNow();
  return (
    <Section
      title="API keys"
      actions={
        <button type="button" className="primary" onClick={() => setCreating(true)}>
          Create API key
        </button>
      }
    >
      <LoadStatus
        loading={keys.loading}
        error={keys.error}
        onRetry={keys.reload}
        hasData={keys.data !== null}
      />
      {keys.data && keys.data.items.length === 0 && <p className="empty">No API keys yet.</p>}
      {keys.data && keys.data.items.length > 0 && (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">API keys</caption>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Last used</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.items.map((k) => (
                <tr key={k.id} data-key={k.prefix}>
                  <th scope="row">
                    <span className="mono">{k.prefix}…</span>
                    {k.description && <span className="muted small block">{k.description}</span>}
                  </th>
                  <td title={dateTime(k.createdAt)}>{relativeTime(k.createdAt, now)}</td>
                  <td>{k.expiresAt ? relativeTime(k.expiresAt, now) : 'never'}</td>
                  <td>
                    {k.lastUsedAt ? (
                      relativeTime(k.lastUsedAt, now)
                    ) : (
                      <span className="muted">never</span>
                    )}
                  </td>
                  <td>{apiKeyStatus(k, now)}</td>
                  <td className="actions">
                    {!k.revoked && (
                      <button
                        type="button"
                        className="danger"
                        disabled={busy}
                        aria-label={`Revoke API key ${k.prefix}`}
                        onClick={async () => {
                          const yes = await confirm({
                            title: `Revoke ${k.prefix}…?`,
                            body: 'Scripts using it are refused from now on.',
                            action: 'Revoke key',
                            danger: true,
                          });
                          if (yes)
                            await run(async () => {
                              await request(
                                Empty,
                                'DELETE',
                                `/v1/admin/api-keys/${encodeURIComponent(k.id)}`,
                              );
                              keys.reload();
                              return `Revoked ${k.prefix}….`;
                            });
                        }}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {creating && (
        <CreateApiKeyDialog onClose={() => setCreating(false)} onCreated={keys.reload} />
      )}
    </Section>
  );
}

function CreateApiKeyDialog(props: {
  readonly onClose: () => void;
  readonly onCreated: () => void;
}) {
  const [description, setDescription] = useState('');
  const [expiresIn, setExpiresIn] = useState(90 * DAY);
  const [created, setCreated] = useState<CreateApiKeyResponse | null>(null);
  const { busy, run, said } = useAction({ inline: true });
  const { onClose, onCreated } = props;
  if (created)
    return (
      <Dialog title="API key created" onClose={onClose}>
        <SecretOnce label="API key" secret={created.secret} />
        <p className="muted small">
          Send it as <code>Authorization: Bearer &lt;key&gt;</code>, or set{' '}
          <code>TRELLIS_API_KEY</code> for <code>trellis-control --server</code>.
        </p>
        <div className="dialog-actions">
          <button type="button" className="primary" onClick={onClose}>
            Done
          </button>
        </div>
      </Dialog>
    );
  return (
    <Dialog title="Create an API key" onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run(async () => {
            const r = await request(CreateApiKeyResponse, 'POST', '/v1/admin/api-keys', {
              description: description.trim(),
              ...(expiresIn > 0 ? { expiresIn } : {}),
            });
            setCreated(r);
            onCreated();
            return null;
          });
        }}
      >
        <p className="muted">
          An API key acts as an admin of the network. Give each script its own.
        </p>
        <Field label="Description">
          {(id) => (
            <input
              id={id}
              value={description}
              maxLength={128}
              onChange={(e) => setDescription(e.target.value)}
            />
          )}
        </Field>
        <Field label="Expires after">
          {(id) => (
            <select
              id={id}
              value={expiresIn}
              onChange={(e) => setExpiresIn(Number(e.target.value))}
            >
              {API_KEY_EXPIRIES.map(([s, text]) => (
                <option key={s} value={s}>
                  {text}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Said said={said} />
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy}>
            Create key
          </button>
        </div>
      </form>
    </Dialog>
  );
}
