/** Defaults for a fresh state directory. */
import type { Prefs } from '../../shared/schema/localapi.js';

/**
 * The embedded control plane's default listen address (`npm start` on the same machine), so a
 * single-machine setup needs no flag; anything else is set with --control-url or `trellis up`.
 */
export const DEFAULT_CONTROL_URL = 'http://127.0.0.1:8080';
/** Tailscale's port: a fixed default keeps firewall rules and port forwards stable. */
export const DEFAULT_WG_LISTEN_PORT = 41641;
export const DEFAULT_TUN_NAME = 'trellis0';

export function defaultPrefs(controlUrl: string): Prefs {
  return {
    controlUrl,
    wantRunning: false,
    exitNode: null,
    exitNodeAllowLAN: false,
    acceptRoutes: false,
    advertiseRoutes: [],
    advertiseExitNode: false,
    acceptDNS: true,
    hostname: null,
    blockIncoming: false,
  };
}
