/** What a call to control can end with besides success, as one typed value. */
import type { ControlErrorCode } from '../../shared/schema/control/errors.js';

/**
 * - a ControlErrorCode: control answered with its typed error body;
 * - network: control could not be reached (refused, reset, DNS, TLS);
 * - timeout: no answer in time;
 * - invalid_response: control answered with something that is not the declared schema.
 */
export type ControlClientErrorCode = ControlErrorCode | 'network' | 'timeout' | 'invalid_response';

export interface ControlClientError {
  readonly code: ControlClientErrorCode;
  readonly message: string;
  /** HTTP status, when control answered. */
  readonly status?: number;
  readonly retryAfterSeconds?: number;
}

/** Errors worth retrying later without user action. */
export function isTransient(e: ControlClientError): boolean {
  return (
    e.code === 'network' ||
    e.code === 'timeout' ||
    e.code === 'unavailable' ||
    e.code === 'rate_limited' ||
    e.code === 'internal'
  );
}
