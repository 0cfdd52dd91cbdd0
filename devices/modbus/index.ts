import { defineSource } from '../../runtime/pipeline/registry.js';
import { checkModbus, modbusSchema } from './schema.js';
import { notWritableByName } from './points.js';

export const modbusPlugin = defineSource({
  type: 'modbus',
  configSchema: modbusSchema,
  emits: ['samples'],
  // The serial port may be absent at check time (plugged in later): the bus reopens it with backoff.
  pathKeys: [['rtu', 'path']],
  check: (config) => checkModbus(config),
  // A Sparkplug metric with write: true must name a point with write: true (on its slave).
  writable: (config, name, scope) => notWritableByName(config, name, scope),
  // As the source names them (modbus-source.ts): a Sparkplug device can be one slave.
  streams: (config) => config.slaves.flatMap((s) => s.groups.map((g) => g.stream ?? `${config.id}.${s.name}.${g.name}`)),
  // modbus-serial (and serialport's native binding) are loaded only by a config that has a Modbus source.
  create: async (config) =>
    new (await import('./modbus-source.js')).ModbusSource({
      ...config,
      // auto: the bus computes t3.5 from the baud rate.
      interFrameDelayMs: config.interFrameDelayMs === 'auto' ? undefined : config.interFrameDelayMs,
    }),
});
