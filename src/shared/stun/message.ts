import type { Addr } from './address.js';

/** The two class bits of the message type (RFC 8489 §5). */
export type StunClass = 'request' | 'indication' | 'success' | 'error';

/** A 96-bit transaction id; always exactly TRANSACTION_ID_BYTES long. */
export type TransactionId = Uint8Array;

/**
 * Attributes the codec understands, plus `unknown` for the rest (kept raw, in wire order, so a
 * caller can see e.g. MESSAGE-INTEGRITY or a comprehension-required type it may want to refuse).
 */
export type StunAttribute =
  | { readonly kind: 'xor-mapped-address'; readonly address: Addr }
  | { readonly kind: 'mapped-address'; readonly address: Addr }
  | { readonly kind: 'software'; readonly value: string }
  | { readonly kind: 'error-code'; readonly code: number; readonly reason: string }
  | { readonly kind: 'unknown'; readonly type: number; readonly value: Uint8Array };

export type StunAttributeKind = StunAttribute['kind'];

export interface StunMessage {
  /** 12-bit method; METHOD_BINDING is the only one Trellis uses. */
  readonly method: number;
  readonly cls: StunClass;
  readonly transactionId: TransactionId;
  /** In wire order; FINGERPRINT is not listed here, see `fingerprint`. */
  readonly attributes: readonly StunAttribute[];
  /** Decoding: a FINGERPRINT was present and verified. Encoding: append one. */
  readonly fingerprint: boolean;
}

/** The first attribute of a kind (RFC 8489 §14: only the first of duplicates is processed). */
export function findAttribute<K extends StunAttributeKind>(
  message: StunMessage,
  kind: K,
): Extract<StunAttribute, { kind: K }> | undefined {
  for (const attribute of message.attributes) {
    if (attribute.kind === kind) return attribute as Extract<StunAttribute, { kind: K }>;
  }
  return undefined;
}

/** The reflexive address of a response: XOR-MAPPED-ADDRESS, else the legacy MAPPED-ADDRESS. */
export function mappedAddressOf(message: StunMessage): Addr | undefined {
  return (
    findAttribute(message, 'xor-mapped-address')?.address ??
    findAttribute(message, 'mapped-address')?.address
  );
}
