import { rm } from 'node:fs/promises';
import mqtt from 'mqtt';
import { encodeBatch, encodeRecord } from '../../fleet/protocol/index.js';
import type { RecordInput } from '../../runtime/pipeline/record.js';
import { defaults } from '../../runtime/config/defaults.js';
import { MqttUplink } from '../../runtime/uplink/uplink.js';
import { Mosquitto } from '../support/mosquitto.js';
import { openOutbox, quietEvents } from '../support/store.js';
import { makeTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';
import { finish, median, progress } from './report.js';

/**
 * `npm run bench -- uplink`: drain 100k ~200-byte records from the outbox to Debian's
 * Mosquitto (QoS 1, delete after PUBACK) against a bare mqtt.js QoS 1 publish loop of the
 * same record payloads (one message each, a bounded window of messages in flight) to the
 * same broker. Alternating rounds, medians compared.
 */
const RECORDS = 100_000;
const ROUNDS = 3;
const BARE_WINDOW = 1000;

function record(i: number): RecordInput {
  return { stream: 'press-1', class: 'telemetry', ts: 1_764_000_000_000 + i, data: { n: i, values: { vibration: [0.125 + i, 0.5, 0.25, 0.75], temperature: [41.5, 41.625, 41.75, 41.875], current: [3.5, 3.25, 3.125, 3.0625] } } };
}

async function uplinkRound(dir: string, url: string): Promise<number> {
  const o = await openOutbox(dir, { maxSizeBytes: 1 << 30, sync: false });
  for (let i = 0; i < RECORDS; i += 1000) await o.outbox.append(Array.from({ length: 1000 }, (_, j) => record(i + j)));
  const uplink = new MqttUplink(o.outbox, { ...defaults.uplink, url, reconnect: { minDelayMs: 100, maxDelayMs: 1000 } }, {}, 'bench-gw', 'bench', quietEvents('uplink'));
  const t0 = process.hrtime.bigint();
  uplink.start();
  await waitFor(() => uplink.stats().ackedRecords >= RECORDS, 'all records acknowledged', 120_000, 2);
  await o.outbox.flushDeletes();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (o.outbox.size !== 0) throw new Error(`outbox still holds ${o.outbox.size} records`);
  await uplink.stop();
  await o.close();
  return RECORDS / s;
}

async function barePublish(url: string, payloads: readonly Uint8Array[], window: number, recordsPerPayload: number): Promise<number> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, clean: true, reconnectPeriod: 0 });
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    let next = 0;
    let done = 0;
    const pump = (): void => {
      while (next < payloads.length && next - done < window) {
        const p = payloads[next++] as Uint8Array;
        client.publish('edgewise/v1/gw/bench-bare/records', Buffer.from(p.buffer, p.byteOffset, p.byteLength), { qos: 1 }, (err) => {
          if (err) return reject(err);
          done += 1;
          if (done === payloads.length) resolve();
          else pump();
        });
      }
    };
    pump();
  });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await client.endAsync();
  return (payloads.length * recordsPerPayload) / s;
}

export async function benchUplink(): Promise<void> {
  const tmp = await makeTempDir('edgewise-bench-');
  const broker = await Mosquitto.create(tmp.path);
  const single = Array.from({ length: RECORDS }, (_, i) => encodeRecord({ id: `AAAAAAAAAAA.1.${i.toString(36)}`, ...record(i) }));
  const perBatch = defaults.uplink.batchMaxRecords;
  const batches: Uint8Array[] = [];
  for (let i = 0; i < RECORDS; i += perBatch) batches.push(encodeBatch('bench-bare', Date.now(), single.slice(i, i + perBatch)));
  progress(`uplink: ${ROUNDS} rounds x ${RECORDS} records of ~${single[0]?.byteLength} bytes to Mosquitto on ${broker.url}`);
  const ours: number[] = [];
  const bare: number[] = [];
  const bareBatched: number[] = [];
  try {
    for (let r = 0; r < ROUNDS; r += 1) {
      const dir = `${tmp.path}/outbox-${r}`;
      if (r % 2 === 0) {
        bare.push(await barePublish(broker.url, single, BARE_WINDOW, 1));
        ours.push(await uplinkRound(dir, broker.url));
      } else {
        ours.push(await uplinkRound(dir, broker.url));
        bare.push(await barePublish(broker.url, single, BARE_WINDOW, 1));
      }
      bareBatched.push(await barePublish(broker.url, batches, defaults.uplink.maxInFlight, perBatch));
      await rm(dir, { recursive: true, force: true });
      progress(`  round ${r + 1}/${ROUNDS}: outbox->Mosquitto ${Math.round(ours[r] as number)} records/s; bare mqtt.js, one message per record: ${Math.round(bare[r] as number)}; bare mqtt.js, same ${perBatch}-record batches: ${Math.round(bareBatched[r] as number)}`);
    }
  } finally {
    await broker.stop();
    await tmp.remove();
  }
  progress(`uplink vs bare publishing of the same batches (transport only, no LevelDB): ratio ${(median(ours) / median(bareBatched)).toFixed(3)}`);
  finish('uplink', median(ours), median(bare), 'records/s');
}
