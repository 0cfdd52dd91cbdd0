import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../../fleet/broker/embedded-broker.js';
import { FaultLog } from '../../../sim/faults/fault-log.js';
import { GatewaySupervisor, type GatewayLogLine } from '../../../sim/faults/gateway-supervisor.js';
import { testGatewayConfig } from '../../support/gateway-config.js';
import { assertBuilt } from '../../support/gateway-process.js';
import { RecordCollector } from '../../support/record-collector.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('GatewaySupervisor with a real gateway process', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let broker: EmbeddedBroker;
  let collector: RecordCollector;
  let sup: GatewaySupervisor | undefined;
  beforeEach(async () => {
    assertBuilt();
    dir = await makeTempDir();
    broker = await EmbeddedBroker.create({ host: '127.0.0.1', port: 0 });
    collector = await RecordCollector.attach(broker);
  });
  afterEach(async () => {
    await sup?.stop();
    sup = undefined;
    await collector.close();
    await broker.close();
    await dir.remove();
  });

  async function config(name: string, logLevel: 'info' | 'warn' = 'info', extra = ''): Promise<string> {
    const path = join(dir.path, `${name}.yaml`);
    await writeFile(path, testGatewayConfig({ id: name, dataDir: join(dir.path, name), url: broker.url, sources: [{ id: 's1', rateHz: 20 }], healthListen: '127.0.0.1:0', logLevel, extra }));
    return path;
  }

  it('starts bin/edgewise, knows when it is up, kills it with -9, restarts it, and the fault log says when', async () => {
    const log = new FaultLog();
    const lines: GatewayLogLine[] = [];
    const s = new GatewaySupervisor({ id: 'gw-a', configPath: await config('gw-a'), log, tailLines: 5, sampleEveryMs: 200, onLine: (l) => lines.push(l) });
    sup = s;
    await s.start();
    expect(s.state).toBe('running');
    // Up means serving: the health URL from its gateway.started line answers.
    expect(s.healthUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/health$/);
    expect((await fetch(s.healthUrl as string)).status).toBeLessThan(600);
    await waitFor(() => collector.count >= 5, 'records from the first run');
    const firstPid = s.pid as number;
    // Started through bin/edgewise, so with the gateway's V8 flags (the sh wrapper exec'd node: the pid is node's).
    const cmdline = (await readFile(`/proc/${firstPid}/cmdline`, 'utf8')).split('\0');
    expect(cmdline).toEqual(expect.arrayContaining(['--max-semi-space-size=2', '--expose-gc', 'gateway', '--config']));
    await waitFor(() => s.resources().samples.length >= 2, 'two /proc samples');
    const r = s.resources();
    expect(r.rssBytes).toBeGreaterThan(20 * 1024 * 1024);
    expect(r.rssBytes).toBeLessThan(1024 * 1024 * 1024);
    expect(r.cpuSeconds).toBeGreaterThan(0);

    await s.kill9();
    expect(s.state).toBe('killed');
    expect(alive(firstPid)).toBe(false);
    expect(s.resources().rssBytes).toBeNull();
    const atKill = collector.count;

    await s.restart();
    expect(s.state).toBe('running');
    expect(s.pid).not.toBe(firstPid);
    await waitFor(() => collector.count >= atKill + 5, 'records from the restarted gateway');
    expect(log.entries().map((e) => [e.kind, e.target, e.action])).toEqual([
      ['kill', 'gw-a', 'start'],
      ['kill', 'gw-a', 'end'],
    ]);
    const [killed, back] = log.entries();
    expect(killed?.detail['pid']).toBe(firstPid);
    expect(back?.detail['pid']).toBe(s.pid);
    expect(back?.detail['downMs']).toBeGreaterThanOrEqual(0);
    expect(s.counters).toEqual({ starts: 2, kills: 1, unexpectedExits: 0, forcedStops: 0 });
    expect(s.resources().cpuSeconds).toBeGreaterThan(r.cpuSeconds);

    // The output is kept, but only its last lines.
    expect(lines.filter((l) => l['event'] === 'gateway.started')).toHaveLength(2);
    expect(s.tail().stdout.length).toBeLessThanOrEqual(5);

    const pid = s.pid as number;
    expect(await s.stop()).toEqual({ code: 0, signal: null, forced: false });
    expect(s.state).toBe('stopped');
    expect(alive(pid)).toBe(false);
  });

  it('notices an exit nobody asked for, and the restart ends it in the fault log', async () => {
    const log = new FaultLog();
    const s = new GatewaySupervisor({ id: 'gw-b', configPath: await config('gw-b'), log });
    sup = s;
    await s.start();
    process.kill(s.pid as number, 'SIGKILL'); // the OOM killer, say
    await waitFor(() => s.state === 'exited', 'the supervisor to notice the exit');
    expect(log.entries()).toMatchObject([{ kind: 'exit', target: 'gw-b', action: 'start', detail: { signal: 'SIGKILL', code: null } }]);
    expect(s.counters.unexpectedExits).toBe(1);
    await s.restart();
    expect(log.entries().map((e) => [e.kind, e.action])).toEqual([
      ['exit', 'start'],
      ['exit', 'end'],
    ]);
  });

  it('a gateway that cannot start: the error says why, in the gateway\'s own words', async () => {
    const s = new GatewaySupervisor({ id: 'gw-c', configPath: await config('gw-c', 'info', 'nonsense: 1\n') });
    await expect(s.start()).rejects.toMatchObject({ code: 'E_GATEWAY_START', message: expect.stringMatching(/gw-c exited before it was up \(exit code 2\):[\s\S]*nonsense/) });
    expect(s.state).toBe('stopped');
  });

  it('refuses a config whose log level would hide the line that says the gateway is up', async () => {
    const path = await config('gw-d', 'warn');
    const s = new GatewaySupervisor({ id: 'gw-d', configPath: path });
    await expect(s.start()).rejects.toMatchObject({ code: 'E_GATEWAY_START', message: expect.stringContaining(`${path}: log.level is warn`) });
  });

  it('a gateway that never says it is up is killed after readyTimeoutMs, and the error shows its last output', async () => {
    // A stand-in that prints a line and hangs (a real gateway never does this on purpose).
    const bin = join(dir.path, 'hangs');
    await writeFile(bin, '#!/bin/sh\necho "loading models..." >&2\nexec sleep 600\n', { mode: 0o755 });
    const s = new GatewaySupervisor({ id: 'gw-h', configPath: await config('gw-h'), bin, readyTimeoutMs: 1000 });
    await expect(s.start()).rejects.toMatchObject({ code: 'E_GATEWAY_READY_TIMEOUT', message: expect.stringMatching(/gw-h did not log gateway.started within 1000 ms \(killed\)[\s\S]*loading models/) });
    expect(s.state).toBe('stopped');
  });

  it('kill -9 of a gateway that is not running is an error naming its state', async () => {
    const s = new GatewaySupervisor({ id: 'gw-e', configPath: await config('gw-e') });
    await expect(s.kill9()).rejects.toMatchObject({ code: 'E_GATEWAY_STATE', message: 'cannot kill -9 gateway gw-e: it is stopped' });
  });
});
