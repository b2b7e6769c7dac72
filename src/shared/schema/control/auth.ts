/**
 * Sign-in and device registration.
 *
 * A login session (`POST /v1/login`) gives a URL for the SSO window, a system browser or the CLI
 * to open, and a poll token; the client long-polls `POST /v1/login/poll` until the user finishes.
 * The resulting user session registers devices (`POST /v1/register`), as pre-auth keys do.
 */
import * as z from 'zod';
import {
  DeviceAddresses,
  DeviceId,
  DeviceName,
  DisplayName,
  Email,
  Fqdn,
  Hostname,
  HttpUrl,
  Message,
  NetworkDomain,
  NetworkId,
  NodePublicKey,
  SecretToken,
  Timestamp,
  UserId,
} from '../common.js';
import { HostInfo } from './hostinfo.js';

/**
 * How long the server holds a poll open before answering "pending": under the 60 s idle timeout
 * common to reverse proxies and load balancers, so long polls are not cut mid-wait.
 */
export const LOGIN_POLL_HOLD_SECONDS = 25;

export const UserSummary = z.object({
  id: UserId,
  email: Email.nullable(),
  name: DisplayName,
});
export type UserSummary = z.infer<typeof UserSummary>;

export const NetworkSummary = z.object({
  id: NetworkId,
  name: DisplayName,
  domain: NetworkDomain,
});
export type NetworkSummary = z.infer<typeof NetworkSummary>;

// POST /v1/login
export const LoginStartRequest = z.object({
  /** Shown on the consent page: "Trellis desktop", "trellis CLI". */
  clientName: z.string().max(64).optional(),
  hostname: Hostname.optional(),
});
export type LoginStartRequest = z.infer<typeof LoginStartRequest>;

export const LoginStartResponse = z.object({
  url: HttpUrl,
  pollToken: SecretToken,
  expiresAt: Timestamp,
});
export type LoginStartResponse = z.infer<typeof LoginStartResponse>;

// POST /v1/login/poll
export const LoginPollRequest = z.object({ pollToken: SecretToken });
export type LoginPollRequest = z.infer<typeof LoginPollRequest>;

export const LoginPollResponse = z.discriminatedUnion('status', [
  z.object({ status: z.literal('pending') }),
  z.object({
    status: z.literal('complete'),
    sessionToken: SecretToken,
    user: UserSummary,
    network: NetworkSummary,
    expiresAt: Timestamp,
  }),
  /** The user was not allowed in (domain not allowed, account disabled) or cancelled. */
  z.object({ status: z.literal('denied'), reason: Message }),
  z.object({ status: z.literal('expired') }),
]);
export type LoginPollResponse = z.infer<typeof LoginPollResponse>;

// GET /v1/me (user session)
export const WhoAmIResponse = z.object({
  user: UserSummary,
  network: NetworkSummary,
  role: z.enum(['owner', 'admin', 'member']),
  sessionExpiresAt: Timestamp,
});
export type WhoAmIResponse = z.infer<typeof WhoAmIResponse>;

// POST /v1/register
export const RegisterAuth = z.discriminatedUnion('type', [
  z.object({ type: z.literal('session'), token: SecretToken }),
  z.object({ type: z.literal('preauth'), key: SecretToken }),
]);
export type RegisterAuth = z.infer<typeof RegisterAuth>;

export const RegisterRequest = z.object({
  nodeKey: NodePublicKey,
  /**
   * The key this device registered with before, when rotating keys on re-login: the device keeps
   * its id, name and addresses instead of appearing as a new one.
   */
  oldNodeKey: NodePublicKey.optional(),
  hostInfo: HostInfo,
  auth: RegisterAuth,
  /** Ask for a device that is removed once it goes offline (CI runners, containers). */
  wantEphemeral: z.boolean().optional(),
});
export type RegisterRequest = z.infer<typeof RegisterRequest>;

export const RegisterResponse = z.object({
  deviceId: DeviceId,
  /** The device's secret for /v1/map; it never leaves the helper's state directory. */
  nodeCredential: SecretToken,
  addresses: DeviceAddresses,
  name: DeviceName,
  fqdn: Fqdn,
  /** When the node key expires; null when expiry is disabled for this device. */
  keyExpiry: Timestamp.nullable(),
  /** False while the network requires admin approval and none was given yet. */
  approved: z.boolean(),
  network: NetworkSummary,
});
export type RegisterResponse = z.infer<typeof RegisterResponse>;
