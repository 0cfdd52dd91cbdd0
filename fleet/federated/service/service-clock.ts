/**
 * The service's time: the round's clock (milliseconds since 1970, as announcements carry it)
 * and its timers. The system clock in the fleet; tests pass a clock they move themselves, so
 * that a deadline passes when the test says and never because the machine was slow.
 */
export interface ServiceClock {
  now(): number;
  /** Calls `fn` once `ms` have passed on this clock; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
}

export const systemClock: ServiceClock = {
  now: () => Date.now(),
  after(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    t.unref();
    return () => clearTimeout(t);
  },
};
