import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatLabels, formatSelector, matches, parseLabels, parseSelector } from '../../../fleet/registry/labels.js';

const key = fc.stringMatching(/^[a-z0-9][a-z0-9._/-]{0,10}$/);
const value = fc.stringMatching(/^([a-z0-9][a-z0-9._-]{0,10})?$/);

describe('labels and selectors', () => {
  it('parse k=v lists and print them back', () => {
    fc.assert(
      fc.property(fc.dictionary(key, value, { maxKeys: 8 }), (labels) => {
        expect(parseLabels(formatLabels(labels))).toEqual(labels);
      }),
    );
  });

  it('round-trip every selector form through text', () => {
    const req = fc.oneof(
      fc.record({ op: fc.constantFrom('eq' as const, 'neq' as const), key, value }),
      fc.record({ op: fc.constantFrom('in' as const, 'notin' as const), key, values: fc.array(fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}$/), { minLength: 1, maxLength: 4 }) }),
      fc.record({ op: fc.constantFrom('exists' as const, 'absent' as const), key }),
    );
    fc.assert(
      fc.property(fc.array(req, { maxLength: 6 }), (selector) => {
        expect(parseSelector(formatSelector(selector))).toEqual(selector);
      }),
    );
  });

  it('never throws anything but a LabelError on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        try {
          parseSelector(text);
          parseLabels(text);
        } catch (err) {
          expect((err as { code?: string }).code).toBe('E_LABELS_INVALID');
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('means what Kubernetes means: != and notin hold when the key is absent', () => {
    const labels = { site: 'plant-2', line: 'press' };
    expect(matches(parseSelector('site=plant-2,line in (press,paint)'), labels)).toBe(true);
    expect(matches(parseSelector('env!=prod,canary notin (yes),!canary'), labels)).toBe(true);
    expect(matches(parseSelector('canary'), labels)).toBe(false);
    expect(matches(parseSelector(''), labels)).toBe(true);
    expect(() => parseSelector('site==')).not.toThrow();
    expect(() => parseSelector('site in ()')).toThrow(/label value|at least one/);
    expect(() => parseSelector('a b')).toThrow(/cannot read "a b"/);
  });
});
