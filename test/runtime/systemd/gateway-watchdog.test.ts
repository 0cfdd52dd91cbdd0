import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../../fleet/broker/embedded-broker.js';
import { FreezableFs } from '../../support/freezable-fs.js';
import { testGatewayConfig } from '../../support/gateway-config.js';
import { GatewayProcess, type LogLine } from '../../support/gateway-process.js';
import { NotifyReceiver, type NotifyMessage } from '../../support/notify-receiver.js';
import { freePort } from '../../support/ports.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

/** The parent PID of a live process, from /proc. */
function parentOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

const isPing = (m: NotifyMessage): boolean => m.fields['WATCHDOG'] === '1';
const isWithheld = (m: NotifyMessage): boolean => (m.fields['STATUS'] ?? '').startsWith('watchdog withheld: store:');

describe('the gateway under systemd: sd_notify READY and a watchdog that stops pinging when the store hangs', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let broker: EmbeddedBroker;
  let receiver: NotifyReceiver;
  let disk: FreezableFs;
  let gp: GatewayProcess | undefined;
  const lines: LogLine[] = [];
  beforeEach(async () => {
    dir = await makeTempDir();
    broker = await EmbeddedBroker.create({ host: '127.0.0.1', port: 0 });
    receiver = await NotifyReceiver.start(join(dir.path, 'notify.sock'));
    disk = await FreezableFs.create(dir.path);
  });
  afterEach(async () => {
    // Thaw before the kill: a process blocked on a frozen disk cannot die until then.
    await disk.thaw();
    await gp?.kill('SIGKILL');
    gp = undefined;
    await disk.remove();
    await receiver.stop();
    await broker.close();
    await dir.remove();
  });

  let healthUrl = '';
  it('sends READY=1 once running, pings from a helper it owns, withholds pings while its disk is frozen (and says why in /health), resumes after, and says STOPPING=1', async () => {
    const configPath = join(dir.path, 'gateway.yaml');
    const healthListen = `127.0.0.1:${await freePort()}`;
    healthUrl = `http://${healthListen}`;
    await writeFile(configPath, testGatewayConfig({ id: 'gw-sd', dataDir: join(disk.path, 'data'), url: broker.url, sources: [{ id: 's1', rateHz: 50 }], logLevel: 'info', healthListen }));
    lines.length = 0;
    // WatchdogSec=6: a ping every 2 s, a part that has not answered for 3 s is stuck.
    gp = GatewayProcess.start(configPath, (l) => lines.push(l), true, { ...process.env, NOTIFY_SOCKET: receiver.socket, WATCHDOG_USEC: '6000000' });
    const pid = gp.child.pid as number;
    try {
      await scenario(pid);
    } catch (err) {
      // What the socket and the log saw, to tell a slow box from a wrong gateway.
      throw new Error(`${(err as Error).message}\nnotify: ${JSON.stringify(receiver.messages.map((m) => m.msg))}\nlog: ${lines.slice(-20).map((l) => JSON.stringify(l)).join('\n')}\nstderr: ${gp.stderr}`);
    }
  }, 240_000);

  async function scenario(pid: number): Promise<void> {
    if (gp === undefined) throw new Error('no gateway');

    const ready = await waitFor(() => receiver.messages.find((m) => m.fields['READY'] === '1'), 'READY=1 on the notify socket', 30_000);
    // The log line and the datagram travel different pipes to this test: wait for each, assert no order between them.
    await waitFor(() => lines.some((l) => l.event === 'gateway.started'), 'the gateway.started line');
    expect(ready.fields['STATUS']).toBe('running: gateway gw-sd, 1 pipeline(s)');
    await waitFor(() => receiver.messages.filter(isPing).length >= 2, 'two WATCHDOG=1 pings', 30_000);
    // The sender is the gateway's own child (hence NotifyAccess=all in the unit), alive, not a one-shot.
    const sender = receiver.messages.filter(isPing).at(-1)?.pid as number;
    expect(sender).not.toBe(pid);
    expect(parentOf(sender)).toBe(pid);
    expect(gp.child.exitCode).toBeNull();

    // The disk hangs: writes block in the kernel. The store probe's write does not return.
    await disk.freeze();
    const frozenAt = receiver.messages.length;
    // Three withheld ticks in a row prove the timer kept running while no ping went out.
    await waitFor(() => receiver.messages.slice(frozenAt).filter(isWithheld).length >= 3, 'three "watchdog withheld: store" statuses', 60_000);
    const sinceFirstWithheld = receiver.messages.slice(receiver.messages.findIndex((m, i) => i >= frozenAt && isWithheld(m)));
    expect(sinceFirstWithheld.filter(isPing)).toEqual([]);
    expect(sinceFirstWithheld[0]?.fields['STATUS']).toMatch(/^watchdog withheld: store: a write to .*\/data has not returned for [0-9]+ s$/);
    await waitFor(() => lines.some((l) => l.event === 'systemd.watchdog_withheld'), 'the systemd.watchdog_withheld line');
    const logged = lines.filter((l) => l.event === 'systemd.watchdog_withheld');
    expect(logged).toHaveLength(1); // once per change, not per tick
    expect(logged[0]).toMatchObject({ level: 50, code: 'E_STUCK', component: 'systemd' });
    // The event loop still serves /health: it says the gateway is about to be restarted, and why.
    const health = (await (await fetch(`${healthUrl}/health`)).json()) as { status: string; reasons: string[] };
    expect(health.status).toBe('degraded');
    expect(health.reasons).toContainEqual(expect.stringMatching(/^watchdog: pings withheld for [0-9]+ s, systemd will restart the gateway \(store: a write to .*\/data has not returned for [0-9]+ s\)$/));
    const metrics = await (await fetch(`${healthUrl}/metrics`)).text();
    expect(metrics).toMatch(/edgewise_events_total\{event="systemd.watchdog_withheld",component="systemd",code="E_STUCK"\} 1/);

    // The disk comes back: the probe answers, pings resume, and the status says so.
    await disk.thaw();
    const thawedAt = receiver.messages.length;
    await waitFor(() => receiver.messages.slice(thawedAt).some(isPing), 'a ping after the thaw', 30_000);
    expect(receiver.messages.slice(thawedAt).some((m) => m.fields['STATUS'] === 'running')).toBe(true);
    await waitFor(() => lines.some((l) => l.event === 'systemd.watchdog_resumed'), 'the systemd.watchdog_resumed line');
    const after = (await (await fetch(`${healthUrl}/health`)).json()) as { reasons: string[] };
    expect(after.reasons.filter((r) => r.startsWith('watchdog:'))).toEqual([]);

    expect(await gp.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    await waitFor(() => receiver.messages.some((m) => m.fields['STOPPING'] === '1'), 'STOPPING=1 on the notify socket');
    // The helper went with it.
    expect(() => process.kill(sender, 0)).toThrow();
  }
});
