/**
 * A scripted control for the app's sign-in calls (login start, poll, whoami, end session), in
 * process. Each poll answer is taken from a queue the test fills. Test-only.
 */
import { err, ok, type Result } from '../../../shared/result.js';
import type { LoginPollResponse } from '../../../shared/schema/control/auth.js';
import type { ControlAuthApi, ControlAuthError } from '../control-auth.js';

export const FAKE_SESSION_TOKEN = 'tr_sess_0123456789abcdefghij';
export const FAKE_LOGIN_URL = 'https://control.example.com/login/tr_login_abcdefghijklmnopqrstu';

export const completePoll = (token = FAKE_SESSION_TOKEN): LoginPollResponse => ({
  status: 'complete',
  sessionToken: token,
  user: { id: 'u1', email: 'alice@example.com', name: 'Alice' },
  network: { id: 'net1', name: 'Acme', domain: 'acme.trellis' },
  expiresAt: '2099-01-01T00:00:00.000Z',
});

export class FakeControlAuth implements ControlAuthApi {
  readonly polls: (Result<LoginPollResponse, ControlAuthError> | 'hang')[] = [];
  readonly calls: string[] = [];
  startError: ControlAuthError | null = null;

  async loginStart(controlUrl: string) {
    this.calls.push(`start ${controlUrl}`);
    if (this.startError) return err(this.startError);
    return ok({
      url: FAKE_LOGIN_URL,
      pollToken: 'tr_poll_0123456789abcdefghij',
      expiresAt: '2099-01-01T00:00:00.000Z',
    });
  }

  private wake: (() => void) | null = null;

  /** Queues a poll answer, releasing a poll that is waiting for one. */
  answer(r: Result<LoginPollResponse, ControlAuthError>): void {
    this.polls.push(r);
    this.wake?.();
  }

  async loginPoll(_controlUrl: string, _pollToken: string, signal?: AbortSignal) {
    this.calls.push('poll');
    if (this.polls.length === 0) {
      // Like a long-poll: holds until an answer is queued, or answers "pending" when aborted.
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        signal?.addEventListener('abort', () => resolve());
      });
      this.wake = null;
    }
    const next = this.polls.shift();
    if (!next || next === 'hang') return ok({ status: 'pending' as const });
    return next;
  }

  async whoAmI() {
    return err({ code: 'unauthorized', message: 'not scripted' });
  }

  async endSession(_controlUrl: string, token: string) {
    this.calls.push(`end ${token}`);
    return ok({});
  }
}
