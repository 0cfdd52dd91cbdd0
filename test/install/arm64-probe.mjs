// Run by test/install/arm64-smoke.test.ts under qemu-aarch64 with the arm64 node, from an
// `npm ci --cpu=arm64` of the project: it loads the store's LevelDB binding and
// onnxruntime-node's binding, uses each once, and prints one JSON line saying what ran where.
//   node arm64-probe.mjs MODEL.onnx DB_DIR
import { readFileSync } from 'node:fs';
import { ClassicLevel } from 'classic-level';
import * as ort from 'onnxruntime-node';

const [modelPath, dbDir] = process.argv.slice(2);
const out = { arch: process.arch, version: process.version };

const db = new ClassicLevel(dbDir, { valueEncoding: 'json' });
await db.put('r1', { t: 1, v: 42 });
out.store = await db.get('r1');
await db.close();

const started = Date.now();
const session = await ort.InferenceSession.create(readFileSync(modelPath), { executionProviders: ['cpu'], intraOpNumThreads: 1 });
const name = session.inputNames[0];
const meta = session.inputMetadata?.[0];
const dims = (meta?.shape ?? [1]).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
const feeds = { [name]: new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims) };
const result = await session.run(feeds);
const first = result[session.outputNames[0]];
out.inference = { input: name, inputDims: dims, output: session.outputNames[0], outputDims: first.dims, finite: Array.from(first.data).every(Number.isFinite), ms: Date.now() - started };

// qemu-user shows the guest's own mappings here: the native modules this process really loaded.
out.nativeModules = [...new Set(readFileSync('/proc/self/maps', 'utf8').split('\n').map((l) => l.split(/\s+/)[5] ?? '').filter((p) => p.endsWith('.node')))];
console.log(JSON.stringify(out));
