/**
 * Typed results for code that handles untrusted input: decoders return a Result instead of
 * throwing, so a malformed packet can never surface as an unhandled exception.
 */
export type Ok<T> = { readonly ok: true; readonly value: T };
export type Err<E> = { readonly ok: false; readonly error: E };
export type Result<T, E> = Ok<T> | Err<E>;

export const ok = <T>(value: T): Ok<T> => ({ ok: true, value });
export const err = <E>(error: E): Err<E> => ({ ok: false, error });

/** The error every binary decoder returns: a machine-readable code and a human-readable detail. */
export interface DecodeError<C extends string = string> {
  readonly code: C;
  readonly message: string;
}

export const decodeError = <C extends string>(code: C, message: string): Err<DecodeError<C>> =>
  err({ code, message });
