import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { DatabaseError, asDatabaseError, type Queryable, type Sql, type Statement } from './sql.js';

/**
 * PostgreSQL settings for the embedded database (fsync is switched on in the worker, see there). shared_buffers 32 MB instead of 128 MB: fleet
 * state is small and hot, and WebAssembly memory, once grown, is never given back (measured:
 * 206 MB resident for an opened database, against 327 MB with the default).
 */
const SETTINGS = ['shared_buffers=32MB'];

const PGLITE_URL = import.meta.resolve('@electric-sql/pglite');

/**
 * Creates a new data directory (initdb) in a child process. initdb inside WebAssembly grows
 * the instance's memory to about 800 MB, which a process never gets back; done in a child,
 * the fleet itself starts at its steady size.
 */
async function initDataDir(dir: string): Promise<void> {
  if (existsSync(join(dir, 'PG_VERSION'))) return;
  const script = `const { PGlite } = await import(${JSON.stringify(PGLITE_URL)});
const db = await PGlite.create({ dataDir: ${JSON.stringify(dir)} });
await db.close();`;
  await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 120_000 });
}

/**
 * The worker's code. PGlite runs PostgreSQL synchronously in WebAssembly: on the main thread a
 * large commit would stop the broker and the API for its whole duration. In a worker it runs
 * on the other core while the main thread goes on with MQTT and HTTP (the fleet-ingest
 * benchmark measured the difference). Plain JavaScript in a string, so the same code runs
 * from the compiled build and from the TypeScript sources under the test runner.
 * Messages in: {id, op: 'query'|'exec'|'batch'|'close', text, params, statements}; out: {id, rows} or {id, error}.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  const { PGlite, types } = await import(workerData.url);
  const parsers = { [types.INT8]: (v) => Number(v), [types.NUMERIC]: (v) => Number(v) };
  let db;
  try {
    // PGlite starts PostgreSQL with -F (fsync off), and its Node file system has no fsync: a
    // power cut could lose commits the fleet acknowledged. With a data directory, fsync is on
    // (wal_sync_method=fsync) and fsync reaches the disk (fs.fsyncSync on the real file).
    const durable = workerData.dir !== null;
    const startParams = durable ? [...PGlite.defaultStartParams.filter((p) => p !== '-F'), '-c', 'fsync=on', '-c', 'wal_sync_method=fsync'] : undefined;
    db = await PGlite.create({ ...(durable ? { dataDir: workerData.dir, startParams } : {}), parsers, postgresqlconf: workerData.settings });
    if (durable) {
      const ops = db.mod && db.mod.NODEFS && db.mod.NODEFS.stream_ops;
      if (!ops) throw new Error('this PGlite build does not expose its NODEFS stream operations: commits could not be made durable (pin @electric-sql/pglite to a tested version)');
      const fs = require('node:fs');
      ops.fsync = (stream) => { fs.fsyncSync(stream.nfd); };
      const on = (await db.query('SHOW fsync')).rows[0];
      if (!on || on.fsync !== 'on') throw new Error('PGlite did not take fsync=on');
    }
  } catch (err) {
    parentPort.postMessage({ id: 0, error: { message: String(err && err.message || err), code: err && err.code } });
    return;
  }
  parentPort.postMessage({ id: 0, rows: [] });
  parentPort.on('message', async (m) => {
    try {
      if (m.op === 'query') parentPort.postMessage({ id: m.id, rows: (await db.query(m.text, m.params)).rows });
      else if (m.op === 'exec') { await db.exec(m.text); parentPort.postMessage({ id: m.id, rows: [] }); }
      else if (m.op === 'batch') {
        const results = [];
        await db.query('BEGIN');
        try {
          for (const st of m.statements) results.push((await db.query(st.text, st.params)).rows);
          await db.query('COMMIT');
        } catch (err) {
          await db.query('ROLLBACK').catch(() => undefined);
          throw err;
        }
        parentPort.postMessage({ id: m.id, rows: results });
      }
      else if (m.op === 'close') { await db.close(); parentPort.postMessage({ id: m.id, rows: [] }); }
    } catch (err) {
      parentPort.postMessage({ id: m.id, error: { message: String(err && err.message || err), code: typeof err.code === 'string' ? err.code : undefined } });
    }
  });
})();
`;

interface Reply {
  readonly id: number;
  readonly rows?: unknown[];
  readonly error?: { readonly message: string; readonly code?: string };
}

/** Runs one thing at a time, in order: PGlite has one connection, and a transaction owns it. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

class PgliteWorker implements Sql {
  readonly backend = 'pglite' as const;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (rows: unknown[]) => void; reject: (err: unknown) => void; text: string }>();
  private readonly serial = new Serial();
  private dead: string | undefined;

  constructor(private readonly worker: Worker) {
    worker.on('message', (m: Reply) => {
      const w = this.waiting.get(m.id);
      if (w === undefined) return;
      this.waiting.delete(m.id);
      if (m.error !== undefined) w.reject(asDatabaseError(m.error, w.text));
      else w.resolve(m.rows ?? []);
    });
    const die = (reason: string): void => {
      this.dead ??= reason;
      for (const w of this.waiting.values()) w.reject(new DatabaseError(`database: ${reason} (in: ${w.text.slice(0, 80)})`, undefined));
      this.waiting.clear();
    };
    worker.on('error', (err) => die(`the PGlite worker failed: ${err.message}`));
    worker.on('exit', (code) => die(`the PGlite worker exited (${code})`));
  }

  send(op: 'query' | 'exec' | 'batch' | 'close', text: string, params: readonly unknown[] = [], statements?: readonly Statement[]): Promise<unknown[]> {
    if (this.dead !== undefined) return Promise.reject(new DatabaseError(`database: ${this.dead} (in: ${text.slice(0, 80)})`, undefined));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, text });
      this.worker.postMessage({ id, op, text, params, statements });
    });
  }

  batch(statements: readonly Statement[]): Promise<unknown[][]> {
    // A failing statement is named in the error: the worker stops at it.
    return this.serial.run(() => this.send('batch', statements.map((st) => st.text.slice(0, 40)).join('; '), [], statements)) as Promise<unknown[][]>;
  }

  /** Waits for the worker's database to open. */
  ready(): Promise<unknown[]> {
    return new Promise((resolve, reject) => this.waiting.set(0, { resolve, reject, text: 'open' }));
  }

  query<Row>(text: string, params: readonly unknown[] = []): Promise<Row[]> {
    return this.serial.run(() => this.send('query', text, params)) as Promise<Row[]>;
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.serial.run(async () => {
      await this.send('query', 'BEGIN');
      const tx: Queryable = { query: <Row>(text: string, params?: readonly unknown[]) => this.send('query', text, params) as Promise<Row[]> };
      try {
        const result = await fn(tx);
        await this.send('query', 'COMMIT');
        return result;
      } catch (err) {
        await this.send('query', 'ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  async exec(text: string): Promise<void> {
    await this.serial.run(() => this.send('exec', text));
  }

  async close(): Promise<void> {
    if (this.dead === undefined) await this.serial.run(() => this.send('close', 'close')).catch(() => undefined);
    this.dead ??= 'closed';
    await this.worker.terminate();
  }
}

/**
 * PGlite: PostgreSQL compiled to WebAssembly, in a worker thread of this process, persisted in
 * a directory (or in memory when `dir` is undefined). One connection: statements run one at
 * a time, and a transaction has the connection to itself. PGlite does not lock its
 * directory: the fleet's data-dir lock must be held first.
 */
export async function openPglite(dir: string | undefined): Promise<Sql> {
  if (dir !== undefined) await initDataDir(dir);
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { url: PGLITE_URL, dir: dir ?? null, settings: SETTINGS } });
  const db = new PgliteWorker(worker);
  try {
    await db.ready();
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  return db;
}
