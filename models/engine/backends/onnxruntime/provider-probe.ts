import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { ModelError } from '../../errors.js';

/**
 * The probe's model: one Identity node, float32 [1, 4] (models/onnx/builder.ts identityModel(),
 * checked equal in the engine's tests), as bytes, so a gateway does not load the ONNX writer
 * (protobufjs) only to probe.
 */
export const PROBE_MODEL_BASE64 = 'CAcSCGVkZ2V3aXNlOk8KHAoBeBIBeRoKaWRlbnRpdHlfMCIISWRlbnRpdHkSBXByb2JlWhMKAXgSDgoMCAESCAoCCAEKAggEYhMKAXkSDgoMCAESCAoCCAEKAggEQgQKABAN';

/** Providers whose probe has side effects (WebGPU loads Vulkan and warns on stderr): probed only when asked for. */
const PROBE_ONLY_WHEN_ASKED = ['webgpu'];
/** A box with CUDA libraries takes seconds per provider; one that hangs is given up on. */
const PROBE_TIMEOUT_MS = 120_000;
/** The child's answer is one short JSON line; anything longer is not an answer. */
const MAX_OUTPUT_BYTES = 64 * 1024;

/**
 * The probe the child runs: ONNX Runtime's compiled-in providers, each tried with a one-node
 * model (base64 on stdin); prints the ones a session starts on as a JSON array.
 */
const CHILD = `
const ort = (await import(process.argv[1])).default;
ort.env.logLevel = 'fatal';
const skip = new Set(JSON.parse(process.argv[2]));
let input = '';
for await (const c of process.stdin) input += c;
const model = Buffer.from(input, 'base64');
const usable = [];
for (const name of ort.listSupportedBackends().map((b) => b.name).filter((n) => !skip.has(n))) {
  try {
    const s = await ort.InferenceSession.create(model, { executionProviders: [name], logSeverityLevel: 4 });
    await s.release();
    usable.push(name);
  } catch {}
}
process.stdout.write(JSON.stringify(usable) + '\\n');
`;

/**
 * Which execution providers start a session on this box, found by a short-lived child
 * process: ONNX Runtime's library (some 25 MB resident) is then mapped only in a gateway that
 * runs a model, and a provider library that crashes or hangs while loading takes the child
 * down, not the gateway. Rejects (E_MODEL_PROVIDER) when the child fails or gives no answer.
 */
export function probeProvidersInChild(timeoutMs = PROBE_TIMEOUT_MS): Promise<readonly string[]> {
  const ortEntry = pathToFileURL(createRequire(import.meta.url).resolve('onnxruntime-node')).href;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, ortEntry, JSON.stringify(PROBE_ONLY_WHEN_ASKED)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    timer.unref();
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      if (out.length < MAX_OUTPUT_BYTES) out += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      if (err.length < MAX_OUTPUT_BYTES) err += c;
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new ModelError('E_MODEL_PROVIDER', `provider probe: could not start a child process (${e.message})`, { cause: e }));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let found: unknown;
      try {
        found = JSON.parse(out.trim().split('\n').pop() ?? '');
      } catch {
        found = undefined;
      }
      if (code === 0 && Array.isArray(found) && found.every((p) => typeof p === 'string')) return resolve(Object.freeze(found as string[]));
      const why = signal === 'SIGKILL' ? `no answer in ${timeoutMs / 1000} s` : code === 0 ? `no answer (${out.trim().slice(0, 200)})` : `the probe exited ${signal ?? code}: ${err.trim().split('\n').slice(-3).join(' ').slice(0, 300)}`;
      reject(new ModelError('E_MODEL_PROVIDER', `provider probe: ${why}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(PROBE_MODEL_BASE64);
  });
}
