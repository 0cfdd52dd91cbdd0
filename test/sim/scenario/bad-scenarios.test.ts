import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ScenarioError, loadScenario, parseScenario } from '../../../sim/scenario/load.js';
import { makeTempDir } from '../../support/temp-dir.js';

/** A valid scenario, one line per thing, so each case below can change one line and know its number. */
const GOOD_LINES = [
  'name: t', //                                                                       1
  'duration: 60s', //                                                                 2
  'gateways:', //                                                                     3
  '  - { group: press, count: 2, mode: process, mcu: { rateHz: 100 }, labels: { line: a } }', // 4
  '  - { group: pack, count: 3, mcu: {} }', //                                        5
  '  - { group: cam, camera: { fps: 2 } }', //                                        6
  'faults:', //                                                                       7
  '  - { kind: sensor, fault: spikes, at: 10s, duration: 5s, gateways: pack-1 }', //  8
  '  - { kind: kill, at: 20s, restartAfter: 2s, gateways: { group: press } }', //     9
  '  - { kind: cable-pull, at: 30s, duration: 5s, gateways: [press-1, pack-2] }', // 10
  '  - { kind: partition, at: 40s, duration: 5s, gateways: all }', //                11
  '  - { kind: broker-outage, at: 50s, duration: 5s }', //                           12
  'rollouts:', //                                                                    13
  '  - { release: bad, at: 5s, selector: line=a }', //                               14
  '  - { release: good, at: 25s, waves: "1, 100%" }', //                             15
  'learning:', //                                                                    16
  '  at: 45s', //                                                                    17
  '  byzantine: pack-3', //                                                          18
];

/** The good file with some lines replaced (1-based line number -> new text). */
function variant(changes: Readonly<Record<number, string>>): string {
  return `${GOOD_LINES.map((l, i) => changes[i + 1] ?? l).join('\n')}\n`;
}

/** Each scenario is wrong in one way: the message names the path and line of what is wrong. */
const cases: { name: string; yaml: string; path: string; line: number; says: RegExp }[] = [
  { name: 'a time without a unit', yaml: variant({ 2: 'duration: 60' }), path: 'duration', line: 2, says: /time with a unit.*got 60/ },
  { name: 'a time with a bad unit', yaml: variant({ 2: 'duration: 60 seconds' }), path: 'duration', line: 2, says: /got string "60 seconds"/ },
  { name: 'a size without a unit', yaml: variant({ 6: '  - { group: cam, camera: { fps: 2 }, budget: "2048" }' }), path: 'gateways[2].budget', line: 6, says: /bare number has no unit/ },
  { name: 'a budget below the store\'s smallest', yaml: variant({ 6: '  - { group: cam, camera: { fps: 2 }, budget: 1KiB }' }), path: 'gateways[2].budget', line: 6, says: /at least 64KiB/ },
  { name: 'an unknown key in a group', yaml: variant({ 6: '  - { group: cam, camera: { fps: 2 }, colour: red }' }), path: 'gateways[2].colour', line: 6, says: /unknown key "colour"/ },
  { name: 'a misspelled top-level key', yaml: variant({ 1: 'nmae: t' }), path: 'nmae', line: 1, says: /did you mean "name"/ },
  { name: 'two groups with one name (ids must be unique)', yaml: variant({ 6: '  - { group: pack, camera: { fps: 2 } }' }), path: 'gateways[2].group', line: 6, says: /gateways\[1\] has it/ },
  { name: 'a group with no device', yaml: variant({ 6: '  - { group: cam }' }), path: 'gateways[2]', line: 6, says: /at least one device/ },
  { name: 'a label the simulator sets', yaml: variant({ 4: '  - { group: press, count: 2, mode: process, mcu: {}, labels: { site: x } }' }), path: 'gateways[0].labels.site', line: 4, says: /other than site and group/ },
  { name: 'an odd camera width', yaml: variant({ 6: '  - { group: cam, camera: { fps: 2, width: 321 } }' }), path: 'gateways[2].camera.width', line: 6, says: /an even number of pixels, got 321/ },
  { name: 'a fault on a gateway that does not exist', yaml: variant({ 8: '  - { kind: sensor, fault: spikes, at: 10s, duration: 5s, gateways: pack-9 }' }), path: 'faults[0].gateways', line: 8, says: /unknown gateway "pack-9"/ },
  { name: 'a fault on a group that does not exist', yaml: variant({ 9: '  - { kind: kill, at: 20s, restartAfter: 2s, gateways: { group: presses } }' }), path: 'faults[1].gateways.group', line: 9, says: /did you mean "press"/ },
  { name: 'more of a group than it has', yaml: variant({ 9: '  - { kind: kill, at: 20s, restartAfter: 2s, gateways: { group: press, count: 3 } }' }), path: 'faults[1].gateways.count', line: 9, says: /at most the group's 2/ },
  { name: 'an unknown id in a list', yaml: variant({ 10: '  - { kind: cable-pull, at: 30s, duration: 5s, gateways: [press-1, pack-7] }' }), path: 'faults[2].gateways[1]', line: 10, says: /unknown gateway "pack-7"/ },
  { name: 'kill on an in-process gateway', yaml: variant({ 9: '  - { kind: kill, at: 20s, restartAfter: 2s, gateways: pack-1 }' }), path: 'faults[1].gateways', line: 9, says: /mode `process`.*pack-1, in-process/ },
  { name: 'a cable pull on a gateway without an MCU', yaml: variant({ 10: '  - { kind: cable-pull, at: 30s, duration: 5s, gateways: cam-1 }' }), path: 'faults[2].gateways', line: 10, says: /with an mcu.*cam-1, without one/ },
  { name: 'a sensor fault on a gateway without an MCU', yaml: variant({ 8: '  - { kind: sensor, fault: spikes, at: 10s, duration: 5s, gateways: all }' }), path: 'faults[0].gateways', line: 8, says: /cam-1, without one/ },
  { name: 'an unknown sensor fault', yaml: variant({ 8: '  - { kind: sensor, fault: wear, at: 10s, duration: 5s, gateways: pack-1 }' }), path: 'faults[0].fault', line: 8, says: /"bearing-wear", "spikes", "stuck", "drift"/ },
  { name: 'an unknown fault kind', yaml: variant({ 12: '  - { kind: flood, at: 50s, duration: 5s }' }), path: 'faults[4].kind', line: 12, says: /"broker-outage"/ },
  { name: 'a fault after the end of the run', yaml: variant({ 12: '  - { kind: broker-outage, at: 60s, duration: 5s }' }), path: 'faults[4].at', line: 12, says: /before the end of the run \(duration 1m\)/ },
  { name: 'a fault that lasts past the end', yaml: variant({ 12: '  - { kind: broker-outage, at: 50s, duration: 15s }' }), path: 'faults[4].duration', line: 12, says: /ends by the end of the run/ },
  { name: 'a restart past the end', yaml: variant({ 9: '  - { kind: kill, at: 55s, restartAfter: 10s, gateways: press-1 }' }), path: 'faults[1].restartAfter', line: 9, says: /ends by the end of the run/ },
  { name: 'a key another fault kind has', yaml: variant({ 12: '  - { kind: broker-outage, at: 50s, duration: 5s, gateways: all }' }), path: 'faults[4].gateways', line: 12, says: /unknown key "gateways"/ },
  { name: 'a missing key of its kind', yaml: variant({ 9: '  - { kind: kill, at: 20s, gateways: press-1 }' }), path: 'faults[1].restartAfter', line: 9, says: /required/ },
  { name: 'two sensor faults at once on one gateway', yaml: variant({ 12: '  - { kind: sensor, fault: drift, at: 12s, duration: 5s, gateways: [pack-1] }' }), path: 'faults[4].at', line: 12, says: /does not overlap faults\[0\]/ },
  { name: 'waves that do not read', yaml: variant({ 15: '  - { release: good, at: 25s, waves: "1, 50%%" }' }), path: 'rollouts[1].waves', line: 15, says: /wave 2: cannot read "50%%"/ },
  { name: 'a selector that picks nobody', yaml: variant({ 14: '  - { release: bad, at: 5s, selector: line=zzz }' }), path: 'rollouts[0].selector', line: 14, says: /picks none/ },
  { name: 'a selector that does not parse', yaml: variant({ 14: '  - { release: bad, at: 5s, selector: "line=(" }' }), path: 'rollouts[0].selector', line: 14, says: /label selector/ },
  { name: 'rollouts out of order', yaml: variant({ 15: '  - { release: good, at: 2s }' }), path: 'rollouts[1].at', line: 15, says: /after the rollout before it/ },
  { name: 'an unknown release', yaml: variant({ 15: '  - { release: great, at: 25s }' }), path: 'rollouts[1].release', line: 15, says: /"good", "bad"/ },
  { name: 'a Byzantine gateway that does not exist', yaml: variant({ 18: '  byzantine: pack-4' }), path: 'learning.byzantine', line: 18, says: /unknown gateway "pack-4"/ },
  { name: 'a Byzantine gateway that does not learn', yaml: variant({ 18: '  byzantine: cam-1' }), path: 'learning.byzantine', line: 18, says: /with an mcu/ },
  { name: 'a Byzantine majority', yaml: variant({ 18: '  byzantine: { group: pack }' }), path: 'learning.byzantine', line: 18, says: /fewer than half of the 5/ },
  { name: 'an unknown aggregation rule', yaml: `${variant({})}  strategy: krum\n`, path: 'learning.strategy', line: 19, says: /multi-krum/ },
  { name: 'a learning round after the end', yaml: variant({ 17: '  at: 2min' }), path: 'learning.at', line: 17, says: /before the end of the run/ },
  { name: 'a missing required key', yaml: variant({ 2: 'seed: 3' }), path: 'duration', line: 1, says: /required/ },
  { name: 'YAML syntax error', yaml: variant({ 5: '  - { group: pack, count: [3 }' }), path: 'line 5', line: 5, says: /not valid YAML/ },
  { name: 'a section of the wrong type, said once', yaml: `${variant({})}fleet: 5\n`, path: 'fleet', line: 19, says: /expected a mapping, got 5/ },
  { name: 'an empty file', yaml: '', path: '(root)', line: 1, says: /the file is empty/ },
];

function problemsOf(yaml: string): readonly string[] {
  try {
    parseScenario(yaml, 'case.yaml');
  } catch (err) {
    expect(err).toBeInstanceOf(ScenarioError);
    expect((err as ScenarioError).code).toBe('E_SCENARIO');
    return (err as ScenarioError).problems;
  }
  throw new Error('the scenario was accepted');
}

describe('bad scenario files', () => {
  it('the base file of the cases is valid', () => {
    const s = parseScenario(variant({}), 'good.yaml');
    expect(s.gateways.map((g) => g.count)).toEqual([2, 3, 1]);
    expect(s.faults).toHaveLength(5);
  });

  it.each(cases)('$name: names $path and its line', ({ yaml, path, line, says }) => {
    const problems = problemsOf(yaml);
    const hit = problems.find((p) => p.startsWith(path));
    expect(problems.filter((p) => p === hit), 'said once').toHaveLength(1);
    expect(hit, problems.join('\n')).toBeDefined();
    expect(hit).toMatch(says);
    if (!path.startsWith('line ') && path !== '(root)') expect(hit).toMatch(new RegExp(`\\(line ${line}\\)$`));
    else if (path.startsWith('line ')) expect(hit).toMatch(new RegExp(`^line ${line}, column`));
  });

  it('reports every problem at once, in line order', () => {
    const yaml = variant({
      2: 'duration: 60',
      6: '  - { group: cam, camera: { fps: 2 }, budget: 1KiB }',
      9: '  - { kind: kill, at: 20s, restartAfter: 2s, gateways: pack-1 }',
      15: '  - { release: great, at: 25s }',
      18: '  byzantine: pack-4',
    });
    const problems = problemsOf(yaml);
    const paths = problems.map((p) => p.split(':')[0]);
    expect(paths).toEqual(['duration', 'gateways[2].budget', 'faults[1].gateways', 'rollouts[1].release', 'learning.byzantine']);
  });

  it('reads a file, resolving its paths against its directory, and says when it cannot', async () => {
    const dir = await makeTempDir();
    try {
      const file = join(dir.path, 'mine.yaml');
      await writeFile(file, `${variant({})}reportDir: reports\nfleet: { dataDir: fleet-data }\n`);
      const s = await loadScenario(file);
      expect(s.reportDir).toBe(join(dir.path, 'reports'));
      expect(s.fleet.dataDir).toBe(join(dir.path, 'fleet-data'));
      await expect(loadScenario(join(dir.path, 'missing.yaml'))).rejects.toMatchObject({ code: 'E_SCENARIO', message: /could not be read: ENOENT/ });
      await writeFile(file, Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xff, 0x0a]));
      await expect(loadScenario(file)).rejects.toMatchObject({ code: 'E_SCENARIO', message: /UTF-8/ });
    } finally {
      await dir.remove();
    }
  });
});

describe('any input', () => {
  it('gives a scenario or a ScenarioError, never another exception, for any text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        try {
          parseScenario(text, 'fuzz.yaml');
        } catch (err) {
          expect(err).toBeInstanceOf(ScenarioError);
        }
      }),
    );
  });

  it('gives a scenario or a ScenarioError for the good file with any one line changed to any value', () => {
    const keys = ['at', 'duration', 'gateways', 'count', 'group', 'kind', 'budget', 'waves', 'byzantine', 'mcu', 'mode'];
    fc.assert(
      fc.property(fc.integer({ min: 1, max: GOOD_LINES.length }), fc.constantFrom(...keys), fc.jsonValue({ maxDepth: 2 }), (line, key, value) => {
        const indent = /^\s*/.exec(GOOD_LINES[line - 1] as string)?.[0] ?? '';
        const text = variant({ [line]: `${indent}${line <= 2 || line === 16 || line === 17 || line === 18 ? '' : '- '}${stringify({ [key]: value }, { flow: true }).trim()}` });
        try {
          parseScenario(text, 'fuzz.yaml');
        } catch (err) {
          expect(err).toBeInstanceOf(ScenarioError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
