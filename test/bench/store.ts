import { rm } from 'node:fs/promises';
import { ClassicLevel } from 'classic-level';
import { encodeRecord } from '../../fleet/protocol/index.js';
import type { RecordInput } from '../../runtime/pipeline/record.js';
import { openOutbox } from '../support/store.js';
import { makeTempDir } from '../support/temp-dir.js';
import { finish, median, progress } from './report.js';

/**
 * `npm run bench -- store [--sync true|false]`: outbox appends against raw classic-level
 * batch puts of the same records (encoded the same way, same batch size, same sync
 * setting), alternating A/B rounds on fresh databases, medians compared.
 */
const RECORDS = 50_000;
const BATCH = 500;
const ROUNDS = 5;

function records(n: number): RecordInput[] {
  // ~200-byte records: a stream name, a timestamp and a few channels of samples.
  return Array.from({ length: n }, (_, i) => ({
    stream: 'press-1',
    class: 'telemetry',
    ts: 1_764_000_000_000 + i,
    data: { n: i, values: { vibration: [0.125 + i, 0.5, 0.25, 0.75], temperature: [41.5, 41.625, 41.75, 41.875], current: [3.5, 3.25, 3.125, 3.0625] } },
  }));
}

async function outboxRound(dir: string, input: RecordInput[], sync: boolean): Promise<number> {
  const o = await openOutbox(dir, { maxSizeBytes: 1 << 30, sync });
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < input.length; i += BATCH) await o.outbox.append(input.slice(i, i + BATCH));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await o.close();
  return input.length / s;
}

async function rawRound(dir: string, input: RecordInput[], sync: boolean): Promise<number> {
  const db = new ClassicLevel<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view' });
  await db.open();
  const t0 = process.hrtime.bigint();
  let seq = 0;
  for (let i = 0; i < input.length; i += BATCH) {
    const ops = input.slice(i, i + BATCH).map((r) => {
      const n = seq++;
      const id = `bench.1.${n.toString(36)}`;
      return { type: 'put' as const, key: `ot!00000001${n.toString(16).padStart(12, '0')}`, value: encodeRecord({ id, ...r }) };
    });
    await db.batch(ops, { sync });
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await db.close();
  return input.length / s;
}

export async function benchStore(args: readonly string[]): Promise<void> {
  const syncArg = args[args.indexOf('--sync') + 1];
  const sync = args.includes('--sync') ? syncArg !== 'false' : true;
  const input = records(RECORDS);
  const bytes = encodeRecord({ id: 'bench.1.0', ...(input[0] as RecordInput) }).byteLength;
  progress(`store: ${ROUNDS} rounds x ${RECORDS} records of ${bytes} bytes, batches of ${BATCH}, sync=${String(sync)}`);
  const tmp = await makeTempDir('edgewise-bench-');
  const outbox: number[] = [];
  const raw: number[] = [];
  try {
    for (let r = 0; r < ROUNDS; r += 1) {
      // Alternate which goes first, so drift on a shared machine hits both alike.
      const pair = r % 2 === 0 ? (['raw', 'outbox'] as const) : (['outbox', 'raw'] as const);
      for (const which of pair) {
        const dir = `${tmp.path}/${which}-${r}`;
        const rate = which === 'raw' ? await rawRound(dir, input, sync) : await outboxRound(dir, input, sync);
        (which === 'raw' ? raw : outbox).push(rate);
        await rm(dir, { recursive: true, force: true });
      }
      progress(`  round ${r + 1}/${ROUNDS}: outbox ${Math.round(outbox[r] as number)} records/s, raw classic-level ${Math.round(raw[r] as number)} records/s`);
    }
  } finally {
    await tmp.remove();
  }
  finish('store', median(outbox), median(raw), 'records/s');
}
