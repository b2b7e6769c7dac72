/**
 * The admin API under /v1/admin: an owner or admin user session, or an API key (members get
 * 403). Each route parses its input with the shared schemas and hands it to the admin
 * operations (src/control/admin), which the CLI runs too; changes reach live netmaps through
 * the hub.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  AuditQuery,
  CreateApiKeyRequest,
  CreatePreauthKeyRequest,
  CreateUserRequest,
  IdParams,
  ListQuery,
  PolicyVersionParams,
  PutPolicyRequest,
  RollbackPolicyRequest,
  SessionListQuery,
  SetPasswordRequest,
  UpdateDeviceRequest,
  UpdateNetworkSettingsRequest,
  UpdateUserRequest,
} from '../../shared/schema/control/admin.js';
import { requireAdmin, actorOf, type Principal } from '../auth/bearer.js';
import type { ControlContext } from '../context.js';
import { parseInput } from '../http/errors.js';
import { liveMesh, type AdminDeps, type Caller } from '../admin/deps.js';
import { adminService, type AdminApi } from '../admin/service.js';
import { PolicyRejectedError, policyService, type PolicyDeps } from '../admin/policy.js';
import { routesService } from '../admin/routes.js';

export function callerOf(p: Principal): Caller {
  return p.type === 'user'
    ? {
        networkId: p.networkId,
        actor: actorOf(p),
        power: p.user.role === 'owner' ? 'owner' : 'admin',
        userId: p.user.id,
        sessionId: p.session.id,
      }
    : {
        networkId: p.networkId,
        actor: actorOf(p),
        // API keys act as admins: handing out the owner role stays with a signed-in owner.
        power: 'admin',
        userId: p.apiKey.createdBy,
        sessionId: null,
      };
}

export function registerAdminRoutes(app: FastifyInstance, ctx: ControlContext): void {
  const deps: AdminDeps = {
    store: ctx.store,
    now: ctx.now,
    mesh: liveMesh(ctx.store, ctx.hub),
    audit: (e) => ctx.audit(e),
    oidcProviderName: ctx.config.oidc?.name ?? null,
  };
  const admin = async (req: FastifyRequest): Promise<AdminApi> =>
    adminService(deps, callerOf(await requireAdmin(ctx, req)));
  const id = (req: FastifyRequest): string => parseInput(IdParams, req.params).id;
  const empty = {};

  // Users
  app.get('/v1/admin/users', async (req) => {
    const a = await admin(req);
    return a.listUsers(parseInput(ListQuery, req.query));
  });
  app.post('/v1/admin/users', async (req, reply) => {
    const a = await admin(req);
    const user = await a.createUser(parseInput(CreateUserRequest, req.body));
    return reply.status(201).send(user);
  });
  app.get('/v1/admin/users/:id', async (req) => (await admin(req)).getUser(id(req)));
  app.patch('/v1/admin/users/:id', async (req) => {
    const a = await admin(req);
    return a.updateUser(id(req), parseInput(UpdateUserRequest, req.body));
  });
  app.put('/v1/admin/users/:id/password', async (req) => {
    const a = await admin(req);
    return a.setPassword(id(req), parseInput(SetPasswordRequest, req.body));
  });
  app.delete('/v1/admin/users/:id', async (req) => {
    await (await admin(req)).deleteUser(id(req));
    return empty;
  });
  app.delete('/v1/admin/users/:id/sessions', async (req) =>
    (await admin(req)).revokeUserSessions(id(req)),
  );

  // Devices
  app.get('/v1/admin/devices', async (req) => {
    const a = await admin(req);
    return a.listDevices(parseInput(ListQuery, req.query));
  });
  app.get('/v1/admin/devices/:id', async (req) => (await admin(req)).getDevice(id(req)));
  app.patch('/v1/admin/devices/:id', async (req) => {
    const a = await admin(req);
    return a.updateDevice(id(req), parseInput(UpdateDeviceRequest, req.body));
  });
  app.post('/v1/admin/devices/:id/expire', async (req) => (await admin(req)).expireDevice(id(req)));
  app.delete('/v1/admin/devices/:id', async (req) => {
    await (await admin(req)).deleteDevice(id(req));
    return empty;
  });

  // Pre-auth keys
  app.get('/v1/admin/preauth-keys', async (req) => {
    const a = await admin(req);
    return a.listPreauthKeys(parseInput(ListQuery, req.query));
  });
  app.post('/v1/admin/preauth-keys', async (req, reply) => {
    const a = await admin(req);
    const created = await a.createPreauthKey(parseInput(CreatePreauthKeyRequest, req.body ?? {}));
    return reply.status(201).header('cache-control', 'no-store').send(created);
  });
  app.delete('/v1/admin/preauth-keys/:id', async (req) => {
    await (await admin(req)).revokePreauthKey(id(req));
    return empty;
  });

  // Sessions
  app.get('/v1/admin/sessions', async (req) => {
    const a = await admin(req);
    return a.listSessions(parseInput(SessionListQuery, req.query));
  });
  app.delete('/v1/admin/sessions/:id', async (req) => {
    await (await admin(req)).revokeSession(id(req));
    return empty;
  });

  // API keys
  app.get('/v1/admin/api-keys', async (req) => {
    const a = await admin(req);
    return a.listApiKeys(parseInput(ListQuery, req.query));
  });
  app.post('/v1/admin/api-keys', async (req, reply) => {
    const a = await admin(req);
    const created = await a.createApiKey(parseInput(CreateApiKeyRequest, req.body ?? {}));
    return reply.status(201).header('cache-control', 'no-store').send(created);
  });
  app.delete('/v1/admin/api-keys/:id', async (req) => {
    await (await admin(req)).revokeApiKey(id(req));
    return empty;
  });

  // Network settings
  app.get('/v1/admin/settings', async (req) => (await admin(req)).getSettings());
  app.patch('/v1/admin/settings', async (req) => {
    const a = await admin(req);
    return a.updateSettings(parseInput(UpdateNetworkSettingsRequest, req.body));
  });

  // Audit log
  app.get('/v1/admin/audit', async (req) => {
    const a = await admin(req);
    return a.audit(parseInput(AuditQuery, req.query));
  });

  registerPolicyRoutes(app, ctx, deps);
}

/** Policy versions and routes; a refused policy answers 400 with PolicyRejected's problems. */
function registerPolicyRoutes(app: FastifyInstance, ctx: ControlContext, base: AdminDeps): void {
  const deps: PolicyDeps = {
    ...base,
    // The version is saved and audited by now; a failure to apply it live is the server's
    // problem to log, not the admin's request to fail.
    onPolicyChanged: async (networkId) => {
      try {
        await ctx.onPolicyChanged?.(networkId);
      } catch (e) {
        ctx.log.error({ err: e, networkId }, 'applying the new policy to live netmaps failed');
      }
    },
  };
  const caller = async (req: FastifyRequest) => callerOf(await requireAdmin(ctx, req));
  const refused = (e: unknown, reply: FastifyReply) => {
    if (e instanceof PolicyRejectedError) return reply.status(400).send(e.body());
    throw e;
  };

  app.get('/v1/admin/policy', async (req) => policyService(deps, await caller(req)).getPolicy());
  app.put('/v1/admin/policy', async (req, reply) => {
    const p = policyService(deps, await caller(req));
    const body = parseInput(PutPolicyRequest, req.body);
    return p.putPolicy(body).catch((e: unknown) => refused(e, reply));
  });
  app.get('/v1/admin/policy/versions', async (req) => {
    const p = policyService(deps, await caller(req));
    return p.listPolicyVersions(parseInput(ListQuery, req.query));
  });
  app.get('/v1/admin/policy/versions/:version', async (req) => {
    const p = policyService(deps, await caller(req));
    return p.getPolicyVersion(parseInput(PolicyVersionParams, req.params).version);
  });
  app.post('/v1/admin/policy/rollback', async (req, reply) => {
    const p = policyService(deps, await caller(req));
    const body = parseInput(RollbackPolicyRequest, req.body);
    return p.rollbackPolicy(body).catch((e: unknown) => refused(e, reply));
  });

  app.get('/v1/admin/routes', async (req) => {
    const r = routesService(deps, await caller(req));
    return r.listRoutes(parseInput(ListQuery, req.query));
  });
}
