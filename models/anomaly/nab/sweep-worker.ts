import { parentPort, workerData } from 'node:worker_threads';
import { sweepSetting, type SweepReply, type SweepRequest } from './sweep.js';

/** The worker side of sweepSettings: its share of the settings, one reply per setting. */
const request = workerData as SweepRequest;
for (const { index, setting } of request.settings) {
  const reply: SweepReply = { index, curves: [...sweepSetting(request.files, setting)] };
  parentPort?.postMessage(reply);
}
