import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { testGatewayConfig } from '../../support/gateway-config.js';
import { CLI, assertBuilt } from '../../support/gateway-process.js';
import { makeTempDir } from '../../support/temp-dir.js';
import { waitFor } from '../../support/wait-for.js';

/**
 * An ESM loader hook for the child: appends every module URL it loads to the file named by
 * EDGEWISE_TEST_MODULES (packages imported from ESM show up by their entry file). Twice a
 * second it also writes what CommonJS has cached and which of Node's own modules are loaded
 * to that file's name plus '.loaded' (JSON).
 */
const HOOK = `
import { createRequire, register } from 'node:module';
import { renameSync, writeFileSync } from 'node:fs';
const out = process.env.EDGEWISE_TEST_MODULES;
register('data:text/javascript,' + encodeURIComponent(\`
import { appendFileSync } from 'node:fs';
export async function load(url, context, next) { appendFileSync(\${JSON.stringify(out)}, url + '\\\\n'); return next(url, context); }\`));
const cache = createRequire(import.meta.url).cache;
setInterval(() => {
  writeFileSync(out + '.tmp', JSON.stringify({ cjs: Object.keys(cache), builtins: process.moduleLoadList }));
  renameSync(out + '.tmp', out + '.loaded');
}, 500).unref();
`;

describe('what an idle gateway loads', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('a gateway with only a synthetic source loads no camera, vision, anomaly, updater or ONNX Runtime code', async () => {
    assertBuilt();
    const tmp = await makeTempDir();
    cleanups.push(() => tmp.remove());
    const configPath = `${tmp.path}/gw.yaml`;
    const modulesFile = `${tmp.path}/modules.txt`;
    await writeFile(`${tmp.path}/hook.mjs`, HOOK);
    await writeFile(modulesFile, '');
    // No broker: the uplink retries in the background, which is all this test needs.
    await writeFile(configPath, testGatewayConfig({ id: 'gw-lazy', dataDir: `${tmp.path}/data`, url: 'mqtt://127.0.0.1:1', sources: [{ id: 'press-1', rateHz: 10 }], logLevel: 'info' }));
    const child = spawn(process.execPath, ['--import', pathToFileURL(`${tmp.path}/hook.mjs`).href, CLI, 'gateway', '--config', configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, EDGEWISE_TEST_MODULES: modulesFile },
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    });
    let started = false;
    let probed = false;
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.includes('"event":"gateway.started"')) started = true;
      if (line.includes('"event":"engine.probe')) probed = true;
    });
    await waitFor(() => started, 'the gateway to start');
    // The hardware probe (ONNX Runtime in a child process) has answered: what it loads is loaded.
    await waitFor(() => probed, 'the hardware probe to answer');
    // The hook writes its snapshot of loaded modules twice a second: wait for one taken after the probe.
    const probedAt = Date.now();
    await waitFor(() => existsSync(`${modulesFile}.loaded`) && statSync(`${modulesFile}.loaded`).mtimeMs >= probedAt, 'a module snapshot after the probe');

    const modules = (await readFile(modulesFile, 'utf8')).split('\n').filter((l) => l !== '');
    const maps = readFileSync(`/proc/${child.pid as number}/maps`, 'utf8');
    expect(modules.some((m) => m.endsWith('/dist/devices/synthetic/index.js'))).toBe(true);
    for (const implementation of [
      '/dist/devices/camera/camera-source.js',
      '/dist/models/vision/vision-stage.js',
      '/dist/models/vision/stage-factory.js',
      '/dist/models/anomaly/anomaly-stage.js',
      '/dist/runtime/updater/service.js',
      '/node_modules/tuf-js/',
      '/node_modules/onnxruntime-node/',
      '/node_modules/node-webcodecs/',
      // Issue 20's plug-ins: a gateway without such a source or uplink loads none of them.
      '/node_modules/modbus-serial/',
      '/node_modules/node-opcua',
      '/dist/devices/opcua/client.js',
      '/node_modules/sparkplug-payload/',
      '/dist/runtime/uplink/sparkplug/edge-node.js',
    ]) {
      expect(modules.filter((m) => m.includes(implementation))).toEqual([]);
    }
    // Native libraries mapped into the process (serialport's binding is still loaded: the
    // serial-sensor plug-in imports its implementation eagerly).
    expect(maps).not.toMatch(/onnxruntime/);
    expect(maps).not.toMatch(/webcodecs/);

    // What only rare paths need (README, "Where an idle gateway's memory goes"): mqtt.js's
    // index and its WebSocket and SOCKS transports (the uplink builds its own TCP stream),
    // prom-client's index (its Pushgateway loads http, https and zlib), the health server
    // (no health.listen here); commander and yaml are dropped once used (require-once.ts).
    for (const entry of ['/node_modules/mqtt/build/index.js', '/node_modules/prom-client/index.js', '/dist/runtime/health/health-server.js', '/node_modules/commander/', '/node_modules/yaml/']) {
      expect(modules.filter((m) => m.includes(entry))).toEqual([]);
    }
    const loaded = JSON.parse(await readFile(`${modulesFile}.loaded`, 'utf8')) as { cjs: string[]; builtins: string[] };
    expect(loaded.cjs.some((m) => m.includes('/node_modules/mqtt/build/lib/client.js'))).toBe(true);
    for (const pkg of ['ws', 'socks', 'commander', 'yaml']) {
      expect(loaded.cjs.filter((m) => m.includes(`/node_modules/${pkg}/`))).toEqual([]);
    }
    for (const builtin of ['http', 'https', 'tls', 'zlib']) {
      expect(loaded.builtins).not.toContain(`NativeModule ${builtin}`);
    }
  }, 30_000);
});
