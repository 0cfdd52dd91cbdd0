import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeHealth } from '../../../fleet/protocol/index.js';
import { ModelSlots, installedReleases } from '../../../runtime/updater/slots.js';
import { makeTempDir } from '../../support/temp-dir.js';

describe('installed releases (the health report\'s releases)', () => {
  let dir: { path: string; remove: () => Promise<void> };
  beforeEach(async () => {
    dir = await makeTempDir();
  });
  afterEach(async () => {
    await dir.remove();
  });

  it('lists configured models and models with slots, the active slot as active and the rollback slot as standby', async () => {
    const slots = new ModelSlots(dir.path, 'press');
    const aa = createHash('sha256').update(Uint8Array.of(1)).digest('hex');
    const bb = createHash('sha256').update(Uint8Array.of(2)).digest('hex');
    const a = await slots.install(Uint8Array.of(1), { release: 1, version: '1.1' });
    const first = await slots.activate(a, { release: 1, version: '1.1', sha256: aa });
    const b = await slots.install(Uint8Array.of(2), { release: 2, version: '1.2' });
    await slots.activate(b, { release: 2, version: '1.2', sha256: bb });
    expect(first.previous).toBeNull();
    expect(await installedReleases(dir.path, ['vision'])).toEqual({
      vision: { active: null, standby: null },
      press: { active: { release: 2, version: '1.2', sha256: bb }, standby: { release: 1, version: '1.1', sha256: aa } },
    });
    await slots.rollback();
    expect((await installedReleases(dir.path, []))['press']).toEqual({ active: { release: 1, version: '1.1', sha256: aa }, standby: null });
  });

  it('leaves out folders that are not model names and reports a hand-edited pointer as nothing, so the fleet never refuses the report', async () => {
    await mkdir(`${dir.path}/models/Not A Model!`, { recursive: true });
    await mkdir(`${dir.path}/models/edited`, { recursive: true });
    await writeFile(`${dir.path}/models/edited/active.json`, '{"slot":"a","release":"seven"}');
    const releases = await installedReleases(dir.path, []);
    expect(releases).toEqual({ edited: { active: null, standby: null } });
    const report = { gw: 'g1', ts: 1, runtimeVersion: '0.1.0', status: 'ok', reasons: [], releases };
    expect(decodeHealth(new TextEncoder().encode(JSON.stringify(report))).releases).toEqual(releases);
  });
});
