/** `trellis-control audit`: the audit log, newest first. */
import {
  AuditQuery,
  MAX_PAGE_SIZE,
  type AuditEvent,
} from '../../../shared/schema/control/admin.js';
import { parseRequest, str, usageError, type Command } from '../command.js';
import { parseTime } from '../duration.js';
import { fmtTime, table } from '../output.js';
import { withAdmin } from '../session.js';

/** Entries shown when no --limit is given: a screenful. */
const DEFAULT_AUDIT_LIMIT = 50;

const actorText = (e: AuditEvent): string => {
  switch (e.actor.type) {
    case 'user':
      return e.actor.email ?? e.actor.id;
    case 'api-key':
    case 'device':
      return `${e.actor.type}:${e.actor.id}`;
    case 'system':
      return e.diff.some((d) => d.field === 'via' && d.new === 'cli') ? 'cli' : 'system';
  }
};

const diffText = (e: AuditEvent): string =>
  e.diff
    .filter((d) => d.field !== 'via')
    .map((d) =>
      d.old === null
        ? `${d.field}=${String(d.new)}`
        : `${d.field}: ${String(d.old)} -> ${String(d.new)}`,
    )
    .join('; ');

export const auditCommand: Command = {
  name: 'audit',
  summary: 'show the audit log, newest first',
  options: {
    since: {
      type: 'string',
      value: 'TIME',
      description: 'from this time (ISO 8601, or a duration ago: 24h)',
    },
    until: { type: 'string', value: 'TIME', description: 'before this time' },
    action: {
      type: 'string',
      value: 'ACTION',
      description: 'only this action, e.g. device.renamed',
    },
    actor: {
      type: 'string',
      value: 'ACTOR',
      description: 'user[:id], api-key[:id], device[:id] or system',
    },
    limit: {
      type: 'string',
      value: 'N',
      description: `entries to show (default ${DEFAULT_AUDIT_LIMIT}, at most ${MAX_PAGE_SIZE})`,
    },
  },
  run: ({ opts, out }) =>
    withAdmin(opts, out, async ({ api }) => {
      const since = str(opts, 'since');
      const until = str(opts, 'until');
      const limitText = str(opts, 'limit');
      if (limitText !== undefined && !/^\d{1,6}$/.test(limitText))
        throw usageError('--limit: expected a number');
      const q = parseRequest(AuditQuery, {
        limit: limitText === undefined ? DEFAULT_AUDIT_LIMIT : Number(limitText),
        ...(since ? { since: parseTime(since, '--since') } : {}),
        ...(until ? { until: parseTime(until, '--until') } : {}),
        ...(str(opts, 'action') ? { action: str(opts, 'action') } : {}),
        ...(str(opts, 'actor') ? { actor: str(opts, 'actor') } : {}),
      });
      const log = await api.audit(q);
      out.emit(log.items, () =>
        table(
          ['TIME', 'ACTOR', 'ACTION', 'TARGET', 'CHANGES'],
          log.items.map((e) => [
            fmtTime(e.time),
            actorText(e),
            e.action,
            e.target ? `${e.target.type}:${e.target.id}` : '-',
            diffText(e),
          ]),
        ),
      );
    }),
};
