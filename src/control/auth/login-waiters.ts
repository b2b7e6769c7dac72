/**
 * Long-poll wake-ups for login sessions. The browser side completing a login wakes the poller on
 * this instance at once; pollers also re-check storage on a short timer, so a login completed on
 * another control replica (PostgreSQL scale-out) is seen within that period.
 */
export class LoginWaiters {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Resolves when `loginId` is notified or after `ms`, whichever is first. */
  wait(loginId: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(loginId);
      if (!set) this.waiters.set(loginId, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0) this.waiters.delete(loginId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done);
      set.add(done);
    });
  }

  notify(loginId: string): void {
    for (const w of [...(this.waiters.get(loginId) ?? [])]) w();
  }
}
