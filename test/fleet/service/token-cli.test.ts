import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FleetProcess } from '../../support/fleet-process.js';
import { seedFleetDatabase } from '../../support/pglite-template.js';
import { useFleetTestRig } from '../../support/fleet-test-rig.js';
import { runCli } from '../../support/gateway-process.js';

describe('edgewise fleet token', () => {
  const rig = useFleetTestRig();

  it('makes a read-only token while the fleet is stopped, and revokes it through the running fleet', async () => {
    const data = join(rig.dir.path, 'fleet');
    // A new data directory with PGlite's initdb already done (test/support/pglite-template.ts): the fleet's first start goes on from there.
    await seedFleetDatabase(data);
    const made = await runCli(['fleet', 'token', 'create', '--data', data, '--name', 'plant dashboard'], 60_000);
    expect(made.code, made.stderr).toBe(0);
    const token = made.stdout.trim();
    expect(token).toMatch(/^ewt_/);
    const { fleet, endpoints } = await FleetProcess.start(data); // ports 0: the fleet reports what it bound
    rig.onCleanup(() => fleet.kill('SIGKILL'));
    const get = (t: string): Promise<number> => fetch(`${endpoints.localApiUrl}/v1/gateways`, { headers: { authorization: `Bearer ${t}` } }).then((r) => r.status);
    expect(await get(token)).toBe(200);
    const write = await fetch(`${endpoints.localApiUrl}/v1/gateways`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"id":"gw-1"}' });
    expect(write.status).toBe(403);
    const list = await runCli(['fleet', 'token', 'list', '--data', data]);
    expect(list.code, list.stderr).toBe(0);
    const line = list.stdout.split('\n').find((l) => l.includes('plant dashboard')) as string;
    expect(line).toMatch(/read-only\s+live/);
    expect(list.stdout).not.toContain(token);
    const revoked = await runCli(['fleet', 'token', 'revoke', '--data', data, line.split(/\s+/)[0] as string]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(await get(token)).toBe(401);
    expect((await runCli(['fleet', 'token', 'create', '--data', data, '--name', 'x', '--role', 'admin'])).code).toBe(2);
  });
});
