/**
 * What the LocalAPI server needs from the daemon: one function per endpoint (hello aside, which
 * the server answers itself), derived from `localApiEndpoints` so a new endpoint cannot be
 * forgotten. Bodies arrive parsed; answers are checked against the schema before they leave.
 */
import type * as z from 'zod';
import type { Result } from '../../shared/result.js';
import type { localApiEndpoints } from '../../shared/schema/localapi.js';
import { type LocalApiEndpointName, type LocalApiResponse } from '../../shared/schema/localapi.js';
import type { LocalApiError } from './errors.js';

type Endpoints = typeof localApiEndpoints;
type ParsedBody<E> = E extends { readonly body: infer S extends z.ZodType }
  ? z.output<S>
  : undefined;

export type HandledEndpoint = Exclude<LocalApiEndpointName, 'hello'>;

export type LocalApiHandlers = {
  readonly [N in HandledEndpoint]: (
    body: ParsedBody<Endpoints[N]>,
  ) => Promise<Result<LocalApiResponse<N>, LocalApiError>>;
};
