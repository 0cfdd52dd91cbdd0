import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../../../fleet/broker/embedded-broker.js';
import { CLI } from '../../../support/gateway-process.js';
import { SparkplugHost, type HostMessage } from '../../../support/sparkplug-host.js';
import { makeTempDir } from '../../../support/temp-dir.js';
import { waitFor } from '../../../support/wait-for.js';

/** The compiled child (`npm test` builds dist/ first, as for every child-process test). */
const CHILD = join(CLI, '..', '..', 'test', 'support', 'sparkplug-edge-child.js');

function bdSeqOf(m: HostMessage | undefined): number | undefined {
  const v = m?.metrics.find((x) => x.name === 'bdSeq')?.value;
  return typeof v === 'number' ? v : undefined;
}

describe('the NDEATH Will of a Sparkplug edge node killed with SIGKILL', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let broker: EmbeddedBroker;
  let host: SparkplugHost;
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    if (!existsSync(CHILD)) throw new Error(`${CHILD} is missing: run \`npm run build\` (npm test does it for you)`);
    dir = await makeTempDir('edgewise-spb-will-');
    broker = await EmbeddedBroker.create();
    host = await SparkplugHost.attach(broker, 'Plant1');
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await host.close();
    await broker.close();
    await dir.remove();
  });

  function startChild(): { child: ChildProcess; births: number[] } {
    const section = { url: broker.url, groupId: 'Plant1', edgeNodeId: 'gw-kill', sources: [{ id: 'line1', metrics: [{ name: 'n', type: 'Int32' }] }] };
    const child = spawn(process.execPath, [CHILD, JSON.stringify(section), join(dir.path, 'state')], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    const births: number[] = [];
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const m = JSON.parse(line) as { event?: string; bdSeq?: number };
      if (m.event === 'born' && typeof m.bdSeq === 'number') births.push(m.bdSeq);
    });
    return { child, births };
  }

  async function killed(child: ChildProcess): Promise<void> {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
  }

  it('publishes the NDEATH with the bdSeq of the birth, and a restart births with the next bdSeq', async () => {
    const first = startChild();
    await waitFor(() => host.of('DDATA').length >= 3, 'a birth and data from the child', 15_000);
    await killed(first.child);
    await waitFor(() => host.of('NDEATH').length === 1, 'the Will published by the broker');
    const [birth] = host.of('NBIRTH');
    const [death] = host.of('NDEATH');
    expect(bdSeqOf(death)).toBe(bdSeqOf(birth));
    expect(bdSeqOf(death)).toBe(first.births[0]);
    expect(death?.seq).toBeUndefined(); // NDEATH carries no seq (tck-id-payloads-ndeath-seq)
    expect(death?.metrics.map((m) => m.name)).toEqual(['bdSeq']);

    // The bdSeq was persisted before the CONNECT: the next process does not reuse it.
    const second = startChild();
    await waitFor(() => host.of('NBIRTH').length === 2, 'the second birth', 15_000);
    expect(bdSeqOf(host.of('NBIRTH')[1])).toBe(((bdSeqOf(birth) as number) + 1) % 256);
    await killed(second.child);
    await waitFor(() => host.of('NDEATH').length === 2, 'the second Will');
    expect(bdSeqOf(host.of('NDEATH')[1])).toBe(bdSeqOf(host.of('NBIRTH')[1]));
  });
});
