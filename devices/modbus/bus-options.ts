import type { BusEndpoint, BusOptions } from './bus.js';
import type { ModbusConfig } from './schema.js';

/** The part of a modbus source's config that sets up its bus ('auto' frame gap: from the baud rate). */
export type BusConfig = Pick<ModbusConfig, 'rtu' | 'tcp' | 'timeoutMs' | 'retries' | 'reopen'> & { readonly interFrameDelayMs?: number | 'auto' | undefined };

/** The bus a modbus source's config asks for: the source's and `edgewise modbus read|write`'s. */
export function busOptionsOf(config: BusConfig, extra: Partial<BusOptions> = {}): BusOptions {
  let endpoint: BusEndpoint;
  if (config.rtu !== undefined) {
    const r = config.rtu;
    endpoint = { type: 'rtu', path: r.path, baudRate: r.baudRate ?? 19_200, parity: r.parity ?? 'even', stopBits: r.stopBits ?? 1, dataBits: 8 };
  } else if (config.tcp !== undefined) endpoint = { type: 'tcp', host: config.tcp.host, port: config.tcp.port ?? 502 };
  else throw new Error('a modbus source needs rtu or tcp (the config check refuses this)');
  return {
    endpoint,
    timeoutMs: config.timeoutMs ?? 300,
    retries: config.retries ?? 1,
    interFrameDelayMs: typeof config.interFrameDelayMs === 'number' ? config.interFrameDelayMs : undefined,
    reopen: { minMs: config.reopen?.minDelayMs ?? 500, maxMs: config.reopen?.maxDelayMs ?? 30_000 },
    ...extra,
  };
}
