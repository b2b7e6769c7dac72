/** Counters a relay exposes (and an operator scrapes): plain numbers, cheap to bump per packet. */

export type RelayDropReason =
  /** No client with that node key (in the sender's network) is connected here. */
  | 'unknown-destination'
  /** The destination's send queue was over its byte or frame bound (slow or stalled reader). */
  | 'queue-full';

export type RelayAuthFailure =
  | 'hello-timeout'
  | 'bad-hello'
  | 'unsupported-version'
  | 'invalid-token'
  | 'expired'
  | 'bad-claims'
  | 'wrong-region'
  | 'key-mismatch';

export interface RelayMetrics {
  /** Authenticated clients connected now. */
  clients: number;
  connectionsAccepted: number;
  /** Connections closed because a newer one arrived with the same node key. */
  replaced: number;
  authFailures: Record<RelayAuthFailure, number>;
  forwardedPackets: number;
  forwardedBytes: number;
  dropped: Record<RelayDropReason, number>;
  droppedBytes: number;
  /** Frames that failed to decode or were not valid from a client; the connection is closed. */
  malformedFrames: number;
  /** Frames with a type this server doesn't know (newer clients); ignored. */
  unknownFrames: number;
  /** Connections ended for not answering WebSocket pings. */
  timedOut: number;
}

export function createRelayMetrics(): RelayMetrics {
  return {
    clients: 0,
    connectionsAccepted: 0,
    replaced: 0,
    authFailures: {
      'hello-timeout': 0,
      'bad-hello': 0,
      'unsupported-version': 0,
      'invalid-token': 0,
      expired: 0,
      'bad-claims': 0,
      'wrong-region': 0,
      'key-mismatch': 0,
    },
    forwardedPackets: 0,
    forwardedBytes: 0,
    dropped: { 'unknown-destination': 0, 'queue-full': 0 },
    droppedBytes: 0,
    malformedFrames: 0,
    unknownFrames: 0,
    timedOut: 0,
  };
}

/** A deep copy, safe to serialise or compare while the relay keeps counting. */
export function snapshotRelayMetrics(m: RelayMetrics): RelayMetrics {
  return { ...m, authFailures: { ...m.authFailures }, dropped: { ...m.dropped } };
}
