/**
 * The bridge's secret: anyone who can reach a loopback port could otherwise drive the VPN (other
 * local users, web pages through DNS rebinding). 32 random bytes in the URL path; compared in
 * constant time so response timing leaks nothing about how much of a guess was right.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 256 bits: beyond guessing, and URL-safe as 43 base64url characters. */
export const TOKEN_BYTES = 32;

export const newToken = (): string => randomBytes(TOKEN_BYTES).toString('base64url');

/**
 * Constant-time equality. Both sides are hashed first so inputs of different lengths compare in
 * the same time too (timingSafeEqual itself needs equal lengths).
 */
export function tokenMatches(expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected, 'utf8').digest();
  const b = createHash('sha256').update(given, 'utf8').digest();
  return timingSafeEqual(a, b);
}
