/**
 * Turning untrusted input into typed values: zod parsing wrapped into Result, with an error that
 * names where the input went wrong ("peers[3].nodeKey: expected a WireGuard key") and stays
 * bounded in size however broken the input is.
 */
import type * as z from 'zod';
import { err, ok, type DecodeError, type Result } from '../result.js';

/**
 * - invalid: the input does not match the schema.
 * - unknown_type: a message's `type` (or other root discriminator) is not one this build knows;
 *   receivers of stream messages ignore these so that newer peers can add message types.
 * - too_large: the raw text exceeded the byte bound before it was parsed.
 * - invalid_json: the raw text is not JSON.
 */
export type SchemaErrorCode = 'invalid' | 'unknown_type' | 'too_large' | 'invalid_json';

export interface SchemaIssue {
  /** Dotted path with array indices, e.g. "netmap.peers[3].nodeKey"; "" for the root. */
  readonly path: string;
  readonly message: string;
}

export interface SchemaError extends DecodeError<SchemaErrorCode> {
  readonly issues: readonly SchemaIssue[];
}

/** Issues reported per error; the first few say what is wrong, thousands would only cost memory. */
export const MAX_REPORTED_ISSUES = 8;

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}

function isUnknownDiscriminator(issue: z.core.$ZodIssue): boolean {
  return (
    issue.code === 'invalid_union' &&
    issue.path.length === 1 &&
    'discriminator' in issue &&
    issue.path[0] === issue.discriminator &&
    issue.errors.length === 0
  );
}

export function schemaError(issues: readonly z.core.$ZodIssue[]): SchemaError {
  const reported = issues.slice(0, MAX_REPORTED_ISSUES).map((i) => ({
    path: formatPath(i.path),
    message: i.message,
  }));
  const more =
    issues.length > MAX_REPORTED_ISSUES ? ` (+${issues.length - MAX_REPORTED_ISSUES} more)` : '';
  const message =
    reported.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ') + more;
  const only = issues.length === 1 ? issues[0] : undefined;
  const code = only && isUnknownDiscriminator(only) ? 'unknown_type' : 'invalid';
  return { code, message, issues: reported };
}

/** Parses `input` with `schema`. Never throws; unknown object keys are stripped. */
export function parseWith<S extends z.ZodType>(
  schema: S,
  input: unknown,
): Result<z.output<S>, SchemaError> {
  const r = schema.safeParse(input);
  return r.success ? ok(r.data) : err(schemaError(r.error.issues));
}

/**
 * Parses JSON text with `schema`, refusing text longer than `maxChars` before JSON.parse can
 * allocate for it. Transports should also cap bytes read (body limit, WebSocket maxPayload).
 */
export function parseJsonWith<S extends z.ZodType>(
  schema: S,
  text: string,
  maxChars: number,
): Result<z.output<S>, SchemaError> {
  if (text.length > maxChars) {
    return err({
      code: 'too_large',
      message: `message of ${text.length} chars exceeds ${maxChars}`,
      issues: [],
    });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const detail = e instanceof Error ? e.message.slice(0, 200) : 'syntax error';
    return err({ code: 'invalid_json', message: `not JSON: ${detail}`, issues: [] });
  }
  return parseWith(schema, value);
}

/** A `parseX(input)` function for one schema. */
export const parser =
  <S extends z.ZodType>(schema: S) =>
  (input: unknown): Result<z.output<S>, SchemaError> =>
    parseWith(schema, input);
