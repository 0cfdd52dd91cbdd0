import { onnxruntimeBackend } from '../../../models/engine/backends/onnxruntime/index.js';
import { inferenceBackends } from '../../../models/engine/backends/index.js';
import { describe, expect, it } from 'vitest';
import { simNpuPlugin } from '../../support/sim-npu-backend.js';
import { backendContract } from './backend-contract.js';

/** The providers a backend knows by name but cannot start here (for ONNX Runtime on Linux: dml and coreml at least). */
async function knownButAbsent(known: readonly string[], available: readonly string[]): Promise<string> {
  const absent = known.find((p) => !available.includes(p));
  if (absent === undefined) throw new Error(`every provider is available here (${available.join(', ')}): no fallback to test`);
  return absent;
}

describe('built-in backends', () => {
  it('every built-in backend is in the registry list once, by its own name', () => {
    expect(inferenceBackends.map((b) => b.name)).toEqual(['onnxruntime']);
  });
});

backendContract({
  plugin: onnxruntimeBackend,
  section: { backend: 'onnxruntime' },
  absent: async (b) => knownButAbsent(onnxruntimeBackend.providers, await b.availableProviders()),
});

// A second implementation with another name, other provider names and a device that is not
// there: the contract is the backend's, not ONNX Runtime's.
backendContract({
  plugin: simNpuPlugin(),
  section: { backend: 'sim-npu', devicePresent: false },
  absent: async () => 'npu',
});
