/**
 * Users: everyone in the network with role, sign-in provider and status; add local users, change
 * roles, set passwords, disable or enable, sign out everywhere, delete. Only an owner may grant
 * the owner role or change an owner (control enforces it; the page does not offer it to admins).
 */
import { useCallback, useState } from 'react';
import {
  AdminUser,
  MIN_PASSWORD_LENGTH,
  RevokedSessions,
  type UpdateUserRequest,
  type UserRole,
} from '../../../shared/schema/control/admin.js';
import { useSession } from '../session.js';
import { Empty, listAll, request } from '../api.js';
import { Badge, LoadStatus, PageHeader, Table } from '../components/controls.js';
import { ConfirmButton } from '../components/Dialog.js';
import { FormDialog, SelectField, TextField } from '../components/forms.js';
import { useAction } from '../components/notices.js';
import { useLoad } from '../components/useLoad.js';
import { useNow } from '../components/useNow.js';
import { dateTime, relativeTime } from '../format.js';

const ROLES: readonly UserRole[] = ['owner', 'admin', 'member'];
const label = (u: AdminUser) => u.email ?? u.name;
const userPath = (u: AdminUser) => `/v1/admin/users/${encodeURIComponent(u.id)}`;

export function Users() {
  const me = useSession().user;
  const load = useCallback(() => listAll(AdminUser, '/v1/admin/users'), []);
  const users = useLoad(load);
  const [adding, setAdding] = useState(false);
  const [passwordFor, setPasswordFor] = useState<AdminUser | null>(null);
  const { busy, run } = useAction();
  const now = useNow();
  const all = users.data?.items ?? [];

  const update = (u: AdminUser, body: UpdateUserRequest, done: string) =>
    run(async () => {
      await request(AdminUser, 'PATCH', userPath(u), body);
      users.reload();
      return done;
    });

  const mayManage = (u: AdminUser) => me.role === 'owner' || u.role !== 'owner';

  return (
    <>
      <PageHeader
        title="Users"
        description="People who sign in to the network. Owners and admins use this console; members use their devices."
        actions={
          <button type="button" className="primary" onClick={() => setAdding(true)}>
            Add user
          </button>
        }
      />
      <LoadStatus load={users} />
      {users.data && (
        <Table
          caption="Users"
          columns={['User', 'Role', 'Sign-in', 'Last sign-in']}
          actions="Actions"
        >
          {all.map((u) => (
            <tr key={u.id} data-user={u.email ?? u.id}>
              <th scope="row">
                <span className="name">{u.name || label(u)}</span>
                {u.name && u.email && u.name !== u.email && (
                  <span className="muted small block">{u.email}</span>
                )}
                {u.id === me.id && <Badge tone="info">you</Badge>}
                {u.disabled && <Badge tone="bad">disabled</Badge>}
              </th>
              <td>
                <select
                  aria-label={`Role of ${label(u)}`}
                  value={u.role}
                  disabled={busy || !mayManage(u)}
                  onChange={(e) => {
                    const role = e.target.value as UserRole;
                    void update(
                      u,
                      { role },
                      `${label(u)} is now ${role === 'admin' ? 'an' : 'a'} ${role}.`,
                    );
                  }}
                >
                  {ROLES.map((r) => (
                    <option key={r} value={r} disabled={r === 'owner' && me.role !== 'owner'}>
                      {r}
                    </option>
                  ))}
                </select>
              </td>
              <td>{u.provider === 'local' ? 'Password' : u.provider}</td>
              <td title={u.lastLoginAt ? dateTime(u.lastLoginAt) : undefined}>
                {u.lastLoginAt ? (
                  relativeTime(u.lastLoginAt, now)
                ) : (
                  <span className="muted">never</span>
                )}
              </td>
              <td className="actions">
                {u.provider === 'local' && (
                  <button
                    type="button"
                    disabled={busy || !mayManage(u)}
                    aria-label={`Set password of ${label(u)}`}
                    onClick={() => setPasswordFor(u)}
                  >
                    Set password
                  </button>
                )}
                <button
                  type="button"
                  disabled={busy || !mayManage(u) || u.id === me.id}
                  aria-label={`${u.disabled ? 'Enable' : 'Disable'} ${label(u)}`}
                  onClick={() =>
                    void update(
                      u,
                      { disabled: !u.disabled },
                      u.disabled
                        ? `Enabled ${label(u)}.`
                        : `Disabled ${label(u)}; they are signed out everywhere.`,
                    )
                  }
                >
                  {u.disabled ? 'Enable' : 'Disable'}
                </button>
                <ConfirmButton
                  disabled={busy || !mayManage(u)}
                  aria-label={`Sign out ${label(u)} everywhere`}
                  confirm={{
                    title: `Sign ${label(u)} out everywhere?`,
                    body: 'Every session of this user ends: apps, the CLI and this console. Their devices stay connected.',
                    action: 'Sign out everywhere',
                  }}
                  onConfirmed={() =>
                    run(async () => {
                      const r = await request(RevokedSessions, 'DELETE', `${userPath(u)}/sessions`);
                      return `Ended ${r.revoked} session${r.revoked === 1 ? '' : 's'} of ${label(u)}.`;
                    })
                  }
                >
                  Sign out
                </ConfirmButton>
                <ConfirmButton
                  className="danger"
                  disabled={busy || !mayManage(u) || u.id === me.id}
                  aria-label={`Delete ${label(u)}`}
                  confirm={{
                    title: `Delete ${label(u)}?`,
                    body: 'The user, their devices and their sessions are removed. This cannot be undone.',
                    action: 'Delete user',
                    danger: true,
                  }}
                  onConfirmed={() =>
                    run(async () => {
                      await request(Empty, 'DELETE', userPath(u));
                      users.reload();
                      return `Deleted ${label(u)}.`;
                    })
                  }
                >
                  Delete
                </ConfirmButton>
              </td>
            </tr>
          ))}
        </Table>
      )}
      {adding && (
        <AddUserDialog
          mayGrantOwner={me.role === 'owner'}
          onClose={() => setAdding(false)}
          onAdded={users.reload}
        />
      )}
      {passwordFor && <PasswordDialog user={passwordFor} onClose={() => setPasswordFor(null)} />}
    </>
  );
}

function AddUserDialog(props: {
  readonly mayGrantOwner: boolean;
  readonly onClose: () => void;
  readonly onAdded: () => void;
}) {
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [role, setRole] = useState<UserRole>('member');
  const [password, setPassword] = useState('');
  const { onAdded } = props;
  return (
    <FormDialog
      title="Add a user"
      submit="Add user"
      onClose={props.onClose}
      closeOnDone
      onSubmit={async () => {
        await request(AdminUser, 'POST', '/v1/admin/users', {
          email: email.trim(),
          name: name.trim(),
          role,
          password,
        });
        onAdded();
        return `Added ${email.trim()} as ${role}.`;
      }}
    >
      <p className="muted">
        A local account that signs in with a password. People from your single sign-on provider
        appear here on their first sign-in.
      </p>
      <TextField label="Email" type="email" required value={email} onChange={setEmail} />
      <TextField
        label="Name"
        hint="Optional; the email is shown otherwise."
        value={name}
        maxLength={128}
        onChange={setName}
      />
      <SelectField label="Role" value={role} onChange={(v) => setRole(v as UserRole)}>
        {ROLES.map((r) => (
          <option key={r} value={r} disabled={r === 'owner' && !props.mayGrantOwner}>
            {r}
          </option>
        ))}
      </SelectField>
      <PasswordField
        label="Password"
        hint={`At least ${MIN_PASSWORD_LENGTH} characters. Hand it over safely; they can change it later.`}
        value={password}
        onChange={setPassword}
      />
    </FormDialog>
  );
}

/** A new password for someone else: not filled in by the browser, and long enough. */
function PasswordField(props: {
  readonly label: string;
  readonly hint: string;
  readonly value: string;
  readonly onChange: (value: string) => void;
}) {
  return (
    <TextField
      {...props}
      type="password"
      autoComplete="new-password"
      required
      minLength={MIN_PASSWORD_LENGTH}
    />
  );
}

function PasswordDialog(props: { readonly user: AdminUser; readonly onClose: () => void }) {
  const [password, setPassword] = useState('');
  const who = label(props.user);
  return (
    <FormDialog
      title={`Set the password of ${who}`}
      submit="Set password"
      onClose={props.onClose}
      closeOnDone
      onSubmit={async () => {
        await request(AdminUser, 'PUT', `${userPath(props.user)}/password`, { password });
        return `Set a new password for ${who}; their other sessions ended.`;
      }}
    >
      <PasswordField
        label="New password"
        hint={`At least ${MIN_PASSWORD_LENGTH} characters.`}
        value={password}
        onChange={setPassword}
      />
    </FormDialog>
  );
}
