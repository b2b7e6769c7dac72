/**
 * Typed API errors. Every failure a client can cause ends as `{ error: { code, message } }` with a
 * 4xx status; only our own bugs become a 500, and those never echo internals.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { controlErrorStatus, type ControlErrorCode } from '../../shared/schema/control/errors.js';

export type ApiErrorCode = ControlErrorCode;

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.status = controlErrorStatus[code];
  }
}

/** Credentials are refused with one message whatever part was wrong (unknown, expired, revoked). */
export const unauthorized = (): ApiError =>
  new ApiError('unauthorized', 'missing or invalid credentials');

/** Parse, don't validate: a request body or query becomes a typed value or a 400. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data as z.infer<S>;
  const issue = r.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  throw new ApiError('bad_request', `${where}${issue?.message ?? 'invalid input'}`);
}

export function errorBody(code: ApiErrorCode, message: string) {
  return { error: { code, message } };
}

/** Maps every thrown error onto the typed body; fastify's own errors keep their 4xx meaning. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((e: FastifyError | ApiError, req, reply) => {
    if (e instanceof ApiError) {
      return reply.status(e.status).send(errorBody(e.code, e.message));
    }
    const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) {
      return reply.status(413).send(errorBody('too_large', 'request body too large'));
    }
    if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || status === 415) {
      return reply.status(415).send(errorBody('bad_request', 'unsupported content type'));
    }
    if (status === 429)
      return reply.status(429).send(errorBody('rate_limited', 'too many requests'));
    if (status >= 400 && status < 500) {
      return reply.status(400).send(errorBody('bad_request', e.message));
    }
    req.log.error({ err: e }, 'unhandled error');
    return reply.status(500).send(errorBody('internal', 'internal error'));
  });
  app.setNotFoundHandler((_req, reply) =>
    reply.status(404).send(errorBody('not_found', 'no such route')),
  );
}
