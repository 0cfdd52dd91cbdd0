import fc from 'fast-check';
import { schema, type JsonSchema } from 'tjs';
import { describe, expect, it } from 'vitest';
import { formatProblem } from '../../../fleet/protocol/schema-problems.js';
import { schemaProblems } from '../../../runtime/config/schema-walk.js';

const point = { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 2, maxItems: 2 } as const;
const polygon = { type: 'array', items: point, minItems: 3, maxItems: 4 } as const;
const named = { type: 'object', properties: { name: { type: 'string', pattern: '^[a-z]{1,4}$' }, points: polygon }, required: ['name', 'points'], additionalProperties: false } as const;
/** A short form or a full one, told apart by JSON type (as the vision stage's zones are). */
const shortOrFull = {
  type: 'object',
  properties: { zones: { type: 'array', items: { anyOf: [polygon, named], description: 'a polygon or { name, points }' }, maxItems: 3 } },
  additionalProperties: false,
} as const;
/** Branches of one type: which one was meant cannot be told, so the choice is judged whole. */
const sameType = {
  type: 'object',
  properties: { input: { oneOf: [{ type: 'object', properties: { file: { type: 'string' } }, required: ['file'], additionalProperties: false }, { type: 'object', properties: { tcp: { type: 'string' } }, required: ['tcp'], additionalProperties: false }] } },
} as const;

const problems = (s: JsonSchema, v: unknown): string[] => schemaProblems(s, v).map(formatProblem);
const SQUARE = [
  [0, 0],
  [1, 0],
  [1, 1],
];

describe('schema walk', () => {
  it('walks the branch of a short-or-full choice that the value\'s type picks, so a problem is named inside it', () => {
    expect(problems(shortOrFull, { zones: [SQUARE, { name: 'ok', points: SQUARE }] })).toEqual([]);
    expect(problems(shortOrFull, { zones: [SQUARE, { name: 'Not ok', points: SQUARE.slice(1) }] })).toEqual([
      'zones[1].name: expected a string matching ^[a-z]{1,4}$, got string "Not ok"',
      'zones[1].points: expected a list of at least 3 entries, got a list of 2',
    ]);
    expect(problems(shortOrFull, { zones: [[[0, 0], [1, 0.5], [1, 1]]] })).toEqual(['zones[0][1][1]: expected an integer, got 0.5']);
    expect(problems(shortOrFull, { zones: [{ points: SQUARE, x: 1 }] })).toEqual([
      'zones[0].name: expected a string (required), got nothing',
      'zones[0].x: expected one of the known keys (name, points), got unknown key "x"',
    ]);
    // A value of neither type: the choice's own description.
    expect(problems(shortOrFull, { zones: ['a'] })).toEqual(['zones[0]: expected a polygon or { name, points }, got string "a"']);
  });

  it('judges a choice between branches of one type whole, as before', () => {
    expect(problems(sameType, { input: { file: 1 } })).toEqual(['input: expected match exactly one schema in oneOf, got a mapping']);
  });

  it('finds a value valid exactly when tjs does, for any JSON value against a short-or-full choice', () => {
    const whole = schema(shortOrFull as JsonSchema);
    // JSON values (what a YAML file gives), mostly well-formed with a fault here and there, so both
    // answers are common (about half are valid).
    // `good` odds times out of odds + 1.
    const faulty = <T>(odds: number, good: fc.Arbitrary<T>, bad: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> => fc.oneof({ weight: odds, arbitrary: good }, { weight: 1, arbitrary: bad });
    const coord = faulty(60, fc.nat(3), fc.constantFrom(-1, 0.5, '1', null));
    const pointArb = faulty(40, fc.tuple(coord, coord), fc.array(coord, { maxLength: 3 }));
    const polygonArb = faulty(20, fc.array(pointArb, { minLength: 3, maxLength: 4 }), fc.oneof(fc.array(pointArb, { maxLength: 5 }), fc.jsonValue()));
    const name = faulty(8, fc.stringMatching(/^[a-z]{1,4}$/), fc.oneof(fc.string({ maxLength: 6 }), fc.jsonValue()));
    const namedArb = faulty(10, fc.record({ name, points: polygonArb }), fc.record({ name, points: polygonArb, extra: fc.jsonValue() }, { requiredKeys: [] }));
    const zoneArb = faulty(20, fc.oneof(polygonArb, namedArb), fc.jsonValue());
    fc.assert(
      fc.property(faulty(20, fc.record({ zones: fc.array(zoneArb, { minLength: 1, maxLength: 3 }) }), fc.jsonValue()), (value) => {
        const found = schemaProblems(shortOrFull as JsonSchema, value);
        expect(found.length === 0).toBe(whole.validate(value).error === undefined);
      }),
      { numRuns: 1000 },
    );
  });
});
