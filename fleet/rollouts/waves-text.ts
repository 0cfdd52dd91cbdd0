/**
 * The "Waves" field of the new-rollout form: `1, 50%, 100%` is a canary of one gateway, then
 * up to half of all, then the rest. Each part is a count (`5`), a share (`10%`, cumulative, as
 * the API means it) or a label selector (`site=plant-1`). Selectors hold commas themselves,
 * so when any part is a selector with commas, separate the waves with `;` (or new lines).
 */
import { LabelError, parseSelector } from '../registry/labels.js';

export type WaveSpec =
  | { readonly kind: 'count'; readonly count: number }
  | { readonly kind: 'share'; readonly share: number }
  | { readonly kind: 'labels'; readonly selector: string };

export class WavesTextError extends Error {
  readonly code = 'E_WAVES_TEXT';
  constructor(message: string) {
    super(message);
    this.name = 'WavesTextError';
  }
}

/** At most this many waves: the API's limit. */
export const MAX_WAVES = 20;
const MAX_COUNT = 1_000_000;

export function parseWavesText(text: string): WaveSpec[] {
  const separator = /[;\n]/.test(text) ? /[;\n]/ : /,/;
  const parts = text.split(separator).map((p) => p.trim());
  // A separator after the last wave is allowed (`1, 50%,`; and `site=a,line=b;` is one selector wave).
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.every((p) => p === '')) throw new WavesTextError('Waves: enter at least one wave, e.g. 1, 50%, 100%');
  const waves: WaveSpec[] = [];
  parts.forEach((part, i) => {
    const where = `Waves, wave ${i + 1}`;
    if (part === '') throw new WavesTextError(`${where}: empty (two separators in a row?)`);
    waves.push(parseWave(part, where));
  });
  if (waves.length > MAX_WAVES) throw new WavesTextError(`Waves: ${waves.length} waves, at most ${MAX_WAVES}`);
  return waves;
}

function parseWave(part: string, where: string): WaveSpec {
  if (/^\d+$/.test(part)) {
    const count = Number(part);
    if (count < 1 || count > MAX_COUNT) throw new WavesTextError(`${where}: ${part} gateways; a count is 1-${MAX_COUNT}`);
    return { kind: 'count', count };
  }
  const pct = /^(\d+(?:\.\d+)?)\s*%$/.exec(part);
  if (pct !== null) {
    const value = Number(pct[1]);
    if (!(value > 0 && value <= 100)) throw new WavesTextError(`${where}: ${part}; a share is more than 0% and at most 100%`);
    // Rounded to the percent's own digits: 33.3% is 0.333, not 0.33299999999999996.
    return { kind: 'share', share: Number((value / 100).toPrecision(12)) };
  }
  if (/^[\d.\s%]+$/.test(part)) throw new WavesTextError(`${where}: cannot read ${JSON.stringify(part)}; expected a count (5), a share (50%) or a label selector (site=plant-1)`);
  try {
    parseSelector(part, where);
  } catch (err) {
    if (err instanceof LabelError) throw new WavesTextError(err.message);
    throw err;
  }
  return { kind: 'labels', selector: part };
}

/** The waves as text again (what the form shows for a plan). */
export function formatWaves(waves: readonly WaveSpec[]): string {
  const parts = waves.map((w) => (w.kind === 'count' ? String(w.count) : w.kind === 'share' ? `${Number((w.share * 100).toPrecision(12))}%` : w.selector));
  if (!parts.some((p) => p.includes(','))) return parts.join(', ');
  return parts.length === 1 ? `${parts[0]};` : parts.join('; ');
}
