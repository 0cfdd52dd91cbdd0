import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PlainProgress, TtyProgress, asProgress, progressFor } from '../../../sim/run/progress.js';

/** A stream that looks like a terminal to cli-progress and keeps what was drawn. */
function fakeTty(): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const s = new PassThrough();
  s.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  Object.assign(s, { isTTY: true, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true, clearScreenDown: () => true });
  return { stream: s as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

describe('the run display', () => {
  it('prints plain lines: each phase, every notable line, and the counts no more often than asked', () => {
    let now = 0;
    const lines: string[] = [];
    const p = new PlainProgress((l) => lines.push(l), 5000, () => now);
    p.phase('run', 90, 's');
    p.tick(1, '10 records delivered');
    now = 4999;
    p.tick(4.9, '40 records delivered');
    p.line('15.0 s: fault bearing-wear on press-1');
    now = 5000;
    p.tick(5, '50 records delivered, 1 alerts');
    p.phase('drain', 120, 'records');
    now = 10_000;
    p.tick(-3, '');
    p.done();
    expect(lines).toEqual([
      'scenario: 0 of 90 s',
      '15.0 s: fault bearing-wear on press-1',
      'scenario: 5 of 90 s; 50 records delivered, 1 alerts',
      'drain: 0 of 120 records',
      'drain: 0 of 120 records',
    ]);
  });

  it('draws a bar per phase on a terminal, keeps notable lines above them, and gives the cursor back', async () => {
    const tty = fakeTty();
    const p = new TtyProgress(tty.stream);
    p.phase('start', 6, 'gateways');
    p.tick(6, 'archive-1');
    p.phase('run', 90, 's');
    p.line('30.0 s: fault broker-outage of every gateway');
    p.tick(45, '5000 records delivered, 2 alerts');
    p.tick(500, 'past the end is clipped');
    p.done();
    p.done();
    const text = tty.text();
    expect(text).toContain('gateways up');
    expect(text).toContain('6/6 gateways');
    expect(text).toContain('30.0 s: fault broker-outage of every gateway');
    expect(text).toContain('90/90 s');
    expect(text).not.toContain('500/90');
    // cli-progress hides the cursor while drawing and shows it again at stop.
    expect(text).toContain('\u001b[?25h');
  });

  it('chooses bars on a terminal and plain lines on a pipe; a line callback becomes a plain display', () => {
    expect(progressFor(fakeTty().stream)).toBeInstanceOf(TtyProgress);
    expect(progressFor(new PassThrough() as unknown as NodeJS.WriteStream)).toBeInstanceOf(PlainProgress);
    const lines: string[] = [];
    const p = asProgress((l) => lines.push(l));
    p.line('fleet: console http://127.0.0.1:1/');
    expect(lines).toEqual(['fleet: console http://127.0.0.1:1/']);
    expect(() => asProgress(undefined).line('nobody listens')).not.toThrow();
  });
});
