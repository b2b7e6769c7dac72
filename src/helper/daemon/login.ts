/**
 * Interactive login through a control login session: start it (the URL goes to whoever shows it:
 * the CLI prints it, the desktop app opens it), then long-poll in the background until the user
 * finished in the browser, was denied, or the session expired.
 */
import { err, ok, type Result } from '../../shared/result.js';
import type { LoginPollResponse } from '../../shared/schema/control/auth.js';
import type { Clock } from '../control-client/clock.js';
import { isTransient, type ControlClientError } from '../control-client/errors.js';
import type { ControlHttpClient } from '../control-client/http.js';
import { backoffDelayMs, type BackoffPolicy } from '../relay/backoff.js';
import type { Logger } from './log.js';

/** Poll retries after a network error: control restarts and Wi-Fi roams heal within seconds. */
export const LOGIN_POLL_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 15_000 };

export type LoginOutcome =
  | {
      readonly type: 'complete';
      readonly session: Extract<LoginPollResponse, { status: 'complete' }>;
    }
  | { readonly type: 'denied'; readonly reason: string }
  | { readonly type: 'expired' };

export interface InteractiveLoginOptions {
  readonly http: Pick<ControlHttpClient, 'loginStart' | 'loginPoll'>;
  readonly hostname: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly random?: () => number;
  readonly onOutcome: (outcome: LoginOutcome) => void;
}

export class InteractiveLogin {
  private readonly abort = new AbortController();
  private url: string | null = null;

  constructor(private readonly opts: InteractiveLoginOptions) {}

  get loginUrl(): string | null {
    return this.url;
  }

  get cancelled(): boolean {
    return this.abort.signal.aborted;
  }

  /** Starts the session and the background poll; resolves with the URL to show. */
  async start(): Promise<Result<string, ControlClientError>> {
    const r = await this.opts.http.loginStart(
      { clientName: 'trellisd', hostname: this.opts.hostname.slice(0, 255) },
      this.abort.signal,
    );
    if (!r.ok) return err(r.error);
    this.url = r.value.url;
    void this.poll(r.value.pollToken);
    return ok(r.value.url);
  }

  cancel(): void {
    this.abort.abort();
  }

  private async poll(pollToken: string): Promise<void> {
    let failures = 0;
    while (!this.cancelled) {
      const r = await this.opts.http.loginPoll(pollToken, this.abort.signal);
      if (this.cancelled) return;
      if (!r.ok) {
        if (!isTransient(r.error)) {
          // not_found / gone: the session is over on control's side.
          this.opts.log.info({ code: r.error.code }, 'login session ended');
          return this.finish({ type: 'expired' });
        }
        const delay = backoffDelayMs(
          failures++,
          this.opts.random ?? Math.random,
          LOGIN_POLL_BACKOFF,
        );
        this.opts.log.debug({ error: r.error.message, delay }, 'login poll failed; retrying');
        await new Promise<void>((resolve) => this.opts.clock.setTimeout(resolve, delay));
        continue;
      }
      failures = 0;
      switch (r.value.status) {
        case 'pending':
          continue;
        case 'complete':
          return this.finish({ type: 'complete', session: r.value });
        case 'denied':
          return this.finish({ type: 'denied', reason: r.value.reason });
        case 'expired':
          return this.finish({ type: 'expired' });
      }
    }
  }

  private finish(outcome: LoginOutcome): void {
    if (this.cancelled) return;
    this.abort.abort();
    this.opts.onOutcome(outcome);
  }
}
