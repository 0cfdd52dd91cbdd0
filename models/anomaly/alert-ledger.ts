import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { schema } from 'tjs';
import type { ComponentEvents } from '../../runtime/health/events.js';
import type { ModelRef } from '../../runtime/store/decision-log.js';
import { writeFileDurable } from '../../runtime/updater/durable-file.js';

/**
 * The anomaly stage's memory across restarts: the next alert id and the alerts that are open.
 *
 * The fleet and the console know an alert by (gateway, stream, alert id). A gateway that
 * numbered its alerts from 1 at each start would merge a new alert 1 with the old one, and an
 * alert open when the process died would never be cleared. So the ledger is written
 * (write, fsync, rename, fsync the directory: whole or not at all) before a record naming a
 * new id, or saying an alert opened or closed, leaves the stage: a record the store has is
 * always covered by the file. After a `kill -9`, ids go on from where they were (a raise
 * that was lost with the process may leave a gap, never a repeat), and the alerts the file
 * still lists as open are the ones the fleet was told about and never saw end.
 *
 * One file per stage (its state dir), a few hundred bytes per open alert, at most one open
 * alert per stream (the stage watches at most MAX_STREAMS streams).
 */

/** An alert the fleet was told is open: what its `cleared` record repeats. */
export interface OpenAlert {
  /** The watched stream (alerts go out on `<stream>.alerts`). */
  readonly stream: string;
  readonly id: number;
  readonly start: number;
  readonly peakScore: number;
  readonly peakTs: number;
  readonly channels: readonly string[];
  /** As the alert record carries it: per channel, its contribution and unit. */
  readonly explanation: Readonly<Record<string, { readonly contribution: number; readonly unit: string }>>;
  readonly detector: string;
  readonly model: ModelRef;
}

export const LEDGER_FILE = 'alerts.json';

const ledgerSchema = schema({
  type: 'object',
  properties: {
    format: { const: 'edgewise-alert-ledger' },
    version: { const: 1 },
    nextId: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
    open: {
      type: 'array',
      maxItems: 4096,
      items: {
        type: 'object',
        properties: {
          stream: { type: 'string', minLength: 1, maxLength: 128 },
          id: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
          start: { type: 'number' },
          peakScore: { type: 'number' },
          peakTs: { type: 'number' },
          channels: { type: 'array', items: { type: 'string' } },
          explanation: {
            type: 'object',
            additionalProperties: { type: 'object', properties: { contribution: { type: 'number' }, unit: { type: 'string' } }, required: ['contribution', 'unit'], additionalProperties: false },
          },
          detector: { type: 'string' },
          model: { type: 'object', properties: { name: { type: 'string' }, version: { type: 'string' }, hash: { type: 'string' } }, required: ['name', 'version', 'hash'], additionalProperties: false },
        },
        required: ['stream', 'id', 'start', 'peakScore', 'peakTs', 'channels', 'explanation', 'detector', 'model'],
        additionalProperties: false,
      },
    },
  },
  required: ['format', 'version', 'nextId', 'open'],
  additionalProperties: false,
} as const);

export class AlertLedger {
  /** Open alerts by stream (one policy per stream has at most one open alert). */
  private readonly open = new Map<string, OpenAlert>();
  /** What the file said was open when the stage started: closed by the stage's first batch. */
  private orphans: OpenAlert[];
  private dirty = false;
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    /** The file, or undefined: a ledger in memory only (tests, benchmarks without a state dir). */
    private readonly path: string | undefined,
    private nextId: number,
    orphans: OpenAlert[],
  ) {
    this.orphans = orphans;
    for (const a of orphans) this.open.set(a.stream, a);
  }

  /** Ids from 1, nothing kept: for a stage made without a state dir. */
  static inMemory(): AlertLedger {
    return new AlertLedger(undefined, 1, []);
  }

  /**
   * The ledger in `stateDir` (none yet: ids from 1). A file that cannot be read or is not a
   * ledger is moved aside to `alerts.json.unreadable` and said as a warning: the stage still
   * starts (watching matters more than numbering), with ids from 1.
   */
  static async open(stateDir: string, events: ComponentEvents): Promise<AlertLedger> {
    const path = join(stateDir, LEDGER_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new AlertLedger(path, 1, []);
      return AlertLedger.unreadable(path, (err as Error).message, events);
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return AlertLedger.unreadable(path, `not JSON (${(err as Error).message})`, events);
    }
    const checked = ledgerSchema.validate(value);
    if (checked.error !== undefined) {
      const e = checked.error[0];
      return AlertLedger.unreadable(path, `not an alert ledger (${e === undefined ? 'invalid' : `${e.instancePath || '/'}: ${e.message}`})`, events);
    }
    const v = value as { nextId: number; open: OpenAlert[] };
    // A stream listed twice (a hand-edited file): the newest alert of it is the one open.
    const byStream = new Map<string, OpenAlert>();
    for (const a of v.open) if ((byStream.get(a.stream)?.id ?? 0) < a.id) byStream.set(a.stream, a);
    const maxOpen = Math.max(0, ...v.open.map((a) => a.id));
    return new AlertLedger(path, Math.max(v.nextId, maxOpen + 1), [...byStream.values()]);
  }

  private static async unreadable(path: string, reason: string, events: ComponentEvents): Promise<AlertLedger> {
    events.warn('anomaly.alert_ledger_unreadable', { code: 'E_STATE_INVALID', file: path, reason, action: 'alert ids start from 1 again' });
    await rename(path, `${path}.unreadable`).catch(() => undefined);
    return new AlertLedger(path, 1, []);
  }

  /** A new alert id: never one this stage handed out before (once `save` has run). */
  takeId(): number {
    const id = this.nextId;
    this.nextId += 1;
    this.dirty = true;
    return id;
  }

  /** The alert is open (raised or reopened), or it changed while open. */
  opened(alert: OpenAlert): void {
    this.open.set(alert.stream, alert);
    this.dirty = true;
  }

  /** The alert ended. */
  closed(stream: string, id: number): void {
    if (this.open.get(stream)?.id !== id) return;
    this.open.delete(stream);
    this.dirty = true;
  }

  /**
   * The alerts that were open when the stage last stopped without closing them (the process
   * was killed or lost power), once: the caller closes them.
   */
  takeOrphans(): OpenAlert[] {
    const o = this.orphans;
    this.orphans = [];
    return o;
  }

  get openCount(): number {
    return this.open.size;
  }

  /** Writes what changed since the last save (nothing changed: no write). Throws what the write threw. */
  save(): Promise<void> {
    if (!this.dirty || this.path === undefined) return this.writing;
    this.dirty = false;
    const path = this.path;
    const body = `${JSON.stringify({ format: 'edgewise-alert-ledger', version: 1, nextId: this.nextId, open: [...this.open.values()] })}\n`;
    // One write at a time, in order: a later state never lands before an earlier one.
    const next = this.writing
      .catch(() => undefined)
      .then(async () => {
        await mkdir(join(path, '..'), { recursive: true });
        await writeFileDurable(path, body);
      });
    // A failed write leaves the state to be written by the next save.
    next.catch(() => (this.dirty = true));
    this.writing = next;
    return next;
  }
}
