import fc from 'fast-check';
import { LOG_LEVELS, MAX_CHANNELS, MAX_SAMPLES_VALUES, NACK_REASONS, popcount, type Message } from '../../firmware-bridge/messages.js';

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
/** Strings that fit a str8 (at most 255 UTF-8 bytes). */
const str8 = fc.string({ maxLength: 60 });
/** Values that survive float32: generated as float32s. */
const f32 = fc.float({ noNaN: true }).map((v) => Math.fround(v));

const samples: fc.Arbitrary<Message> = fc
  .record({ mask: fc.integer({ min: 0, max: 0xffffffff }), bootId: u32, firstIndex: u64, firstTickUs: u64, sampleRateMilliHz: fc.integer({ min: 1, max: 0xffffffff }) })
  .chain((h) => {
    const channels = popcount(h.mask);
    const maxCount = channels === 0 ? 100 : Math.floor(MAX_SAMPLES_VALUES / channels);
    return fc.integer({ min: 0, max: Math.min(maxCount, 40) }).chain((count) =>
      fc.array(fc.array(f32, { minLength: count, maxLength: count }), { minLength: channels, maxLength: channels }).map(
        (values): Message => ({ type: 'samples', bootId: h.bootId, firstIndex: h.firstIndex, firstTickUs: h.firstTickUs, sampleRateMilliHz: h.sampleRateMilliHz, channelMask: h.mask, count, values }),
      ),
    );
  });

export const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record({
    type: fc.constant('hello' as const),
    bootId: u32,
    deviceId: str8,
    firmwareVersion: str8,
    sampleRateMilliHz: u32,
    channels: fc.array(fc.record({ name: fc.string({ maxLength: 16 }), unit: fc.string({ maxLength: 8 }) }), { maxLength: Math.min(MAX_CHANNELS, 8) }),
  }),
  samples,
  fc.record({ type: fc.constant('ack' as const), seq: u16, received: u32 }),
  fc.record({ type: fc.constant('nack' as const), expectedSeq: u16, reason: fc.constantFrom(...NACK_REASONS) }),
  fc.record({ type: fc.constant('config' as const), sampleRateMilliHz: u32, channelMask: u32 }),
  fc.record({ type: fc.constant('timeSyncRequest' as const), requestId: u32 }),
  fc.record({ type: fc.constant('timeSyncResponse' as const), requestId: u32, tickUs: u64 }),
  fc.record({ type: fc.constant('log' as const), level: fc.constantFrom(...LOG_LEVELS), text: fc.string({ maxLength: 200 }) }),
  fc.record({ type: fc.constant('commit' as const), bootId: u32, nextIndex: u64 }),
  fc.record({ type: fc.constant('fwBegin' as const), size: u32, sha256: fc.uint8Array({ minLength: 32, maxLength: 32 }), chunkSize: u16 }),
  fc.record({ type: fc.constant('fwChunk' as const), offset: u32, data: fc.uint8Array({ maxLength: 512 }) }),
  fc.record({ type: fc.constant('fwEnd' as const) }),
  fc.record({ type: fc.constant('fwResult' as const), ok: fc.boolean(), code: fc.integer({ min: 0, max: 255 }), message: str8 }),
) as fc.Arbitrary<Message>;
