import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../../fleet/broker/embedded-broker.js';
import { decodeState, gatewayTopics } from '../../../fleet/protocol/index.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { seededRandom } from '../../../devices/synthetic/signals.js';
import { testGatewayConfig } from '../../support/gateway-config.js';
import { GatewayProcess, type LogLine } from '../../support/gateway-process.js';
import { freePort } from '../../support/ports.js';
import { RecordCollector } from '../../support/record-collector.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

const KILLS = 12;

/**
 * The store logs `store.committed` (at debug level) after each LevelDB batch resolves, with
 * the id of the batch's last record. Ids are `{db}.{epoch}.{seq}` (base 36) and seq runs
 * from 0 in each epoch, so "the highest committed seq of an epoch" names every record that
 * the store had accepted in that process: the ones that must arrive.
 */
function committed(line: LogLine, highest: Map<string, number>): void {
  if (line.event !== 'store.committed' || typeof line['lastId'] !== 'string') return;
  const [db, epoch, seq] = line['lastId'].split('.');
  const key = `${String(db)}.${String(epoch)}`;
  const s = Number.parseInt(String(seq), 36);
  if (s > (highest.get(key) ?? -1)) highest.set(key, s);
}

describe('crash safety', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let broker: EmbeddedBroker | undefined;
  let collector: RecordCollector | undefined;
  let proc: GatewayProcess | undefined;

  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await proc?.kill('SIGKILL');
    await collector?.close();
    await broker?.close();
    await dir.remove();
  });

  it(`keeps every accepted record across ${KILLS} kill -9s with the broker down, then delivers them all`, { timeout: 120_000 }, async () => {
    // The gateway is configured for a broker that starts only at the end, on this port: it
    // must be known first. freePort picks it below the ephemeral range, where no other
    // listener is handed it meanwhile and the reconnecting gateway cannot connect to itself.
    const port = await freePort();
    const configPath = `${dir.path}/gateway.yaml`;
    const yaml = testGatewayConfig({
      id: 'gw-crash',
      dataDir: `${dir.path}/data`,
      url: `mqtt://127.0.0.1:${port}`,
      sources: [
        { id: 'fast-1', rateHz: 3000 },
        { id: 'fast-2', rateHz: 2000, samplesPerRecord: 2 },
      ],
      logLevel: 'debug',
    });
    parseConfig(yaml, 'test', builtinRegistry()); // fail here, not in the child, if the config is wrong
    await writeFile(configPath, yaml);

    const highest = new Map<string, number>();
    const random = seededRandom(20261124);
    let commitsSeen = 0;
    for (let i = 0; i < KILLS; i += 1) {
      const started = commitsSeen;
      proc = GatewayProcess.start(configPath, (line) => {
        if (line.event === 'store.committed') commitsSeen += 1;
        committed(line, highest);
      });
      // Kill at a random moment: some runs early (while opening the store), most mid-stream.
      const early = random() < 0.25;
      if (early) await sleep(50 + random() * 400);
      else await waitFor(() => commitsSeen > started + 5 + Math.floor(random() * 40), 'the gateway committing records', 20_000, 5).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}; stderr: ${proc?.stderr ?? ''}`);
      });
      const { signal } = await proc.kill('SIGKILL');
      expect(signal).toBe('SIGKILL');
      proc = undefined;
    }
    const acceptedIds = [...highest].flatMap(([prefix, max]) => Array.from({ length: max + 1 }, (_, s) => `${prefix}.${s.toString(36)}`));
    expect(acceptedIds.length).toBeGreaterThan(1000);

    // Now the broker comes up, with a fleet subscriber, and one more gateway run delivers.
    broker = await EmbeddedBroker.create({ port });
    collector = await RecordCollector.attach(broker);
    const c = collector;
    // Each connection of the gateway announces itself online (retained state, QoS 1).
    let connections = 0;
    await broker.subscribe(gatewayTopics.state('gw-crash'), (_topic, payload) => {
      if (decodeState(payload).state === 'online') connections += 1;
    });
    proc = GatewayProcess.start(configPath);
    await waitFor(() => acceptedIds.every((id) => c.ids.has(id)), `all ${acceptedIds.length} accepted records at the subscriber`, 60_000, 100).catch((err: unknown) => {
      const lost = acceptedIds.filter((id) => !c.ids.has(id));
      throw new Error(`${(err as Error).message}: ${lost.length} missing, e.g. ${lost.slice(0, 5).join(', ')}`);
    });
    // Sample numbers restart with each process; the store order (epoch, seq) must hold.
    expect(c.outOfOrderByStoreOrder()).toEqual([]);
    expect(c.rejected + c.invalid).toBe(0);
    // Duplicates are allowed, and the subscriber drops them by id; but the broker was down
    // through every crash, so nothing had been sent before this run. A record goes out twice
    // only when a connection drops with it unacknowledged: at most one window (maxInFlight 16
    // messages of batchMaxRecords 500, the defaults) per reconnect, and none on one connection.
    expect(connections).toBeGreaterThanOrEqual(1);
    expect(c.duplicates).toBeLessThanOrEqual((connections - 1) * 16 * 500);
  });
});
