import { writeFile } from 'node:fs/promises';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultZoneName, namedZones } from '../../../models/vision/zone-names.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { ConfigError } from '../../../runtime/errors.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { runCli } from '../../support/gateway-process.js';
import { makeTempDir } from '../../support/temp-dir.js';

const head = (dataDir: string): string =>
  `gateway:\n  id: gw-1\n  dataDir: ${dataDir}\nuplink:\n  url: mqtt://127.0.0.1:1\ndevices:\n  - { id: cam, type: camera, input: { tcp: "127.0.0.1:5000" } }\n`;
/** A config with one vision stage whose zones are `zones` (JSON is YAML). */
const withZones = (zones: unknown, dataDir = '/tmp/x'): string => `${head(dataDir)}pipelines:\n  - { id: c, source: cam, stages: [${JSON.stringify({ type: 'vision', zones, zoneCounts: { everyMs: 1000 } })}] }\n`;

const registry = builtinRegistry();
function problemsOf(yaml: string): string[] {
  try {
    parseConfig(yaml, 'test.yaml', registry);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

const SQUARE = [
  [0, 0],
  [10, 0],
  [10, 10],
  [0, 10],
];
const AT = 'pipelines[0].stages[0].zones';
/** The letters a zone name may have, spelled out rather than taken from the pattern. */
const NAME_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-';

describe('vision zones in the config', () => {
  it('takes bare polygons (as before), named zones, and both mixed; a bare one is called zone-<index>', () => {
    expect(problemsOf(withZones([SQUARE, SQUARE]))).toEqual([]);
    expect(problemsOf(withZones([{ name: 'loading_bay', points: SQUARE }, { name: 'dock-2.east', points: SQUARE }]))).toEqual([]);
    const mixed = [SQUARE, { name: 'loading_bay', points: SQUARE }, SQUARE];
    expect(problemsOf(withZones(mixed))).toEqual([]);
    expect(namedZones(mixed).map((z) => z.name)).toEqual(['zone-0', 'loading_bay', 'zone-2']);
    expect(namedZones(mixed)[1]?.polygon).toEqual(SQUARE);
  });

  it('a name given twice is a problem at the later zone\'s name, with the zone that has it', () => {
    expect(problemsOf(withZones([{ name: 'press', points: SQUARE }, { name: 'press', points: SQUARE }]))).toEqual([
      `${AT}[1].name: expected a name no other zone of the stage has (zones[0] is called press), got "press" (line 9)`,
    ]);
  });

  it('a name that a bare zone has by default is a problem at the named zone, whichever comes first', () => {
    expect(problemsOf(withZones([SQUARE, { name: 'zone-0', points: SQUARE }]))).toEqual([
      `${AT}[1].name: expected a name no other zone of the stage has (zones[0] is a bare polygon, called zone-0 by default), got "zone-0" (line 9)`,
    ]);
    expect(problemsOf(withZones([{ name: 'zone-1', points: SQUARE }, SQUARE]))).toEqual([
      `${AT}[0].name: expected a name no other zone of the stage has (zones[1] is a bare polygon, called zone-1 by default), got "zone-1" (line 9)`,
    ]);
    // A zone may carry its own default name, and a name of a zone that is not there is just a name.
    expect(problemsOf(withZones([SQUARE, { name: 'zone-1', points: SQUARE }, { name: 'zone-7', points: SQUARE }]))).toEqual([]);
  });

  it('a bad name, a bad polygon in either form and an unknown key are named inside the zone', () => {
    const bad = (zones: unknown): string[] => problemsOf(withZones(zones)).map((p) => p.replace(/ \(line \d+\)$/, ''));
    expect(bad([SQUARE, { name: 'loading bay', points: SQUARE }])).toEqual([`${AT}[1].name: expected a zone name of 1 to 64 letters, digits, "_", "." or "-", got string "loading bay"`]);
    expect(bad([{ name: '', points: SQUARE }])).toEqual([`${AT}[0].name: expected a zone name of 1 to 64 letters, digits, "_", "." or "-", got string ""`]);
    expect(bad([{ name: 'a'.repeat(65), points: SQUARE }])).toEqual([expect.stringMatching(new RegExp(`^${AT.replace(/[.[\]]/g, '\\$&')}\\[0\\]\\.name: expected a zone name of 1 to 64`))]);
    expect(bad([{ name: 7, points: SQUARE }])).toEqual([`${AT}[0].name: expected a zone name of 1 to 64 letters, digits, "_", "." or "-", got 7`]);
    expect(bad([{ points: SQUARE }])).toEqual([`${AT}[0].name: expected a zone name of 1 to 64 letters, digits, "_", "." or "-" (required), got nothing`]);
    expect(bad([{ name: 'press', points: SQUARE.slice(0, 2) }])).toEqual([`${AT}[0].points: expected a list of at least 3 entries, got a list of 2`]);
    expect(bad([{ name: 'press', points: SQUARE, colour: 'red' }])).toEqual([`${AT}[0].colour: expected one of the known keys (name, points), got unknown key "colour"`]);
    // The bare form is judged as before, point by point.
    expect(bad([SQUARE.slice(0, 2)])).toEqual([`${AT}[0]: expected a list of at least 3 entries, got a list of 2`]);
    expect(bad([[[0, 0], [10, -1], [10, 10]]])).toEqual([`${AT}[0][1][1]: expected a number >= 0, got -1`]);
    // Neither form.
    expect(bad(['press'])).toEqual([`${AT}[0]: expected a polygon ([[x, y], ...], 3 to 64 points) or { name, points }, got string "press"`]);
    // The schema's bounds stand: 16 zones.
    expect(bad(Array.from({ length: 17 }, (_, i) => ({ name: `z${i}`, points: SQUARE })))).toEqual([`${AT}: expected a list of at most 16 entries, got a list of 17`]);
  });

  it('a name is refused exactly when it is empty, longer than 64 or has anything but letters, digits, "_", "." and "-"; the problem names its zone', () => {
    const name = fc.oneof(
      fc.string({ unit: fc.constantFrom(...NAME_CHARS), minLength: 0, maxLength: 70 }),
      fc.string({ unit: 'grapheme', maxLength: 12 }),
      fc.tuple(fc.string({ unit: fc.constantFrom(...NAME_CHARS), maxLength: 8 }), fc.constantFrom(' ', '/', '#', '+', ':', '"', '\n', '\t', 'é', '\u0000', '{', '*'), fc.string({ unit: fc.constantFrom(...NAME_CHARS), maxLength: 8 })).map((p) => p.join('')),
    );
    fc.assert(
      fc.property(name, fc.integer({ min: 0, max: 2 }), (n, index) => {
        const zones = [SQUARE, SQUARE, SQUARE];
        const named = zones.map((z, i) => (i === index ? { name: n, points: z } : z));
        const ok = n.length >= 1 && n.length <= 64 && [...n].every((c) => NAME_CHARS.includes(c));
        // A good name may still be another zone's default name.
        const clash = ok && [0, 1, 2].some((i) => i !== index && n === defaultZoneName(i));
        const problems = problemsOf(withZones(named));
        if (ok && !clash) expect(problems).toEqual([]);
        else expect(problems).toEqual([expect.stringMatching(new RegExp(`^pipelines\\[0\\]\\.stages\\[0\\]\\.zones\\[${index}\\]\\.name: expected `))]);
      }),
      { numRuns: 300 },
    );
  });

  it('any list of bare and named zones: a problem for each name taken before, at a named zone, and none when every name is unique', () => {
    // Few names, among them the defaults, so clashes are common.
    const zone = fc.option(fc.constantFrom('a', 'b', 'zone-0', 'zone-1', 'zone-2'), { nil: undefined }).map((n) => (n === undefined ? SQUARE : { name: n, points: SQUARE }));
    fc.assert(
      fc.property(fc.array(zone, { minLength: 1, maxLength: 5 }), (zones) => {
        const names = zones.map((z, i) => (Array.isArray(z) ? defaultZoneName(i) : z.name));
        const problems = problemsOf(withZones(zones));
        expect(problems).toHaveLength(names.length - new Set(names).size);
        for (const p of problems) {
          const i = Number(/^pipelines\[0\]\.stages\[0\]\.zones\[(\d+)\]\.name: expected a name no other zone of the stage has/.exec(p)?.[1]);
          expect(Array.isArray(zones[i])).toBe(false);
          expect(names.filter((n) => n === names[i]).length).toBeGreaterThan(1);
        }
      }),
      { numRuns: 300 },
    );
  });

  describe('edgewise gateway --check', () => {
    let dir: { path: string; remove: () => Promise<void> };
    beforeAll(async () => {
      dir = await makeTempDir();
    });
    afterAll(async () => {
      await dir.remove();
    });

    it('refuses a duplicate zone name with exit code 2 and the path, and takes named zones', async () => {
      const file = `${dir.path}/zones.yaml`;
      await writeFile(file, withZones([{ name: 'press', points: SQUARE }, { name: 'press', points: SQUARE }], `${dir.path}/data`));
      const refused = await runCli(['gateway', '--config', file, '--check']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`${AT}[1].name: expected a name no other zone of the stage has (zones[0] is called press), got "press" (line 9)`);
      await writeFile(file, withZones([{ name: 'press', points: SQUARE }, SQUARE], `${dir.path}/data`));
      const taken = await runCli(['gateway', '--config', file, '--check']);
      expect(taken.stderr).toBe('');
      expect(taken.code).toBe(0);
    }, 60_000);
  });
});
