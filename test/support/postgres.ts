import { execFileSync, spawnSync } from 'node:child_process';
import { chmod, chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export const PG_BIN = '/usr/lib/postgresql/15/bin';

/**
 * Debian's PostgreSQL 15 as a throwaway cluster in a temp dir on a free loopback port, made
 * and started by the test (initdb + start takes under a second). As root, the server runs as
 * the `postgres` user, since initdb refuses root.
 */
export class PostgresServer {
  private constructor(
    readonly base: string,
    readonly port: number,
  ) {}

  static async start(): Promise<PostgresServer> {
    const base = await mkdtemp(join(tmpdir(), 'edgewise-pg-'));
    try {
      const asRoot = process.getuid?.() === 0;
      if (asRoot) {
        const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
        const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
        await chown(base, uid, gid);
        await chmod(base, 0o700);
      }
      new PostgresServer(base, 0).run(`${PG_BIN}/initdb`, ['-D', `${base}/data`, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
      // PostgreSQL cannot listen on port 0 and report the port, so it is picked first
      // (freePort: below the ephemeral range); if it was taken meanwhile, pick another.
      for (let attempt = 1; ; attempt += 1) {
        const server = new PostgresServer(base, await freePort());
        const logBefore = (await readFile(`${base}/server.log`, 'utf8').catch(() => '')).length;
        try {
          server.run(`${PG_BIN}/pg_ctl`, ['-D', `${base}/data`, '-l', `${base}/server.log`, '-w', '-t', '30', '-o', `-p ${server.port} -k ${base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`, 'start']);
          return server;
        } catch (err) {
          const log = (await readFile(`${base}/server.log`, 'utf8').catch(() => '')).slice(logBefore);
          if (attempt >= 5 || !/could not bind|Address already in use/i.test(log)) throw err;
        }
      }
    } catch (err) {
      // A cluster that started and then failed its checks is stopped; the temp dir goes either way.
      try {
        new PostgresServer(base, 0).run(`${PG_BIN}/pg_ctl`, ['-D', `${base}/data`, '-m', 'immediate', '-w', 'stop']);
      } catch {
        // nothing was running
      }
      await rm(base, { recursive: true, force: true });
      throw err;
    }
  }

  /** Runs a PostgreSQL program, as the postgres user when we are root. */
  private run(bin: string, args: readonly string[]): void {
    const asRoot = process.getuid?.() === 0;
    const r = asRoot ? spawnSync('runuser', ['-u', 'postgres', '--', bin, ...args], { encoding: 'utf8' }) : spawnSync(bin, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed (exit ${r.status}): ${r.stderr}${r.stdout}`);
  }

  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** A fresh, empty database on this server (one per test file or test keeps them apart). */
  createDatabase(name: string): string {
    this.run(`${PG_BIN}/psql`, ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE DATABASE "${name}"`]);
    return this.url(name);
  }

  async stop(): Promise<void> {
    try {
      this.run(`${PG_BIN}/pg_ctl`, ['-D', `${this.base}/data`, '-m', 'immediate', '-w', 'stop']);
    } finally {
      await rm(this.base, { recursive: true, force: true });
    }
  }
}
