import type { SourcePlugin } from '../runtime/pipeline/registry.js';
import { cameraPlugin } from './camera/index.js';
import { modbusPlugin } from './modbus/index.js';
import { opcuaPlugin } from './opcua/index.js';
import { serialSensorPlugin } from './serial-sensor/index.js';
import { syntheticPlugin } from './synthetic/index.js';

/** Every built-in device driver. A new driver is a folder under devices/ and one line here. */
export const devicePlugins: readonly SourcePlugin[] = [syntheticPlugin, serialSensorPlugin, cameraPlugin, modbusPlugin, opcuaPlugin];
