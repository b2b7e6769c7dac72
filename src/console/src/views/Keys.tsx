/**
 * Keys: pre-auth keys (register servers and containers without a browser) and admin API keys
 * (automation). New keys' secrets are shown once, at creation; lists show only their prefixes.
 */
import { useCallback, useState } from 'react';
import type { ReactNode } from 'react';
import type * as z from 'zod';
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
  LoadStatus,
  PageHeader,
  SecretOnce,
  Section,
  Table,
} from '../components/controls.js';
import { ConfirmButton, Dialog } from '../components/Dialog.js';
import { CheckField, FormDialog, Options, SelectField, TextField } from '../components/forms.js';
import { useAction } from '../components/notices.js';
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
      <KeyList
        title="Pre-auth keys"
        noun="pre-auth key"
        path="/v1/admin/preauth-keys"
        item={PreauthKeyInfo}
        columns={['Options', 'Created', 'Expires', 'Used', 'Status']}
        cells={(k, now) => (
          <>
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
          </>
        )}
        revoking="It can no longer register devices. Devices it already registered stay."
        create={(done) => <CreatePreauthKeyDialog {...done} />}
      />
      <KeyList
        title="API keys"
        noun="API key"
        path="/v1/admin/api-keys"
        item={ApiKeyInfo}
        columns={['Created', 'Expires', 'Last used', 'Status']}
        cells={(k, now) => (
          <>
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
          </>
        )}
        revoking="Scripts using it are refused from now on."
        create={(done) => <CreateApiKeyDialog {...done} />}
      />
    </>
  );
}

interface ListedKey {
  readonly id: string;
  readonly prefix: string;
  readonly description: string;
  readonly revoked: boolean;
}

interface CreateDone {
  readonly onClose: () => void;
  readonly onCreated: () => void;
}

/** One kind of key: its list with a revoke button per key, and its create dialog. */
function KeyList<K extends ListedKey>(props: {
  readonly title: string;
  /** "pre-auth key", for the buttons' texts and names. */
  readonly noun: string;
  /** The admin API collection: listed with GET, a key revoked with DELETE on its id. */
  readonly path: string;
  readonly item: z.ZodType<K>;
  /** The columns between the key and the row's buttons, and their cells. */
  readonly columns: readonly string[];
  readonly cells: (k: K, now: number) => ReactNode;
  /** What revoking means, asked before it happens. */
  readonly revoking: string;
  readonly create: (done: CreateDone) => ReactNode;
}) {
  const { item, path, noun } = props;
  const load = useCallback(() => listAll(item, path), [item, path]);
  const keys = useLoad(load);
  const [creating, setCreating] = useState(false);
  const { busy, run } = useAction();
  const now = useNow();
  return (
    <Section
      title={props.title}
      actions={
        <button type="button" className="primary" onClick={() => setCreating(true)}>
          {`Create ${noun}`}
        </button>
      }
    >
      <LoadStatus load={keys} />
      {keys.data && keys.data.items.length === 0 && <p className="empty">{`No ${noun}s yet.`}</p>}
      {keys.data && keys.data.items.length > 0 && (
        <Table caption={props.title} columns={['Key', ...props.columns]} actions="Actions">
          {keys.data.items.map((k) => (
            <tr key={k.id} data-key={k.prefix}>
              <th scope="row">
                <span className="mono">{k.prefix}…</span>
                {k.description && <span className="muted small block">{k.description}</span>}
              </th>
              {props.cells(k, now)}
              <td className="actions">
                {!k.revoked && (
                  <ConfirmButton
                    className="danger"
                    disabled={busy}
                    aria-label={`Revoke ${noun} ${k.prefix}`}
                    confirm={{
                      title: `Revoke ${k.prefix}…?`,
                      body: props.revoking,
                      action: 'Revoke key',
                      danger: true,
                    }}
                    onConfirmed={() =>
                      run(async () => {
                        await request(Empty, 'DELETE', `${path}/${encodeURIComponent(k.id)}`);
                        keys.reload();
                        return `Revoked ${k.prefix}….`;
                      })
                    }
                  >
                    Revoke
                  </ConfirmButton>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
      {creating && props.create({ onClose: () => setCreating(false), onCreated: keys.reload })}
    </Section>
  );
}

/**
 * Creating a key: its form (the children) in a dialog, then the new secret, shown this once,
 * with how to use it.
 */
function CreateKeyDialog(
  props: {
    readonly title: string;
    /** "Pre-auth key": names the secret, and the dialog that shows it. */
    readonly secretName: string;
    readonly usage: ReactNode;
    readonly create: () => Promise<{ secret: string }>;
    readonly children: ReactNode;
  } & CreateDone,
) {
  const [secret, setSecret] = useState<string | null>(null);
  const { onClose, onCreated, create } = props;
  if (secret !== null)
    return (
      <Dialog title={`${props.secretName} created`} onClose={onClose}>
        <SecretOnce label={props.secretName} secret={secret} />
        <p className="muted small">{props.usage}</p>
        <div className="dialog-actions">
          <button type="button" className="primary" onClick={onClose}>
            Done
          </button>
        </div>
      </Dialog>
    );
  return (
    <FormDialog
      title={props.title}
      submit="Create key"
      onClose={onClose}
      onSubmit={async () => {
        setSecret((await create()).secret);
        onCreated();
        return null;
      }}
    >
      {props.children}
    </FormDialog>
  );
}

function CreatePreauthKeyDialog(props: CreateDone) {
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
  const tagged = parseTags(tags).length > 0;

  return (
    <CreateKeyDialog
      title="Create a pre-auth key"
      secretName="Pre-auth key"
      usage={
        <>
          Sign a device in with <code>trellis up --auth-key &lt;key&gt;</code>.
        </>
      }
      {...props}
      create={() =>
        request(CreatePreauthKeyResponse, 'POST', '/v1/admin/preauth-keys', {
          description: description.trim(),
          reusable,
          ephemeral,
          preapproved,
          tags: parseTags(tags),
          expiresIn,
          ...(tagged ? {} : { user }),
        })
      }
    >
      <TextField
        label="Description"
        hint="What it is for, e.g. “CI runners”."
        value={description}
        maxLength={128}
        onChange={setDescription}
      />
      <fieldset>
        <legend>Options</legend>
        <CheckField
          label="Reusable"
          note="registers any number of devices, not just one"
          checked={reusable}
          onChange={setReusable}
        />
        <CheckField
          label="Ephemeral"
          note="its devices are removed once offline"
          checked={ephemeral}
          onChange={setEphemeral}
        />
        <CheckField
          label="Pre-approved"
          note="its devices skip device approval"
          checked={preapproved}
          onChange={setPreapproved}
        />
      </fieldset>
      <TextField
        label="Tags"
        hint="Comma-separated. Tagged devices belong to their tags, not to a user."
        value={tags}
        onChange={setTags}
      />
      <SelectField label="Devices belong to" value={user} disabled={tagged} onChange={setUser}>
        {(users.data?.items ?? [{ id: me.id, email: me.email, name: me.name }]).map((u) => (
          <option key={u.id} value={u.id}>
            {u.email ?? u.name}
            {u.id === me.id ? ' (you)' : ''}
          </option>
        ))}
      </SelectField>
      <ExpiresField choices={PREAUTH_EXPIRIES} value={expiresIn} onChange={setExpiresIn} />
    </CreateKeyDialog>
  );
}

function CreateApiKeyDialog(props: CreateDone) {
  const [description, setDescription] = useState('');
  const [expiresIn, setExpiresIn] = useState(90 * DAY);
  return (
    <CreateKeyDialog
      title="Create an API key"
      secretName="API key"
      usage={
        <>
          Send it as <code>Authorization: Bearer &lt;key&gt;</code>, or set{' '}
          <code>TRELLIS_API_KEY</code> for <code>trellis-control --server</code>.
        </>
      }
      {...props}
      create={() =>
        request(CreateApiKeyResponse, 'POST', '/v1/admin/api-keys', {
          description: description.trim(),
          ...(expiresIn > 0 ? { expiresIn } : {}),
        })
      }
    >
      <p className="muted">An API key acts as an admin of the network. Give each script its own.</p>
      <TextField
        label="Description"
        value={description}
        maxLength={128}
        onChange={setDescription}
      />
      <ExpiresField choices={API_KEY_EXPIRIES} value={expiresIn} onChange={setExpiresIn} />
    </CreateKeyDialog>
  );
}

/** How long a new key lasts, from `choices` ([seconds, text]). */
function ExpiresField(props: {
  readonly choices: ReadonlyArray<readonly [number, string]>;
  readonly value: number;
  readonly onChange: (seconds: number) => void;
}) {
  return (
    <SelectField
      label="Expires after"
      value={props.value}
      onChange={(v) => props.onChange(Number(v))}
    >
      <Options list={props.choices} />
    </SelectField>
  );
}
