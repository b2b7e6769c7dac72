/**
 * Serves one entry of the shared `controlEndpoints` table: method, path, success status and the
 * parsing of path parameters, query and body all come from the table, so the server cannot
 * drift from what clients and docs/api.md are given. The caller is authorized before its input
 * is parsed (a member with a malformed request learns only that it may not ask).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  controlEndpoints,
  type ControlBody,
  type ControlEndpoint,
  type ControlEndpointName,
  type ControlParams,
  type ControlQuery,
  type ControlResponse,
} from '../../shared/schema/control.js';
import { parseInput } from './errors.js';

export interface EndpointInput<N extends ControlEndpointName> {
  readonly params: ControlParams<N>;
  readonly query: ControlQuery<N>;
  readonly body: ControlBody<N>;
}

export interface EndpointHandler<N extends ControlEndpointName, A> {
  /** Authenticates and authorizes the request (throws the typed 401/403). */
  authorize(req: FastifyRequest): Promise<A>;
  /** The response, or the reply itself when the handler sent something else (an error body). */
  handle(
    auth: A,
    input: EndpointInput<N>,
    reply: FastifyReply,
  ): Promise<ControlResponse<N> | FastifyReply>;
}

export function serveEndpoint<N extends ControlEndpointName, A>(
  app: FastifyInstance,
  name: N,
  h: EndpointHandler<N, A>,
): void {
  const ep: ControlEndpoint = controlEndpoints[name];
  app.route({
    method: ep.method,
    url: ep.path,
    handler: async (req, reply) => {
      const auth = await h.authorize(req);
      const input = {
        params: ep.params ? parseInput(ep.params, req.params) : undefined,
        query: ep.query ? parseInput(ep.query, req.query) : undefined,
        // A POST without a body is an empty object (every field optional or defaulted).
        body: ep.body ? parseInput(ep.body, req.body ?? {}) : undefined,
      } as EndpointInput<N>;
      const out = await h.handle(auth, input, reply);
      if (out === reply) return reply;
      if (ep.status === 204) return reply.status(204).send();
      return reply.status(ep.status ?? 200).send(out);
    },
  });
}
