import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../fleet/broker/embedded-broker.js';
import { busyModeFlags, enterBusyMode, startBusyModeOnLoad } from '../../runtime/busy-mode.js';
import { testGatewayConfig } from '../support/gateway-config.js';
import { GatewayProcess, type LogLine } from '../support/gateway-process.js';
import { makeTempDir } from '../support/temp-dir.js';
import { waitFor } from '../support/wait-for.js';

/** An event loop whose busy time the test sets: each window's share is the next of `shares`. */
function scriptedLoop(shares: readonly number[]): (prev?: EventLoopUtilization) => EventLoopUtilization {
  let active = 0;
  let idle = 0;
  let window = 0;
  return (prev) => {
    if (prev === undefined) return { active, idle, utilization: 0 };
    // A delta is asked for once a window: it advances the loop by that window's share.
    const share = shares[Math.min(window, shares.length - 1)] ?? 0;
    window += 1;
    active += share * 1000;
    idle += (1 - share) * 1000;
    return { active: active - prev.active, idle: idle - prev.idle, utilization: share };
  };
}

const GATEWAY = ['--max-semi-space-size=2', '--optimize-for-size', '--no-turbofan', '--no-maglev', '--expose-gc'];

describe('busy mode: V8 set for speed once the gateway is busy', () => {
  it('sets the flags once, in the first window busy for the share, and never again', async () => {
    const flags: string[] = [];
    const busy: [string, number][] = [];
    const stop = startBusyModeOnLoad({ windowMs: 5, busyShare: 0.05, execArgv: GATEWAY, utilization: scriptedLoop([0.01, 0.03, 0.049, 0.2, 0.9]), setFlags: (f) => flags.push(f), onBusy: (f, s) => busy.push([f, s]) });
    await waitFor(() => busy.length === 1, 'busy mode');
    // Checked after more windows than the script has: nothing more happens.
    await new Promise((resolve) => setTimeout(resolve, 40));
    stop();
    expect(busy).toEqual([[busyModeFlags(GATEWAY), 0.2]]);
    expect(flags).toEqual([busyModeFlags(GATEWAY)]);
  });

  it('leaves an idle process alone, and does nothing in one started with neither setting', async () => {
    const flags: string[] = [];
    const stop = startBusyModeOnLoad({ windowMs: 2, execArgv: GATEWAY, utilization: scriptedLoop([0.015]), setFlags: (f) => flags.push(f) });
    const plain = startBusyModeOnLoad({ windowMs: 2, execArgv: ['--expose-gc'], utilization: scriptedLoop([1]), setFlags: (f) => flags.push(f) });
    await new Promise((resolve) => setTimeout(resolve, 40));
    stop();
    plain();
    expect(flags).toEqual([]);
    expect(enterBusyMode({ execArgv: [], setFlags: (f) => flags.push(f) })).toBe('');
    expect(flags).toEqual([]);
    expect(enterBusyMode({ execArgv: GATEWAY, setFlags: (f) => flags.push(f) })).toBe(busyModeFlags(GATEWAY));
    expect(flags).toEqual([busyModeFlags(GATEWAY)]);
  });

  it('undoes exactly what the process started with; Maglev only where it is V8 default (V8 12, Node.js 22, and later)', () => {
    expect(busyModeFlags(GATEWAY, '11.3.244.8-node.33')).toBe('--turbofan --no-optimize-for-size --heap-growing-percent=50');
    expect(busyModeFlags(GATEWAY, '12.4.254.21-node.33')).toBe('--turbofan --maglev --no-optimize-for-size --heap-growing-percent=50');
    expect(busyModeFlags(GATEWAY, '13.6.233.10-node.28')).toBe('--turbofan --maglev --no-optimize-for-size --heap-growing-percent=50');
    // The benches of gateway parts: the gateway's flags without the gateway command's compiler switch.
    expect(busyModeFlags(['--optimize-for-size', '--expose-gc'], '11.3.244.8-node.33')).toBe('--no-optimize-for-size --heap-growing-percent=50');
    expect(busyModeFlags(['--no-turbofan'], '11.3.244.8-node.33')).toBe('--turbofan');
    expect(busyModeFlags([], '13.6.233.10-node.28')).toBe('');
  });

  describe('a gateway started by bin/edgewise', () => {
    let gp: GatewayProcess | undefined;
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      await gp?.kill('SIGKILL');
      gp = undefined;
      for (const c of cleanups.splice(0)) await c();
    });

    it('starts interpreted and small, and says when a busy event loop set V8 for speed', async () => {
      const dir = await makeTempDir();
      const broker = await EmbeddedBroker.create({ host: '127.0.0.1', port: 0 });
      cleanups.push(() => broker.close(), () => dir.remove());
      const configPath = join(dir.path, 'gateway.yaml');
      // 2,000 records a second: about 15 % of the interpreted event loop here, 3x the share that sets busy mode.
      await writeFile(configPath, testGatewayConfig({ id: 'gw-busy', dataDir: join(dir.path, 'data'), url: broker.url, sources: [{ id: 's1', rateHz: 2000 }], sync: false, logLevel: 'info' }));
      const lines: LogLine[] = [];
      gp = GatewayProcess.start(configPath, (l) => lines.push(l), true);
      const on = await waitFor(() => lines.find((l) => l.event === 'gateway.busy_mode'), 'the gateway.busy_mode line', 60_000);
      expect(on['busyShare']).toBeGreaterThanOrEqual(0.05);
      expect(on['flags']).toMatch(/^--turbofan( --maglev)? --no-optimize-for-size --heap-growing-percent=50$/);
      const started = lines.findIndex((l) => l.event === 'gateway.started');
      expect(started).toBeGreaterThanOrEqual(0);
      expect(lines.indexOf(on)).toBeGreaterThan(started);
      expect(await gp.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    }, 90_000);
  });
});
