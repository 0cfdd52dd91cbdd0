#!/usr/bin/env node
// Bundles the fleet console (fleet/console/, Preact + TSX) with esbuild into dist/console/:
// index.html naming the hashed bundles, assets/<name>-<hash>.{js,css} and their .br and .gz
// siblings (the fleet serves the one the browser accepts, so it never compresses on the fly).
// Prints each file's size and the first load's compressed total. Run by `npm run build` after tsc.
// `--watch` rebuilds on every change (the fleet reads dist/console per request: reload the page).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build, context } from 'esbuild';

const OUT = 'dist/console';
const ASSETS = join(OUT, 'assets');
const watch = process.argv.includes('--watch');

/** index.html and the compressed siblings for what esbuild wrote. */
function finish(metafile) {
  writeFileSync('dist/console.meta.json', JSON.stringify(metafile));
  const outputs = Object.keys(metafile.outputs);
  const js = outputs.find((f) => f.endsWith('.js'));
  const css = outputs.find((f) => f.endsWith('.css'));
  if (js === undefined) throw new Error('build-console: esbuild wrote no JavaScript bundle');
  // No inline script or style: the fleet serves this page with a CSP of script-src 'self', style-src 'self'.
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="dark">
<title>edgewise fleet console</title>
<link rel="icon" href="data:,">
${css === undefined ? '' : `<link rel="stylesheet" href="assets/${basename(css)}">\n`}<script type="module" src="assets/${basename(js)}"></script>
</head>
<body>
<div id="app"></div>
<noscript>The edgewise fleet console needs JavaScript. The same data is in the fleet's API (/openapi.json) and the edgewise CLI.</noscript>
</body>
</html>
`;
  writeFileSync(join(OUT, 'index.html'), html);
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
  let firstLoadBr = Buffer.byteLength(html);
  let firstLoadGz = Buffer.byteLength(html);
  // Source maps (watch mode only) are not part of a load.
  for (const file of outputs.filter((f) => !f.endsWith('.map'))) {
    const raw = readFileSync(file);
    const br = brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length } });
    const gz = gzipSync(raw, { level: 9 });
    writeFileSync(`${file}.br`, br);
    writeFileSync(`${file}.gz`, gz);
    firstLoadBr += br.length;
    firstLoadGz += gz.length;
    console.log(`console: ${file} ${kib(raw.length)} (brotli ${kib(br.length)}, gzip ${kib(gz.length)})`);
  }
  console.log(`console: first load ${kib(firstLoadBr)} brotli, ${kib(firstLoadGz)} gzip (index.html and the bundles)`);
}

rmSync(OUT, { recursive: true, force: true });
mkdirSync(ASSETS, { recursive: true });

const options = {
  entryPoints: { app: 'fleet/console/main.tsx' },
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2020',
  platform: 'browser',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  tsconfig: 'fleet/console/tsconfig.json',
  outdir: ASSETS,
  entryNames: '[name]-[hash]',
  assetNames: '[name]-[hash]',
  metafile: true,
  legalComments: 'none',
  sourcemap: watch ? 'linked' : false,
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
};

if (watch) {
  const ctx = await context({
    ...options,
    plugins: [
      {
        name: 'console-index',
        setup(b) {
          b.onStart(() => rmSync(ASSETS, { recursive: true, force: true }));
          b.onEnd((r) => {
            if (r.errors.length === 0 && r.metafile !== undefined) finish(r.metafile);
          });
        },
      },
    ],
  });
  await ctx.watch();
  console.log('console: watching fleet/console (Ctrl-C to stop)');
} else {
  finish((await build(options)).metafile);
}
