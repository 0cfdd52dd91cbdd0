import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RtpSequence } from '../../../../devices/camera/rtsp/rtp-sequence.js';

describe('RTP sequence numbers', () => {
  it('counts every gap as lost packets, across the 16-bit wrap', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.array(fc.integer({ min: 1, max: 500 }), { maxLength: 300 }), (first, steps) => {
        const seq = new RtpSequence();
        expect(seq.next(first, 7)).toEqual({ kind: 'next', lost: 0 });
        let s = first;
        for (const step of steps) {
          s = (s + step) & 0xffff;
          expect(seq.next(s, 7)).toEqual({ kind: 'next', lost: step - 1 });
        }
        expect(seq.lost).toBe(steps.reduce((n, step) => n + step - 1, 0));
        expect(seq.dropped).toBe(0);
      }),
    );
  });

  it('drops duplicates and late packets without counting them lost', () => {
    const seq = new RtpSequence();
    for (const s of [65534, 65535, 0, 1]) expect(seq.next(s, 1).kind).toBe('next');
    expect(seq.next(1, 1)).toEqual({ kind: 'drop' }); // duplicate
    expect(seq.next(65535, 1)).toEqual({ kind: 'drop' }); // late, from before the wrap
    expect(seq.next(2, 1)).toEqual({ kind: 'next', lost: 0 });
    expect(seq).toMatchObject({ lost: 0, dropped: 2 });
  });

  it('follows a sender that restarts its numbering after two packets in a row, counting no loss', () => {
    const seq = new RtpSequence();
    for (let s = 40_000; s < 40_010; s += 1) seq.next(s, 1);
    expect(seq.next(20_000, 1)).toEqual({ kind: 'drop' }); // far behind: late, or a restart?
    expect(seq.next(20_001, 1)).toEqual({ kind: 'restart' }); // its successor: a restart
    expect(seq.next(20_002, 1)).toEqual({ kind: 'next', lost: 0 });
    expect(seq.lost).toBe(0);
  });

  it('treats a new SSRC as a new stream', () => {
    const seq = new RtpSequence();
    expect(seq.next(100, 1)).toEqual({ kind: 'next', lost: 0 });
    expect(seq.next(7, 2)).toEqual({ kind: 'restart' });
    expect(seq.next(8, 2)).toEqual({ kind: 'next', lost: 0 });
    expect(seq.lost).toBe(0);
  });
});
