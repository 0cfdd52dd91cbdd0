/**
 * An anomaly alert's explanation as shares of its score. The alert carries each channel's
 * contribution at its peak with the channel's unit (models/anomaly/anomaly-stage.ts, onAlert:
 * `explanation: {channel: {contribution, unit}}`); the stage's results on `<stream>.anomaly`
 * carry the same per window (onScore: `{windowMs, peakScore, peakTs, explanation:
 * {channel: contribution}}`), so the span can be drawn as each channel's part of the score
 * over time. Pure: no DOM.
 */

export interface ChannelShare {
  readonly channel: string;
  readonly unit: string;
  readonly contribution: number;
  readonly share: number;
}

function sumPositive(values: readonly number[]): number {
  let s = 0;
  for (const v of values) if (Number.isFinite(v) && v > 0) s += v;
  return s;
}

/** The alert's own shares, largest first; contributions below 0 count as 0. */
export function alertShares(explanation: unknown): ChannelShare[] {
  if (typeof explanation !== 'object' || explanation === null) return [];
  const entries = Object.entries(explanation as Record<string, unknown>).map(([channel, v]) => {
    const o = (typeof v === 'object' && v !== null ? v : { contribution: v }) as { contribution?: unknown; unit?: unknown };
    return { channel, unit: typeof o.unit === 'string' ? o.unit : '', contribution: typeof o.contribution === 'number' ? o.contribution : 0 };
  });
  const total = sumPositive(entries.map((e) => e.contribution));
  return entries.map((e) => ({ ...e, share: total === 0 ? 0 : Math.max(0, e.contribution) / total })).sort((a, b) => b.share - a.share || (a.channel < b.channel ? -1 : 1));
}

export interface ContributionSeries {
  readonly times: number[];
  /**
   * Per channel (in the order given), its part of the window's peak score at each time; null
   * where the window did not name it. Stacked, they add up to the score: the height says how
   * anomalous a window was, the colours which channel made it so.
   */
  readonly contributions: (number | null)[][];
}

/** The `<stream>.anomaly` windows as each channel's contribution to the score over time, oldest first. */
export function windowContributions(windows: readonly { readonly ts: number; readonly data?: unknown }[], channels: readonly string[]): ContributionSeries {
  const rows = windows
    .map((w) => {
      const d = (typeof w.data === 'object' && w.data !== null ? w.data : {}) as { peakTs?: unknown; explanation?: unknown };
      const ex = (typeof d.explanation === 'object' && d.explanation !== null ? d.explanation : {}) as Record<string, unknown>;
      const value = (c: string): number | null => {
        const v = ex[c];
        const n = typeof v === 'number' ? v : typeof v === 'object' && v !== null && typeof (v as { contribution?: unknown }).contribution === 'number' ? (v as { contribution: number }).contribution : null;
        return n === null || !Number.isFinite(n) ? null : Math.max(0, n);
      };
      return { ts: typeof d.peakTs === 'number' ? d.peakTs : w.ts, values: channels.map(value) };
    })
    .sort((a, b) => a.ts - b.ts);
  return { times: rows.map((r) => r.ts), contributions: channels.map((_, i) => rows.map((r) => r.values[i] ?? null)) };
}

export function channelLabel(c: { readonly channel: string; readonly unit: string }): string {
  return c.unit === '' ? c.channel : `${c.channel} (${c.unit})`;
}
