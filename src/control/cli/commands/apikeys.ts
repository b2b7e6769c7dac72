/** `trellis-control apikeys ...`: admin API keys for automation. */
import { CreateApiKeyRequest } from '../../../shared/schema/control/admin.js';
import { parseRequest, str, type Command } from '../command.js';
import { parseDuration } from '../duration.js';
import { fmtTime, table } from '../output.js';
import { listAll } from '../resolve.js';
import { withAdmin } from '../session.js';

export const apiKeyCommands: Command[] = [
  {
    name: 'apikeys create',
    summary: 'create an admin API key; the key is printed once',
    options: {
      description: { type: 'string', value: 'TEXT', description: 'what the key is for' },
      expires: {
        type: 'string',
        value: 'DURATION',
        description: 'lifetime such as 90d (default: never)',
      },
    },
    run: ({ opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const expires = str(opts, 'expires');
        const req = parseRequest(CreateApiKeyRequest, {
          description: str(opts, 'description') ?? '',
          ...(expires ? { expiresIn: parseDuration(expires, '--expires') } : {}),
        });
        const created = await api.createApiKey(req);
        out.emit(created, () =>
          [
            created.secret,
            '',
            `API key ${created.key.id}${created.key.expiresAt ? `, valid until ${fmtTime(created.key.expiresAt)} UTC` : ', no expiry'}.`,
            'It is shown only now: store it in your secrets manager.',
          ].join('\n'),
        );
      }),
  },
  {
    name: 'apikeys list',
    summary: 'list admin API keys (never their secrets)',
    run: ({ opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const keys = await listAll((q) => api.listApiKeys(q));
        out.emit(keys, () =>
          table(
            ['ID', 'PREFIX', 'DESCRIPTION', 'CREATED', 'EXPIRES', 'LAST USED', 'STATE'],
            keys.map((k) => [
              k.id,
              k.prefix,
              k.description || '-',
              fmtTime(k.createdAt),
              k.expiresAt ? fmtTime(k.expiresAt) : 'never',
              fmtTime(k.lastUsedAt),
              k.revoked
                ? 'revoked'
                : k.expiresAt && Date.parse(k.expiresAt) <= Date.now()
                  ? 'expired'
                  : 'valid',
            ]),
          ),
        );
      }),
  },
  {
    name: 'apikeys revoke',
    argsUsage: 'KEY-ID',
    summary: 'revoke an admin API key',
    minArgs: 1,
    run: ({ args, opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const id = args[0] ?? '';
        await api.revokeApiKey(id);
        out.emit({ revoked: id }, () => `Revoked ${id}.`);
      }),
  },
];
