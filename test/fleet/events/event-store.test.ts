import { beforeEach, describe, expect, it } from 'vitest';
import { EventStore, type StoredEvent } from '../../../fleet/events/event-store.js';
import { BACKENDS, useFleetDb } from '../../support/fleet-db.js';

const event = (recordId: string, ts: number, gatewayId = 'gw-1', receivedMs = ts): StoredEvent => ({ gatewayId, recordId, kind: 'alert', class: 'alert', stream: 's.alerts', model: 'm', ts, receivedMs, data: { n: recordId } });

describe.each(BACKENDS)('event retention on %s', (backend) => {
  const db = useFleetDb(backend);
  let events: EventStore;
  beforeEach(async () => {
    await db.reset();
    events = new EventStore(db.sql);
  });

  it('deletes events older than the age limit, then the oldest beyond the count limit', async () => {
    const day = 86_400_000;
    const now = 100 * day;
    await events.insert([event('old-1', now - 40 * day), event('old-2', now - 31 * day), ...Array.from({ length: 8 }, (_, i) => event(`new-${i}`, now - i * 1000))]);
    expect(await events.sweep({ maxAgeMs: 30 * day, maxEvents: 1000 }, now)).toBe(2);
    expect(await events.count()).toBe(8);
    expect(await events.sweep({ maxAgeMs: 30 * day, maxEvents: 5 }, now)).toBe(3);
    const left = await events.query({ limit: 100 });
    expect(left.map((e) => e.recordId)).toEqual(['new-0', 'new-1', 'new-2', 'new-3', 'new-4']);
    expect(await events.sweep({ maxAgeMs: 30 * day, maxEvents: 5 }, now)).toBe(0);
  });

  it('goes by when the fleet received an event, not by the gateway\'s clock', async () => {
    const day = 86_400_000;
    const now = 100 * day;
    // A gateway without a working clock says 1970; another's runs a year ahead.
    await events.insert([event('no-clock', 0, 'gw-1', now - day), event('ahead', now + 365 * day, 'gw-2', now - 40 * day)]);
    expect(await events.sweep({ maxAgeMs: 30 * day, maxEvents: 1000 }, now)).toBe(1);
    expect((await events.query({ limit: 10 })).map((e) => e.recordId)).toEqual(['no-clock']);
  });

  it('answers newest first, a page at a time, filtered by gateway and time', async () => {
    await events.insert([event('a', 10), event('b', 20), event('c', 30, 'gw-2'), event('d', 40)]);
    const page1 = await events.query({ gatewayId: 'gw-1', limit: 2 });
    expect(page1.map((e) => e.recordId)).toEqual(['d', 'b']);
    const last = page1.at(-1) as StoredEvent;
    const page2 = await events.query({ gatewayId: 'gw-1', limit: 2, before: { ts: last.ts, gatewayId: last.gatewayId, recordId: last.recordId } });
    expect(page2.map((e) => e.recordId)).toEqual(['a']);
    expect((await events.query({ fromMs: 20, toMs: 40, limit: 10 })).map((e) => e.recordId)).toEqual(['c', 'b']);
  });
});

describe.each(BACKENDS)('event pages on %s', (backend) => {
  const db = useFleetDb(backend);

  it('stops a page at its byte budget (at least one event), and the next page goes on from there', async () => {
    await db.reset();
    const events = new EventStore(db.sql);
    const crop = 'x'.repeat(200_000);
    await events.insert(Array.from({ length: 10 }, (_, i) => ({ ...event(`e${i}`, 1000 + i), data: { crop: `${crop}${i}` } })));
    const first = await events.page({ limit: 100 }, 450_000);
    expect(first.items.map((e) => e.recordId)).toEqual(['e9', 'e8']);
    expect(first.more).toBe(true);
    const last = first.items[1] as StoredEvent;
    const second = await events.page({ limit: 100, before: { ts: last.ts, gatewayId: last.gatewayId, recordId: last.recordId } }, 450_000);
    expect(second.items.map((e) => e.recordId)).toEqual(['e7', 'e6']);
    const one = await events.page({ limit: 100 }, 10);
    expect(one.items).toHaveLength(1);
    const all = await events.page({ limit: 100 });
    expect(all.items).toHaveLength(10);
    expect(all.more).toBe(false);
  });
});
