import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatWaves, parseWavesText, WavesTextError } from '../../../fleet/rollouts/waves-text.js';
import type { WaveSpec } from '../../../fleet/rollouts/waves-text.js';

describe('parseWavesText', () => {
  it('reads a canary, a share and the rest', () => {
    expect(parseWavesText('1, 50%, 100%')).toEqual([
      { kind: 'count', count: 1 },
      { kind: 'share', share: 0.5 },
      { kind: 'share', share: 1 },
    ]);
  });

  it('reads fractional percents exactly and label selectors separated by semicolons', () => {
    expect(parseWavesText('33.3%;site=plant-1,line in (press,paint); 100%')).toEqual([
      { kind: 'share', share: 0.333 },
      { kind: 'labels', selector: 'site=plant-1,line in (press,paint)' },
      { kind: 'share', share: 1 },
    ]);
  });

  it('names the wave that cannot be read', () => {
    expect(() => parseWavesText('1, 0%, 100%')).toThrow('Waves, wave 2: 0%; a share is more than 0% and at most 100%');
    expect(() => parseWavesText('1, 150%')).toThrow(/wave 2/);
    expect(() => parseWavesText('1,,2')).toThrow('Waves, wave 2: empty');
    expect(() => parseWavesText('0')).toThrow(/wave 1: 0 gateways/);
    expect(() => parseWavesText('1.5')).toThrow(/cannot read "1.5"/);
    expect(() => parseWavesText('site=plant 1')).toThrow(WavesTextError);
    expect(() => parseWavesText('   ')).toThrow(/at least one wave/);
    expect(() => parseWavesText(Array.from({ length: 21 }, () => '1').join(','))).toThrow(/21 waves, at most 20/);
  });

  it('reads back what formatWaves writes', () => {
    const wave: fc.Arbitrary<WaveSpec> = fc.oneof(
      fc.integer({ min: 1, max: 1_000_000 }).map((count) => ({ kind: 'count' as const, count })),
      fc.integer({ min: 1, max: 1000 }).map((p) => ({ kind: 'share' as const, share: p / 1000 })),
      fc.constantFrom('site=plant-1', 'line in (a,b),!canary', 'gpu').map((selector) => ({ kind: 'labels' as const, selector })),
    );
    fc.assert(
      fc.property(fc.array(wave, { minLength: 1, maxLength: 20 }), (waves) => {
        expect(parseWavesText(formatWaves(waves))).toEqual(waves);
      }),
    );
  });
});
