import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom, type FloatTensor } from '../../../fleet/protocol/federated/index.js';
import { Mlp } from '../../../models/train/mlp.js';
import { byzantinePayload, corruptDelta } from '../../../sim/federated/byzantine.js';
import { layoutOf } from '../../../sim/federated/model-tensors.js';
import { acceptUpdate, GatewayEncoder, payloadBytes, type Transport, type UpdateMeta } from '../../../sim/federated/update-transport.js';

/** The anomaly autoencoder's shapes (96-32-8-32-96) and a delta of the size local training makes. */
const layout = layoutOf(new Mlp([96, 32, 8, 32, 96], 1));
const PARAMETERS = 6824;

function delta(seed: number): FloatTensor[] {
  const r = seededRandom(seed);
  return layout.map((t) => ({ ...t, values: Float32Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, () => (r() - 0.5) * 0.02) }));
}

const meta = (round: number, client = 'gw-00'): UpdateMeta => ({ round, task: 'anomaly-motor', client, samples: 94, validationLoss: 0.02 });

function accept(transport: Transport, d: readonly FloatTensor[] = delta(1)) {
  const payload = new GatewayEncoder(transport, layout, 7).encode(d, meta(3));
  return { payload, intake: acceptUpdate(payload, 3, layout, new Set()) };
}

describe('an update on its way from a gateway to the fleet', () => {
  it('arrives as float32 unchanged, 4 bytes a parameter', () => {
    const d = delta(1);
    const { payload, intake } = accept({ type: 'float32' }, d);
    expect(payloadBytes(payload)).toBe(4 * PARAMETERS);
    expect(intake.accepted && intake.tensors).toEqual(d.map((t) => t.values));
  });

  it('arrives int8-quantised within one scale step of each value, about 3.75x smaller', () => {
    const d = delta(2);
    const { payload, intake } = accept({ type: 'int8' }, d);
    if (!intake.accepted) throw new Error(intake.detail);
    expect(intake.samples).toBe(94);
    expect(intake.validationLoss).toBe(0.02);
    intake.tensors.forEach((t, k) => {
      const values = d[k]!.values;
      const step = Math.max(...values.map(Math.abs)) / 127;
      t.forEach((v, j) => expect(Math.abs(v - values[j]!)).toBeLessThanOrEqual(step * 1.0001));
    });
    const ratio = (4 * PARAMETERS) / payloadBytes(payload);
    expect(ratio).toBeGreaterThan(3.7);
    expect(ratio).toBeLessThan(4);
  });

  it('with top-k at density 0.5 is more than 4x smaller and owes the rest to the next round', () => {
    const encoder = new GatewayEncoder({ type: 'top-k', density: 0.5 }, layout, 7);
    const first = encoder.encode(delta(3), meta(1));
    expect((4 * PARAMETERS) / payloadBytes(first)).toBeGreaterThan(5.5);
    const intake = acceptUpdate(first, 1, layout, new Set());
    if (!intake.accepted) throw new Error(intake.detail);
    const sent = intake.tensors.reduce((n, t) => n + t.filter((v) => v !== 0).length, 0);
    expect(sent).toBeLessThanOrEqual(Math.ceil(PARAMETERS / 2) + layout.length);
    // A zero delta next round still sends what was held back.
    const zero = layout.map((t) => ({ ...t, values: new Float32Array(t.shape.reduce((a, b) => a * b, 1)) }));
    const second = acceptUpdate(encoder.encode(zero, meta(2)), 2, layout, new Set());
    expect(second.accepted && second.tensors.some((t) => t.some((v) => v !== 0))).toBe(true);
  });

  it('is refused, by reason, when stale, a duplicate, of another shape, or not finite', () => {
    const encoder = new GatewayEncoder({ type: 'int8' }, layout, 1);
    const answered = new Set<string>();
    expect(acceptUpdate(encoder.encode(delta(1), meta(4)), 5, layout, answered)).toMatchObject({ accepted: false, reason: 'stale' });
    expect(acceptUpdate(encoder.encode(delta(1), meta(5)), 5, layout, answered).accepted).toBe(true);
    expect(acceptUpdate(encoder.encode(delta(2), meta(5)), 5, layout, answered)).toMatchObject({ accepted: false, reason: 'duplicate' });
    const other = layoutOf(new Mlp([96, 16, 96], 1));
    expect(acceptUpdate(new GatewayEncoder({ type: 'int8' }, other, 1).encode(other.map((t) => ({ ...t, values: new Float32Array(t.shape.reduce((a, b) => a * b, 1)) })), meta(5, 'gw-01')), 5, layout, answered)).toMatchObject({ accepted: false, reason: 'wrong-shape' });
    // NaN: our encoder refuses it, so a hostile gateway writes the CBOR itself; the decoder refuses the scale.
    const nan = byzantinePayload('nan', delta(3), meta(5, 'gw-02'), encoder, seededRandom(1));
    const refused = acceptUpdate(nan, 5, layout, answered);
    expect(refused).toMatchObject({ accepted: false, reason: 'malformed' });
    expect(!refused.accepted && refused.detail).toMatch(/tensors\[0\]\.scale/);
    const raw = new GatewayEncoder({ type: 'float32' }, layout, 1);
    expect(acceptUpdate(byzantinePayload('nan', delta(3), meta(5, 'gw-03'), raw, seededRandom(1)), 5, layout, answered)).toMatchObject({ accepted: false, reason: 'non-finite' });
    // None of the refused ones counts as an answer.
    expect([...answered]).toEqual(['gw-00']);
  });

  it('never throws on arbitrary bytes: whatever arrives is accepted or refused as malformed', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const intake = acceptUpdate({ kind: 'encoded', bytes }, 1, layout, new Set());
        expect(intake).toMatchObject({ accepted: false, reason: 'malformed' });
      }),
    );
  });
});

describe('a Byzantine gateway', () => {
  it('flips the sign, boosts by 100, or sends noise of ten times its largest value', () => {
    const d = delta(4);
    const flipped = corruptDelta('sign-flip', d, seededRandom(1));
    const boosted = corruptDelta('scale-100', d, seededRandom(1));
    const noise = corruptDelta('random', d, seededRandom(1));
    d.forEach((t, k) => {
      const max = Math.max(...t.values.map(Math.abs));
      t.values.forEach((v, j) => {
        expect(flipped[k]!.values[j]).toBe(-v);
        expect(boosted[k]!.values[j]).toBe(Math.fround(100 * v));
        expect(Math.abs(noise[k]!.values[j]!)).toBeLessThanOrEqual(10 * max * 1.0001);
      });
      expect(Math.max(...noise[k]!.values.map(Math.abs))).toBeGreaterThan(5 * max);
    });
  });
});
