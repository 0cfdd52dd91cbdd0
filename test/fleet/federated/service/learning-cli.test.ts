import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useFleetTestRig } from '../../../support/fleet-test-rig.js';
import { runCli } from '../../../support/gateway-process.js';
import { waitFor } from '../../../support/wait-for.js';
import { fleetWithScriptedGateways, repositoryWithRelease, taskBody } from './round-service-rig.js';

/** `edgewise fleet learning create|list|status|stop` against a running fleet, as an operator uses it. */
describe('edgewise fleet learning', () => {
  const rig = useFleetTestRig();

  it('creates a task from a YAML file, shows its rounds with their numbers, refuses a bad definition naming the field, and stops it', async () => {
    const dir = rig.dir.path;
    await repositoryWithRelease(dir);
    const { data, gateways: [gw] } = await fleetWithScriptedGateways(rig, ['--repo', join(dir, 'repo')], ['gw-0']);
    if (gw === undefined) throw new Error('no gateway');

    const definition = (taskBody({ minClients: 1 }) as { task: Record<string, unknown> }).task;
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, `${Object.entries({ ...definition, clipNorm: -1 }).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join('\n')}\n`);
    const refused = await runCli(['fleet', 'learning', 'create', '--data', data, '--task', bad]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^edgewise fleet learning: E_VALIDATION: body\.task\.clipNorm/);
    const missing = await runCli(['fleet', 'learning', 'create', '--data', data, '--task', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--task');

    const file = join(dir, 'task.yaml');
    await writeFile(file, `${Object.entries(definition).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join('\n')}\n`);
    const created = await runCli(['fleet', 'learning', 'create', '--data', data, '--task', file, '--rounds', '2']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^task press-ae: active, model anomaly-press from release 1, fedavg, 0 of 2 rounds, quorum 1/);

    await waitFor(() => gw.invitedTo('press-ae', 1), 'the invitation to round 1');
    await gw.send(gw.chunks({ task: 'press-ae', round: 1, loss: 0.25 }));
    await gw.ack('press-ae.1', 'complete');
    const status = await waitFor(async () => {
      const s = await runCli(['fleet', 'learning', 'status', '--data', data, 'press-ae']);
      return /round 1: model/.test(s.stdout) ? s : undefined;
    }, 'round 1 closed, in the status', 30_000, 200);
    expect(status.stdout).toMatch(/round 1: model, 1 of 1 drawn answered, local validation loss 0\.2500, not released: .*no signer/);
    const listed = await runCli(['fleet', 'learning', 'list', '--data', data]);
    expect(listed.stdout).toMatch(/^task press-ae: active/);
    const stopped = await runCli(['fleet', 'learning', 'stop', '--data', data, 'press-ae', '--json']);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect((JSON.parse(stopped.stdout) as { task: { state: string } }).task.state).toBe('stopped');
  });
});
