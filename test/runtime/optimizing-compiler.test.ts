import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedBroker } from '../../fleet/broker/embedded-broker.js';
import { enableOptimizingCompiler, optimizingCompilerFlags, startOptimizingCompilerOnLoad } from '../../runtime/optimizing-compiler.js';
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

describe('the optimizing compiler, on once the gateway is busy', () => {
  it('turns the compilers on once, in the first window busy for the share, and never again', async () => {
    const flags: string[] = [];
    const enabled: number[] = [];
    const stop = startOptimizingCompilerOnLoad({ windowMs: 5, busyShare: 0.05, startedWithout: true, utilization: scriptedLoop([0.01, 0.03, 0.049, 0.2, 0.9]), setFlags: (f) => flags.push(f), onEnabled: (s) => enabled.push(s) });
    await waitFor(() => enabled.length === 1, 'the compilers turned on');
    // Checked after more windows than the script has: nothing more happens.
    await new Promise((resolve) => setTimeout(resolve, 40));
    stop();
    expect(enabled).toEqual([0.2]);
    expect(flags).toEqual([optimizingCompilerFlags()]);
  });

  it('leaves an idle process alone, and does nothing in one started with them on', async () => {
    const flags: string[] = [];
    const stop = startOptimizingCompilerOnLoad({ windowMs: 2, startedWithout: true, utilization: scriptedLoop([0.015]), setFlags: (f) => flags.push(f) });
    const off = startOptimizingCompilerOnLoad({ windowMs: 2, startedWithout: false, utilization: scriptedLoop([1]), setFlags: (f) => flags.push(f) });
    await new Promise((resolve) => setTimeout(resolve, 40));
    stop();
    off();
    expect(flags).toEqual([]);
    expect(enableOptimizingCompiler({ startedWithout: false, setFlags: (f) => flags.push(f) })).toBe(false);
    expect(enableOptimizingCompiler({ startedWithout: true, setFlags: (f) => flags.push(f) })).toBe(true);
    expect(flags).toEqual([optimizingCompilerFlags()]);
  });

  it('turns Maglev on too where it is V8 default (V8 12, Node.js 22, and later)', () => {
    expect(optimizingCompilerFlags('11.3.244.8-node.33')).toBe('--turbofan');
    expect(optimizingCompilerFlags('12.4.254.21-node.33')).toBe('--turbofan --maglev');
    expect(optimizingCompilerFlags('13.6.233.10-node.28')).toBe('--turbofan --maglev');
  });

  describe('a gateway started by bin/edgewise', () => {
    let gp: GatewayProcess | undefined;
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      await gp?.kill('SIGKILL');
      gp = undefined;
      for (const c of cleanups.splice(0)) await c();
    });

    it('starts interpreted and says when a busy event loop turned the compiler on', async () => {
      const dir = await makeTempDir();
      const broker = await EmbeddedBroker.create({ host: '127.0.0.1', port: 0 });
      cleanups.push(() => broker.close(), () => dir.remove());
      const configPath = join(dir.path, 'gateway.yaml');
      // 2,000 records a second: about 15 % of the interpreted event loop here, 3x the share that turns it on.
      await writeFile(configPath, testGatewayConfig({ id: 'gw-busy', dataDir: join(dir.path, 'data'), url: broker.url, sources: [{ id: 's1', rateHz: 2000 }], sync: false, logLevel: 'info' }));
      const lines: LogLine[] = [];
      gp = GatewayProcess.start(configPath, (l) => lines.push(l), true);
      const on = await waitFor(() => lines.find((l) => l.event === 'gateway.optimizing_compiler'), 'the gateway.optimizing_compiler line', 60_000);
      expect(on['busyShare']).toBeGreaterThanOrEqual(0.05);
      const started = lines.findIndex((l) => l.event === 'gateway.started');
      expect(started).toBeGreaterThanOrEqual(0);
      expect(lines.indexOf(on)).toBeGreaterThan(started);
      expect(await gp.kill('SIGTERM')).toEqual({ code: 0, signal: null });
    }, 90_000);
  });
});
