import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { writeMosquittoFiles } from '../broker/mosquitto-files.js';
import { parseLabels } from '../registry/labels.js';
import { DataDirLocked } from './data-dir-lock.js';
import { openFleetAccess, type AccessOptions } from './fleet-access.js';
import type { FleetService, HostPort } from './fleet-service.js';
import { newestRoot } from './newest-root.js';
import { writeSecretFile } from './secrets.js';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;
const EXIT_FORCED = 130;

export interface FleetServeOptions {
  readonly data: string;
  readonly broker: string;
  readonly db: string;
  readonly http: string;
  readonly mqtt: string;
  readonly mqttTls?: string;
  readonly tlsKey?: string;
  readonly tlsCert?: string;
  readonly tlsCa?: string;
  readonly publicBrokerUrl?: string;
  readonly repo?: string;
  readonly repoUrl?: string;
  readonly repoOnlineKeys?: string;
  readonly retentionDays: string;
  readonly maxEvents: string;
  /** Absent: the default (24 h). */
  readonly metricsRetentionHours?: string;
  readonly metricsIntervalS?: string;
  readonly logLevel: string;
}

class UsageError extends Error {}

function hostPort(text: string, flag: string): HostPort {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text);
  const port = Number(m?.[2]);
  if (m === null || port > 65535) throw new UsageError(`${flag}: expected HOST:PORT, got ${JSON.stringify(text)}`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag}: expected a number > 0, got ${JSON.stringify(text)}`);
  return n;
}

function failure(err: unknown): number {
  if (err instanceof UsageError) {
    process.stderr.write(`edgewise fleet: ${err.message}\n`);
    return EXIT_USAGE;
  }
  const code = (err as { code?: unknown }).code;
  process.stderr.write(`edgewise fleet: ${typeof code === 'string' ? `${code}: ` : ''}${(err as Error).message}\n`);
  return EXIT_FAILURE;
}

/** `edgewise fleet`: runs the fleet service until SIGTERM/SIGINT. */
export async function runFleetServe(opts: FleetServeOptions): Promise<number> {
  let service: FleetService;
  // Each line names its component (api, broker, rollouts, ...); the base says which service.
  const logger = pino({ level: opts.logLevel, base: { service: 'edgewise-fleet', pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
  try {
    if (!/^(embedded|mqtts?:\/\/.+)$/.test(opts.broker)) throw new UsageError(`--broker: expected embedded or an mqtt:// or mqtts:// URL, got ${JSON.stringify(opts.broker)}`);
    if (!/^(embedded|memory|postgres(ql)?:\/\/.+)$/.test(opts.db)) throw new UsageError(`--db: expected embedded or a postgres:// URL, got ${JSON.stringify(opts.db)}`);
    const tls = opts.mqttTls === undefined ? undefined : { port: hostPort(`x:${opts.mqttTls}`, '--mqtt-tls').port, keyFile: need(opts.tlsKey, '--tls-key'), certFile: need(opts.tlsCert, '--tls-cert'), ...(opts.tlsCa === undefined ? {} : { caFile: opts.tlsCa }) };
    // Loaded here, not at the top: provision, acl, token and revoke need the database, not the
    // service (fastify, the broker, the rollout driver), and each call paid for loading it.
    const { FleetService } = await import('./fleet-service.js');
    service = await FleetService.start({
      dataDir: resolve(opts.data),
      broker: opts.broker,
      db: opts.db,
      http: hostPort(opts.http, '--http'),
      mqtt: hostPort(opts.mqtt, '--mqtt'),
      ...(tls === undefined ? {} : { mqttTls: tls }),
      ...(opts.publicBrokerUrl === undefined ? {} : { publicBrokerUrl: opts.publicBrokerUrl }),
      ...(opts.repo === undefined ? {} : { repoDir: resolve(opts.repo) }),
      ...(opts.repoUrl === undefined ? {} : { repoUrl: opts.repoUrl }),
      ...(opts.repoOnlineKeys === undefined ? {} : { repoOnlineKeys: resolve(opts.repoOnlineKeys) }),
      retention: { maxAgeMs: positive(opts.retentionDays, '--retention-days') * 86_400_000, maxEvents: Math.round(positive(opts.maxEvents, '--max-events')) },
      ...(opts.metricsIntervalS === undefined ? {} : { metricsIntervalMs: Math.round(positive(opts.metricsIntervalS, '--metrics-interval-s') * 1000) }),
      ...(opts.metricsRetentionHours === undefined ? {} : { metricsRetentionMs: positive(opts.metricsRetentionHours, '--metrics-retention-hours') * 3_600_000 }),
      logger,
    });
  } catch (err) {
    if (err instanceof DataDirLocked) {
      process.stderr.write(`edgewise fleet: ${err.message}\n`);
      return EXIT_FAILURE;
    }
    return failure(err);
  }
  const e = service.endpoints;
  process.stdout.write(
    [
      `edgewise fleet: running (pid ${e.pid}); state in ${e.database}`,
      `  broker:          ${e.brokerUrl}${service.broker === undefined ? ' (external)' : ' (embedded; every client authenticated, every topic checked)'}`,
      ...(e.brokerTlsUrl === null ? [] : [`  broker (TLS):    ${e.brokerTlsUrl}`]),
      `  API:             ${e.apiUrl}  (OpenAPI: ${e.apiUrl}/openapi.json, health: ${e.apiUrl}/health, metrics: ${e.apiUrl}/metrics)`,
      `  operator token:  ${e.operatorTokenFile ?? '(none)'}`,
      `  provision a gateway: edgewise fleet provision --data ${opts.data} --id GW --labels site=plant-1`,
      '',
    ].join('\n'),
  );
  return new Promise<number>((done) => {
    let signals = 0;
    const onSignal = (name: NodeJS.Signals): void => {
      signals += 1;
      if (signals > 1) {
        logger.warn({ event: 'fleet.forced_exit', signal: name });
        process.exit(EXIT_FORCED);
      }
      logger.info({ event: 'fleet.stopping', signal: name });
      service.stop().then(
        () => done(EXIT_OK),
        (err: unknown) => {
          logger.error({ event: 'fleet.stop_failed', reason: (err as Error).message });
          done(EXIT_FAILURE);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

function need(v: string | undefined, flag: string): string {
  if (v === undefined) throw new UsageError(`--mqtt-tls needs ${flag}`);
  return v;
}

export interface ProvisionCommandOptions extends AccessCommandOptions {
  readonly id: string;
  readonly labels?: string;
  readonly site?: string;
  readonly replace: boolean;
  readonly out?: string;
  readonly gatewayConfigDir: string;
}

export interface AccessCommandOptions {
  readonly data: string;
  readonly db: string;
  readonly tokenFile?: string;
  readonly repo?: string;
}

function access(o: AccessCommandOptions): AccessOptions {
  return { dataDir: resolve(o.data), db: o.db, ...(o.tokenFile === undefined ? {} : { tokenFile: o.tokenFile }) };
}

/**
 * `edgewise fleet provision`: a new gateway identity and its MQTT credentials. Writes a folder
 * to copy onto the gateway (its config section, the password file 0600, the pinned TUF root)
 * and prints the config section.
 */
export async function runFleetProvision(o: ProvisionCommandOptions): Promise<number> {
  try {
    const labels = parseLabels(o.labels ?? '', '--labels');
    const fleet = await openFleetAccess(access(o));
    try {
      const p = await fleet.provision({ id: o.id, labels, ...(o.site === undefined ? {} : { site: o.site }), replace: o.replace });
      const out = resolve(o.out ?? `provision-${o.id}`);
      await mkdir(out, { recursive: true, mode: 0o700 });
      const root = p.root ?? (await newestRoot(resolve(o.repo ?? join(o.data, 'repo'))));
      await writeSecretFile(join(out, 'mqtt-password'), `${p.credentials.password}\n`);
      if (root !== null) await writeFile(join(out, 'root.json'), `${JSON.stringify(root, null, 2)}\n`);
      const dir = o.gatewayConfigDir.replace(/\/$/, '');
      const section = withFiles(p.config, `${dir}/mqtt-password`, root === null ? undefined : `${dir}/root.json`);
      await writeFile(join(out, 'gateway.yaml'), section);
      process.stdout.write(`${section}\n`);
      process.stderr.write(
        `edgewise fleet: gateway ${o.id} ${p.gateway.revokedMs === null ? '' : '(revoked) '}provisioned via the ${fleet.via === 'api' ? 'running fleet' : 'database'}; copy ${out}/ to ${dir}/ on the gateway (mqtt-password is 0600; the password is not kept by the fleet)${root === null ? '; no TUF repository yet, so no root.json' : ''}\n`,
      );
      return EXIT_OK;
    } finally {
      await fleet.close();
    }
  } catch (err) {
    return failure(err);
  }
}

/** The fleet's config section with the password moved to a file and the root file named. */
function withFiles(section: string, passwordFile: string, rootFile: string | undefined): string {
  const lines = section.split('\n');
  const header = lines.filter((l) => l.startsWith('#'));
  // Re-parsed rather than edited as text: the section is YAML the fleet made.
  const doc = (parse(lines.filter((l) => !l.startsWith('#')).join('\n')) ?? {}) as Record<string, Record<string, unknown>>;
  if (doc['uplink'] !== undefined) {
    delete doc['uplink']['password'];
    doc['uplink']['passwordFile'] = passwordFile;
  }
  if (doc['updates'] !== undefined && rootFile !== undefined) doc['updates']['rootFile'] = rootFile;
  return `${header.join('\n')}\n${stringify(doc)}`;
}

/** `edgewise fleet revoke GW`: the gateway can no longer connect; a live session is dropped by the running fleet. */
export async function runFleetRevoke(id: string, o: AccessCommandOptions): Promise<number> {
  try {
    const fleet = await openFleetAccess(access(o));
    try {
      await fleet.revoke(id);
      process.stderr.write(
        `edgewise fleet: gateway ${id} revoked${fleet.via === 'api' ? ' (its session on the embedded broker is dropped)' : ''}; with an external Mosquitto, run \`edgewise fleet acl --format mosquitto\` and SIGHUP it\n`,
      );
      return EXIT_OK;
    } finally {
      await fleet.close();
    }
  } catch (err) {
    return failure(err);
  }
}

export interface AclCommandOptions extends AccessCommandOptions {
  readonly format: string;
  readonly out: string;
}

/** `edgewise fleet acl --format mosquitto`: Mosquitto's password and ACL files from the registry. */
export async function runFleetAcl(o: AclCommandOptions): Promise<number> {
  try {
    if (o.format !== 'mosquitto') throw new UsageError(`--format: expected mosquitto, got ${JSON.stringify(o.format)}`);
    const fleet = await openFleetAccess(access(o));
    try {
      const input = await fleet.mosquittoInput();
      const paths = await writeMosquittoFiles(o.out, input);
      process.stderr.write(`edgewise fleet: wrote ${paths.passwordFile} (0600), ${paths.aclFile} and ${paths.confFile} for ${input.gateways.filter((g) => !g.revoked).length} gateway(s); include the conf in Mosquitto's and send it SIGHUP to reload\n`);
      return EXIT_OK;
    } finally {
      await fleet.close();
    }
  } catch (err) {
    return failure(err);
  }
}

export interface TokenCommandOptions extends AccessCommandOptions {
  readonly role?: string;
  readonly name?: string;
}

/** `edgewise fleet token create|list|revoke`: operator tokens for the API (a new one is printed once). */
export async function runFleetToken(action: 'create' | 'list' | 'revoke', id: string | undefined, o: TokenCommandOptions): Promise<number> {
  try {
    const fleet = await openFleetAccess(access(o));
    try {
      if (action === 'create') {
        const role = o.role ?? 'read-only';
        if (role !== 'read-only' && role !== 'read-write') throw new UsageError(`--role: expected read-only or read-write, got ${JSON.stringify(role)}`);
        if (o.name === undefined || o.name.trim() === '') throw new UsageError('--name: say who holds the token (a person, a dashboard)');
        const t = await fleet.createToken(role, o.name);
        process.stdout.write(`${t.token}\n`);
        process.stderr.write(`edgewise fleet: ${role} token ${t.id} for "${t.name}"; it is shown only now\n`);
      } else if (action === 'list') {
        const items = await fleet.listTokens();
        process.stdout.write(`${items.map((t) => `${t.id}  ${t.role.padEnd(10)}  ${t.revokedMs === null ? 'live   ' : 'revoked'}  ${t.name}`).join('\n')}\n`);
      } else {
        if (id === undefined) throw new UsageError('revoke needs a token id (edgewise fleet token list shows them)');
        await fleet.revokeToken(id);
        process.stderr.write(`edgewise fleet: token ${id} revoked\n`);
      }
      return EXIT_OK;
    } finally {
      await fleet.close();
    }
  } catch (err) {
    return failure(err);
  }
}
