import { mkdir, writeFile } from 'node:fs/promises';
import type { ModelReleaseInput } from '../../../fleet/repo/model-release-targets.js';

/** A model release's files on disk (model bytes as given, 16-byte golden files) and the input addModel takes. */
export async function releaseInput(dir: string, model: string, release: number, bytes: Uint8Array): Promise<ModelReleaseInput> {
  const base = `${dir}/in/${model}-${release}`;
  await mkdir(`${dir}/in`, { recursive: true });
  await writeFile(`${base}.onnx`, bytes);
  await writeFile(`${base}.gi.bin`, new Uint8Array(16).fill(release));
  await writeFile(`${base}.go.bin`, new Uint8Array(16).fill(release + 1));
  return {
    model: `${base}.onnx`,
    goldenInput: `${base}.gi.bin`,
    goldenOutput: `${base}.go.bin`,
    release: {
      model,
      release,
      version: `2026.12.${release}`,
      hardware: { arch: ['x64', 'arm64'], accelerators: ['cpu'] },
      minRuntimeVersion: '0.1.0',
      golden: { inputName: 'x', dims: [1, 4], outputName: 'y', tolerance: '0.0001' },
      budgets: { latencyMs: 50, errorRatePpm: 1000, probationS: 600 },
    },
  };
}
