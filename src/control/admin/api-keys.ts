/** Admin API keys for automation: created (secret shown once), listed, revoked. */
import type {
  ApiKeyInfo,
  CreateApiKeyRequest,
  CreateApiKeyResponse,
  ListQuery,
} from '../../shared/schema/control/admin.js';
import { auditAs, type AdminDeps, type Caller } from './deps.js';
import { badRequest, notFound } from './errors.js';
import { newestFirst, pageOf, type Page } from './paging.js';
import { apiKeyView } from './views.js';

export async function createApiKey(
  deps: AdminDeps,
  caller: Caller,
  r: CreateApiKeyRequest,
): Promise<CreateApiKeyResponse> {
  const now = deps.now();
  const at =
    r.expiresIn !== undefined
      ? now + r.expiresIn * 1000
      : r.expiresAt !== null
        ? Date.parse(r.expiresAt)
        : null;
  if (at !== null && at <= now) throw badRequest('expiresAt: must be in the future');
  const { apiKey, key } = await deps.store.apiKeys.create({
    networkId: caller.networkId,
    createdBy: caller.userId,
    expiresAt: at === null ? null : new Date(at),
    description: r.description || null,
  });
  await auditAs(
    deps,
    caller,
    'api_key.created',
    { type: 'api_key', id: apiKey.id },
    {
      prefix: apiKey.prefix,
      description: apiKey.description,
      expiresAt: apiKey.expiresAt?.toISOString() ?? null,
    },
  );
  return { key: apiKeyView(apiKey), secret: key };
}

export async function listApiKeys(
  deps: AdminDeps,
  caller: Caller,
  q: ListQuery,
): Promise<Page<ApiKeyInfo>> {
  const keys = await deps.store.apiKeys.list(caller.networkId);
  return pageOf(keys, (k) => newestFirst(k.createdAt, k.id), apiKeyView, q);
}

/** Revoking an already revoked key succeeds and changes nothing. */
export async function revokeApiKey(deps: AdminDeps, caller: Caller, id: string): Promise<void> {
  const k = await deps.store.apiKeys.get(id);
  if (!k || k.networkId !== caller.networkId) throw notFound('API key');
  if (await deps.store.apiKeys.revoke(id))
    await auditAs(deps, caller, 'api_key.revoked', { type: 'api_key', id }, { prefix: k.prefix });
}
