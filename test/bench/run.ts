import { benchBridge } from './bridge.js';
import { benchDetector } from './detector.js';
import { benchFleetIngest } from './fleet-ingest.js';
import { benchMemory } from './memory.js';
import { benchRollout } from './rollout.js';
import { benchStore } from './store.js';
import { benchUplink } from './uplink.js';
import { benchVision } from './vision.js';

/** `npm run bench -- NAME [options]`: each benchmark prints one JSON object as its last line. */
const benches: Record<string, (args: readonly string[]) => Promise<void>> = {
  store: benchStore,
  uplink: benchUplink,
  memory: benchMemory,
  bridge: benchBridge,
  detector: benchDetector,
  vision: benchVision,
  'fleet-ingest': benchFleetIngest,
  rollout: benchRollout,
  yolov8n: async (args) => (await import('./yolov8n.js')).benchYolov8n(args),
};

const [name, ...args] = process.argv.slice(2);
const bench = name === undefined ? undefined : benches[name];
if (bench === undefined) {
  process.stderr.write(`usage: npm run bench -- ${Object.keys(benches).join('|')} [options]\n`);
  process.exit(2);
}
await bench(args);
process.exit(0);
