import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir } from '../support/temp-dir.js';

const ROOT = join(import.meta.dirname, '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'patch-dependencies.mjs');
const run = (cwd: string, ...args: string[]): { status: number | null; out: string } => {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { cwd, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
};

describe('scripts/patch-dependencies.mjs', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
  afterEach(async () => {
    await tmp?.remove();
    tmp = undefined;
  });

  it('has patched this checkout (npm ci runs it as postinstall)', () => {
    expect(run(ROOT, '--check')).toEqual({ status: 0, out: '' });
  });

  it('patches a pristine cbor-x once, and stops the install naming the fix when the package no longer matches', async () => {
    tmp = await makeTempDir('edgewise-patch-');
    const pkg = join(tmp.path, 'node_modules', 'cbor-x');
    mkdirSync(join(pkg, 'dist'), { recursive: true });
    // The text cbor-x 1.6.9 has in both files, in a function of the same form.
    const pristine = 'export const encode = (value) => {\n\tif (value.skip) {\n\t\tvalue = Object.fromEntries([...Object.keys(value).filter(x => typeof value[x] !== "function").map(x => [x, value[x]])]);\n\t}\n\treturn value;\n};\n';
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'cbor-x', version: '1.6.9', type: 'module' }));
    for (const f of ['encode.js', 'dist/node.cjs']) writeFileSync(join(pkg, f), pristine);
    expect(run(tmp.path, '--check').status).toBe(1);

    const first = run(tmp.path);
    expect(first.status).toBe(0);
    expect(first.out).toMatch(/cbor-x 1\.6\.9 encode\.js patched/);
    const patched = readFileSync(join(pkg, 'encode.js'), 'utf8');
    // No arrow function inside `encode` any more; the same function, moved out, gives the same result.
    expect(patched.slice(0, patched.indexOf('// edgewise: scripts/patch-dependencies.mjs (no closure'))).not.toMatch(/=> typeof value/);
    const mod = (await import(pathToFileURL(join(pkg, 'encode.js')).href)) as { encode: (v: unknown) => unknown };
    expect(mod.encode({ skip: true, a: 1, f: () => 0 })).toEqual({ skip: true, a: 1 });
    expect(run(tmp.path)).toEqual({ status: 0, out: '' });
    expect(readFileSync(join(pkg, 'encode.js'), 'utf8')).toBe(patched);
    expect(run(tmp.path, '--check')).toEqual({ status: 0, out: '' });

    // An upgrade whose file no longer holds the text: refused, saying what the fix was for.
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'cbor-x', version: '1.7.0' }));
    writeFileSync(join(pkg, 'encode.js'), 'export class Encoder {}\n');
    const upgraded = run(tmp.path);
    expect(upgraded.status).toBe(1);
    expect(upgraded.out).toMatch(/cbor-x is 1\.7\.0, its encode\.js does not hold the text this fix replaces exactly once \(made for 1\.6\.9\)/);
    expect(upgraded.out).toMatch(/context object allocated on every call/);
  });
});
