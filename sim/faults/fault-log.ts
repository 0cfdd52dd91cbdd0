import { closeSync, openSync, writeSync } from 'node:fs';
import type { Fault } from '../scenario/types.js';
import { FaultToolError } from './errors.js';

/**
 * What a fault tool did: the scenario's fault kinds, plus `exit` (a supervised gateway that
 * died without being told to: not injected, but the scorecard must know when it was down).
 */
export type FaultEventKind = Fault['kind'] | 'exit';

export interface FaultEvent {
  /** Milliseconds since the log's start (the run's start): the scenario's clock. */
  readonly atMs: number;
  /** Wall-clock time (ms since the epoch), to line the event up with gateway and fleet timestamps. */
  readonly wallMs: number;
  readonly kind: FaultEventKind;
  /** What it hit: a gateway id, a proxy or link name. */
  readonly target: string;
  /** `start` when the fault began (cable pulled, process killed), `end` when it was undone (and the target is back). */
  readonly action: 'start' | 'end';
  readonly detail: Readonly<Record<string, string | number | boolean | null>>;
}

export interface FaultLogOptions {
  /** JSON lines appended here as each event happens (so the truth survives a crash of the simulator); none: memory only. */
  readonly path?: string;
  /** Events kept in memory; past it the oldest go (counted in `droppedFromMemory`). Default 100,000. */
  readonly maxEntries?: number;
  /** Bytes written to the file; past it events are no longer written (counted in `droppedFromFile`). Default 64 MiB. */
  readonly maxFileBytes?: number;
  /** The run's clock (ms); default: ms since the log was made. */
  readonly now?: () => number;
}

/**
 * The ground truth of a simulator run: every fault injected (and undone), when and on what,
 * appended as it happens. A scenario injects tens to thousands of faults, so the bounds are
 * there for a runaway loop, not for a normal run; what they cut is counted, never silent.
 */
export class FaultLog {
  private readonly kept: FaultEvent[] = [];
  private readonly maxEntries: number;
  private readonly maxFileBytes: number;
  private readonly now: () => number;
  private fd: number | undefined;
  private fileBytes = 0;
  droppedFromMemory = 0;
  droppedFromFile = 0;

  constructor(private readonly options: FaultLogOptions = {}) {
    this.maxEntries = options.maxEntries ?? 100_000;
    this.maxFileBytes = options.maxFileBytes ?? 64 * 1024 * 1024;
    const t0 = performance.now();
    this.now = options.now ?? (() => performance.now() - t0);
    if (options.path !== undefined) {
      try {
        this.fd = openSync(options.path, 'a');
      } catch (err) {
        throw new FaultToolError('E_FAULT_LOG_WRITE', `cannot open the fault log ${options.path}: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  get path(): string | undefined {
    return this.options.path;
  }

  /** Appends one event and returns it. Written synchronously: faults are rare and the line must be on disk before the fault acts. */
  record(kind: FaultEventKind, target: string, action: FaultEvent['action'], detail: FaultEvent['detail'] = {}): FaultEvent {
    const event: FaultEvent = { atMs: Math.round(this.now()), wallMs: Date.now(), kind, target, action, detail };
    this.kept.push(event);
    if (this.kept.length > this.maxEntries) {
      this.kept.shift();
      this.droppedFromMemory += 1;
    }
    if (this.fd !== undefined) {
      const line = `${JSON.stringify(event)}\n`;
      const bytes = Buffer.byteLength(line);
      if (this.fileBytes + bytes > this.maxFileBytes) this.droppedFromFile += 1;
      else {
        writeSync(this.fd, line);
        this.fileBytes += bytes;
      }
    }
    return event;
  }

  /** The events kept in memory, oldest first. */
  entries(): readonly FaultEvent[] {
    return this.kept;
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Reads a fault log file back (the scorecard's input); a line that is not an event is an error naming its line number. */
export function parseFaultLog(text: string, source: string): FaultEvent[] {
  const out: FaultEvent[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new FaultToolError('E_FAULT_LOG_PARSE', `${source}:${i + 1}: not JSON`);
    }
    const e = v as Partial<FaultEvent>;
    if (typeof e.atMs !== 'number' || typeof e.wallMs !== 'number' || typeof e.kind !== 'string' || typeof e.target !== 'string' || (e.action !== 'start' && e.action !== 'end') || typeof e.detail !== 'object' || e.detail === null) {
      throw new FaultToolError('E_FAULT_LOG_PARSE', `${source}:${i + 1}: not a fault event (needs atMs, wallMs, kind, target, action start|end, detail)`);
    }
    out.push(e as FaultEvent);
  });
  return out;
}
