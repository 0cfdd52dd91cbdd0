import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { EventLog, type EventFields, type EventLevel } from '../../runtime/health/events.js';
import { ModelSlots } from '../../runtime/updater/slots.js';

/** A real event log (silent) that also keeps every event, so a test can wait for one. */
export class CapturingEventLog extends EventLog {
  readonly seen: { level: EventLevel; component: string; event: string; fields: EventFields }[] = [];

  constructor() {
    super(pino({ level: 'silent' }), new Registry());
  }

  override emit(level: EventLevel, component: string, event: string, fields: EventFields = {}): void {
    this.seen.push({ level, component, event, fields });
    super.emit(level, component, event, fields);
  }

  has(event: string): boolean {
    return this.seen.some((e) => e.event === event);
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Installs and activates `bytes` as `model`'s release in the updater's slots under `dir`. */
export async function activate(dir: string, model: string, bytes: Uint8Array, release: number, version: string): Promise<void> {
  const slots = new ModelSlots(dir, model);
  await slots.activate(await slots.install(bytes, { release, version }), { release, version, sha256: sha256(bytes) });
}

/** A shadow candidate (without its sink, which ManagedModels.shadow adds) of `bytes`. */
export function candidateOf(model: string, bytes: Uint8Array, release: number, version: string): { bytes: Uint8Array; ref: { name: string; version: string; hash: string }; release: number } {
  return { bytes, ref: { name: model, version, hash: `sha256:${sha256(bytes)}` }, release };
}
