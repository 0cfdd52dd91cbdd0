import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';

/**
 * Named events: each one is a log line and a counter with the same fixed labels
 * (`event`, `component`, `code`), so the metrics and the log always agree.
 */
export type EventLevel = 'debug' | 'info' | 'warn' | 'error';

export interface EventFields {
  readonly code?: string;
  readonly [key: string]: unknown;
}

export class EventLog {
  private readonly counter: Counter<'event' | 'component' | 'code'>;

  constructor(
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.counter = new Counter({
      name: 'edgewise_events_total',
      help: 'Named gateway events by component and error code',
      labelNames: ['event', 'component', 'code'],
      registers: [registry],
    });
  }

  /** A logger-and-counter bound to one component. */
  for(component: string): ComponentEvents {
    return new ComponentEvents(this, component);
  }

  emit(level: EventLevel, component: string, event: string, fields: EventFields = {}): void {
    this.counter.inc({ event, component, code: fields.code ?? '' });
    if (this.logger.isLevelEnabled(level)) this.logger[level]({ component, event, ...fields });
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
}
