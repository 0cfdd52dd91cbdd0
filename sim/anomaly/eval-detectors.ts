import { parseArgs } from 'node:util';
import { FAULT_KINDS } from '../mcu/signals.js';
import { evaluateMotor } from './motor-eval.js';
import { summarise, table } from './motor-summary.js';

/**
 * `npm run eval:motor`: the streaming detector and the autoencoder on the simulated motor, each
 * seed another noise draw of it: false alerts in normal running, the four faults (caught, delay,
 * channel, peak score) and a change of operating point. Progress and a table on stderr; the
 * last line on stdout is one JSON object.
 */
const { values } = parseArgs({
  options: {
    seeds: { type: 'string', default: '3' },
    'minutes-normal': { type: 'string', default: '90' },
  },
});
const seeds = Number.parseInt(values.seeds, 10);
const minutesNormal = Number.parseFloat(values['minutes-normal']);
if (!Number.isInteger(seeds) || seeds < 1) throw new RangeError(`eval:motor: --seeds must be a whole number of at least 1, not ${values.seeds}`);
if (!Number.isFinite(minutesNormal) || minutesNormal < 0) throw new RangeError(`eval:motor: --minutes-normal must be a number of minutes >= 0, not ${values['minutes-normal']}`);

const started = performance.now();
const results = await evaluateMotor({
  seeds: Array.from({ length: seeds }, (_, i) => i + 1),
  minutesNormal,
  detectors: ['streaming', 'autoencoder'],
  faults: FAULT_KINDS,
  loadChange: true,
  progress: (line) => process.stderr.write(`${line}\n`),
});
const summary = summarise(results, { seeds, minutesNormal });
process.stderr.write(`\n${table(results, summary)}\n`);
process.stderr.write(`${((performance.now() - started) / 1000).toFixed(0)} s\n`);
process.stdout.write(`${JSON.stringify(summary)}\n`);
process.exit(0);
