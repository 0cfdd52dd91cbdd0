import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cborEncode } from '../../../fleet/protocol/cbor.js';
import { decodeAnomalyEvaluationSet, encodeAnomalyEvaluationSet, type AnomalyEvaluationSet } from '../../../fleet/protocol/evaluation-set.js';

const SET: AnomalyEvaluationSet = { channels: ['vibration', 'current'], windowSamples: 3, count: 2, windows: Float32Array.from([1, 2, 3, 4, 5, 6, 0.5, -1, 2.25, 7, 8, 9]), labels: Uint8Array.from([0, 1]) };
const raw = (over: Record<string, unknown>): Uint8Array => {
  const bytes = new Uint8Array(SET.windows.buffer.slice(0));
  return cborEncode({ format: 'edgewise-evaluation', version: 1, kind: 'anomaly-windows', channels: SET.channels, windowSamples: 3, count: 2, windows: bytes, labels: SET.labels, ...over });
};

describe('labelled evaluation sets', () => {
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
