/** The policy and routes operations over a running server's admin API (`--server URL`). */
import type { PolicyAdminApi } from '../admin/policy.js';
import type { RoutesAdminApi } from '../admin/routes.js';
import { endpointCaller } from './http-admin.js';

export function httpPolicy(server: string, apiKey: string): PolicyAdminApi & RoutesAdminApi {
  const call = endpointCaller(server, apiKey);
  return {
    getPolicy: () => call('getPolicy'),
    putPolicy: (r) => call('putPolicy', { body: r }),
    listPolicyVersions: (q) => call('listPolicyVersions', { query: q }),
    getPolicyVersion: (version) => call('getPolicyVersion', { params: { version } }),
    rollbackPolicy: (r) => call('rollbackPolicy', { body: r }),
    listRoutes: (q) => call('listRoutes', { query: q }),
  };
}
