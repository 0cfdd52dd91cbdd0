import { pino } from 'pino';
import { loadConfig, type GatewayConfig } from '../config/load.js';
import { ConfigError, EdgewiseError } from '../errors.js';
import { Gateway } from '../gateway.js';
import { builtinRegistry } from '../plugins.js';
import { readUplinkFiles } from '../uplink/mqtt-options.js';
import { RUNTIME_VERSION } from '../version.js';

export interface GatewayCommandOptions {
  readonly config: string;
  readonly check: boolean;
}

/** Exit codes: 0 clean stop, 1 runtime failure, 2 bad usage or bad config, 130 forced stop. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_FORCED = 130;

function fail(err: unknown): number {
  if (err instanceof ConfigError) {
    process.stderr.write(`edgewise: config ${err.message}\n`);
    return EXIT_USAGE;
  }
  if (err instanceof EdgewiseError) {
    process.stderr.write(`edgewise: ${err.message}\n`);
    return err.code === 'E_CONFIG_READ' ? EXIT_USAGE : EXIT_FAILURE;
  }
  throw err;
}

function summary(config: GatewayConfig): string {
  const sources = config.devices.map((d) => `${d.id} (${d.type})`).join(', ');
  return `config ok: gateway ${config.gateway.id}, ${config.devices.length} device(s)${sources === '' ? '' : `: ${sources}`}, ${config.pipelines.length} pipeline(s), data in ${config.gateway.dataDir}, uplink ${config.uplink.url.replace(/\/\/[^@/]*@/, '//')}`;
}

/** `edgewise gateway`: validate the config, then run until SIGTERM/SIGINT. */
export async function runGatewayCommand(options: GatewayCommandOptions): Promise<number> {
  const registry = builtinRegistry();
  let config: GatewayConfig;
  try {
    config = await loadConfig(options.config, registry);
    if (options.check) {
      const { problems } = await readUplinkFiles(config.uplink);
      if (problems.length > 0) throw new ConfigError(options.config, problems);
      process.stdout.write(`${summary(config)}\n`);
      return EXIT_OK;
    }
  } catch (err) {
    return fail(err);
  }

  const logger = pino({ level: config.log.level, base: { gw: config.gateway.id }, timestamp: pino.stdTimeFunctions.isoTime });
  let gateway: Gateway;
  try {
    gateway = await Gateway.create(config, registry, { logger, runtimeVersion: RUNTIME_VERSION });
  } catch (err) {
    return fail(err);
  }
  try {
    await gateway.start();
  } catch (err) {
    await gateway.stop().catch(() => undefined); // close LevelDB cleanly before saying why
    return fail(err);
  }

  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (name: NodeJS.Signals): void => {
      signals += 1;
      if (signals > 1) {
        // Everything acknowledged is already in LevelDB; leaving now loses nothing stored.
        logger.warn({ component: 'gateway', event: 'gateway.forced_exit', signal: name });
        process.exit(EXIT_FORCED);
      }
      logger.info({ component: 'gateway', event: 'gateway.stopping', signal: name });
      gateway.stop().then(
        () => resolve(EXIT_OK),
        (err: unknown) => {
          logger.error({ component: 'gateway', event: 'gateway.stop_failed', reason: (err as Error).message });
          resolve(EXIT_FAILURE);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
