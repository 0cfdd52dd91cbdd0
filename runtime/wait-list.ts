/**
 * Callers parked until something changes: `wait` resolves on the next `wakeAll`, or when its
 * signal aborts (and then its abort listener is removed, so long-lived signals collect no
 * listeners). Callers re-check their condition after waking.
 */
export class WaitList {
  private waiters: (() => void)[] = [];

  get size(): number {
    return this.waiters.length;
  }

  wait(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  wakeAll(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
