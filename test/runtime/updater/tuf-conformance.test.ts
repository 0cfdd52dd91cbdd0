import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { open, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../support/temp-dir.js';

/**
 * The public TUF conformance suite (third_party/tuf-conformance, run by its own `run` script)
 * against `edgewise tuf-client`, the gateway's own trust code behind the suite's client CLI.
 * It runs the built client (dist/: `npm test` builds first) a few thousand times: 2-10 minutes
 * on a 2-core machine. Every test counts: there is no expected-failures file.
 */
const ROOT = join(import.meta.dirname, '../../..');
const RUN = join(ROOT, 'third_party/tuf-conformance/run');
const EXPECTED_TESTS = 113;
const TIMEOUT_MS = 15 * 60_000;
/** How often the suite's progress (pytest's lines, from its log) is echoed. */
const PROGRESS_MS = 15_000;

interface JunitResult {
  readonly tests: number;
  readonly failures: number;
  readonly errors: number;
  readonly skipped: number;
  /** `file::test` of every test that failed, errored or was skipped, with what happened. */
  readonly notPassed: string[];
}

function attr(tag: string, name: string): string | undefined {
  return new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];
}

/** The counts of pytest's JUnit XML (one testsuite) and the names of the tests that did not pass. */
function readJunit(xml: string): JunitResult {
  const suite = /<testsuite\s[^>]*>/.exec(xml)?.[0];
  if (suite === undefined) throw new Error('no <testsuite> in the JUnit XML');
  const count = (name: string): number => Number(attr(suite, name) ?? Number.NaN);
  const notPassed: string[] = [];
  for (const m of xml.matchAll(/<testcase\s([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const outcome = /<(failure|error|skipped)\b/.exec(m[2] ?? '')?.[1];
    if (outcome !== undefined) notPassed.push(`${attr(` ${m[1] ?? ''}`, 'classname') ?? '?'}::${attr(` ${m[1] ?? ''}`, 'name') ?? '?'} (${outcome})`);
  }
  return { tests: count('tests'), failures: count('failures'), errors: count('errors'), skipped: count('skipped'), notPassed };
}

/** The built client must be at least as new as the trust code it runs. */
function assertBuilt(): void {
  const main = join(ROOT, 'dist/cli/main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: run npm run build first (npm test does)`);
}

async function assertFresh(): Promise<void> {
  const stale: string[] = [];
  for (const f of await readdir(join(ROOT, 'runtime/updater'))) {
    if (!f.endsWith('.ts')) continue;
    const built = join(ROOT, 'dist/runtime/updater', f.replace(/\.ts$/, '.js'));
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(ROOT, 'runtime/updater', f)).mtimeMs) stale.push(f);
  }
  if (stale.length > 0) throw new Error(`dist/ is older than runtime/updater/{${stale.join(',')}}: run npm run build first (npm test does)`);
}

describe('TUF conformance suite (theupdateframework/tuf-conformance) against edgewise tuf-client', () => {
  let out: { path: string; remove: () => Promise<void> };
  let child: ReturnType<typeof spawn> | undefined;

  beforeAll(async () => {
    out = await makeTempDir('edgewise-tuf-conformance-');
  });

  afterAll(async () => {
    // A run cut short by the timeout: stop the script, pytest and any client it started.
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await out.remove();
  });

  it(`passes all ${EXPECTED_TESTS} tests`, { timeout: TIMEOUT_MS }, async () => {
    assertBuilt();
    await assertFresh();
    const log = join(out.path, 'log');
    const started = Date.now();
    let shown = 0;
    /** Echoes what pytest wrote to its log since last time (its per-file progress lines). */
    const progress = async (): Promise<void> => {
      if (!existsSync(log)) return;
      const h = await open(log, 'r');
      try {
        const { size } = await h.stat();
        if (size <= shown) return;
        const buf = Buffer.alloc(size - shown);
        await h.read(buf, 0, buf.length, shown);
        shown = size;
        const text = buf.toString('utf8').trimEnd();
        if (text !== '') console.log(`tuf-conformance, ${Math.round((Date.now() - started) / 1000)} s:\n${text}`);
      } finally {
        await h.close();
      }
    };
    const ticker = setInterval(() => void progress().catch(() => undefined), PROGRESS_MS);
    let output = '';
    const code = await new Promise<number | null>((resolve, reject) => {
      // Its own process group, so a timeout can stop everything the run started.
      child = spawn(RUN, ['bin/edgewise', 'tuf-client'], { cwd: ROOT, env: { ...process.env, TUF_CONFORMANCE_OUT: out.path }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
      child.on('error', reject);
      child.on('close', (c) => resolve(c));
    }).finally(() => clearInterval(ticker));
    await progress();
    console.log(`tuf-conformance: exit ${String(code)} after ${Math.round((Date.now() - started) / 1000)} s\n${output.trimEnd()}`);

    const xmlFile = join(out.path, 'results.xml');
    expect(existsSync(xmlFile), `no JUnit XML from the suite (exit ${String(code)}):\n${output}`).toBe(true);
    const r = readJunit(await readFile(xmlFile, 'utf8'));
    const summary = `${r.tests} tests, ${r.failures} failures, ${r.errors} errors, ${r.skipped} skipped; not passed:\n  ${r.notPassed.join('\n  ') || '(none)'}\n${output}`;
    expect({ tests: r.tests, failures: r.failures, errors: r.errors, skipped: r.skipped, notPassed: r.notPassed }, summary).toEqual({ tests: EXPECTED_TESTS, failures: 0, errors: 0, skipped: 0, notPassed: [] });
    expect(code, summary).toBe(0);
  });
});
