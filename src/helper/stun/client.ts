import {
  type Addr,
  METHOD_BINDING,
  TransactionTracker,
  decodeStun,
  encodeBindingRequest,
  findAttribute,
  isStun,
  mappedAddressOf,
  newTransactionId,
} from '../../shared/stun/index.js';
import type { TransactionId } from '../../shared/stun/index.js';
import { type Result, err, ok } from '../../shared/result.js';

/** Where to send a Binding request: an IP literal or a name the transport resolves. */
export interface StunEndpoint {
  readonly host: string;
  readonly port: number;
}

export type StunClientError =
  | { readonly code: 'timeout'; readonly message: string }
  | { readonly code: 'error-response'; readonly message: string; readonly errorCode: number }
  | { readonly code: 'bad-response'; readonly message: string }
  | { readonly code: 'send-failed'; readonly message: string }
  | { readonly code: 'bind-failed'; readonly message: string }
  | { readonly code: 'closed'; readonly message: string };

export interface StunBindingResult {
  /** Our address as the server saw it (the reflexive / "mapped" address). */
  readonly mapped: Addr;
  /** Round trip of the transmission that was answered. */
  readonly rttMs: number;
  /** Source of the response, when the transport reported it. */
  readonly server?: Addr;
}

export interface BindingOptions {
  /** Overall deadline from the first transmission. */
  readonly timeoutMs?: number;
  /** Retransmissions after the first request (so retries + 1 transmissions at most). */
  readonly retries?: number;
  /** Wait before the first retransmission; doubles after each. */
  readonly initialRtoMs?: number;
}

/**
 * RFC 8489 §6.2.1's recommended initial RTO: far above a typical path RTT, so a retransmission
 * almost always means loss, not a slow answer, even on cellular or satellite links.
 */
export const INITIAL_RTO_MS = 500;
/**
 * Two retransmissions (at 0.5 s and 1.5 s) instead of the RFC's six: a netcheck probes several
 * servers at once and must finish in seconds, and three losses in a row mean the path is unusable.
 */
export const DEFAULT_RETRIES = 2;
/**
 * The RFC's 39.5 s total suits ICE; for a probe an answer later than 3 s is useless anyway.
 * It leaves the last transmission 1.5 s, three times the initial RTO.
 */
export const DEFAULT_TIMEOUT_MS = 3000;

export interface StunClientOptions {
  /** Sends one datagram on the caller's socket; a rejection fails the binding as 'send-failed'. */
  readonly send: (packet: Uint8Array, to: StunEndpoint) => Promise<void>;
  /** Milliseconds from any fixed origin (for RTTs and expiry); injectable for tests. */
  readonly now?: () => number;
  /** SOFTWARE attribute of requests; omitted when undefined. */
  readonly software?: string;
}

interface PendingBinding {
  readonly ids: TransactionId[];
  readonly timers: ReturnType<typeof setTimeout>[];
  readonly finish: (result: Result<StunBindingResult, StunClientError>) => void;
}

interface Attempt {
  readonly binding: PendingBinding;
  readonly sentAt: number;
}

/**
 * A STUN Binding client that does not own a socket: it hands requests to `send`, and the owner
 * of the socket passes every incoming STUN datagram to `handle`. That lets magicsock share one
 * UDP socket between STUN, disco and WireGuard.
 *
 * Each transmission is its own transaction (a fresh id) rather than RFC 8489's retransmission of
 * one id, so an answer always identifies which transmission it answers and the RTT is exact
 * (Karn's ambiguity). Binding is stateless on the server, so this costs nothing.
 */
export class StunClient {
  private readonly attempts: TransactionTracker<Attempt>;
  private readonly bindings = new Set<PendingBinding>();
  private readonly now: () => number;
  private closed = false;

  /** @throws RangeError for an over-long `software`, here rather than on each transmission. */
  constructor(private readonly options: StunClientOptions) {
    encodeBindingRequest(newTransactionId(), optionalSoftware(options.software));
    this.now = options.now ?? (() => performance.now());
    this.attempts = new TransactionTracker<Attempt>({ ttlMs: DEFAULT_TIMEOUT_MS, now: this.now });
  }

  /** Asks `server` for our reflexive address. Never rejects. */
  binding(
    server: StunEndpoint,
    options: BindingOptions = {},
  ): Promise<Result<StunBindingResult, StunClientError>> {
    if (this.closed) return Promise.resolve(err({ code: 'closed', message: 'STUN client closed' }));
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const retries = options.retries ?? DEFAULT_RETRIES;
    // At least 1 ms, so the doubling schedule always reaches the deadline.
    let rtoMs = Math.max(1, options.initialRtoMs ?? INITIAL_RTO_MS);

    return new Promise((resolve) => {
      const binding: PendingBinding = {
        ids: [],
        timers: [],
        finish: (result) => {
          if (!this.bindings.delete(binding)) return;
          for (const timer of binding.timers) clearTimeout(timer);
          for (const id of binding.ids) this.attempts.delete(id);
          resolve(result);
        },
      };
      this.bindings.add(binding);

      const startedAt = this.now();
      const elapsedMs = (): number => this.now() - startedAt;
      const transmit = (): void => {
        const id = newTransactionId();
        binding.ids.push(id);
        const remainingMs = Math.max(0, timeoutMs - elapsedMs());
        this.attempts.add(id, { binding, sentAt: this.now() }, remainingMs);
        const request = encodeBindingRequest(id, optionalSoftware(this.options.software));
        let sending: Promise<void>;
        try {
          sending = this.options.send(request, server);
        } catch (error) {
          sending = Promise.reject(error); // a `send` that throws is handled like one that rejects
        }
        sending.catch((error: unknown) => {
          binding.finish(err({ code: 'send-failed', message: errorMessage(error) }));
        });
      };

      let at = 0;
      for (let retry = 1; retry <= retries; retry++) {
        at += rtoMs;
        rtoMs *= 2;
        if (at >= timeoutMs) break;
        binding.timers.push(setTimeout(transmit, at));
      }
      binding.timers.push(
        setTimeout(
          () =>
            binding.finish(
              err({
                code: 'timeout',
                message: `no STUN answer from ${server.host}:${server.port} in ${timeoutMs} ms`,
              }),
            ),
          timeoutMs,
        ),
      );
      transmit();
    });
  }

  /**
   * Offers an incoming datagram. Returns true when it answered one of our transactions; anything
   * else (not STUN, malformed, unknown or expired id, not a Binding response) is ignored.
   */
  handle(packet: Uint8Array, from?: Addr): boolean {
    if (!isStun(packet)) return false;
    const decoded = decodeStun(packet);
    if (!decoded.ok) return false;
    const message = decoded.value;
    if (
      message.method !== METHOD_BINDING ||
      (message.cls !== 'success' && message.cls !== 'error')
    ) {
      return false;
    }
    const attempt = this.attempts.take(message.transactionId);
    if (attempt === undefined) return false;
    const { binding, sentAt } = attempt;
    if (message.cls === 'error') {
      const error = findAttribute(message, 'error-code');
      binding.finish(
        err({
          code: 'error-response',
          errorCode: error?.code ?? 0,
          message: `STUN error ${error?.code ?? '(no ERROR-CODE)'} ${error?.reason ?? ''}`.trim(),
        }),
      );
      return true;
    }
    const mapped = mappedAddressOf(message);
    if (mapped === undefined) {
      binding.finish(
        err({ code: 'bad-response', message: 'Binding response without a mapped address' }),
      );
      return true;
    }
    const rttMs = this.now() - sentAt;
    binding.finish(ok(from === undefined ? { mapped, rttMs } : { mapped, rttMs, server: from }));
    return true;
  }

  /** Fails all pending bindings with 'closed' and refuses new ones. */
  close(): void {
    this.closed = true;
    for (const binding of [...this.bindings]) {
      binding.finish(err({ code: 'closed', message: 'STUN client closed' }));
    }
  }
}

function optionalSoftware(software: string | undefined): { software?: string } {
  return software === undefined ? {} : { software };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
