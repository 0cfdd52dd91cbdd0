/**
 * Turns a stream of scores into alerts a person can act on ("contextual thresholding"):
 *
 * - **Hysteresis**: an alert starts when the score reaches `raiseThreshold` and ends only
 *   when it falls below the lower `clearThreshold`, so a score hovering at the threshold
 *   does not flap.
 * - **Minimum duration**: the score must stay at or above `clearThreshold` for
 *   `minDurationMs` after it first reached `raiseThreshold`; a blip is not an alert.
 * - **Cooldown**: within `cooldownMs` after an alert ended, a new rise reopens that alert
 *   instead of raising another one.
 * - **Grouping**: every channel whose share of the score reaches `groupShare` while the alert
 *   is active belongs to it; channels that fire together make one alert, not several.
 *
 * An alert carries its start, end, peak score (and when), its channels and the explanation
 * at the peak.
 */
export interface AlertPolicyOptions {
  readonly raiseThreshold: number;
  readonly clearThreshold: number;
  readonly minDurationMs: number;
  readonly cooldownMs: number;
  /** Share of the score (0..1) a channel must carry to belong to the alert. */
  readonly groupShare: number;
}

export interface ScoredPoint {
  readonly ts: number;
  readonly score: number;
  /** Non-negative, summing to `score`. */
  readonly contributions: Readonly<Record<string, number>>;
}

export interface Alert {
  readonly id: number;
  readonly start: number;
  /** null while active. */
  readonly end: number | null;
  readonly peakScore: number;
  readonly peakTs: number;
  readonly channels: readonly string[];
  /** Contributions at the peak. */
  readonly explanation: Readonly<Record<string, number>>;
  /** Times a rise within the cooldown reopened it. */
  readonly reopened: number;
}

export type AlertEvent = { readonly type: 'raised' | 'reopened' | 'cleared'; readonly alert: Alert };

interface Draft {
  id: number;
  start: number;
  end: number | null;
  peakScore: number;
  peakTs: number;
  channels: Set<string>;
  explanation: Readonly<Record<string, number>>;
  reopened: number;
}

export class AlertPolicy {
  private state: 'idle' | 'pending' | 'active' = 'idle';
  private draft: Draft | undefined;
  private last: Draft | undefined;
  private readonly takeId: () => number;

  /**
   * `takeId` hands out alert ids, called once per raised alert (a rise that never lasts
   * `minDurationMs` takes none). The default counts from 1; the anomaly stage passes its
   * ledger's, so ids go on across restarts.
   */
  constructor(
    private readonly o: AlertPolicyOptions,
    takeId?: () => number,
  ) {
    if (!(o.clearThreshold <= o.raiseThreshold)) throw new RangeError('clearThreshold must not exceed raiseThreshold');
    let next = 1;
    this.takeId = takeId ?? (() => next++);
  }

  /** The alert in progress (active), if any. */
  get active(): Alert | undefined {
    return this.state === 'active' && this.draft !== undefined ? freeze(this.draft) : undefined;
  }

  /** Whether an alert is open (raised or reopened, not yet cleared): a pending rise is not. */
  get alerting(): boolean {
    return this.state === 'active';
  }

  private absorb(d: Draft, p: ScoredPoint): void {
    if (p.score > d.peakScore) {
      d.peakScore = p.score;
      d.peakTs = p.ts;
      d.explanation = { ...p.contributions };
    }
    if (p.score > 0) {
      for (const [channel, c] of Object.entries(p.contributions)) if (c >= this.o.groupShare * p.score && c > 0) d.channels.add(channel);
    }
  }

  /** Feeds one point (in time order); returns what it changed. */
  push(p: ScoredPoint): AlertEvent[] {
    const { raiseThreshold, clearThreshold, minDurationMs, cooldownMs } = this.o;
    switch (this.state) {
      case 'idle': {
        if (p.score < raiseThreshold) return [];
        const last = this.last;
        if (last !== undefined && last.end !== null && p.ts - last.end < cooldownMs) {
          // Inside the cooldown: the same incident again.
          last.end = null;
          last.reopened += 1;
          this.draft = last;
          this.state = 'active';
          this.absorb(last, p);
          return [{ type: 'reopened', alert: freeze(last) }];
        }
        // The id comes when the rise lasted long enough to be an alert (maybeActivate).
        this.draft = { id: 0, start: p.ts, end: null, peakScore: 0, peakTs: p.ts, channels: new Set(), explanation: {}, reopened: 0 };
        this.absorb(this.draft, p);
        this.state = 'pending';
        return this.maybeActivate(p, minDurationMs);
      }
      case 'pending': {
        const d = this.draft as Draft;
        if (p.score < clearThreshold) {
          this.state = 'idle';
          this.draft = undefined;
          return [];
        }
        this.absorb(d, p);
        return this.maybeActivate(p, minDurationMs);
      }
      case 'active': {
        const d = this.draft as Draft;
        if (p.score < clearThreshold) {
          d.end = p.ts;
          this.state = 'idle';
          this.last = d;
          this.draft = undefined;
          return [{ type: 'cleared', alert: freeze(d) }];
        }
        this.absorb(d, p);
        return [];
      }
    }
  }

  private maybeActivate(p: ScoredPoint, minDurationMs: number): AlertEvent[] {
    const d = this.draft as Draft;
    if (p.ts - d.start < minDurationMs) return [];
    this.state = 'active';
    d.id = this.takeId();
    return [{ type: 'raised', alert: freeze(d) }];
  }

  /** Ends an active alert now (the stream stops); a pending rise is dropped. */
  close(ts: number): AlertEvent[] {
    const d = this.draft;
    this.draft = undefined;
    const wasActive = this.state === 'active';
    this.state = 'idle';
    if (!wasActive || d === undefined) return [];
    d.end = Math.max(ts, d.start);
    this.last = d;
    return [{ type: 'cleared', alert: freeze(d) }];
  }
}

function freeze(d: Draft): Alert {
  return { id: d.id, start: d.start, end: d.end, peakScore: d.peakScore, peakTs: d.peakTs, channels: [...d.channels].sort(), explanation: { ...d.explanation }, reopened: d.reopened };
}
