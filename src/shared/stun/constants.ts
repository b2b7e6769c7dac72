/** Wire constants of STUN (RFC 8489, which obsoletes RFC 5389; the encoding is unchanged). */

/** Fixed value at header bytes 4..7; tells RFC 5389+ STUN apart from RFC 3489 and other traffic. */
export const MAGIC_COOKIE = 0x2112a442;
export const HEADER_BYTES = 20;
export const TRANSACTION_ID_BYTES = 12;
/** Attribute header: 16-bit type and 16-bit value length. */
export const ATTRIBUTE_HEADER_BYTES = 4;
/** FINGERPRINT is CRC-32 of the message XOR this ("STUN" in ASCII), so it differs from other CRCs. */
export const FINGERPRINT_XOR = 0x5354554e;

export const METHOD_BINDING = 0x001;

export const ATTR = {
  MAPPED_ADDRESS: 0x0001,
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  REALM: 0x0014,
  NONCE: 0x0015,
  XOR_MAPPED_ADDRESS: 0x0020,
  SOFTWARE: 0x8022,
  FINGERPRINT: 0x8028,
} as const;

/** Types below 0x8000 are comprehension-required (RFC 8489 §14); the codec reports them. */
export const COMPREHENSION_OPTIONAL_MIN = 0x8000;

/**
 * Most attributes one message may carry before the decoder rejects it. A Binding exchange,
 * even with ICE's PRIORITY/USERNAME/MESSAGE-INTEGRITY/etc., uses about ten; 64 leaves ample
 * headroom while bounding the work and memory an attacker's 64 KiB datagram can cause.
 */
export const MAX_ATTRIBUTES = 64;

/** RFC 8489 §14.9/§14.8: SOFTWARE and the ERROR-CODE reason are < 128 characters, ≤ 763 bytes. */
export const MAX_TEXT_BYTES = 763;

/** IANA-assigned STUN port; what deployments use unless told otherwise. */
export const STUN_DEFAULT_PORT = 3478;
