import {
  type Addr,
  METHOD_BINDING,
  decodeStun,
  encodeBindingSuccess,
  isStun,
} from '../../shared/stun/index.js';

/** What the server does with one datagram. */
export type StunVerdict =
  | { readonly action: 'answer'; readonly response: Uint8Array }
  | { readonly action: 'drop'; readonly reason: 'malformed' | 'unsupported' };

/**
 * Answers a Binding request with the source's reflexive address; drops everything else.
 * Unknown attributes, even comprehension-required ones (RFC 8489 would answer 420), are ignored:
 * a Binding answer reveals nothing the sender does not already see, clients from ICE stacks send
 * PRIORITY/USERNAME/etc. that a bare reflector cannot use anyway, and staying silent on anything
 * unexpected keeps the server from being a reflector for arbitrary input.
 */
export function respondToDatagram(packet: Uint8Array, from: Addr, software: string): StunVerdict {
  if (!isStun(packet)) return { action: 'drop', reason: 'malformed' };
  const decoded = decodeStun(packet);
  if (!decoded.ok) return { action: 'drop', reason: 'malformed' };
  const message = decoded.value;
  if (message.method !== METHOD_BINDING || message.cls !== 'request') {
    return { action: 'drop', reason: 'unsupported' };
  }
  const response = encodeBindingSuccess(message.transactionId, from, {
    // RFC 3489 clients only read MAPPED-ADDRESS; it costs 12 bytes.
    legacyMappedAddress: true,
    software,
    fingerprint: true,
  });
  return { action: 'answer', response };
}
