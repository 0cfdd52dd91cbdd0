import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { recordId } from '../../../runtime/store/keys.js';
import { DeliveryTally, parseRecordId, scoreDelivery, sumDelivery } from '../../../sim/score/delivery.js';

/** One process life of a gateway: how its records fared. */
interface Life {
  readonly records: number;
  readonly evicted: readonly number[];
  readonly lost: readonly number[];
  readonly redelivered: readonly number[];
}

const lifeArb = fc
  .nat(200)
  .chain((records) =>
    fc.record({
      records: fc.constant(records),
      evicted: records === 0 ? fc.constant<number[]>([]) : fc.uniqueArray(fc.nat(records - 1), { maxLength: 20 }),
      lost: records === 0 ? fc.constant<number[]>([]) : fc.uniqueArray(fc.nat(records - 1), { maxLength: 5 }),
      redelivered: records === 0 ? fc.constant<number[]>([]) : fc.array(fc.nat(records - 1), { maxLength: 10 }),
    }),
  )
  .map((l): Life => ({ ...l, lost: l.lost.filter((i) => !l.evicted.includes(i)) }));

describe('parseRecordId', () => {
  it('reads back the store epoch and sequence number of every id the store makes', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_-]{1,22}$/), fc.nat(0xffffffff), fc.nat(2 ** 40), (dbId, epoch, seq) => {
        const parsed = parseRecordId(recordId(dbId, epoch, seq));
        expect(parsed).toEqual({ epochKey: `${dbId}.${epoch.toString(36)}`, seq });
      }),
    );
  });

  it('says null for an id that is not the store\'s', () => {
    expect(parseRecordId('no-dots')).toBeNull();
    expect(parseRecordId('a.b.C!')).toBeNull();
  });
});

describe('scoreDelivery', () => {
  it('tells records evicted under the budget from records lost, counts duplicates, and accounts for every record', () => {
    fc.assert(
      fc.property(fc.array(lifeArb, { minLength: 1, maxLength: 4 }), fc.nat(30), fc.integer(), (lives, pendingWanted, shuffleSeed) => {
        const tally = new DeliveryTally();
        const deliveries: string[] = [];
        // The last life's newest records are still in the outbox at the end (neither evicted nor lost).
        const pending = Math.min(pendingWanted, (lives.at(-1) as Life).records);
        const inTail = (epoch: number, seq: number, life: Life): boolean => epoch === lives.length - 1 && seq >= life.records - pending;
        let evicted = 0;
        let lost = 0;
        let redelivered = 0;
        lives.forEach((life, epoch) => {
          const gone = new Set([...life.evicted, ...life.lost].filter((seq) => !inTail(epoch, seq, life)));
          evicted += life.evicted.filter((seq) => !inTail(epoch, seq, life)).length;
          lost += life.lost.filter((seq) => !inTail(epoch, seq, life)).length;
          for (let seq = 0; seq < life.records; seq += 1) if (!gone.has(seq) && !inTail(epoch, seq, life)) deliveries.push(recordId('db1', epoch + 1, seq));
          for (const seq of life.redelivered) {
            if (gone.has(seq) || inTail(epoch, seq, life)) continue;
            deliveries.push(recordId('db1', epoch + 1, seq));
            redelivered += 1;
          }
        });
        // Any arrival order: a redelivery may come before its first copy's neighbours.
        let s = shuffleSeed;
        for (let i = deliveries.length - 1; i > 0; i -= 1) {
          s = (Math.imul(s, 1103515245) + 12345) | 0;
          const j = Math.abs(s) % (i + 1);
          [deliveries[i], deliveries[j]] = [deliveries[j] as string, deliveries[i] as string];
        }
        for (const id of deliveries) tally.addRecord(id);
        const produced = lives.reduce((a, l) => a + l.records, 0);
        const d = scoreDelivery(tally.snapshot(), { appended: produced, evicted, pendingAtEnd: pending }, null);
        expect(d.produced).toBe(produced);
        expect(d.duplicated).toBe(redelivered);
        expect(d.pending).toBe(pending);
        expect(d.evicted).toBe(evicted);
        expect(d.lost).toBe(lost);
        expect(d.delivered).toBe(produced - evicted - lost - pending);
        expect(d.produced).toBe(d.delivered + d.pending + d.evicted + d.lost);
        expect(d.stored).toBe(d.produced - d.evicted);
      }),
    );
  });

  it('finds a record lost in the middle of an epoch even when the gateway did not count it', () => {
    const tally = new DeliveryTally();
    for (const seq of [0, 1, 2, 4, 5]) tally.addRecord(recordId('db', 1, seq));
    const d = scoreDelivery(tally.snapshot(), { appended: null, evicted: 0, pendingAtEnd: 0 }, null);
    expect(d).toMatchObject({ produced: 6, delivered: 5, lost: 1, evicted: 0, gaps: 1 });
  });

  it('puts missing records down to eviction only up to the gateway\'s own count', () => {
    const tally = new DeliveryTally();
    for (const seq of [0, 5, 9]) tally.addRecord(recordId('db', 1, seq));
    const d = scoreDelivery(tally.snapshot(), { appended: 12, evicted: 6, pendingAtEnd: 0 }, null);
    // 7 holes below seq 9 and 2 records after it: 6 evicted by the gateway's count, 3 lost.
    expect(d).toMatchObject({ produced: 12, delivered: 3, evicted: 6, lost: 3, pending: 0 });
  });

  it('counts records after a restart in their own epoch: a new process starting again at sequence 0 is not a duplicate', () => {
    const tally = new DeliveryTally();
    for (let seq = 0; seq < 10; seq += 1) tally.addRecord(recordId('db', 1, seq));
    for (let seq = 0; seq < 10; seq += 1) tally.addRecord(recordId('db', 2, seq));
    tally.addRecord(recordId('db', 1, 9)); // resent after the kill: the PUBACK never came
    const d = scoreDelivery(tally.snapshot(), { appended: 20, evicted: 0, pendingAtEnd: 0 }, null);
    expect(d).toMatchObject({ produced: 20, delivered: 20, duplicated: 1, lost: 0 });
  });

  it('checks MCU samples one by one: a redelivered record is not a duplicate sample, the same samples in two records are', () => {
    const tally = new DeliveryTally();
    tally.addRecord(recordId('db', 1, 0), { boot: 7, first: 0, count: 100 });
    tally.addRecord(recordId('db', 1, 0), { boot: 7, first: 0, count: 100 }); // the same record again
    tally.addRecord(recordId('db', 1, 1), { boot: 7, first: 100, count: 100 });
    tally.addRecord(recordId('db', 2, 0), { boot: 7, first: 150, count: 100 }); // restarted gateway stored 50 twice
    tally.addRecord(recordId('db', 2, 1), { boot: 7, first: 300, count: 100 }); // 250..299 never arrived
    const d = scoreDelivery(tally.snapshot(), { appended: null, evicted: 0, pendingAtEnd: 0 }, [{ boot: 7, produced: 400 }]);
    expect(d.samples).toEqual({ produced: 400, delivered: 350, missing: 50, duplicated: 50 });
    expect(d.duplicated).toBe(1);
  });

  it('counts ids of another format as delivered and finds their duplicates, with a bounded memory of them', () => {
    const tally = new DeliveryTally(2);
    expect(tally.addRecord('x')).toBe(true);
    expect(tally.addRecord('x')).toBe(false);
    tally.addRecord('y');
    tally.addRecord('z'); // past the bound: counted, not remembered
    const d = scoreDelivery(tally.snapshot(), { appended: null, evicted: 0, pendingAtEnd: 0 }, null);
    expect(d).toMatchObject({ delivered: 3, duplicated: 1, lost: 0, produced: 3 });
  });

  it('sums gateways into totals', () => {
    const a = scoreDelivery({ epochs: { 'a.1': [[0, 10]] }, duplicates: 1, foreignIds: 0, samples: {}, duplicateSamples: 0 }, { appended: 12, evicted: 1, pendingAtEnd: 0 }, null);
    const b = scoreDelivery({ epochs: { 'b.1': [[0, 5]] }, duplicates: 0, foreignIds: 0, samples: {}, duplicateSamples: 0 }, { appended: 5, evicted: 0, pendingAtEnd: 0 }, null);
    expect(sumDelivery([a, b])).toMatchObject({ produced: 17, delivered: 15, duplicated: 1, evicted: 1, lost: 1, samples: null });
  });
});
