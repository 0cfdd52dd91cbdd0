import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PerlNotifySink, encodeNotify, notifySocketFromEnv } from '../../../runtime/systemd/notify-socket.js';
import { NotifyReceiver } from '../../support/notify-receiver.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

describe('sd_notify through the perl helper', () => {
  let dir: { path: string; remove: () => Promise<void> };
  const receivers: NotifyReceiver[] = [];
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    for (const r of receivers.splice(0)) await r.stop();
    await dir.remove();
  });

  it('sends each message as one datagram, intact, to a path and to an abstract name, from one long-lived helper', async () => {
    for (const socket of [join(dir.path, 'n.sock'), `@edgewise-test-${process.pid}-${Date.now()}`]) {
      const r = await NotifyReceiver.start(socket);
      receivers.push(r);
      const problems: string[] = [];
      const sink = notifySocketFromEnv({ NOTIFY_SOCKET: socket }, (code, reason) => problems.push(`${code}: ${reason}`));
      expect(sink).toBeDefined();
      sink?.send({ READY: '1', STATUS: 'running: gateway gw-ü, 2 pipeline(s) = ok' });
      sink?.send({ STATUS: 'two\nlines' });
      for (let i = 0; i < 50; i += 1) sink?.send({ WATCHDOG: '1' });
      await waitFor(() => r.messages.length >= 52, `52 datagrams on ${socket}`);
      expect(r.messages[0]?.msg).toBe('READY=1\nSTATUS=running: gateway gw-ü, 2 pipeline(s) = ok');
      expect(r.messages[1]?.fields).toEqual({ STATUS: 'two lines' });
      expect(new Set(r.messages.map((m) => m.pid)).size).toBe(1); // one helper sent them all
      await sink?.close();
      expect(problems).toEqual([]);
    }
  });

  it('falls back to systemd-notify, and says so once, when perl cannot run', async () => {
    const r = await NotifyReceiver.start(join(dir.path, 'fallback.sock'));
    receivers.push(r);
    const problems: string[] = [];
    const sink = new PerlNotifySink({ socket: r.socket, onProblem: (code) => problems.push(code), perl: join(dir.path, 'no-such-perl') });
    await waitFor(() => problems.length > 0, 'the missing helper to be noticed');
    sink.send({ READY: '1' });
    sink.send({ WATCHDOG: '1' });
    // systemd-notify's own PID is gone by the time a real systemd reads it: the race the helper avoids.
    await waitFor(() => r.messages.some((m) => m.fields['READY'] === '1') && r.messages.some((m) => m.fields['WATCHDOG'] === '1'), 'both messages through systemd-notify');
    expect(problems).toEqual(['E_SD_NOTIFY_HELPER']);
    await sink.close();
  });

  it('does nothing without NOTIFY_SOCKET, and refuses an address it does not speak', () => {
    const problems: string[] = [];
    expect(notifySocketFromEnv({}, (c) => problems.push(c))).toBeUndefined();
    expect(notifySocketFromEnv({ NOTIFY_SOCKET: 'vsock:2:1234' }, (c) => problems.push(c))).toBeUndefined();
    expect(problems).toEqual(['E_SD_NOTIFY_SOCKET']);
    expect(encodeNotify({ A: '1', B: 'x\r\ny' })).toBe('A=1\nB=x y');
  });
});
