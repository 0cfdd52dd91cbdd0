import { readUplinkFiles } from '../mqtt-options.js';
import type { SparkplugFiles } from './edge-node.js';
import type { SparkplugSettings } from './schema.js';

/**
 * Reads and parses the password file and TLS material the section names (at `--check` and at
 * start), with the fleet uplink's reader; each problem names its key under `sparkplug.`.
 */
export async function readSparkplugFiles(settings: SparkplugSettings): Promise<{ files: SparkplugFiles; problems: string[] }> {
  const { files, problems } = await readUplinkFiles({
    url: settings.url,
    passwordFile: settings.passwordFile,
    ca: settings.tls.ca,
    cert: settings.tls.cert,
    key: settings.tls.key,
    rejectUnauthorized: settings.tls.rejectUnauthorized,
    keepaliveS: settings.keepaliveS,
    connectTimeoutMs: settings.connectTimeoutMs,
    batchMaxRecords: 1,
    batchMaxBytes: 1024,
    maxInFlight: 1,
    reconnect: settings.reconnect,
  });
  return {
    files,
    problems: problems.map((p) => p.replace(/^uplink\.(ca|cert|key)\b/, 'sparkplug.tls.$1').replace(/^uplink\./, 'sparkplug.').replace('matching uplink.key', 'matching sparkplug.tls.key')),
  };
}
