import { OnnxBackend } from '../../models/engine/backends/onnxruntime/onnx-backend.js';
import { seededRandom } from '../../models/train/random.js';
import { newGatewayQuality } from './anomaly-quality.js';
import { trainCentralised } from './centralised.js';
import { buildDataset, type FederatedDataset } from './dataset.js';
import { federatedModelFile } from './federated-model.js';
import { bytesRatio, finalLoss, lossGap } from './measures.js';
import { MIXED_MOTOR_RANGES, motorFleet } from './motor-fleet.js';
import { FEDERATED_SIM, NEW_GATEWAY_SCENARIO, WITHIN_CENTRAL } from './scenario.js';
import { roundsToWithin, runFederated, type FederatedRun, type FederatedRunOptions } from './simulation.js';

/**
 * The runs behind sim/federated/README.md's tables, beyond what `npm run bench -- federated`
 * prints: `npm run build && node dist/sim/federated/study.js [--part central,transport,...]`.
 * Parts: central, transport, optimiser, iid, byzantine, mixed, new-gateway. Each prints
 * markdown table rows on stdout, progress on stderr. Deterministic (seeded); minutes in total.
 */
const PARAMETERS = 6824;
const args = process.argv.slice(2);
const parts = (args.includes('--part') ? (args[args.indexOf('--part') + 1] ?? '') : 'central,transport,optimiser,iid,byzantine,mixed,new-gateway').split(',');
const log = (m: string): void => void process.stderr.write(`${m}\n`);
const row = (...cells: readonly (string | number | null)[]): void => void process.stdout.write(`| ${cells.map((c) => (c === null ? 'never' : String(c))).join(' | ')} |\n`);
const f = (x: number, digits = 5): string => x.toFixed(digits);
const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;

const data = buildDataset(FEDERATED_SIM.data);
const central = await trainCentralised(data, FEDERATED_SIM.central);
const target = central.validationLoss;
log(`centralised, ${FEDERATED_SIM.central.epochs} epochs: ${f(target)}`);

async function run(label: string, o: Partial<FederatedRunOptions>, on: FederatedDataset = data): Promise<FederatedRun> {
  const t0 = performance.now();
  const r = await runFederated(on, { ...FEDERATED_SIM.federated, ...o });
  log(`${label}: ${f(finalLoss(r))} in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${r.rounds.filter((x) => x.round % 5 === 0).map((x) => `${x.round}:${f(x.validationLoss, 4)}`).join(' ')}`);
  return r;
}

if (parts.includes('central')) {
  process.stdout.write('\ncentralised: pooled validation loss by epochs\n');
  const long = await trainCentralised(data, { ...FEDERATED_SIM.central, epochs: 160 });
  row('epochs', ...[10, 20, 30, 40, 60, 80, 120, 160]);
  row('loss', ...[10, 20, 30, 40, 60, 80, 120, 160].map((e) => f(long.validationLosses[e - 1] as number)));
}

let float32: FederatedRun | undefined;
if (parts.includes('transport') || parts.includes('byzantine')) float32 = await run('float32', {});

if (parts.includes('transport')) {
  process.stdout.write('\ntransport: final loss, rounds to within 5% of central, gap to float32, bytes\n');
  const f32 = float32 as FederatedRun;
  row('float32', f(finalLoss(f32)), roundsToWithin(f32, target, WITHIN_CENTRAL), '0', 4 * PARAMETERS, '1.00');
  for (const transport of [{ type: 'int8' }, { type: 'top-k', density: 0.5 }, { type: 'top-k', density: 0.25 }, { type: 'top-k', density: 0.1 }] as const) {
    const r = await run(JSON.stringify(transport), { transport });
    row(JSON.stringify(transport), f(finalLoss(r)), roundsToWithin(r, target, WITHIN_CENTRAL), pct(lossGap(r, f32)), Math.round(r.rounds[0]?.updateBytes ?? 0), bytesRatio(r, PARAMETERS).toFixed(2));
  }
}

if (parts.includes('optimiser')) {
  process.stdout.write('\noptimiser (float32 updates): final loss, rounds to within 5% of central\n');
  const variants: [string, Partial<FederatedRunOptions>][] = [
    ['Adam, fresh moments each round (chosen)', {}],
    ['Adam, moments kept by the gateway across rounds', { keepAdamState: true }],
    ['Adam, constant lr 0.005 (no decay)', { learningRateDecay: 1 }],
    ['Adam, constant lr 0.003 (no decay)', { learningRateDecay: 1, local: { ...FEDERATED_SIM.federated.local, learningRate: 0.003 } }],
    ['Adam, E = 2', { local: { ...FEDERATED_SIM.federated.local, epochs: 2 } }],
    ['Adam, E = 1', { local: { ...FEDERATED_SIM.federated.local, epochs: 1 } }],
    ['FedProx mu 0.01', { local: { ...FEDERATED_SIM.federated.local, proximalMu: 0.01 } }],
    ['SGD lr 0.3', { local: { ...FEDERATED_SIM.federated.local, optimiser: 'sgd', learningRate: 0.3 } }],
    ['SGD lr 1', { local: { ...FEDERATED_SIM.federated.local, optimiser: 'sgd', learningRate: 1 } }],
    ['SGD lr 3', { local: { ...FEDERATED_SIM.federated.local, optimiser: 'sgd', learningRate: 3 } }],
  ];
  for (const [label, o] of variants) {
    const r = await run(label, o);
    row(label, f(finalLoss(r)), roundsToWithin(r, target, WITHIN_CENTRAL));
  }
}

if (parts.includes('iid')) {
  // The control: the same pooled training windows dealt to 20 gateways at random (IID), same counts.
  const random = seededRandom(5);
  const dims = data.dims;
  const order = Array.from({ length: data.pooledTrain.count }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  let next = 0;
  const gateways = data.gateways.map((g) => {
    const x = new Float64Array(g.trainCount * dims);
    for (let k = 0; k < g.trainCount; k += 1) {
      const from = order[next] as number;
      next += 1;
      x.set(data.pooledTrain.x.subarray(from * dims, (from + 1) * dims), k * dims);
    }
    return { ...g, train: x };
  });
  const r = await run('iid', {}, { ...data, gateways });
  process.stdout.write('\nIID control (float32)\n');
  row('IID', f(finalLoss(r)), roundsToWithin(r, target, WITHIN_CENTRAL));
}

if (parts.includes('byzantine')) {
  process.stdout.write('\nbyzantine (top-k int8, 25 rounds): clean, attacked, attacked vs its clean run, vs clean FedAvg\n');
  const base = { rounds: FEDERATED_SIM.byzantine.rounds, transport: FEDERATED_SIM.topK };
  const rules: NonNullable<FederatedRunOptions['aggregation']>[] = [
    { strategy: 'fedavg' },
    { strategy: 'median' },
    { strategy: 'trimmed-mean', options: { trimShare: FEDERATED_SIM.byzantine.trimShare } },
    { strategy: 'multi-krum', options: { byzantineClients: 3 } },
  ];
  let cleanFedAvg: FederatedRun | undefined;
  for (const aggregation of rules) {
    const clean = await run(`${aggregation.strategy} clean`, { ...base, aggregation });
    cleanFedAvg ??= clean;
    const attacked = await run(`${aggregation.strategy} attacked`, { ...base, aggregation, attackers: FEDERATED_SIM.byzantine.attackers });
    row(aggregation.strategy, f(finalLoss(clean)), Number.isFinite(finalLoss(attacked)) ? f(finalLoss(attacked), 4) : String(finalLoss(attacked)), pct(lossGap(attacked, clean)), pct(lossGap(attacked, cleanFedAvg)));
  }
}

if (parts.includes('mixed')) {
  const mixed = buildDataset({ ...FEDERATED_SIM.data, ranges: MIXED_MOTOR_RANGES });
  const c = await trainCentralised(mixed, FEDERATED_SIM.central);
  const r = await run('mixed', { rounds: 60 }, mixed);
  process.stdout.write('\nmixed fleet: central, FedAvg after 20/40/60 rounds, rounds to 5%\n');
  row('mixed', f(c.validationLoss), ...[20, 40, 60].map((k) => f(r.rounds[k - 1]?.validationLoss ?? Number.NaN)), roundsToWithin(r, c.validationLoss, WITHIN_CENTRAL));
}

if (parts.includes('new-gateway')) {
  const r = await run('top-k for the new gateway', { transport: FEDERATED_SIM.topK });
  const motor = motorFleet(FEDERATED_SIM.data.gateways + 1, FEDERATED_SIM.data.seed).at(-1);
  if (motor === undefined) throw new Error('no 21st motor');
  const q = await newGatewayQuality(federatedModelFile(r.model, data, 1).bytes, motor, new OnnxBackend(), NEW_GATEWAY_SCENARIO);
  process.stdout.write('\nnew gateway: recall, by kind, false-alarm windows / normal windows, peak normal score\n');
  for (const [label, d] of Object.entries(q)) row(label, d.recall.toFixed(2), JSON.stringify(d.byKind), `${d.falseAlarmWindows} / ${d.normalWindows}`, d.peakNormalScore.toFixed(3));
}
process.exit(0);
