import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cborEncode } from '../../../fleet/protocol/cbor.js';
import {
  decodeAnomalyEvaluationSet,
  decodeEvaluationSet,
  decodeVisionEvaluationSet,
  encodeAnomalyEvaluationSet,
  encodeVisionEvaluationSet,
  packedFrameBytes,
  type AnomalyEvaluationSet,
  type EvaluationPixelFormat,
  type VisionEvaluationFrame,
  type VisionEvaluationSet,
} from '../../../fleet/protocol/evaluation-set.js';

const SET: AnomalyEvaluationSet = { channels: ['vibration', 'current'], windowSamples: 3, count: 2, windows: Float32Array.from([1, 2, 3, 4, 5, 6, 0.5, -1, 2.25, 7, 8, 9]), labels: Uint8Array.from([0, 1]) };
const raw = (over: Record<string, unknown>): Uint8Array => {
  const bytes = new Uint8Array(SET.windows.buffer.slice(0));
  return cborEncode({ format: 'edgewise-evaluation', version: 1, kind: 'anomaly-windows', channels: SET.channels, windowSamples: 3, count: 2, windows: bytes, labels: SET.labels, ...over });
};

describe('labelled evaluation sets of anomaly windows', () => {
  it('round-trip every window value and label exactly', () => {
    expect(decodeAnomalyEvaluationSet(encodeAnomalyEvaluationSet(SET))).toEqual(SET);
    expect(decodeAnomalyEvaluationSet(raw({}))).toEqual(SET);
  });

  it('are refused with the field named: kind, channels, sizes, labels, values', () => {
    for (const [over, field] of [
      [{ format: 'other' }, 'format'],
      [{ kind: 'vision-frames' }, 'kind'],
      [{ channels: ['a', 'a'] }, 'channels'],
      [{ windowSamples: 0 }, 'windowSamples'],
      [{ count: 3 }, 'windows: expected 72 bytes'],
      [{ labels: Uint8Array.from([0, 2]) }, 'labels: label 1 is 2'],
      [{ labels: Uint8Array.from([1, 1]) }, 'needs both kinds'],
      [{ windows: new Uint8Array(new Float32Array([1, 2, 3, 4, 5, Number.NaN, 0, 0, 0, 0, 0, 0]).buffer) }, 'value 5 (window 0) is not a finite number'],
      [{ count: 1e9 }, 'count'],
    ] as const) {
      expect(() => decodeAnomalyEvaluationSet(raw(over)), field).toThrow(field);
    }
    expect(() => decodeAnomalyEvaluationSet(new TextEncoder().encode('{}'))).toThrow(/evaluation set/);
  });

  it('either decode any bytes to a well-formed set or refuse them with E_PAYLOAD_INVALID', () => {
    const good = encodeAnomalyEvaluationSet(SET);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(good.length - 1), fc.nat(255), (junk, at, byte) => {
        for (const bytes of [junk, Uint8Array.from(good, (b, i) => (i === at ? byte : b))]) {
          // Only the decode is in the try: a failed check of a decoded set must not be taken
          // for a refusal (and reported as a wrong error code).
          let s: ReturnType<typeof decodeAnomalyEvaluationSet>;
          try {
            s = decodeAnomalyEvaluationSet(bytes);
          } catch (err) {
            expect((err as { code?: string }).code).toBe('E_PAYLOAD_INVALID');
            continue;
          }
          expect(s.windows.length).toBe(s.count * s.windowSamples * s.channels.length);
          expect(s.labels.length).toBe(s.count);
        }
      }),
    );
  });
});

/** A frame of this format and size, its pixels counting up. */
const frameOf = (format: EvaluationPixelFormat, width: number, height: number, boxes: VisionEvaluationFrame['boxes']): VisionEvaluationFrame => ({ format, width, height, pixels: Uint8Array.from({ length: packedFrameBytes(format, width, height) }, (_, i) => i % 251), boxes });
const VISION: VisionEvaluationSet = {
  classNames: ['part', 'defective-part'],
  frames: [frameOf('I420', 8, 6, [{ classId: 0, x: 1, y: 1, w: 3, h: 2.5 }, { classId: 1, x: 4, y: 0, w: 4, h: 6 }]), frameOf('RGBA', 5, 3, []), frameOf('NV12', 7, 5, [{ classId: 1, x: 0.5, y: 2, w: 6.5, h: 3 }])],
};
/** The set's CBOR map, with `edit` applied to it first. */
const rawVision = (edit: (o: { [k: string]: unknown; frames: { [k: string]: unknown; boxes: Record<string, unknown>[] }[] }) => void): Uint8Array => {
  const o = { format: 'edgewise-evaluation', version: 1, kind: 'vision-frames', classNames: [...VISION.classNames], frames: VISION.frames.map((f) => ({ ...f, boxes: f.boxes.map((b) => ({ ...b })) })) };
  edit(o);
  return cborEncode(o);
};

const visionSet = fc
  .record({
    classNames: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 4 }),
    frames: fc.array(
      fc.record({ format: fc.constantFrom<EvaluationPixelFormat>('I420', 'NV12', 'RGBA'), width: fc.integer({ min: 1, max: 12 }), height: fc.integer({ min: 1, max: 9 }), seed: fc.nat(255), boxes: fc.array(fc.tuple(fc.nat(), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0.01, max: 1, noNaN: true }), fc.double({ min: 0.01, max: 1, noNaN: true })), { maxLength: 4 }) }),
      { minLength: 1, maxLength: 4 },
    ),
  })
  .map(({ classNames, frames }): VisionEvaluationSet => ({
    classNames,
    frames: frames.map((f, i) => ({
      format: f.format,
      width: f.width,
      height: f.height,
      pixels: Uint8Array.from({ length: packedFrameBytes(f.format, f.width, f.height) }, (_, k) => (k * 31 + f.seed) % 256),
      // Boxes inside the frame; the first frame has one at least (a set needs an object to find).
      boxes: (i === 0 && f.boxes.length === 0 ? [[0, 0, 0, 1, 1] as const] : f.boxes).map(([c, x, y, w, h]) => {
        const bx = x * (f.width - 0.01);
        const by = y * (f.height - 0.01);
        return { classId: c % classNames.length, x: bx, y: by, w: Math.max(0.01, w * (f.width - bx)), h: Math.max(0.01, h * (f.height - by)) };
      }),
    })),
  }));

/** A decoded set compared with the one encoded (pixels as plain bytes: the decoder may hand out views). */
const plain = (s: VisionEvaluationSet): unknown => ({ classNames: s.classNames, frames: s.frames.map((f) => ({ ...f, pixels: Array.from(f.pixels) })) });

describe('labelled evaluation sets of camera frames', () => {
  it('round-trip every pixel, box and class name exactly', () => {
    expect(plain(decodeVisionEvaluationSet(encodeVisionEvaluationSet(VISION)))).toEqual(plain(VISION));
    fc.assert(
      fc.property(visionSet, (s) => {
        expect(plain(decodeVisionEvaluationSet(encodeVisionEvaluationSet(s)))).toEqual(plain(s));
        const either = decodeEvaluationSet(encodeVisionEvaluationSet(s));
        expect(either.kind).toBe('vision-frames');
      }),
    );
  });

  it('decode the worked example of PROTOCOL.md, byte for byte', () => {
    const hex = 'a566666f726d61747365646765776973652d6576616c756174696f6e6776657273696f6e01646b696e646d766973696f6e2d6672616d65736a636c6173734e616d6573816470617274666672616d657381a566666f726d6174645247424165776964746802666865696768740166706978656c7348000000000000000065626f78657381a567636c617373496400617800617900617701616801';
    const example: VisionEvaluationSet = { classNames: ['part'], frames: [{ format: 'RGBA', width: 2, height: 1, pixels: new Uint8Array(8), boxes: [{ classId: 0, x: 0, y: 0, w: 1, h: 1 }] }] };
    expect(plain(decodeVisionEvaluationSet(Buffer.from(hex, 'hex')))).toEqual(plain(example));
    expect(Buffer.from(encodeVisionEvaluationSet(example)).toString('hex')).toBe(hex);
  });

  it('decode by kind: an anomaly set is still read as one, each kind-specific decoder refuses the other kind', () => {
    const anomaly = encodeAnomalyEvaluationSet(SET);
    expect(decodeEvaluationSet(anomaly)).toEqual({ kind: 'anomaly-windows', set: SET });
    expect(() => decodeVisionEvaluationSet(anomaly)).toThrow('kind "anomaly-windows": this stage evaluates "vision-frames" sets');
    expect(() => decodeAnomalyEvaluationSet(encodeVisionEvaluationSet(VISION))).toThrow('kind "vision-frames"');
    expect(() => decodeEvaluationSet(raw({ kind: 'audio' }))).toThrow('kind "audio": expected one of "anomaly-windows", "vision-frames"');
  });

  it('are refused naming the field and where: frames, sizes, pixels, boxes, classes', () => {
    type Raw = Parameters<Parameters<typeof rawVision>[0]>[0];
    const cases: [(o: Raw) => void, string][] = [
      [(o) => void (o['classNames'] = ['a', 'a']), 'classNames: expected 1 to 1000 distinct class names'],
      [(o) => void (o['classNames'] = []), 'classNames'],
      [(o) => void (o.frames = []), 'frames: expected an array of 1 to 10000 frames, got 0'],
      [(o) => void ((o.frames[1] as Record<string, unknown>)['format'] = 'YUYV'), 'frames[1].format: expected "I420", "NV12" or "RGBA", got "YUYV"'],
      [(o) => void ((o.frames[2] as Record<string, unknown>)['width'] = 0), 'frames[2].width: expected an integer from 1 to 8192, got 0'],
      [(o) => void ((o.frames[0] as Record<string, unknown>)['height'] = 9000), 'frames[0].height: expected an integer from 1 to 8192, got 9000'],
      [(o) => void ((o.frames[1] as Record<string, unknown>)['pixels'] = new Uint8Array(59)), 'frames[1].pixels: expected 60 bytes (RGBA 5x3, tightly packed), got 59'],
      [(o) => void ((o.frames[0] as Record<string, unknown>)['pixels'] = 'rgb'), 'frames[0].pixels: expected 72 bytes (I420 8x6, tightly packed), got string'],
      [(o) => void ((o.frames[0] as Record<string, unknown>)['boxes'] = {}), 'frames[0].boxes: expected an array'],
      [(o) => void (o.frames[0] = 7 as never), 'frames[0]: expected a CBOR map'],
      [(o) => void (o.frames[0]!.boxes[1] = [1, 2] as never), 'frames[0].boxes[1]: expected a CBOR map'],
      [(o) => void (o.frames[0]!.boxes[1]!['w'] = 0), 'frames[0].boxes[1].w: must be > 0, got 0'],
      [(o) => void (o.frames[2]!.boxes[0]!['h'] = -1), 'frames[2].boxes[0].h: must be > 0, got -1'],
      [(o) => void (o.frames[0]!.boxes[0]!['x'] = -0.5), 'frames[0].boxes[0].x: must be >= 0, got -0.5'],
      [(o) => void (o.frames[0]!.boxes[0]!['y'] = Number.NaN), 'frames[0].boxes[0].y: expected a finite number of pixels, got NaN'],
      [(o) => void delete o.frames[0]!.boxes[0]!['y'], 'frames[0].boxes[0].y: expected a finite number of pixels, got undefined'],
      [(o) => void (o.frames[0]!.boxes[1]!['classId'] = 2), 'frames[0].boxes[1].classId: expected an integer from 0 to 1 (an index into classNames), got 2'],
      [(o) => void (o.frames[0]!.boxes[1]!['classId'] = 0.5), 'frames[0].boxes[1].classId'],
      [(o) => void (o.frames[0]!.boxes[1]!['x'] = 4.5), 'frames[0].boxes[1]: x + w is 8.5, past the frame\'s width 8'],
      [(o) => void (o.frames[2]!.boxes[0]!['y'] = 2.5), 'frames[2].boxes[0]: y + h is 5.5, past the frame\'s height 5'],
      [(o) => void (o.frames[0]!.boxes = Array.from({ length: 1001 }, () => ({ classId: 0, x: 0, y: 0, w: 1, h: 1 }))), 'frames[0].boxes: expected an array of at most 1000 boxes, got 1001'],
      [(o) => void o.frames.forEach((f) => (f.boxes = [])), 'frames: no frame has a labelled box'],
      [(o) => void (o['version'] = 2), 'version 2, expected "edgewise-evaluation" version 1'],
    ];
    for (const [edit, message] of cases) {
      let caught: unknown;
      try {
        decodeVisionEvaluationSet(rawVision(edit));
      } catch (err) {
        caught = err;
      }
      expect(caught, message).toBeInstanceOf(Error);
      expect((caught as { code?: string }).code, message).toBe('E_PAYLOAD_INVALID');
      expect((caught as Error).message, message).toContain(message);
    }
  });

  it('bound the pixels a set may hold, whatever the frames claim', () => {
    // 8192 x 8192 RGBA is 256 MiB: refused before its pixels are looked at.
    const big = rawVision((o) => {
      Object.assign(o.frames[0] as Record<string, unknown>, { format: 'RGBA', width: 8192, height: 8192 });
    });
    expect(() => decodeVisionEvaluationSet(big)).toThrow(/frames\[0\]: the frames up to this one hold 268435456 bytes of pixels, at most 92274688 in all/);
    expect(() => decodeVisionEvaluationSet(rawVision((o) => void (o.frames = Array.from({ length: 10_001 }, () => o.frames[1]!))))).toThrow('frames: expected an array of 1 to 10000 frames, got 10001');
  });

  it('either decode corrupted or arbitrary bytes to a well-formed set or refuse them with E_PAYLOAD_INVALID', () => {
    const good = encodeVisionEvaluationSet(VISION);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(good.length - 1), fc.nat(255), (junk, at, byte) => {
        for (const bytes of [junk, Uint8Array.from(good, (b, i) => (i === at ? byte : b))]) {
          let s: VisionEvaluationSet;
          try {
            const d = decodeEvaluationSet(bytes);
            if (d.kind !== 'vision-frames') continue;
            s = d.set;
          } catch (err) {
            expect((err as { code?: string }).code).toBe('E_PAYLOAD_INVALID');
            continue;
          }
          expect(s.frames.length).toBeGreaterThan(0);
          expect(s.frames.some((f) => f.boxes.length > 0)).toBe(true);
          for (const f of s.frames) {
            expect(f.pixels.length).toBe(packedFrameBytes(f.format, f.width, f.height));
            for (const b of f.boxes) {
              expect(b.classId).toBeLessThan(s.classNames.length);
              expect(b.w > 0 && b.h > 0 && b.x >= 0 && b.y >= 0 && b.x + b.w <= f.width && b.y + b.h <= f.height).toBe(true);
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
