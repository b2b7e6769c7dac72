/** `trellis-control users ...`: list, create, set-role, set-password, disable, enable, delete. */
import {
  CreateUserRequest,
  SetPasswordRequest,
  UpdateUserRequest,
  type AdminUser,
} from '../../../shared/schema/control/admin.js';
import type { AdminApi } from '../../admin/service.js';
import { flag, parseRequest, str, type Command } from '../command.js';
import { fmtTime, table } from '../output.js';
import { listAll, resolveUser } from '../resolve.js';
import { readPassword } from '../secret-input.js';
import { withAdmin } from '../session.js';

const passwordStdin = {
  'password-stdin': {
    type: 'boolean',
    description: 'read the password from stdin (the default when stdin is not a terminal)',
  },
} as const;

const userRow = (u: AdminUser): string[] => [
  u.id,
  u.email ?? '-',
  u.name,
  u.role,
  u.provider,
  u.disabled ? 'disabled' : 'active',
  fmtTime(u.lastLoginAt),
];
const userTable = (users: AdminUser[]): string =>
  table(['ID', 'EMAIL', 'NAME', 'ROLE', 'PROVIDER', 'STATUS', 'LAST LOGIN'], users.map(userRow));

/** `users <verb> USER`: resolves the user, applies a change, prints the result. */
function userChange(
  verb: string,
  summary: string,
  change: (api: AdminApi, id: string) => Promise<AdminUser>,
  done: (u: AdminUser) => string,
): Command {
  return {
    name: `users ${verb}`,
    argsUsage: 'USER',
    summary,
    minArgs: 1,
    run: ({ args, opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const user = await change(api, (await resolveUser(api, args[0] ?? '')).id);
        out.emit(user, () => done(user));
      }),
  };
}

export const userCommands: Command[] = [
  {
    name: 'users list',
    summary: 'list the users of the network',
    run: ({ opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const users = await listAll((q) => api.listUsers(q));
        out.emit(users, () => userTable(users));
      }),
  },
  {
    name: 'users create',
    argsUsage: 'EMAIL',
    summary: 'create a local (password) user; the password is read from stdin or a prompt',
    minArgs: 1,
    options: {
      role: {
        type: 'string',
        value: 'ROLE',
        description: 'owner, admin or member (default member)',
      },
      name: { type: 'string', value: 'NAME', description: 'display name (default: the email)' },
      ...passwordStdin,
    },
    run: ({ args, opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const partial = parseRequest(CreateUserRequest.omit({ password: true }), {
          email: args[0],
          role: str(opts, 'role') ?? 'member',
          name: str(opts, 'name') ?? '',
        });
        const password = await readPassword(flag(opts, 'password-stdin'));
        const user = await api.createUser(
          parseRequest(CreateUserRequest, { ...partial, password }),
        );
        out.emit(user, () => `Created ${user.role} ${user.email ?? user.id} (${user.id}).`);
      }),
  },
  {
    name: 'users set-role',
    argsUsage: 'USER ROLE',
    summary: "change a user's role: owner, admin or member",
    minArgs: 2,
    run: ({ args, opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const { role } = parseRequest(UpdateUserRequest, { role: args[1] });
        const user = await api.updateUser((await resolveUser(api, args[0] ?? '')).id, { role });
        out.emit(user, () => `${user.email ?? user.id} is now ${user.role}.`);
      }),
  },
  {
    name: 'users set-password',
    argsUsage: 'USER',
    summary: "set a local user's password (read from stdin or a prompt); signs their sessions out",
    minArgs: 1,
    options: passwordStdin,
    run: ({ args, opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const target = await resolveUser(api, args[0] ?? '');
        const req = parseRequest(SetPasswordRequest, {
          password: await readPassword(flag(opts, 'password-stdin')),
        });
        const user = await api.setPassword(target.id, req);
        out.emit(user, () => `Password of ${user.email ?? user.id} changed.`);
      }),
  },
  userChange(
    'disable',
    'disable a user and sign them out everywhere',
    (api, id) => api.updateUser(id, { disabled: true }),
    (u) => `${u.email ?? u.id} is disabled.`,
  ),
  userChange(
    'enable',
    'enable a disabled user',
    (api, id) => api.updateUser(id, { disabled: false }),
    (u) => `${u.email ?? u.id} is enabled.`,
  ),
  {
    name: 'users delete',
    argsUsage: 'USER',
    summary: 'delete a user with their devices and sessions',
    minArgs: 1,
    run: ({ args, opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const user = await resolveUser(api, args[0] ?? '');
        await api.deleteUser(user.id);
        out.emit({ deleted: user.id }, () => `Deleted ${user.email ?? user.id}.`);
      }),
  },
];
