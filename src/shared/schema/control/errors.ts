/** The control API's error body, shared by every HTTP endpoint and the map stream. */
import * as z from 'zod';
import { Message } from '../common.js';

/** Closed set: clients switch on it. Adding a code is a protocol version bump (see docs/api.md). */
export const ControlErrorCode = z.enum([
  'bad_request', // the request did not parse or is semantically invalid
  'unauthorized', // no or bad credential (session, node credential, API key)
  'forbidden', // authenticated, but the role or policy does not allow it
  'not_found',
  'conflict', // e.g. a name already taken, a key already registered to another device
  'gone', // a login session or pre-auth key that expired or was used up
  'rate_limited',
  'too_large', // request body or message above the declared bound
  'unsupported_version', // the client speaks a protocol version the server does not
  'key_expired', // the node key expired; the device must re-register (log in again)
  'unavailable', // temporarily unable to serve, e.g. storage down; retry later
  'internal',
]);
export type ControlErrorCode = z.infer<typeof ControlErrorCode>;

/** HTTP status for each code, so servers and clients agree without a second table. */
export const controlErrorStatus: Readonly<Record<ControlErrorCode, number>> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  gone: 410,
  rate_limited: 429,
  too_large: 413,
  unsupported_version: 426,
  key_expired: 401,
  unavailable: 503,
  internal: 500,
};

export const ControlError = z.object({
  code: ControlErrorCode,
  message: Message,
  /** When set, the earliest time a retry can succeed (rate_limited, unavailable). */
  retryAfterSeconds: z.number().int().min(0).max(86_400).optional(),
});
export type ControlError = z.infer<typeof ControlError>;

/** Body of every non-2xx response: `{ "error": { "code": "...", "message": "..." } }`. */
export const ControlErrorBody = z.object({ error: ControlError });
export type ControlErrorBody = z.infer<typeof ControlErrorBody>;
