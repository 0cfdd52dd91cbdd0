import { createHash, randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SerialSensorSource } from '../../../devices/serial-sensor/serial-sensor.js';
import { FW_RESULT_CODES } from '../../../firmware-bridge/firmware-transfer.js';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { SimulatedMcu } from '../../../sim/mcu/simulated-mcu.js';
import { freePort } from '../../support/ports.js';
import { SocatPair } from '../../support/socat.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

describe('MCU firmware transfer over a socat pty', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let socat: SocatPair;
  let mcu: SimulatedMcu;
  let gateway: Gateway;
  let sensor: SerialSensorSource;

  beforeEach(async () => {
    dir = await makeTempDir();
    socat = new SocatPair(`${dir.path}/mcu-tty`, `${dir.path}/gw-tty`);
    await socat.start();
    mcu = new SimulatedMcu({ path: socat.a, rateHz: 200 });
    mcu.start();
    const registry = builtinRegistry();
    const config = parseConfig(
      `
gateway: { id: gw-fw, dataDir: ${JSON.stringify(`${dir.path}/data`)} }
devices:
  - { id: motor-1, type: serial-sensor, path: ${JSON.stringify(socat.b)}, baudRate: 921600, retransmitTimeoutMs: 100 }
uplink: { url: "mqtt://127.0.0.1:${await freePort()}" }
log: { level: warn }
`,
      'test',
      registry,
    );
    gateway = await Gateway.create(config, registry, { logger: pino({ level: 'silent' }) });
    await gateway.start();
    sensor = gateway.pipelines[0]?.spec.source as SerialSensorSource;
    await waitFor(() => sensor.stats().deviceId === 'sim-mcu-1', 'the MCU HELLO');
  });
  afterEach(async () => {
    await gateway.stop();
    await mcu.stop();
    await socat.kill();
    await dir.remove();
  });

  it('delivers a 256 KiB image that the MCU verifies, resending chunks that arrive corrupted', async () => {
    const image = new Uint8Array(randomBytes(256 * 1024));
    mcu.corruptReceivedChunks(3);
    const retransmitsBefore = sensor.stats().retransmits;
    let lastProgress = 0;
    const result = await sensor.updateFirmware(image, { onProgress: (n) => (lastProgress = n) });
    expect(result.ok).toBe(true);
    expect(result.message).toContain(createHash('sha256').update(image).digest('hex').slice(0, 16));
    expect(lastProgress).toBe(image.length);
    expect(mcu.counters.corruptedReceivedFrames).toBe(3);
    expect(sensor.stats().retransmits - retransmitsBefore).toBeGreaterThanOrEqual(3);
    expect(mcu.flashedImages).toHaveLength(1);
    expect(Buffer.from(mcu.flashedImages[0] as Uint8Array).equals(Buffer.from(image))).toBe(true);
    // Sampling carried on during the transfer.
    expect(sensor.stats().samplesReceived).toBeGreaterThan(0);
  });

  it('reports a wrong final hash as a failure, and flashes nothing', async () => {
    const image = new Uint8Array(randomBytes(64 * 1024));
    const result = await sensor.updateFirmware(image, { declaredSha256: new Uint8Array(32) });
    expect(result.ok).toBe(false);
    expect(result.code).toBe(FW_RESULT_CODES.hashMismatch);
    expect(result.message).toMatch(/sha256 .* does not match/);
    expect(mcu.flashedImages).toHaveLength(0);
  });
});
