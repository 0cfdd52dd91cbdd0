import { pino } from 'pino';
import { Registry } from 'prom-client';
import { EventLog, type ComponentEvents } from '../../runtime/health/events.js';
import { Database } from '../../runtime/store/database.js';
import { Outbox, type OutboxOptions, type StoredRecord } from '../../runtime/store/outbox.js';

export function quietEvents(component = 'test'): ComponentEvents {
  return new EventLog(pino({ level: 'silent' }), new Registry()).for(component);
}

export interface OpenOutbox {
  readonly db: Database;
  readonly outbox: Outbox;
  close(): Promise<void>;
}

export async function openOutbox(dir: string, options: OutboxOptions): Promise<OpenOutbox> {
  const db = await Database.open(dir, quietEvents('store'));
  const outbox = await Outbox.open(db, options, quietEvents('outbox'));
  return {
    db,
    outbox,
    close: async () => {
      await outbox.close();
      await db.close();
    },
  };
}

/** Reads (leases) everything the outbox holds, oldest first. */
export async function readAll(outbox: Outbox, batch = 100): Promise<StoredRecord[]> {
  const out: StoredRecord[] = [];
  for (;;) {
    const next = await outbox.readNext(batch, 1 << 30);
    if (next.length === 0) return out;
    out.push(...next);
  }
}
