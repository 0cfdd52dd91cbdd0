/**
 * A gateway's updater in a process of its own, for the kill -9 tests:
 * `node dist/test/support/updater-child.js DATA_DIR METADATA_URL TARGET_BASE_URL TARGET`.
 * Exits 0 when the release is active, 1 when it was refused.
 */
import { OnnxBackend } from '../../models/engine/onnx-backend.js';
import { TrustClient } from '../../runtime/updater/trust.js';
import { ModelUpdater } from '../../runtime/updater/updater.js';

const [dataDir, metadataUrl, targetBaseUrl, target] = process.argv.slice(2) as [string, string, string, string];
const updater = new ModelUpdater({
  dataDir,
  trust: new TrustClient({ metadataDir: `${dataDir}/tuf`, metadataUrl, targetBaseUrl, idleTimeoutMs: 5000 }),
  backend: new OnnxBackend(),
  providers: ['cpu'],
  runtimeVersion: '0.1.0',
  diskMarginBytes: 1024,
  report: (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
});
try {
  await updater.update(target);
  process.exit(0);
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
