import { afterEach, describe, expect, it } from 'vitest';
import { SerialRig } from '../../support/serial-rig.js';
import { waitFor } from '../../support/wait-for.js';

describe('serial sensor configuration sent to the MCU', () => {
  let rig: SerialRig | undefined;
  afterEach(async () => {
    await rig?.close();
  });

  it('sets the sample rate and the enabled channels after HELLO; records carry only those', { timeout: 30_000 }, async () => {
    const r = await SerialRig.start({ mcuArgs: ['--rate', '1000'], device: 'sampleRateHz: 250, channels: [vibration, current]' });
    rig = r;
    await waitFor(() => (r.mcu.last?.samplesCommitted ?? 0) > 1000, 'samples at the new rate');
    await r.stopRun();
    const records = await r.records();
    const last = records[records.length - 1];
    expect(last?.rateHz).toBe(250);
    expect(Object.keys(last?.values ?? {})).toEqual(['vibration', 'current']);
    expect(last?.units).toEqual({ vibration: 'g', current: 'A' });
  });
});
