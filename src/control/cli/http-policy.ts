/** The policy and routes operations over a running server's admin API (`--server URL`). */
import {
  DeviceRoutesList,
  PolicyDocument,
  PolicyVersionList,
} from '../../shared/schema/control/admin.js';
import type { PolicyAdminApi } from '../admin/policy.js';
import type { RoutesAdminApi } from '../admin/routes.js';
import { adminSender } from './http-admin.js';

export function httpPolicy(server: string, apiKey: string): PolicyAdminApi & RoutesAdminApi {
  const send = adminSender(server, apiKey);
  return {
    getPolicy: () => send('GET', '/v1/admin/policy', PolicyDocument),
    putPolicy: (r) => send('PUT', '/v1/admin/policy', PolicyDocument, { body: r }),
    listPolicyVersions: (q) =>
      send('GET', '/v1/admin/policy/versions', PolicyVersionList, { query: q }),
    getPolicyVersion: (v) => send('GET', `/v1/admin/policy/versions/${v}`, PolicyDocument),
    rollbackPolicy: (r) => send('POST', '/v1/admin/policy/rollback', PolicyDocument, { body: r }),
    listRoutes: (q) => send('GET', '/v1/admin/routes', DeviceRoutesList, { query: q }),
  };
}
