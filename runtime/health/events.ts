import type { Logger } from 'pino';
import { Counter, type Registry } from './prom-client.js';
import { EVENT_RATE_LIMIT, EventRateLimit, type HeldBack, type RateLimitOptions } from './event-rate-limit.js';

/**
 * Named events: each one is counted with fixed labels (`event`, `component`, `code`) and
 * logged, so the metrics and the log agree. Logging at info and above is rate-limited per
 * kind (see EventRateLimit): a fault that repeats thousands of times a minute gives a few
 * lines and one summary a minute, not a full disk; the counter still counts every one. Debug,
 * which someone turns on to see every step, is not limited.
 */
export type EventLevel = 'debug' | 'info' | 'warn' | 'error';

export interface EventFields {
  readonly code?: string;
  readonly [key: string]: unknown;
}

type Held = { level: EventLevel; component: string; event: string; fields: EventFields };

export class EventLog {
  private readonly counter: Counter<'event' | 'component' | 'code'>;
  private readonly suppressed: Counter<'event' | 'component'>;
  private readonly limit: EventRateLimit<Held>;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    registry: Registry,
    private readonly rate: RateLimitOptions = EVENT_RATE_LIMIT,
    now: () => number = Date.now,
  ) {
    this.counter = new Counter({
      name: 'edgewise_events_total',
      help: 'Named gateway events by component and error code',
      labelNames: ['event', 'component', 'code'],
      registers: [registry],
    });
    this.suppressed = new Counter({
      name: 'edgewise_events_not_logged_total',
      help: 'Events counted but not logged one by one (rate-limited per kind; a summary line says how many)',
      labelNames: ['event', 'component'],
      registers: [registry],
    });
    this.limit = new EventRateLimit(rate, now);
  }

  /** A logger-and-counter bound to one component. */
  for(component: string): ComponentEvents {
    return new ComponentEvents(this, component);
  }

  emit(level: EventLevel, component: string, event: string, fields: EventFields = {}): void {
    this.counter.inc({ event, component, code: fields.code ?? '' });
    if (!this.logger.isLevelEnabled(level)) return;
    // Debug is asked for, to see every step while troubleshooting: it is not limited.
    if (level === 'debug') {
      this.logger.debug({ component, event, ...fields });
      return;
    }
    const logged = this.limit.admit(`${component}\u0000${event}\u0000${fields.code ?? ''}`, { level, component, event, fields }, (h) => this.summarise(h));
    if (logged) {
      this.logger[level]({ component, event, ...fields });
      return;
    }
    this.suppressed.inc({ event, component });
    if (this.sweeper === undefined) {
      // Events may stop coming: the summary of what was held back must still be said.
      this.sweeper = setInterval(() => {
        this.limit.sweep((h) => this.summarise(h));
        if (!this.limit.holding) this.stopSweeper();
      }, Math.max(100, this.rate.intervalMs / 4));
      this.sweeper.unref();
    }
  }

  /** Logs the summaries of everything held back (at shutdown: nothing held back goes unsaid). */
  flush(): void {
    this.limit.flush((h) => this.summarise(h));
    this.stopSweeper();
  }

  private stopSweeper(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private summarise(h: HeldBack<Held>): void {
    const { level, component, event, fields } = h.last;
    const seconds = Math.round(h.intervalMs / 1000);
    this.logger[level]({ component, event, ...fields, notLogged: h.suppressed, intervalS: seconds }, `${event}: ${h.suppressed} more within ${seconds} s, not logged one by one (the last shown; edgewise_events_total counts every one)`);
  }

  isEnabled(level: EventLevel): boolean {
    return this.logger.isLevelEnabled(level);
  }
}

export class ComponentEvents {
  constructor(
    private readonly log: EventLog,
    readonly component: string,
  ) {}

  debug(event: string, fields?: EventFields): void {
    this.log.emit('debug', this.component, event, fields);
  }
  info(event: string, fields?: EventFields): void {
    this.log.emit('info', this.component, event, fields);
  }
  warn(event: string, fields?: EventFields): void {
    this.log.emit('warn', this.component, event, fields);
  }
  error(event: string, fields?: EventFields): void {
    this.log.emit('error', this.component, event, fields);
  }
  isEnabled(level: EventLevel): boolean {
    return this.log.isEnabled(level);
  }
  /** Events of another component, counted and rate-limited in the same log. */
  sibling(component: string): ComponentEvents {
    return this.log.for(component);
  }
  /** Logs the summaries of everything the event log held back, every component's (at shutdown). */
  flush(): void {
    this.log.flush();
  }
}
