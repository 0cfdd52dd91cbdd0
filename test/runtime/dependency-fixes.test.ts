import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { missingDependencyFixes } from '../../runtime/dependency-fixes.js';
import { makeTempDir } from '../support/temp-dir.js';

const ROOT = join(import.meta.dirname, '..', '..');

describe('missingDependencyFixes (the gateway warns at start: gateway.dependency_unpatched)', () => {
  let tmp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
  afterEach(async () => {
    await tmp?.remove();
    tmp = undefined;
  });

  it('finds none in this checkout (npm ci applied them)', () => {
    expect(missingDependencyFixes()).toEqual([]);
  });

  it('names each file of an install made with --ignore-scripts, and none once the script has run there', async () => {
    tmp = await makeTempDir('edgewise-fixes-');
    const pkg = join(tmp.path, 'node_modules', 'cbor-x');
    mkdirSync(join(pkg, 'dist'), { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'cbor-x', version: '1.6.9', main: 'dist/node.cjs' }));
    const pristine = 'function encode(value) {\n\tif (value.skip) value = Object.fromEntries([...Object.keys(value).filter(x => typeof value[x] !== "function").map(x => [x, value[x]])]);\n\treturn value;\n}\n';
    for (const f of ['encode.js', 'dist/node.cjs']) writeFileSync(join(pkg, f), pristine);
    const from = pathToFileURL(join(tmp.path, 'main.js')).href;

    expect(missingDependencyFixes(from).map((m) => [m.pkg, m.file])).toEqual([
      ['cbor-x', 'encode.js'],
      ['cbor-x', 'dist/node.cjs'],
    ]);
    expect(missingDependencyFixes(from)[0]?.cost).toMatch(/every value it encodes/);

    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'patch-dependencies.mjs')], { cwd: tmp.path, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(missingDependencyFixes(from)).toEqual([]);
  });

  it('checks nothing where the package is not installed', async () => {
    tmp = await makeTempDir('edgewise-fixes-');
    expect(missingDependencyFixes(pathToFileURL(join(tmp.path, 'main.js')).href)).toEqual([]);
  });
});
