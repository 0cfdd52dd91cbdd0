import type { RecordClass } from '../../fleet/protocol/index.js';
import type { Source, SourceContext } from '../../runtime/pipeline/components.js';
import type { RecordInput } from '../../runtime/pipeline/record.js';
import { ModbusBus, type BusOptions } from './bus.js';
import { busOptionsOf } from './bus-options.js';
import { isBitTable, planReads, blockValues, type ReadBlock } from './register-map.js';
import { toMapPoint, type ModbusConfig } from './schema.js';
import { ModbusValueError, type WriteValue } from './encode.js';
import { findPointByName, ModbusWriter } from './write.js';

/** The validated config with `interFrameDelayMs: auto` already turned into undefined (t3.5 from the baud rate). */
export type ModbusSourceOptions = Omit<ModbusConfig, 'interFrameDelayMs'> & {
  readonly interFrameDelayMs?: number | undefined;
  /** RTU: opens the serial device (tests may pass a fake line). */
  readonly openSerial?: BusOptions['openSerial'];
};

/** A slave failing this many polls in a row makes the source degraded (naming that slave). */
export const DEGRADED_AFTER_FAILED_POLLS = 3;

interface GroupState {
  readonly slave: SlaveState;
  readonly name: string;
  readonly stream: string;
  readonly intervalMs: number;
  readonly blocks: readonly ReadBlock[];
  readonly units: Readonly<Record<string, string>>;
  /** Point names in config order: the key order of data.values. */
  readonly order: readonly string[];
  polling: Promise<void> | undefined;
  /** When the next poll is due (performance.now() ms): the grid start + k × intervalMs. */
  nextDue: number;
  timer: NodeJS.Timeout | undefined;
  polls: number;
  overruns: number;
}

interface SlaveState {
  readonly unit: number;
  readonly name: string;
  failedPolls: number;
  consecutiveFailedPolls: number;
  failingSince: number | null;
  lastError: string | null;
}

/**
 * Modbus slaves polled on one bus (a serial line or a TCP endpoint). Each group of each slave
 * is polled every `intervalMs`: its points are read in as few requests as the register map
 * allows and become one `samples` record, stamped when the last answer arrived. A poll still
 * queued when the next is due makes that next one skip (counted, never stacked). A slave that
 * fails polls in a row degrades the source, naming only that slave; the others go on.
 */
export class ModbusSource implements Source {
  private bus: ModbusBus | undefined;
  private ctx: SourceContext | undefined;
  private readonly slaves: SlaveState[] = [];
  private readonly groups: GroupState[] = [];
  private stopping = false;
  private readonly writer: ModbusWriter;

  constructor(private readonly options: ModbusSourceOptions) {
    this.writer = new ModbusWriter(options, () => (this.stopping ? undefined : this.bus));
    for (const s of options.slaves) {
      const slave: SlaveState = { unit: s.unit, name: s.name, failedPolls: 0, consecutiveFailedPolls: 0, failingSince: null, lastError: null };
      this.slaves.push(slave);
      for (const g of s.groups) {
        const units: Record<string, string> = {};
        for (const p of g.points) units[p.name] = p.unit ?? '';
        this.groups.push({
          slave,
          name: g.name,
          stream: g.stream ?? `${options.id}.${s.name}.${g.name}`,
          intervalMs: g.intervalMs,
          blocks: planReads(s.unit, g.points.map(toMapPoint), { maxGap: g.maxGap ?? options.maxGap ?? 0 }),
          units,
          order: g.points.map((p) => p.name),
          polling: undefined,
          nextDue: 0,
          timer: undefined,
          polls: 0,
          overruns: 0,
        });
      }
    }
  }

  async start(ctx: SourceContext): Promise<void> {
    this.ctx = ctx;
    const o = this.options;
    this.bus = new ModbusBus(
      busOptionsOf(o, {
        openSerial: o.openSerial,
        onEvent: (level, name, fields) => ctx.events[level](name, { source: o.id, ...fields }),
      }),
    );
    await this.bus.start();
    const now = performance.now();
    for (const g of this.groups) {
      g.nextDue = now;
      this.poll(g);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const g of this.groups) clearTimeout(g.timer);
    // Closing refuses what is queued; the request on the wire ends within its timeout.
    await this.bus?.close();
    // A poll ends once its record is on the first edge.
    await Promise.all(this.groups.map((g) => g.polling));
  }

  /**
   * Writes `value` to a point that has `write: true` (slave by name or unit id). It goes through
   * the bus's queue like a poll's reads, so on RTU it never interleaves with one. Refused without
   * traffic (ModbusWriteRefusedError, ModbusValueError) for an unknown or read-only point or a
   * value that does not fit its type after scale and offset.
   */
  write(slave: string | number, point: string, value: WriteValue): Promise<void> {
    return this.writer.write(slave, point, value);
  }

  /**
   * `write` by the point's name alone (a Sparkplug metric is a key of the records' values,
   * which are point names): the point must be on exactly one slave of this bus. Strings are
   * refused: a Modbus point holds numbers and bits.
   */
  writeValue(name: string, value: number | boolean | string, scope?: string): Promise<void> {
    let ref;
    try {
      if (typeof value === 'string') throw new ModbusValueError(name, `a Modbus point takes a number or a boolean, not the string ${JSON.stringify(value.slice(0, 40))}`);
      ref = findPointByName(this.options, name, scope);
    } catch (err) {
      this.writer.counters.writesRefused += 1;
      return Promise.reject(err as Error);
    }
    return this.write(ref.unit, name, value);
  }

  /**
   * False while the port (or TCP connection) is not open, or while every slave has failed
   * DEGRADED_AFTER_FAILED_POLLS polls in a row (the thresholds `stats()` degrades on); a bus
   * with some slaves answering is still answering. With a scope (a slave's name, for a
   * Sparkplug device that is one slave): that slave only.
   */
  answering(scope?: string): boolean {
    const b = this.bus?.stats();
    if (b === undefined || !b.open) return false;
    // A scope names a slave (streams are <id>.<slave>.<group>): that slave alone.
    const slave = scope?.split('.')[0];
    return this.slaves.some((s) => (slave === undefined || s.name === slave) && s.consecutiveFailedPolls < DEGRADED_AFTER_FAILED_POLLS);
  }

  stats(): Record<string, number | string | boolean | null> {
    const b = this.bus?.stats();
    const out: Record<string, number | string | boolean | null> = {
      endpoint: b?.endpoint ?? null,
      open: b?.open ?? false,
      requests: b?.requests ?? 0,
      responses: b?.responses ?? 0,
      timeouts: b?.timeouts ?? 0,
      crcErrors: b?.crcErrors ?? 0,
      framingErrors: b?.framingErrors ?? 0,
      retries: b?.retries ?? 0,
      portOpens: b?.portOpens ?? 0,
      portCloses: b?.portCloses ?? 0,
      openFailures: b?.openFailures ?? 0,
      notOpenSince: b?.notOpenSince ?? null,
      lastOpenError: b?.lastOpenError ?? null,
      lateBytesDropped: b?.lateBytesDropped ?? 0,
      queueDepth: b?.queueDepth ?? 0,
      polls: this.groups.reduce((n, g) => n + g.polls, 0),
      pollOverruns: this.pollOverruns(),
      ...this.writer.counters,
    };
    for (const s of this.slaves) {
      const u = b?.units[String(s.unit)];
      const at = `slave.${s.name}`;
      out[`${at}.unit`] = s.unit;
      out[`${at}.requests`] = u?.requests ?? 0;
      out[`${at}.responses`] = u?.responses ?? 0;
      out[`${at}.timeouts`] = u?.timeouts ?? 0;
      out[`${at}.crcErrors`] = u?.crcErrors ?? 0;
      out[`${at}.framingErrors`] = u?.framingErrors ?? 0;
      out[`${at}.retries`] = u?.retries ?? 0;
      out[`${at}.exceptions`] = Object.values(u?.exceptions ?? {}).reduce((n, k) => n + k, 0);
      // Only the codes seen: at most 12 keys a slave (1..11 and other).
      for (const [code, n] of Object.entries(u?.exceptions ?? {})) out[`${at}.exception.${code}`] = n;
      out[`${at}.lastOkAt`] = u?.lastOkAt ?? null;
      out[`${at}.consecutiveFailures`] = u?.consecutiveFailures ?? 0;
      out[`${at}.failedPolls`] = s.failedPolls;
      out[`${at}.consecutiveFailedPolls`] = s.consecutiveFailedPolls;
      out[`${at}.lastError`] = s.lastError;
    }
    const failing = this.slaves.filter((s) => s.consecutiveFailedPolls >= DEGRADED_AFTER_FAILED_POLLS);
    if (b !== undefined && !b.open && !this.stopping) {
      // Every slave fails while the port is away: the port is the one reason, not each slave.
      out['degraded'] = true;
      const since = new Date(b.notOpenSince ?? Date.now()).toISOString();
      const why = b.lastOpenError === null ? 'closed' : `reopen failed: ${b.lastOpenError}`;
      out['degradedReason'] = `port ${b.endpoint} not open since ${since} (${why}); reopening with backoff (${b.openFailures} failed opens since start)`;
    } else if (failing.length > 0) {
      out['degraded'] = true;
      out['degradedReason'] = failing
        .map((s) => `slave ${s.unit} (${s.name}) failing since ${new Date(s.failingSince ?? Date.now()).toISOString()}: ${s.lastError ?? 'no answer'}`)
        .join('; ');
    }
    return out;
  }

  /**
   * Starts the group's poll that is due now; when it ends, arms one timer for the next due time
   * on the group's grid. Grid times that passed while the poll was queued or on the wire are
   * skipped and counted as overruns, never stacked. One timer a poll, not one a tick: 256 groups
   * due every 10 ms behind a bus that serves 3,000 polls a second fired 25,600 interval timers a
   * second, nine in ten of them only to count a skip.
   */
  private poll(g: GroupState): void {
    g.timer = undefined;
    if (this.stopping) return;
    g.polls += 1;
    g.polling = this.runPoll(g).finally(() => {
      g.polling = undefined;
      this.scheduleNext(g);
    });
  }

  /** Skipped polls, with the due times a poll still running has already let pass (counted when it ends). */
  private pollOverruns(): number {
    const now = performance.now();
    let n = 0;
    for (const g of this.groups) {
      n += g.overruns;
      if (g.polling !== undefined && now > g.nextDue + g.intervalMs) n += Math.ceil((now - g.nextDue - g.intervalMs) / g.intervalMs);
    }
    return n;
  }

  private scheduleNext(g: GroupState): void {
    if (this.stopping) return;
    const now = performance.now();
    let due = g.nextDue + g.intervalMs;
    if (due < now) {
      const missed = Math.ceil((now - due) / g.intervalMs);
      g.overruns += missed;
      due += missed * g.intervalMs;
    }
    g.nextDue = due;
    // Whole milliseconds: Node keeps one timer list per distinct delay.
    g.timer = setTimeout(() => this.poll(g), Math.ceil(due - now));
  }

  private async runPoll(g: GroupState): Promise<void> {
    const bus = this.bus;
    if (bus === undefined) return;
    const merged = new Map<string, number[]>();
    try {
      // One block after another, ending at the first failure: a silent slave costs the line one
      // timeout per poll, not one per block, and the other slaves' requests go between.
      for (const b of g.blocks) {
        const data = isBitTable(b.table)
          ? await bus.readBits(b.unit, b.table, b.address, b.count)
          : await bus.readRegisters(b.unit, b.table, b.address, b.count);
        for (const [k, v] of blockValues(b, data)) merged.set(k, v);
      }
    } catch (err) {
      if (this.stopping) return;
      this.failed(g, err as Error);
      return;
    }
    const ts = Date.now();
    const s = g.slave;
    if (s.consecutiveFailedPolls >= DEGRADED_AFTER_FAILED_POLLS) this.ctx?.events.info('modbus.slave_recovered', { source: this.options.id, unit: s.unit, slave: s.name });
    s.consecutiveFailedPolls = 0;
    s.failingSince = null;
    const values: Record<string, readonly number[]> = {};
    for (const name of g.order) values[name] = merged.get(name) ?? [];
    await this.emit({
      stream: g.stream,
      class: (this.options.class ?? 'telemetry') as RecordClass,
      ts,
      data: { unit: s.unit, slave: s.name, group: g.name, values, units: g.units },
    });
  }

  private failed(g: GroupState, err: Error): void {
    const s = g.slave;
    s.failedPolls += 1;
    if (s.consecutiveFailedPolls === 0) s.failingSince = Date.now();
    s.consecutiveFailedPolls += 1;
    s.lastError = err.message;
    const code = (err as { code?: unknown }).code;
    const fields = { code: typeof code === 'string' ? code : 'E_MODBUS_OTHER', source: this.options.id, unit: s.unit, slave: s.name, group: g.name, reason: err.message };
    if (s.consecutiveFailedPolls === DEGRADED_AFTER_FAILED_POLLS) this.ctx?.events.error('modbus.slave_failing', { ...fields, polls: s.consecutiveFailedPolls });
    else this.ctx?.events.warn('modbus.poll_failed', fields);
  }

  /**
   * Hands one poll's record to the pipeline. The poll is not over until the first edge took it:
   * a full edge under `block` holds the poll, and the polls due meanwhile are skipped and
   * counted (pollOverruns) instead of piling up here.
   */
  private async emit(record: RecordInput): Promise<void> {
    const ctx = this.ctx;
    if (ctx === undefined) return;
    const failed = (err: unknown): void => ctx.events.error('modbus.emit_failed', { code: 'E_MODBUS_EMIT', source: this.options.id, stream: record.stream, reason: (err as Error).message });
    try {
      const receipt = await ctx.emit([record]);
      receipt.stored.catch(failed);
    } catch (err) {
      failed(err);
    }
  }
}
