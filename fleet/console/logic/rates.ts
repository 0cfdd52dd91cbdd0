/**
 * Rates from the counters in a gateway's metric samples (GET /v1/gateways/:id/metrics sends
 * totals, oldest first): per-second rate between each sample and the one before. A total
 * that went down is a restarted gateway (its counters start again at 0): the increase is the
 * new total, as Prometheus' rate() counts a reset. Pure: no DOM.
 */

export interface RatePoint {
  /** The later sample's time (ms since 1970). */
  readonly ts: number;
  /** Per second; null where it cannot be told (no earlier sample, a value missing, time not moving forward). */
  readonly perSecond: number | null;
}

export function counterRates(samples: readonly { readonly ts: number; readonly value: number | null | undefined }[]): RatePoint[] {
  const out: RatePoint[] = [];
  for (let i = 0; i < samples.length; i += 1) {
    const cur = samples[i] as { ts: number; value: number | null | undefined };
    const prev = i === 0 ? undefined : samples[i - 1];
    if (prev === undefined || typeof cur.value !== 'number' || typeof prev.value !== 'number' || !(cur.ts > prev.ts)) {
      out.push({ ts: cur.ts, perSecond: null });
      continue;
    }
    const increase = cur.value >= prev.value ? cur.value - prev.value : cur.value;
    out.push({ ts: cur.ts, perSecond: increase / ((cur.ts - prev.ts) / 1000) });
  }
  return out;
}
