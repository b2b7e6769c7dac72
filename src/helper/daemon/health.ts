/** Health warnings: what is wrong right now, derived from the daemon's facts each time. */
import { MAX_MESSAGE_LENGTH } from '../../shared/schema/common.js';
import type { HealthWarning } from '../../shared/schema/localapi.js';
import type { StateIssue } from '../state/json-file.js';

/** Warn this long before the node key expires: a week leaves time to log in again. */
export const KEY_EXPIRY_WARNING_MS = 7 * 24 * 3600 * 1000;

export interface HealthFacts {
  readonly now: Date;
  readonly startedAt: Date;
  readonly controlUrl: string;
  /** Registered, wanting to run, and not waiting for a new login: control should be connected. */
  readonly expectControl: boolean;
  readonly controlConnected: boolean;
  readonly controlDownSince: Date | null;
  readonly lastControlError: string | null;
  readonly tunnelError: string | null;
  readonly tunnelErrorSince: Date | null;
  readonly reauth: { readonly message: string; readonly since: Date } | null;
  readonly keyExpiry: string | null;
  readonly stateIssues: readonly StateIssue[];
  /** Why the selected exit node cannot be used; null when none is selected or it is in use. */
  readonly exitNodeProblem: string | null;
  /** What the MagicDNS resolver could not do; null when fine. */
  readonly dnsProblem: string | null;
}

const msg = (s: string): string => s.slice(0, MAX_MESSAGE_LENGTH);

export function healthWarnings(f: HealthFacts): HealthWarning[] {
  const out: HealthWarning[] = [];
  if (f.expectControl && !f.controlConnected) {
    out.push({
      code: 'control-unreachable',
      severity: 'warning',
      message: msg(
        `not connected to control at ${f.controlUrl}${f.lastControlError ? ` (${f.lastControlError})` : ''}; tunnels keep working from the last netmap`,
      ),
      since: f.controlDownSince?.toISOString() ?? null,
    });
  }
  if (f.tunnelError) {
    out.push({
      code: 'tunnel-config-failed',
      severity: 'error',
      message: msg(`configuring the tunnel failed: ${f.tunnelError}`),
      since: f.tunnelErrorSince?.toISOString() ?? null,
    });
  }
  if (f.reauth) {
    out.push({
      code: 'login-required',
      severity: 'error',
      message: msg(f.reauth.message),
      since: f.reauth.since.toISOString(),
    });
  }
  if (f.keyExpiry) {
    const left = Date.parse(f.keyExpiry) - f.now.getTime();
    if (left < KEY_EXPIRY_WARNING_MS) {
      out.push({
        code: 'key-expiring',
        severity: left <= 0 ? 'error' : 'warning',
        message:
          left <= 0
            ? 'this device’s key has expired: log in again'
            : `this device’s key expires at ${f.keyExpiry}: log in again before then`,
        since: null,
      });
    }
  }
  for (const issue of f.stateIssues) {
    out.push({
      code: 'state-file-recovered',
      severity: 'warning',
      message: msg(
        `state file ${issue.file} was unusable (${issue.code}: ${issue.message}); ${issue.recovery === 'previous' ? 'restored its previous copy' : 'started it over'}`,
      ),
      since: f.startedAt.toISOString(),
    });
  }
  if (f.exitNodeProblem) {
    out.push({
      code: 'exit-node-unavailable',
      severity: 'error',
      message: msg(
        `the selected exit node cannot be used (${f.exitNodeProblem}); internet traffic is blocked until it can, or until the exit node is turned off`,
      ),
      since: null,
    });
  }
  if (f.dnsProblem) {
    out.push({
      code: 'dns-config-failed',
      severity: 'warning',
      message: msg(`MagicDNS: ${f.dnsProblem}`),
      since: null,
    });
  }
  return out;
}
