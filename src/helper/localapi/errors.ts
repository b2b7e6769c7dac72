/** Typed LocalAPI failures, as handlers return them and as they travel in LocalApiErrorBody. */
import {
  localApiErrorStatus,
  type LocalApiErrorBody,
  type LocalApiErrorCode,
} from '../../shared/schema/localapi.js';
import { MAX_MESSAGE_LENGTH } from '../../shared/schema/common.js';
import { err, type Err } from '../../shared/result.js';

export interface LocalApiError {
  readonly code: LocalApiErrorCode;
  readonly message: string;
}

export const apiError = (code: LocalApiErrorCode, message: string): Err<LocalApiError> =>
  err({ code, message: message.slice(0, MAX_MESSAGE_LENGTH) });

export function errorBody(e: LocalApiError): LocalApiErrorBody {
  return { error: { code: e.code, message: e.message.slice(0, MAX_MESSAGE_LENGTH) } };
}

export const statusOf = (code: LocalApiErrorCode): number => localApiErrorStatus[code];
