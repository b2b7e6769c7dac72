/**
 * `trellis-control policy ...`: show, set (from a file or stdin), list versions, roll back.
 * A refused policy prints each problem with its line and column and changes nothing.
 */
import fs from 'node:fs';
import {
  PutPolicyRequest,
  RollbackPolicyRequest,
  type PolicyDocument,
  type PolicyVersionInfo,
} from '../../../shared/schema/control/admin.js';
import { PolicyRejectedError } from '../../admin/policy.js';
import { CliError, parseRequest, str, usageError, type Command } from '../command.js';
import { fmtTime, table } from '../output.js';
import { listAll } from '../resolve.js';
import { withAdmin } from '../session.js';

/** Policy files larger than this are refused before reading (the server's limit is 1 MiB). */
const MAX_POLICY_FILE_BYTES = 1024 * 1024;

function readPolicyFile(file: string): string {
  try {
    const fd = file === '-' ? 0 : fs.openSync(file, 'r');
    try {
      if (file !== '-' && fs.fstatSync(fd).size > MAX_POLICY_FILE_BYTES)
        throw new CliError(`${file}: larger than ${MAX_POLICY_FILE_BYTES} bytes`);
      return fs.readFileSync(fd, 'utf8');
    } finally {
      if (file !== '-') fs.closeSync(fd);
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

/** The refusal as a person reads it: one "FILE:LINE:COLUMN: message" per problem. */
function refusal(e: unknown, file: string): never {
  if (!(e instanceof PolicyRejectedError)) throw e;
  const lines = e.problems.map((p) =>
    p.line !== undefined
      ? `${file}:${p.line}:${p.column ?? 1}: ${p.message}`
      : `${file}: ${p.message}`,
  );
  throw new CliError(`policy refused, the current policy stays in force:\n${lines.join('\n')}`);
}

const versionNumber = (s: string): number => {
  if (!/^\d{1,15}$/.test(s) || Number(s) < 1)
    throw usageError(`expected a version number, got "${s}"`);
  return Number(s);
};

const savedText = (d: PolicyDocument): string => `policy version ${d.version} is in force`;

const createdByText = (v: PolicyVersionInfo): string => {
  const a = v.createdBy;
  if (a.type === 'user') return a.email ?? a.id;
  return a.type === 'system' ? 'system' : `${a.type}:${a.id}`;
};

export const policyCommands: Command[] = [
  {
    name: 'policy get',
    summary: 'print the policy in force (HuJSON); --version N prints an older one',
    options: {
      version: { type: 'string', value: 'N', description: 'a version from "policy versions"' },
    },
    run: ({ opts, out }) =>
      withAdmin(opts, out, async ({ policy }) => {
        const v = str(opts, 'version');
        const d =
          v === undefined
            ? await policy.getPolicy()
            : await policy.getPolicyVersion(versionNumber(v));
        out.emit(d, () => d.policy);
        if (!out.json)
          out.note(
            d.version === 0
              ? '(the built-in default: no policy saved yet)'
              : `(version ${d.version})`,
          );
      }),
  },
  {
    name: 'policy set',
    argsUsage: 'FILE',
    summary: 'validate and save a policy from FILE ("-" for stdin) as a new version',
    minArgs: 1,
    options: {
      comment: { type: 'string', value: 'TEXT', description: 'why, kept with the version' },
    },
    run: ({ args, opts, out }) =>
      withAdmin(opts, out, async ({ policy }) => {
        const file = args[0] ?? '-';
        const comment = str(opts, 'comment');
        const req = parseRequest(PutPolicyRequest, {
          policy: readPolicyFile(file),
          ...(comment !== undefined ? { comment } : {}),
        });
        const d = await policy.putPolicy(req).catch((e: unknown) => refusal(e, file));
        out.emit(d, () => savedText(d));
      }),
  },
  {
    name: 'policy versions',
    summary: 'list saved policy versions, newest first',
    run: ({ opts, out }) =>
      withAdmin(opts, out, async ({ policy }) => {
        const all = await listAll((q) => policy.listPolicyVersions(q));
        out.emit(all, () =>
          table(
            ['VERSION', 'SAVED', 'BY', 'ACTIVE', 'NOTE'],
            all.map((v) => [
              String(v.version),
              fmtTime(v.createdAt),
              createdByText(v),
              v.active ? 'yes' : '',
              [v.rolledBackFrom !== null ? `rollback to ${v.rolledBackFrom}` : '', v.comment ?? '']
                .filter(Boolean)
                .join(': '),
            ]),
          ),
        );
      }),
  },
  {
    name: 'policy rollback',
    argsUsage: 'VERSION',
    summary: "save an older version's text as a new version (it must still validate)",
    minArgs: 1,
    options: {
      comment: { type: 'string', value: 'TEXT', description: 'why, kept with the version' },
    },
    run: ({ args, opts, out }) =>
      withAdmin(opts, out, async ({ policy }) => {
        const comment = str(opts, 'comment');
        const req = parseRequest(RollbackPolicyRequest, {
          version: versionNumber(args[0] ?? ''),
          ...(comment !== undefined ? { comment } : {}),
        });
        const d = await policy
          .rollbackPolicy(req)
          .catch((e: unknown) => refusal(e, `version ${req.version}`));
        out.emit(d, () => savedText(d));
      }),
  },
];
