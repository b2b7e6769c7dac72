/** `trellis-control sessions ...`: signed-in user sessions (desktop app, CLI). */
import { str, usageError, type Command } from '../command.js';
import { fmtTime, table } from '../output.js';
import { listAll, resolveUser } from '../resolve.js';
import { withAdmin } from '../session.js';

export const sessionCommands: Command[] = [
  {
    name: 'sessions list',
    summary: 'list active user sessions',
    options: { user: { type: 'string', value: 'USER', description: "only this user's sessions" } },
    run: ({ opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const users = await listAll((q) => api.listUsers(q));
        const userRef = str(opts, 'user');
        const user = userRef ? await resolveUser(api, userRef) : null;
        const sessions = await listAll((q) =>
          api.listSessions({ ...q, ...(user ? { user: user.id } : {}) }),
        );
        const email = new Map(users.map((u) => [u.id, u.email ?? u.id]));
        out.emit(sessions, () =>
          table(
            ['ID', 'USER', 'CLIENT', 'CREATED', 'LAST USED', 'EXPIRES'],
            sessions.map((s) => [
              s.id,
              email.get(s.userId) ?? s.userId,
              s.clientName ?? '-',
              fmtTime(s.createdAt),
              fmtTime(s.lastUsedAt),
              fmtTime(s.expiresAt),
            ]),
          ),
        );
      }),
  },
  {
    name: 'sessions revoke',
    argsUsage: '[SESSION-ID]',
    summary: 'sign one session out, or every session of a user with --user',
    maxArgs: 1,
    options: {
      user: { type: 'string', value: 'USER', description: "revoke all of this user's sessions" },
    },
    run: ({ args, opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const userRef = str(opts, 'user');
        const id = args[0];
        if ((userRef === undefined) === (id === undefined))
          throw usageError('give a SESSION-ID or --user USER');
        if (userRef) {
          const user = await resolveUser(api, userRef);
          const r = await api.revokeUserSessions(user.id);
          out.emit(r, () => `Signed ${user.email ?? user.id} out of ${r.revoked} session(s).`);
          return;
        }
        await api.revokeSession(id ?? '');
        out.emit({ revoked: id }, () => `Revoked ${id}.`);
      }),
  },
];
