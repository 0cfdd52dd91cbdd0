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
  // modbus-serial (and serialport's native binding) are loaded only by a config that has a Modbus source.
  create: async (config) =>
    new (await import('./modbus-source.js')).ModbusSource({
      ...config,
      // auto: the bus computes t3.5 from the baud rate.
      interFrameDelayMs: config.interFrameDelayMs === 'auto' ? undefined : config.interFrameDelayMs,
    }),
});
