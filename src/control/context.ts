/** What every route and service of trellis-control receives: config, storage, hub and helpers. */
import type { KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import type { ControlConfig } from './config.js';
import type { Policy } from './policy/index.js';
import type { NetmapHub } from './netmap/hub.js';
import type { Store } from './store/index.js';
import type { AppendAuditInput } from './store/audit.js';
import type { Network } from './store/networks.js';
import type { SourceRateLimiter } from './stun/rate-limiter.js';
import type { LoginWaiters } from './auth/login-waiters.js';

export interface ControlContext {
  readonly config: ControlConfig;
  readonly store: Store;
  readonly hub: NetmapHub;
  readonly log: Logger;
  /** Base URL for links we hand out (login pages, OIDC callback). Known once listening. */
  publicUrl(): string;
  /** The network that sign-ins without a network hint join (the embedded default has one). */
  defaultNetwork(): Promise<Network>;
  readonly loginWaiters: LoginWaiters;
  /** Sign-in attempts per client IP (password form, token exchange). */
  readonly signInLimiter: SourceRateLimiter;
  /** Registrations per client IP (each needs a valid session or key; this bounds the work). */
  readonly registerLimiter: SourceRateLimiter;
  readonly relaySigningKey: KeyObject;
  readonly now: () => number;
  /** The access policy in force for a network. */
  policyOf(networkId: string): Policy;
  /** Appends to the audit log; never fails the request that caused it (errors are logged). */
  audit(entry: AppendAuditInput): Promise<void>;
  /**
   * A new policy version is in force for the network (saved or rolled back): the netmap side
   * reloads it (store.policies.getActive) and sends deltas. Optional: absent, nothing is live.
   */
  onPolicyChanged?(networkId: string): Promise<void> | void;
}
