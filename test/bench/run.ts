import { benchBridge } from './bridge.js';
import { benchDetector } from './detector.js';
import { benchFederated } from './federated.js';
import { benchFederatedStrategies } from './federated-strategies.js';
import { benchFleetIngest } from './fleet-ingest.js';
import { benchFootprint } from './footprint.js';
import { gatewayNodeFlags, underGatewayFlags } from './gateway-flags.js';
import { benchMemory } from './memory.js';
import { progress } from './report.js';
import { benchRollout } from './rollout.js';
import { benchSecureAggregation } from './secure-aggregation.js';
import { benchStore } from './store.js';
import { benchTrain } from './train.js';
import { benchUplink } from './uplink.js';
import { benchVision } from './vision.js';

/** `npm run bench -- NAME [options]`: each benchmark prints one JSON object as its last line. */
const benches: Record<string, (args: readonly string[]) => Promise<void>> = {
  store: benchStore,
  uplink: benchUplink,
  memory: benchMemory,
  footprint: benchFootprint,
  bridge: benchBridge,
  detector: benchDetector,
  vision: benchVision,
  train: benchTrain,
  'fleet-ingest': benchFleetIngest,
  rollout: benchRollout,
  federated: benchFederated,
  'federated-strategies': benchFederatedStrategies,
  'secure-aggregation': benchSecureAggregation,
  // Loaded on demand: it pulls in playwright-core.
  console: async (args) => (await import('./console.js')).benchConsole(args),
  yolov8n: async (args) => (await import('./yolov8n.js')).benchYolov8n(args),
  // Loaded on demand: it pulls in modbus-serial.
  modbus: async (args) => (await import('./modbus.js')).benchModbus(args),
  // Plays a whole scenario (the fleet and hundreds of gateways): loaded on demand.
  sim: async (args) => (await import('./sim.js')).benchSim(args),
  opcua: async (args) => (await import('./opcua-items.js')).benchOpcuaItems(args),
};

/**
 * Benches of gateway parts that run in this process: they run under the gateway's V8 flags
 * (`--plain-node` for Node's defaults); `train` too, as `bin/edgewise model train` runs under
 * them. `memory` starts bin/edgewise itself; the fleet's benches measure the fleet service,
 * which runs with Node's defaults.
 */
const GATEWAY_PARTS = new Set(['store', 'uplink', 'bridge', 'detector', 'vision', 'yolov8n', 'train', 'modbus']);

const [name, ...args] = process.argv.slice(2);
const bench = name === undefined ? undefined : benches[name];
if (bench === undefined) {
  process.stderr.write(`usage: npm run bench -- ${Object.keys(benches).join('|')} [options] [--plain-node]\n`);
  process.exit(2);
}
if (GATEWAY_PARTS.has(name as string)) {
  underGatewayFlags(args);
  progress(args.includes('--plain-node') ? 'with Node\'s default V8 flags (--plain-node)' : `under the gateway's V8 flags: ${gatewayNodeFlags().join(' ')}`);
}
await bench(GATEWAY_PARTS.has(name as string) ? args.filter((a) => a !== '--plain-node') : args);
process.exit(0);
