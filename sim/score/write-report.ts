/** Writes the scorecard where the scenario says: `scorecard.json` (the whole card) and `report.html` (self-contained). */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderHtml } from './render-html.js';
import type { Scorecard } from './scorecard.js';

export async function writeScorecard(dir: string, card: Scorecard): Promise<{ jsonPath: string; htmlPath: string }> {
  await mkdir(dir, { recursive: true });
  const jsonPath = join(dir, 'scorecard.json');
  const htmlPath = join(dir, 'report.html');
  await writeFile(jsonPath, `${JSON.stringify(card, null, 2)}\n`);
  await writeFile(htmlPath, renderHtml(card));
  return { jsonPath, htmlPath };
}
