import { pino, type Logger } from 'pino';
import { loadConfig, type GatewayConfig } from '../config/load.js';
import { ConfigError, EdgewiseError } from '../errors.js';
import { Gateway } from '../gateway.js';
import { builtinRegistry } from '../plugins.js';
import { printable } from '../config/text-check.js';
import { RUNTIME_VERSION } from '../version.js';
import { isJournalStream, journalDestination } from '../systemd/journal.js';
import { notifySocketFromEnv, type NotifySink } from '../systemd/notify-socket.js';
import { Watchdog, watchdogFromEnv } from '../systemd/watchdog.js';

export interface GatewayCommandOptions {
  readonly config: string;
  readonly check: boolean;
}

/** Exit codes: 0 clean stop, 1 runtime failure, 2 bad usage or bad config, 130 forced stop. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_FORCED = 130;

/** A message as it may be printed: no raw control bytes (a config full of garbage must not reach the terminal as it is). */
function safe(message: string): string {
  return message.split('\n').map(printable).join('\n');
}

function fail(err: unknown, configPath: string): number {
  if (err instanceof ConfigError) {
    // Problems found while building the gateway are named against the config file too.
    const named = err.source === 'config' ? new ConfigError(printable(configPath), err.problems) : err;
    process.stderr.write(`edgewise: config ${safe(named.message)}\n`);
    return EXIT_USAGE;
  }
  if (err instanceof EdgewiseError) {
    process.stderr.write(`edgewise: ${safe(err.message)}\n`);
    return err.code === 'E_CONFIG_READ' ? EXIT_USAGE : EXIT_FAILURE;
  }
  throw err;
}

function summary(config: GatewayConfig): string {
  const sources = config.devices.map((d) => `${d.id} (${d.type})`).join(', ');
  return `config ok: gateway ${config.gateway.id}, ${config.devices.length} device(s)${sources === '' ? '' : `: ${sources}`}, ${config.pipelines.length} pipeline(s), inference ${config.inference.backend}, data in ${config.gateway.dataDir}, uplink ${config.uplink.url.replace(/\/\/[^@/]*@/, '//')}${config.sparkplug == null ? '' : `, sparkplug ${config.sparkplug.url.replace(/\/\/[^@/]*@/, '//')}`}`;
}

/** `edgewise gateway`: validate the config, then run until SIGTERM/SIGINT. */
export async function runGatewayCommand(options: GatewayCommandOptions): Promise<number> {
  const registry = builtinRegistry();
  let config: GatewayConfig;
  try {
    // The same checks run before a start as for --check: schemas, cross-field rules of each
    // plug-in, edge types, and the files the config names.
    config = await loadConfig(options.config, registry);
    if (options.check) {
      process.stdout.write(`${safe(summary(config))}\n`);
      return EXIT_OK;
    }
  } catch (err) {
    return fail(err, options.config);
  }

  const logOptions = { level: config.log.level, base: { gw: config.gateway.id }, timestamp: pino.stdTimeFunctions.isoTime };
  // Under systemd with stdout in the journal, each line carries its syslog priority (runtime/systemd/journal.ts).
  const logger = isJournalStream(process.env, 1) ? pino(logOptions, journalDestination(pino.destination({ dest: 1, sync: true }))) : pino(logOptions);
  // systemd (Type=notify): READY=1 once the pipelines run, WATCHDOG=1 while the parts are alive.
  // Read once and removed, so nothing the gateway starts inherits them (sd_notify's unset_environment).
  const notify = notifySocketFromEnv(process.env, (code, reason) => logger.warn({ component: 'systemd', event: 'systemd.notify_problem', code, reason }));
  const watchdogSettings = watchdogFromEnv(process.env, process.pid);
  for (const name of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID']) Reflect.deleteProperty(process.env, name);
  if (watchdogSettings !== undefined && notify === undefined) logger.warn({ component: 'systemd', event: 'systemd.watchdog_without_socket', code: 'E_SD_NOTIFY_SOCKET', reason: 'WATCHDOG_USEC is set but NOTIFY_SOCKET is not: no pings can be sent' });
  let gateway: Gateway;
  try {
    gateway = await Gateway.create(config, registry, { logger, runtimeVersion: RUNTIME_VERSION });
  } catch (err) {
    await notify?.close();
    return fail(err, options.config);
  }
  const watchdog = startWatchdog(notify, watchdogSettings, gateway, logger);
  // The signal handlers come before the start: without one, a SIGTERM kills Node at once, and a
  // stop asked for while the gateway starts (systemctl stop, a restart during a slow store
  // open) would skip the drain. A stop asked for then waits for the start to end, then stops.
  let starting: Promise<unknown> = Promise.resolve();
  let stopped: Promise<number> | undefined;
  let stopAsked: () => void = () => undefined;
  const untilStopAsked = new Promise<void>((resolve) => (stopAsked = resolve));
  let signals = 0;
  const onSignal = (name: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      // Everything acknowledged is already in LevelDB; leaving now loses nothing stored.
      logger.warn({ component: 'gateway', event: 'gateway.forced_exit', signal: name });
      process.exit(EXIT_FORCED);
    }
    logger.info({ component: 'gateway', event: 'gateway.stopping', signal: name });
    // From here systemd's TimeoutStopSec, not the watchdog, bounds how long the stop may take.
    watchdog?.stop();
    notify?.send({ STOPPING: '1', STATUS: `stopping (${name})` });
    stopped = starting
      .then(
        async () => {
          try {
            await gateway.stop();
            return EXIT_OK;
          } catch (err) {
            logger.error({ component: 'gateway', event: 'gateway.stop_failed', reason: (err as Error).message });
            return EXIT_FAILURE;
          }
        },
        // The start failed: its own path below stops the gateway and says why.
        () => EXIT_FAILURE,
      )
      .then(async (code) => {
        await notify?.close();
        return code;
      });
    stopAsked();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Node's default for SIGHUP is to exit. A reload is not offered (runtime/README.md, Signals).
  process.on('SIGHUP', () => logger.info({ component: 'gateway', event: 'gateway.sighup_ignored', signal: 'SIGHUP' }, 'SIGHUP ignored: restart to apply config changes (systemd reload is not supported)'));

  starting = gateway.start();
  try {
    await starting;
  } catch (err) {
    watchdog?.stop();
    await gateway.stop().catch(() => undefined); // close LevelDB cleanly before saying why
    await notify?.close();
    return fail(err, options.config);
  }
  if (stopped === undefined) notify?.send({ READY: '1', STATUS: `running: gateway ${config.gateway.id}, ${config.pipelines.length} pipeline(s)` });
  await untilStopAsked;
  return stopped ?? EXIT_FAILURE;
}

/** The watchdog's pings, when systemd asked for them (WatchdogSec=) and gave a socket to send them to. */
function startWatchdog(notify: NotifySink | undefined, settings: ReturnType<typeof watchdogFromEnv>, gateway: Gateway, logger: Logger): Watchdog | undefined {
  if (notify === undefined || settings === undefined) return undefined;
  const watchdog = new Watchdog(notify, settings, gateway.livenessChecks(), gateway.watchdogEvents(settings.intervalMs));
  watchdog.start();
  logger.info({ component: 'systemd', event: 'systemd.watchdog', intervalMs: settings.intervalMs, pingEveryMs: watchdog.pingEveryMs, stallMs: watchdog.stallMs });
  return watchdog;
}
