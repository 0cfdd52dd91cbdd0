import { describe, expect, it } from 'vitest';
import type { PortCounters, PortOptions, SerialTransport } from '../../../devices/serial-sensor/port.js';
import { SerialSensorSource } from '../../../devices/serial-sensor/serial-sensor.js';
import type { SourceContext } from '../../../runtime/pipeline/components.js';
import { memorySerialSensorOptions } from '../../support/serial-sensor-options.js';
import { quietEvents } from '../../support/store.js';

/** A line in memory whose port is opened and closed by the test. */
class SwitchTransport implements SerialTransport {
  readonly counters: PortCounters = { opens: 0, closes: 0, openFailures: 0, writeErrors: 0, droppedWriteBytes: 0, bytesIn: 0, bytesOut: 0 };
  isOpen = false;
  constructor(readonly options: PortOptions) {}
  start(): void {}
  write(): void {}
  pause(): void {}
  resume(): void {}
  async stop(): Promise<void> {}
}

describe('serial sensor answering()', () => {
  it('answers while its port is open, and not while it is closed (adapter unplugged, pty gone)', async () => {
    let transport: SwitchTransport | undefined;
    const source = new SerialSensorSource(memorySerialSensorOptions((o) => (transport = new SwitchTransport(o))));
    expect(source.answering()).toBe(false);
    const ctx: SourceContext = {
      signal: new AbortController().signal,
      events: quietEvents(),
      emit: async (records) => ({ stored: Promise.resolve({ stored: records.length, dropped: 0, evicted: 0, consumed: 0 }) }),
    };
    await source.start(ctx);
    const t = transport as SwitchTransport;
    expect(source.answering()).toBe(false);
    t.isOpen = true;
    expect(source.answering()).toBe(true);
    expect(source.stats().connected).toBe(true);
    t.isOpen = false;
    expect(source.answering()).toBe(false);
    await source.stop();
  });
});
