/**
 * WebSocket close codes a relay uses. A refused client learns only "policy violation", never
 * which check failed (signature, expiry, key binding or region), so it can't probe the checks.
 */
export const RelayCloseCode = {
  /** Server shutting down; reconnect (to this or another region) after backoff. */
  goingAway: 1001,
  /** Malformed frame, or a frame not allowed in the current state. */
  protocolError: 1002,
  /** Authentication failed or the hello didn't arrive in time. Fetch a fresh token. */
  policyViolation: 1008,
  /** A newer connection authenticated with the same node key. Reconnect only after the longest
   * backoff, so two processes sharing a key don't flap. */
  replaced: 4000,
  /** The client's protocol version isn't supported; the reason text names the server's. */
  unsupportedVersion: 4001,
  /** No traffic or pong for too long. */
  timeout: 4002,
} as const;

export type RelayCloseCode = (typeof RelayCloseCode)[keyof typeof RelayCloseCode];
