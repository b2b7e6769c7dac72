/**
 * The admin API under /v1/admin: an owner or admin user session, or an API key (members get
 * 403). Every route is an entry of the shared `controlEndpoints` table (served by
 * serveEndpoint, which parses its input with the table's schemas) handed to the admin
 * operations (src/control/admin), which the CLI runs too; changes reach live netmaps through
 * the hub.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ControlEndpointName } from '../../shared/schema/control.js';
import { requireAdmin, actorOf, type Principal } from '../auth/bearer.js';
import type { ControlContext } from '../context.js';
import { serveEndpoint, type EndpointHandler } from '../http/endpoint.js';
import { liveMesh, type Caller } from '../admin/deps.js';
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

/** Responses that carry a secret (shown once) must not sit in any cache. */
const noStore = (reply: FastifyReply): void => {
  reply.header('cache-control', 'no-store');
};

export function registerAdminRoutes(app: FastifyInstance, ctx: ControlContext): void {
  const deps: PolicyDeps = {
    store: ctx.store,
    now: ctx.now,
    mesh: liveMesh(ctx.store, ctx.hub),
    audit: (e) => ctx.audit(e),
    oidcProviderName: ctx.config.oidc?.name ?? null,
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
  const caller = async (req: FastifyRequest): Promise<Caller> =>
    callerOf(await requireAdmin(ctx, req));
  const serve = <N extends ControlEndpointName>(
    name: N,
    handle: EndpointHandler<N, Caller>['handle'],
  ): void => serveEndpoint(app, name, { authorize: caller, handle });
  const admin = (c: Caller): AdminApi => adminService(deps, c);
  const empty = {};
  /** A refused policy answers 400 with PolicyRejected's problems (line and column). */
  const refused = (e: unknown, reply: FastifyReply): FastifyReply => {
    if (e instanceof PolicyRejectedError) return reply.status(400).send(e.body());
    throw e;
  };

  // Users
  serve('listUsers', (c, { query }) => admin(c).listUsers(query));
  serve('createUser', (c, { body }) => admin(c).createUser(body));
  serve('getUser', (c, { params }) => admin(c).getUser(params.id));
  serve('updateUser', (c, { params, body }) => admin(c).updateUser(params.id, body));
  serve('setUserPassword', (c, { params, body }) => admin(c).setPassword(params.id, body));
  serve('deleteUser', async (c, { params }) => {
    await admin(c).deleteUser(params.id);
    return empty;
  });
  serve('revokeUserSessions', (c, { params }) => admin(c).revokeUserSessions(params.id));

  // Devices (route and exit node approval are fields of updateDevice)
  serve('listDevices', (c, { query }) => admin(c).listDevices(query));
  serve('getDevice', (c, { params }) => admin(c).getDevice(params.id));
  serve('updateDevice', (c, { params, body }) => admin(c).updateDevice(params.id, body));
  serve('expireDevice', (c, { params }) => admin(c).expireDevice(params.id));
  serve('deleteDevice', async (c, { params }) => {
    await admin(c).deleteDevice(params.id);
    return empty;
  });

  // Pre-auth keys
  serve('listPreauthKeys', (c, { query }) => admin(c).listPreauthKeys(query));
  serve('createPreauthKey', (c, { body }, reply) => {
    noStore(reply);
    return admin(c).createPreauthKey(body);
  });
  serve('revokePreauthKey', async (c, { params }) => {
    await admin(c).revokePreauthKey(params.id);
    return empty;
  });

  // Sessions
  serve('listSessions', (c, { query }) => admin(c).listSessions(query));
  serve('revokeSession', async (c, { params }) => {
    await admin(c).revokeSession(params.id);
    return empty;
  });

  // API keys
  serve('listApiKeys', (c, { query }) => admin(c).listApiKeys(query));
  serve('createApiKey', (c, { body }, reply) => {
    noStore(reply);
    return admin(c).createApiKey(body);
  });
  serve('revokeApiKey', async (c, { params }) => {
    await admin(c).revokeApiKey(params.id);
    return empty;
  });

  // Network settings and the audit log
  serve('getSettings', (c) => admin(c).getSettings());
  serve('updateSettings', (c, { body }) => admin(c).updateSettings(body));
  serve('auditLog', (c, { query }) => admin(c).audit(query));

  // Policy versions and routes
  serve('getPolicy', (c) => policyService(deps, c).getPolicy());
  serve('putPolicy', (c, { body }, reply) =>
    policyService(deps, c)
      .putPolicy(body)
      .catch((e: unknown) => refused(e, reply)),
  );
  serve('listPolicyVersions', (c, { query }) => policyService(deps, c).listPolicyVersions(query));
  serve('getPolicyVersion', (c, { params }) =>
    policyService(deps, c).getPolicyVersion(params.version),
  );
  serve('rollbackPolicy', (c, { body }, reply) =>
    policyService(deps, c)
      .rollbackPolicy(body)
      .catch((e: unknown) => refused(e, reply)),
  );
  serve('listRoutes', (c, { query }) => routesService(deps, c).listRoutes(query));
}
