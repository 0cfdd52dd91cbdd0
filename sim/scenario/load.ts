import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { decodeConfigText, printable } from '../../runtime/config/text-check.js';
import { problemLines, readYamlSource, type Located } from '../../runtime/config/yaml-source.js';
import type { Scenario } from './types.js';
import { validateScenario } from './validate.js';

/** A scenario file that cannot be run: `problems` holds one line per problem found, each with its path and line. */
export class ScenarioError extends Error {
  readonly code = 'E_SCENARIO';
  override readonly name = 'ScenarioError';
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n  ${problems.join('\n  ')}`);
  }
}

function scenarioError(sourceName: string, problems: readonly Located[]): ScenarioError {
  return new ScenarioError(printable(sourceName), problemLines(problems));
}

/**
 * Validates a scenario (YAML text) and fills in defaults: times in milliseconds from the run's
 * start, sizes in bytes, targets resolved to the gateways they name. Pure: reads no files;
 * relative paths come back resolved against `baseDir` (default: the working directory).
 * Throws ScenarioError listing every problem, each with its path and line.
 */
export function parseScenario(text: string, sourceName: string, baseDir = '.'): Scenario {
  const source = readYamlSource(text);
  if (!('root' in source)) throw scenarioError(sourceName, source.problems);
  const result = validateScenario(source.root, resolve(baseDir));
  const problems = [...source.problems, ...result.problems.map((p) => ({ text: p.text, line: source.lineOf(p.path) }))];
  if (problems.length > 0 || result.scenario === undefined) throw scenarioError(sourceName, problems);
  return result.scenario;
}

/** Reads and validates a scenario file; relative paths in it are resolved against its directory. */
export async function loadScenario(path: string): Promise<Scenario> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new ScenarioError(printable(path), [`the scenario file could not be read: ${why}`]);
  }
  const decoded = decodeConfigText(bytes);
  if (decoded.problem !== undefined) throw scenarioError(path, [{ text: decoded.problem, line: undefined }]);
  return parseScenario(decoded.text, path, dirname(resolve(path)));
}
