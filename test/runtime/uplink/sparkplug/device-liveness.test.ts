import { describe, expect, it } from 'vitest';
import type { Source } from '../../../../runtime/pipeline/components.js';
import { DeviceLiveness } from '../../../../runtime/uplink/sparkplug/device-liveness.js';
import { waitFor } from '../../../support/wait-for.js';

/** A source whose answer the test sets (`undefined`: a source without the notion). */
function source(state: { answering: boolean } | undefined): Source {
  return { start: async () => undefined, stop: async () => undefined, ...(state === undefined ? {} : { answering: () => state.answering }) };
}

describe('DeviceLiveness', () => {
  it("tells the node each answering source's state, a device id answering if any of its sources does, and leaves sources without answering() alone", () => {
    const calls: string[] = [];
    const a1 = { answering: true };
    const a2 = { answering: false };
    const b = { answering: false };
    const watch = new DeviceLiveness(
      [
        { id: 'a', source: source(a1) },
        { id: 'a', source: source(a2) },
        { id: 'b', source: source(b) },
        { id: 'synthetic', source: source(undefined) },
      ],
      { setDeviceOnline: (id, online) => void calls.push(`${id} ${String(online)}`) },
    );
    watch.check();
    expect(calls).toEqual(['a true', 'b false']);
    a1.answering = false;
    b.answering = true;
    calls.length = 0;
    watch.check();
    expect(calls).toEqual(['a false', 'b true']);
  });

  it('asks a source for the part a device is (its scope), and for all of it without one', () => {
    const asked: (string | undefined)[] = [];
    const plc: Source = { start: async () => undefined, stop: async () => undefined, answering: (scope?: string) => (asked.push(scope), scope !== 'press2') };
    const calls: string[] = [];
    new DeviceLiveness(
      [
        { id: 'plc', source: plc },
        { id: 'plc.press1', source: plc, scope: 'press1' },
        { id: 'plc.press2', source: plc, scope: 'press2' },
      ],
      { setDeviceOnline: (id, online) => void calls.push(`${id} ${String(online)}`) },
    ).check();
    expect(asked).toEqual([undefined, 'press1', 'press2']);
    expect(calls).toEqual(['plc true', 'plc.press1 true', 'plc.press2 false']);
  });

  it('checks at start and then on its interval until stopped', async () => {
    const calls: boolean[] = [];
    const state = { answering: true };
    const watch = new DeviceLiveness([{ id: 'a', source: source(state) }], { setDeviceOnline: (_, online) => void calls.push(online) }, 10);
    watch.start();
    expect(calls).toEqual([true]);
    state.answering = false;
    await waitFor(() => calls.includes(false), 'a check on the timer', 2000, 5);
    watch.stop();
    const n = calls.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(calls.length).toBe(n);
  });
  it('a source whose answering() throws is told once, keeps its state, and the others are still checked', () => {
    const calls: string[] = [];
    const errors: string[] = [];
    let fail = true;
    const bad: Source = {
      start: async () => {},
      stop: async () => {},
      answering: () => {
        if (fail) throw new Error('plug-in bug');
        return true;
      },
    };
    const watch = new DeviceLiveness(
      [{ id: 'bad', source: bad }, { id: 'ok', source: source({ answering: true }) }],
      { setDeviceOnline: (id, online) => void calls.push(`${id} ${online}`) },
      1000,
      (id, err) => void errors.push(`${id}: ${err.message}`),
    );
    watch.check();
    watch.check();
    expect(calls).toEqual(['ok true', 'ok true']);
    expect(errors).toEqual(['bad: plug-in bug']);
    fail = false;
    watch.check();
    expect(calls.slice(-2)).toEqual(['bad true', 'ok true']);
  });
});
