import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { PortCounters, PortOptions, SerialTransport } from '../../../devices/serial-sensor/port.js';
import { SerialSensorSource } from '../../../devices/serial-sensor/serial-sensor.js';
import { FLAG_RELIABLE, FLAG_SYN, FrameDecoder, encodeFrame } from '../../../firmware-bridge/frame.js';
import { decodePayload, encodePayload, messageCode, type Message } from '../../../firmware-bridge/messages.js';
import type { Receipt, SourceContext } from '../../../runtime/pipeline/components.js';
import type { EmitResult, RecordInput } from '../../../runtime/pipeline/record.js';
import { memorySerialSensorOptions } from '../../support/serial-sensor-options.js';
import { quietEvents } from '../../support/store.js';
import { waitFor } from '../../support/wait-for.js';

/** In-memory line for a unit test of the source's commit rules: records what the gateway sends. */
class CapturingTransport implements SerialTransport {
  readonly counters: PortCounters = { opens: 1, closes: 0, openFailures: 0, writeErrors: 0, droppedWriteBytes: 0, bytesIn: 0, bytesOut: 0 };
  readonly isOpen = true;
  readonly sent: Message[] = [];
  private readonly decoder = new FrameDecoder();
  constructor(readonly options: PortOptions) {}
  start(): void {
    this.options.onOpen?.();
  }
  write(bytes: Uint8Array): void {
    this.decoder.push(bytes, (f) => {
      const d = decodePayload(f.type, f.payload);
      if ('message' in d) this.sent.push(d.message);
      if ('message' in d && d.message.type === 'timeSyncRequest') {
        const reply: Message = { type: 'timeSyncResponse', requestId: d.message.requestId, tickUs: 0 };
        setImmediate(() => this.options.onData(encodeFrame({ type: messageCode(reply.type), flags: 0, session: 0, seq: 0, payload: encodePayload(reply) })));
      }
    });
  }
  pause(): void {}
  resume(): void {}
  async stop(): Promise<void> {}
  commits(): number[] {
    return this.sent.flatMap((m) => (m.type === 'commit' ? [m.nextIndex] : []));
  }
}

const BOOT = 77;
let seq = 1000;
const frame = (m: Message, syn = false): Uint8Array => encodeFrame({ type: messageCode(m.type), flags: FLAG_RELIABLE | (syn ? FLAG_SYN : 0), session: 5, seq: seq++ & 0xffff, payload: encodePayload(m) });
const samples = (firstIndex: number): Message => ({ type: 'samples', bootId: BOOT, firstIndex, firstTickUs: firstIndex * 1000, sampleRateMilliHz: 1_000_000, channelMask: 1, count: 10, values: [new Array<number>(10).fill(1)] });

function setup(): { source: SerialSensorSource; transport: () => CapturingTransport; settle: (i: number, r: EmitResult) => void; emitted: RecordInput[][] } {
  let transport: CapturingTransport | undefined;
  const settles: ((r: EmitResult) => void)[] = [];
  const emitted: RecordInput[][] = [];
  const source = new SerialSensorSource(memorySerialSensorOptions((o) => (transport = new CapturingTransport(o))));
  const ctx: SourceContext = {
    signal: new AbortController().signal,
    events: quietEvents(),
    emit: async (records): Promise<Receipt> => {
      emitted.push([...records]);
      return { stored: new Promise<EmitResult>((resolve) => settles.push(resolve)) };
    },
  };
  void source.start(ctx);
  return { source, transport: () => transport as CapturingTransport, settle: (i, r) => settles[i]?.(r), emitted };
}

const stored: EmitResult = { stored: 1, dropped: 0, evicted: 0, consumed: 0 };
const dropped: EmitResult = { stored: 0, dropped: 1, evicted: 0, consumed: 0 };

describe('serial sensor commits', () => {
  it('commits only a prefix of decided batches, in order, whatever order the store answers in', async () => {
    const { source, transport, settle, emitted } = setup();
    const t = transport();
    t.options.onData(frame({ type: 'hello', bootId: BOOT, deviceId: 'd', firmwareVersion: '1', sampleRateMilliHz: 1_000_000, channels: [{ name: 'x', unit: 'g' }] }, true));
    for (const i of [0, 10, 20]) t.options.onData(frame(samples(i)));
    await waitFor(() => emitted.length === 3, 'three records emitted');
    settle(1, stored); // the second answers first
    await sleep(20);
    expect(t.commits()).toEqual([]);
    settle(0, stored);
    await waitFor(() => t.commits().includes(20), 'a commit up to 20');
    settle(2, stored);
    await waitFor(() => t.commits().includes(30), 'a commit up to 30');
    expect(Math.max(...t.commits())).toBe(30);
    await source.stop();
  });

  it('never commits samples refused while the gateway stops', async () => {
    const { source, transport, settle, emitted } = setup();
    const t = transport();
    t.options.onData(frame({ type: 'hello', bootId: BOOT, deviceId: 'd', firmwareVersion: '1', sampleRateMilliHz: 1_000_000, channels: [{ name: 'x', unit: 'g' }] }, true));
    for (const i of [0, 10]) t.options.onData(frame(samples(i)));
    await waitFor(() => emitted.length === 2, 'two records emitted');
    settle(0, stored);
    await waitFor(() => t.commits().includes(10), 'a commit up to 10');
    const stopping = source.stop();
    settle(1, dropped); // the queue gave up on it during the shutdown
    await stopping;
    expect(Math.max(...t.commits())).toBe(10);
  });
});
