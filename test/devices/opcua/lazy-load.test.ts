import { createRequire } from 'node:module';
import { pino } from 'pino';
import { expect, it } from 'vitest';
import { parseConfig } from '../../../runtime/config/load.js';
import { Gateway } from '../../../runtime/gateway.js';
import { builtinRegistry } from '../../../runtime/plugins.js';
import { testGatewayConfig } from '../../support/gateway-config.js';
import { makeTempDir } from '../../support/temp-dir.js';

// node-opcua is CommonJS: whatever of it was loaded (even through import()) is in the CommonJS module cache.
const loadedOpcua = (): string[] => Object.keys(createRequire(import.meta.url).cache).filter((f) => f.includes('/node_modules/node-opcua'));

// Its own file: vitest runs each file in a fresh process, so nothing else loaded node-opcua before.
it('a gateway without an opcua source never loads node-opcua; one with an opcua source does', { timeout: 60_000 }, async () => {
  const dir = await makeTempDir();
  try {
    const registry = builtinRegistry();
    const plain = testGatewayConfig({ id: 'gw-plain', dataDir: `${dir.path}/plain`, url: 'mqtt://127.0.0.1:1', sources: [{ id: 's1', rateHz: 10 }] });
    const gw = await Gateway.create(parseConfig(plain, 'plain.yaml', registry), registry, { logger: pino({ level: 'silent' }) });
    await gw.start();
    await gw.stop();
    expect(loadedOpcua()).toEqual([]);

    // The control: creating an opcua source (its server need not exist) loads the library.
    const withOpcua = testGatewayConfig({
      id: 'gw-opcua',
      dataDir: `${dir.path}/opcua`,
      url: 'mqtt://127.0.0.1:1',
      extra: '',
    }).replace(
      'devices: []',
      `devices:
  - id: press
    type: opcua
    endpoint: opc.tcp://127.0.0.1:1/UA/none
    subscriptions: [{ name: fast, items: [{ nodeId: "ns=1;s=v0", name: v0 }] }]`,
    );
    const gw2 = await Gateway.create(parseConfig(withOpcua, 'opcua.yaml', registry), registry, { logger: pino({ level: 'silent' }) });
    await gw2.start();
    expect(loadedOpcua().some((f) => f.includes('/node-opcua-client/'))).toBe(true);
    await gw2.stop();
  } finally {
    await dir.remove();
  }
});
