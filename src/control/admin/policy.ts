/**
 * Access policy administration: read the policy in force, save a new version (only after it
 * parses and its own tests pass), list versions, roll back. A refused policy changes nothing:
 * the old version stays in force. Each new version is audited with a line diff against the one
 * it replaces, then announced through `onPolicyChanged` so live netmaps pick it up.
 */
import type {
  ListQuery,
  PolicyDocument,
  PolicyVersionList,
  PutPolicyRequest,
  RollbackPolicyRequest,
} from '../../shared/schema/control/admin.js';
import {
  checkPolicy,
  DEFAULT_POLICY_TEXT,
  type Policy,
  type PolicyError,
  type PolicyUser,
} from '../policy/index.js';
import type { PolicyVersion } from '../store/policies.js';
import { auditAs, change, type AdminDeps, type Caller } from './deps.js';
import { ApiError, badRequest, conflict, notFound } from './errors.js';
import { unifiedDiff } from './line-diff.js';
import { DEFAULT_PAGE_SIZE } from './paging.js';
import { autoApproveNetwork } from './routes.js';
import { auditView } from './views.js';

export interface PolicyDeps extends AdminDeps {
  /** A new version is in force (ControlContext.onPolicyChanged); must not throw. */
  onPolicyChanged?(networkId: string): Promise<void> | void;
}

/** Problems listed in one refusal (PolicyRejected's bound; the parser stops at 100 too). */
const MAX_PROBLEMS = 100;

/** A policy refused by validation: 400 with each problem's line and column (PolicyRejected). */
export class PolicyRejectedError extends ApiError {
  constructor(
    readonly problems: ReadonlyArray<{ line?: number; column?: number; message: string }>,
  ) {
    const first = problems[0];
    const where = first?.line ? `line ${first.line}, column ${first.column ?? 1}: ` : '';
    super(
      'bad_request',
      `policy refused: ${problems.length} problem${problems.length === 1 ? '' : 's'}` +
        (first ? `; ${where}${first.message}` : ''),
    );
  }

  /** The 400 body (shared/schema/control/admin.ts PolicyRejected). */
  body(): {
    error: { code: 'bad_request'; message: string };
    problems: Array<{ line?: number; column?: number; message: string }>;
  } {
    return {
      error: { code: 'bad_request', message: this.message.slice(0, 2048) },
      problems: this.problems.slice(0, MAX_PROBLEMS).map((p) => ({
        ...(p.line !== undefined ? { line: p.line } : {}),
        ...(p.column !== undefined ? { column: p.column } : {}),
        message: p.message.slice(0, 2048),
      })),
    };
  }
}

const etagOf = (version: number): string => `v${version}`;

function versionOfEtag(etag: string): number | null {
  const m = /^v(\d{1,15})$/.exec(etag);
  return m ? Number(m[1]) : null;
}

function documentView(v: PolicyVersion | null): PolicyDocument {
  return v
    ? {
        policy: v.text,
        version: v.version,
        etag: etagOf(v.version),
        updatedAt: v.createdAt.toISOString(),
      }
    : { policy: DEFAULT_POLICY_TEXT, version: 0, etag: etagOf(0), updatedAt: null };
}

export async function getPolicy(deps: AdminDeps, caller: Caller): Promise<PolicyDocument> {
  return documentView(await deps.store.policies.latestVersion(caller.networkId));
}

export async function getPolicyVersion(
  deps: AdminDeps,
  caller: Caller,
  version: number,
): Promise<PolicyDocument> {
  const v = await deps.store.policies.get(caller.networkId, version);
  if (!v) throw notFound('policy version');
  return documentView(v);
}

export async function listPolicyVersions(
  deps: AdminDeps,
  caller: Caller,
  q: ListQuery,
): Promise<PolicyVersionList> {
  let before: number | null = null;
  if (q.cursor !== undefined) {
    if (!/^\d{1,15}$/.test(q.cursor)) throw badRequest('cursor: not a cursor from this list');
    before = Number(q.cursor);
  }
  const [page, latest, users] = await Promise.all([
    deps.store.policies.list(caller.networkId, { limit: q.limit ?? DEFAULT_PAGE_SIZE, before }),
    deps.store.policies.getActive(caller.networkId),
    deps.store.users.list(caller.networkId),
  ]);
  const emails = new Map(users.map((u) => [u.id, u.email]));
  return {
    items: page.items.map((v) => ({
      version: v.version,
      createdAt: v.createdAt.toISOString(),
      // The audit view's actor rules (ids that do not fit the wire become "system").
      createdBy: auditView(
        {
          id: 0,
          networkId: null,
          at: v.createdAt,
          actor: v.createdBy,
          action: 'x',
          target: null,
          diff: null,
        },
        emails,
      ).actor,
      comment: v.comment,
      rolledBackFrom: v.rolledBackFrom,
      active: v.version === latest?.version,
    })),
    nextCursor: page.nextBefore === null ? null : String(page.nextBefore),
  };
}

const problemOf = (e: PolicyError) => ({ line: e.line, column: e.column, message: e.message });

/**
 * Validates `text` for the caller's network: it parses, and its tests pass against the
 * network's users (their real roles and IdP groups). IdP group claims users carry today may be
 * named without declaring them.
 */
async function validate(deps: AdminDeps, networkId: string, text: string): Promise<Policy> {
  const users = await deps.store.users.list(networkId);
  const policyUsers: PolicyUser[] = users.map((u) => ({
    id: u.id,
    email: u.email,
    role: u.role,
    groups: u.groups,
  }));
  const r = checkPolicy(text, {
    knownGroups: new Set(users.flatMap((u) => u.groups)),
    users: policyUsers,
  });
  if (!r.ok) throw new PolicyRejectedError(r.error.map(problemOf));
  return r.value;
}

function expectedVersion(ifMatch: string | undefined): number | undefined {
  if (ifMatch === undefined) return undefined;
  const v = versionOfEtag(ifMatch);
  if (v === null) throw conflict('ifMatch: not an etag of this policy; read the policy again');
  return v;
}

/**
 * Audits a new version (with the diff against the one before), approves the routes its
 * autoApprovers now cover, and announces it.
 */
async function announce(
  deps: PolicyDeps,
  caller: Caller,
  action: 'policy.updated' | 'policy.rolled_back',
  before: PolicyVersion | null,
  after: PolicyVersion,
  policy: Policy,
): Promise<void> {
  const oldText = before?.text ?? DEFAULT_POLICY_TEXT;
  const oldVersion = before?.version ?? 0;
  await auditAs(
    deps,
    caller,
    action,
    { type: 'policy', id: caller.networkId },
    {
      version: change(oldVersion, after.version),
      ...(after.rolledBackFrom !== null ? { rolledBackFrom: after.rolledBackFrom } : {}),
      ...(after.comment !== null ? { comment: after.comment } : {}),
      diff: unifiedDiff(oldText, after.text, {
        old: oldVersion === 0 ? 'default policy' : `policy v${oldVersion}`,
        new: `policy v${after.version}`,
      }),
    },
  );
  const approved = await autoApproveNetwork(deps.store, caller.networkId, policy);
  await deps.onPolicyChanged?.(caller.networkId);
  // The policy reload re-reads routes too; this covers a hub that only listens to device changes.
  for (const id of approved) await deps.mesh.deviceChanged(id);
}

function versionConflict(): ApiError {
  return conflict('the policy changed since it was read; read it again and reapply your change');
}

export async function putPolicy(
  deps: PolicyDeps,
  caller: Caller,
  r: PutPolicyRequest,
): Promise<PolicyDocument> {
  const expected = expectedVersion(r.ifMatch);
  const policy = await validate(deps, caller.networkId, r.policy);
  const before = await deps.store.policies.latestVersion(caller.networkId);
  // Saving the text in force again makes no new version (and no audit entry).
  if (before && before.text === r.policy && (expected === undefined || expected === before.version))
    return documentView(before);
  const saved = await deps.store.policies.save(caller.networkId, r.policy, caller.actor, {
    comment: r.comment ?? null,
    expectedVersion: expected ?? before?.version ?? 0,
  });
  if (!saved.ok) {
    if (saved.error === 'version_conflict') throw versionConflict();
    throw notFound('network');
  }
  await announce(deps, caller, 'policy.updated', before, saved.value, policy);
  return documentView(saved.value);
}

export async function rollbackPolicy(
  deps: PolicyDeps,
  caller: Caller,
  r: RollbackPolicyRequest,
): Promise<PolicyDocument> {
  const expected = expectedVersion(r.ifMatch);
  const target = await deps.store.policies.get(caller.networkId, r.version);
  if (!target) throw notFound('policy version');
  // The network may have changed since (a group claim gone): the old text must still pass.
  const policy = await validate(deps, caller.networkId, target.text);
  const before = await deps.store.policies.latestVersion(caller.networkId);
  const saved = await deps.store.policies.rollback(caller.networkId, r.version, caller.actor, {
    comment: r.comment ?? null,
    expectedVersion: expected ?? before?.version ?? 0,
  });
  if (!saved.ok) {
    if (saved.error === 'version_conflict') throw versionConflict();
    throw notFound(saved.error === 'version_not_found' ? 'policy version' : 'network');
  }
  await announce(deps, caller, 'policy.rolled_back', before, saved.value, policy);
  return documentView(saved.value);
}

/** The policy operations as one interface, for the HTTP routes and the CLI (both modes). */
export interface PolicyAdminApi {
  getPolicy(): Promise<PolicyDocument>;
  putPolicy(r: PutPolicyRequest): Promise<PolicyDocument>;
  listPolicyVersions(q: ListQuery): Promise<PolicyVersionList>;
  getPolicyVersion(version: number): Promise<PolicyDocument>;
  rollbackPolicy(r: RollbackPolicyRequest): Promise<PolicyDocument>;
}

export function policyService(deps: PolicyDeps, caller: Caller): PolicyAdminApi {
  return {
    getPolicy: () => getPolicy(deps, caller),
    putPolicy: (r) => putPolicy(deps, caller, r),
    listPolicyVersions: (q) => listPolicyVersions(deps, caller, q),
    getPolicyVersion: (v) => getPolicyVersion(deps, caller, v),
    rollbackPolicy: (r) => rollbackPolicy(deps, caller, r),
  };
}
