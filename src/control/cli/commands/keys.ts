/** `trellis-control keys ...`: pre-auth keys for registering servers without a sign-in. */
import {
  CreatePreauthKeyRequest,
  type PreauthKeyInfo,
} from '../../../shared/schema/control/admin.js';
import { flag, parseRequest, str, type Command } from '../command.js';
import { parseDuration } from '../duration.js';
import { fmtTime, table, yesNo } from '../output.js';
import { listAll, resolveUser } from '../resolve.js';
import { withAdmin } from '../session.js';

function keyState(k: PreauthKeyInfo, now: number): string {
  if (k.revoked) return 'revoked';
  if (Date.parse(k.expiresAt) <= now) return 'expired';
  if (!k.reusable && k.usedCount > 0) return 'used';
  return 'valid';
}

const splitList = (s: string | undefined): string[] =>
  s
    ? s
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean)
    : [];

export const keyCommands: Command[] = [
  {
    name: 'keys create',
    summary: 'create a pre-auth key; the key is printed once',
    options: {
      reusable: {
        type: 'boolean',
        description: 'usable for any number of devices (default: once)',
      },
      ephemeral: { type: 'boolean', description: 'devices are removed when they go offline' },
      preapproved: { type: 'boolean', description: 'devices skip admin approval' },
      tags: {
        type: 'string',
        value: 'TAGS',
        description: 'comma-separated tags; devices belong to no user',
      },
      user: {
        type: 'string',
        value: 'USER',
        description: 'owner of the devices (untagged keys; required in database mode)',
      },
      expires: {
        type: 'string',
        value: 'DURATION',
        description: 'lifetime such as 1h, 7d (default 1d, at most 365d)',
      },
      description: { type: 'string', value: 'TEXT', description: 'what the key is for' },
    },
    run: ({ opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const userRef = str(opts, 'user');
        const expires = str(opts, 'expires');
        const req = parseRequest(CreatePreauthKeyRequest, {
          reusable: flag(opts, 'reusable'),
          ephemeral: flag(opts, 'ephemeral'),
          preapproved: flag(opts, 'preapproved'),
          tags: splitList(str(opts, 'tags')).map((t) => (t.startsWith('tag:') ? t : `tag:${t}`)),
          description: str(opts, 'description') ?? '',
          ...(expires ? { expiresIn: parseDuration(expires, '--expires') } : {}),
          ...(userRef ? { user: (await resolveUser(api, userRef)).id } : {}),
        });
        const created = await api.createPreauthKey(req);
        out.emit(created, () =>
          [
            created.secret,
            '',
            `Pre-auth key ${created.key.id}, valid until ${fmtTime(created.key.expiresAt)} UTC` +
              `${created.key.reusable ? ', reusable' : ', single use'}.`,
            'It is shown only now: store it where the device can read it.',
          ].join('\n'),
        );
      }),
  },
  {
    name: 'keys list',
    summary: 'list pre-auth keys (never their secrets)',
    run: ({ opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const keys = await listAll((q) => api.listPreauthKeys(q));
        const now = Date.now();
        out.emit(keys, () =>
          table(
            [
              'ID',
              'PREFIX',
              'DESCRIPTION',
              'REUSABLE',
              'EPHEMERAL',
              'TAGS',
              'USED',
              'EXPIRES',
              'STATE',
            ],
            keys.map((k) => [
              k.id,
              k.prefix,
              k.description || '-',
              yesNo(k.reusable),
              yesNo(k.ephemeral),
              k.tags.join(',') || '-',
              String(k.usedCount),
              fmtTime(k.expiresAt),
              keyState(k, now),
            ]),
          ),
        );
      }),
  },
  {
    name: 'keys revoke',
    argsUsage: 'KEY-ID',
    summary: 'revoke a pre-auth key (devices it registered stay)',
    minArgs: 1,
    run: ({ args, opts, out }) =>
      withAdmin(opts, out, async ({ api }) => {
        const id = args[0] ?? '';
        await api.revokePreauthKey(id);
        out.emit({ revoked: id }, () => `Revoked ${id}.`);
      }),
  },
];
