/**
 * The console's only way to reach control: same-origin fetches that carry the console header
 * (control's CSRF check for the session cookie), with every response parsed by its shared
 * schema. Failures become ConsoleApiError with the API's code and message.
 */
import * as z from 'zod';
import { MAX_PAGE_SIZE, PolicyProblem } from '../../shared/schema/control/admin.js';
import { CONSOLE_HEADER, CONSOLE_HEADER_VALUE } from '../../shared/schema/control/console.js';
import { ControlErrorBody, type ControlErrorCode } from '../../shared/schema/control/errors.js';

export type PolicyProblem = z.infer<typeof PolicyProblem>;

export class ConsoleApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ControlErrorCode | 'network',
    message: string,
    /** A refused policy's problems, with line and column where known. */
    readonly problems: readonly PolicyProblem[] = [],
  ) {
    super(message);
  }
}

/** Told when control answers 401: the console session ended (signed out, expired, revoked). */
let onSessionEnded: () => void = () => undefined;
export function setSessionEndedHandler(f: () => void): void {
  onSessionEnded = f;
}

const ErrorWithProblems = ControlErrorBody.extend({
  problems: z.array(PolicyProblem).max(100).optional(),
});

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export async function request<S extends z.ZodType>(
  schema: S,
  method: Method,
  path: string,
  body?: unknown,
): Promise<z.infer<S>> {
  const headers: Record<string, string> = { [CONSOLE_HEADER]: CONSOLE_HEADER_VALUE };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let r: Response;
  try {
    r = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new ConsoleApiError(
      0,
      'network',
      'Cannot reach the control server. Check your connection.',
    );
  }
  const text = await r.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: judged by status below
  }
  if (!r.ok) {
    if (r.status === 401) onSessionEnded();
    const e = ErrorWithProblems.safeParse(json);
    if (e.success)
      throw new ConsoleApiError(r.status, e.data.error.code, e.data.error.message, e.data.problems);
    throw new ConsoleApiError(r.status, 'internal', `The server answered ${r.status}.`);
  }
  const parsed = schema.safeParse(r.status === 204 ? {} : json);
  if (!parsed.success)
    throw new ConsoleApiError(r.status, 'internal', `Unexpected answer from ${path}.`);
  return parsed.data as z.infer<S>;
}

/** `{}`: what deletes and revocations answer. */
export const Empty = z.object({});

/** Query string from defined values only. */
export function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * Every item of a paged list (admin tables are small enough to hold whole), up to `max`:
 * `truncated` says the list went on.
 */
export async function listAll<T extends z.ZodType>(
  item: T,
  path: string,
  max = 10_000,
): Promise<{ items: Array<z.infer<T>>; truncated: boolean }> {
  const Page = z.object({ items: z.array(item), nextCursor: z.string().nullable() });
  const items: Array<z.infer<T>> = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await request(Page, 'GET', `${path}${query({ limit: MAX_PAGE_SIZE, cursor })}`);
    items.push(...page.items);
    if (page.nextCursor === null) return { items, truncated: false };
    if (items.length >= max) return { items, truncated: true };
    cursor = page.nextCursor;
  }
}

/** A message for people from anything thrown. */
export function describeError(e: unknown): string {
  if (e instanceof ConsoleApiError) return e.message;
  return e instanceof Error ? e.message : String(e);
}
