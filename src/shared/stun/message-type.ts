import type { StunClass } from './message.js';

/**
 * The 14-bit message type interleaves a 12-bit method with two class bits (RFC 8489 §5):
 *   bits  13..9  8   7..5  4   3..0
 *         M11..M7 C1 M6..M4 C0 M3..M0
 */
const CLASS_BITS: Record<StunClass, number> = {
  request: 0b00,
  indication: 0b01,
  success: 0b10,
  error: 0b11,
};
const CLASSES: readonly StunClass[] = ['request', 'indication', 'success', 'error'];

export const MAX_METHOD = 0xfff;

export function encodeMessageType(method: number, cls: StunClass): number {
  const c = CLASS_BITS[cls];
  return (
    (method & 0x000f) |
    ((method & 0x0070) << 1) |
    ((method & 0x0f80) << 2) |
    ((c & 0b01) << 4) |
    ((c & 0b10) << 7)
  );
}

export function decodeMessageType(type: number): { method: number; cls: StunClass } {
  const method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
  const c = ((type >> 4) & 0b01) | ((type >> 7) & 0b10);
  return { method, cls: CLASSES[c] as StunClass };
}
