import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { isJournalStream, journalPrefix, syslogPriority } from '../../../runtime/systemd/journal.js';
import type { NotifySink } from '../../../runtime/systemd/notify-socket.js';
import { Watchdog, watchdogFromEnv } from '../../../runtime/systemd/watchdog.js';

class RecordingSink implements NotifySink {
  readonly sent: Record<string, string>[] = [];
  send(fields: Readonly<Record<string, string>>): void {
    this.sent.push({ ...fields });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('the watchdog', () => {
  it('reads WATCHDOG_USEC only for this process, and nothing malformed', () => {
    expect(watchdogFromEnv({ WATCHDOG_USEC: '60000000' }, 42)).toEqual({ intervalMs: 60_000 });
    expect(watchdogFromEnv({ WATCHDOG_USEC: '60000000', WATCHDOG_PID: '42' }, 42)).toEqual({ intervalMs: 60_000 });
    expect(watchdogFromEnv({ WATCHDOG_USEC: '60000000', WATCHDOG_PID: '41' }, 42)).toBeUndefined();
    for (const bad of ['', '-5', '1e6', '60s', '500']) expect(watchdogFromEnv({ WATCHDOG_USEC: bad }, 42)).toBeUndefined();
    expect(watchdogFromEnv({}, 42)).toBeUndefined();
  });

  it('pings only while every check passes, says why once per change, and resumes', () => {
    const sink = new RecordingSink();
    let store: string | undefined;
    const events: string[] = [];
    const wd = new Watchdog(sink, { intervalMs: 6000 }, [(_now, stallMs) => (stallMs === 3000 ? store : 'wrong stall'), () => undefined], {
      withheld: (r) => events.push(`withheld ${r.join()}`),
      resumed: () => events.push('resumed'),
    });
    expect(wd.pingEveryMs).toBe(2000);
    wd.tick(0);
    store = 'store: a write has not returned for 4 s';
    wd.tick(2000);
    store = 'store: a write has not returned for 6 s';
    wd.tick(4000);
    store = undefined;
    wd.tick(6000);
    expect(sink.sent).toEqual([
      { WATCHDOG: '1' },
      { STATUS: 'watchdog withheld: store: a write has not returned for 4 s' },
      { STATUS: 'watchdog withheld: store: a write has not returned for 6 s' },
      { STATUS: 'running' },
      { WATCHDOG: '1' },
    ]);
    expect(events).toEqual(['withheld store: a write has not returned for 4 s', 'resumed']);
  });
});

describe('journal priorities', () => {
  it('maps every pino level to its syslog priority and leaves other lines alone', () => {
    expect([10, 20, 30, 40, 50, 60].map(syslogPriority)).toEqual([7, 7, 6, 4, 3, 2]);
    expect(journalPrefix('{"level":50,"time":"x","msg":"boom"}')).toBe('<3>');
    expect(journalPrefix('{"level":30}')).toBe('<6>');
    fc.assert(
      fc.property(fc.string(), (s) => {
        const p = journalPrefix(s);
        return s.startsWith('{"level":') ? /^(<[2-7]>)?$/.test(p) : p === '';
      }),
    );
  });

  it('knows the journal stream by its device and inode, not by the variable alone', () => {
    const fd = openSync('/proc/self/status', 'r');
    try {
      const st = fstatSync(fd);
      expect(isJournalStream({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }, fd)).toBe(true);
      expect(isJournalStream({ JOURNAL_STREAM: `${st.dev}:${st.ino + 1}` }, fd)).toBe(false);
      expect(isJournalStream({}, fd)).toBe(false);
    } finally {
      closeSync(fd);
    }
  });
});
