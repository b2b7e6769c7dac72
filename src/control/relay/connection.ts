/**
 * One client's WebSocket as the relay sees it: its identity once authenticated, its bounded send
 * queue, and the peers it wants presence notices about.
 */
import WebSocket from 'ws';

export interface QueueLimits {
  /** Bytes buffered in user space (ws bufferedAmount) before new frames are dropped. */
  readonly maxBytes: number;
  /** Frames handed to ws but not yet written to the kernel (while any bytes are buffered). */
  readonly maxFrames: number;
}

/**
 * Per-client send queue bound. The kernel socket buffer absorbs bursts first (up to a few MiB on
 * Linux with autotuning); past that, 1 MiB / 512 frames in user space is ~0.3 s of a 25 Mbit/s
 * flow — enough to ride out a stall, small enough that 1000 stalled clients cost at most 1 GiB.
 * WireGuard and TCP inside the tunnel recover from the drops, as they would on a lossy link.
 */
export const DEFAULT_QUEUE_LIMITS: QueueLimits = { maxBytes: 1024 * 1024, maxFrames: 512 };

/**
 * Peers one client can get presence notices about. A client talks to at most its netmap's peers
 * through one relay; 4096 bounds memory per client if it sprays random destinations.
 */
export const MAX_WATCHED_PEERS = 4096;

export type ConnState = 'hello' | 'verifying' | 'active' | 'closed';

export class RelayConnection {
  state: ConnState = 'hello';
  /** Set once authenticated. */
  nodeKey: Uint8Array | undefined;
  /** Registry id: network id + node key, so equal keys in two networks never meet. */
  id = '';
  networkId = '';
  /** Registry ids of peers this client exchanged packets with or asked for (for notices). */
  readonly watching = new Set<string>();
  /** Frames received while the token was being verified, replayed once active. */
  readonly preAuth: Uint8Array[] = [];
  /** Monotonic ms of the last frame or pong from the client. */
  lastHeard: number;
  private pendingFrames = 0;

  constructor(
    readonly ws: WebSocket,
    private readonly limits: QueueLimits,
    now: number,
  ) {
    this.lastHeard = now;
  }

  get queuedBytes(): number {
    return this.ws.bufferedAmount;
  }

  get queuedFrames(): number {
    return this.pendingFrames;
  }

  /** Queues one frame; false when the socket is gone or the queue is over a bound (dropped). */
  enqueue(frame: Uint8Array): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    const buffered = this.ws.bufferedAmount;
    // Write callbacks of frames the kernel took synchronously still run a tick later, so a burst
    // parsed from one TCP read would count as pending without anything queued: the frame bound
    // only applies while bytes are actually waiting in user space.
    if (
      (buffered > 0 && this.pendingFrames >= this.limits.maxFrames) ||
      buffered + frame.length > this.limits.maxBytes
    ) {
      return false;
    }
    this.pendingFrames++;
    this.ws.send(frame, { binary: true }, () => {
      this.pendingFrames--;
    });
    return true;
  }

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.ws.close(code, reason);
  }
}
