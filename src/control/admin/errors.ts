/**
 * The admin operations fail with the control API's typed errors, so the HTTP routes pass them
 * through unchanged and the CLI prints their message with a non-zero exit code.
 */
import { ApiError } from '../http/errors.js';

export { ApiError };

export const notFound = (what: string): ApiError => new ApiError('not_found', `no such ${what}`);
export const conflict = (message: string): ApiError => new ApiError('conflict', message);
export const forbidden = (message: string): ApiError => new ApiError('forbidden', message);
export const badRequest = (message: string): ApiError => new ApiError('bad_request', message);
