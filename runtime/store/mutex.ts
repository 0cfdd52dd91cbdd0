/**
 * Runs async sections one at a time, in call order. The outbox puts every read and write
 * of its key ranges through one of these so that its byte counters, leases and cursors
 * never see two operations interleave.
 */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.tail.then(section, section);
    // The chain must survive a failed section; the caller still sees the rejection.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
