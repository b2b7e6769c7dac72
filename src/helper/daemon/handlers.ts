/** The LocalAPI endpoints, answered by the daemon. */
import { ok } from '../../shared/result.js';
import type { LocalApiHandlers } from '../localapi/handlers.js';
import type { Daemon } from './daemon.js';

export function daemonHandlers(d: Daemon): LocalApiHandlers {
  return {
    status: async () => ok(await d.status()),
    getPrefs: async () => ok(d.getPrefs()),
    patchPrefs: (patch) => d.patchPrefs(patch),
    up: (req) => d.up(req),
    down: () => d.down(),
    login: (req) => d.loginWith(req),
    logout: () => d.logout(),
    netcheck: () => d.netcheck(),
    ping: (req) => d.ping(req),
    suggestExitNode: () => d.suggestExitNode(),
  };
}
