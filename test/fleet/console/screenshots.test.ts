import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { screenshotNotBlank, signIn, useBrowser } from '../../support/browser.js';
import { visit } from './console-page.js';
import { everyPage } from './console-pages.js';
import { useConsoleFleet } from './console-rig.js';

/** A copy of a screenshot for the README: 64 colours, no dithering (a third of the bytes; the console's flat colours survive it). */
function smallPng(from: string, to: string): void {
  const r = spawnSync('ffmpeg', ['-loglevel', 'error', '-y', '-i', from, '-vf', 'split[a][b];[a]palettegen=max_colors=64:stats_mode=full[p];[b][p]paletteuse=dither=none', to], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ffmpeg could not make ${to}: ${r.stderr}`);
}

/**
 * Test 7 of issue 15: a screenshot of each page (1280x800), written to test-artifacts/console/
 * and checked not blank. `EDGEWISE_CONSOLE_SCREENSHOTS=DIR` also writes small copies to DIR (the
 * README's are made so: fleet/console/screenshots/).
 */
describe('console: screenshots', () => {
  const fleet = useConsoleFleet();
  const browser = useBrowser();

  it('takes a screenshot of every page, none of them blank', async () => {
    const f = fleet();
    const routes = await everyPage(f);
    const { page, errors } = await browser.open();
    await page.goto(`${f.url}/`);
    await page.getByLabel('Operator token').waitFor();
    const files = [await screenshotNotBlank(page, 'sign-in')];
    await signIn(page, f.url, f.token);
    for (const r of routes) {
      await visit(page, f, r.hash);
      await r.ready(page);
      files.push(await screenshotNotBlank(page, r.name));
    }
    expect(files).toHaveLength(routes.length + 1);
    const copyTo = process.env['EDGEWISE_CONSOLE_SCREENSHOTS'];
    if (copyTo !== undefined && copyTo !== '') {
      await mkdir(copyTo, { recursive: true });
      for (const file of files) smallPng(file, join(copyTo, basename(file)));
    }
    expect(errors).toEqual([]);
  }, 150_000);
});
