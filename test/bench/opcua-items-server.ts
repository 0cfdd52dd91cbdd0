import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The server side of `npm run bench -- opcua` (test/bench/opcua-items.ts), run as a child so its
 * CPU is measured apart from the client's: `node opcua-items-server.js N TICK_MS`. N Double
 * variables ns=1;s=v0..v(N-1) under Objects/Line, every one set to a new value each TICK_MS.
 * Prints one JSON line {"event":"ready","url":...,"startMs":...} once it listens on 127.0.0.1, then
 * one {"event":"tick","tick":K,"produced":P,"tickMs":T} per tick: P values set so far (what the
 * clients can receive at most), T how long that tick's loop took (a tick longer than TICK_MS means
 * the server falls behind its own schedule). SIGTERM shuts it down and removes its PKI folder.
 */
const [nText = '10000', tickText = '1000'] = process.argv.slice(2);
const n = Number(nText);
const tickMs = Number(tickText);
const t0 = performance.now();
const { OPCUAServer } = await import('node-opcua-server');
const { OPCUACertificateManager } = await import('node-opcua-certificate-manager');
const { DataType, StatusCodes } = await import('node-opcua-client');
const dir = mkdtempSync(join(tmpdir(), 'opcua-bench-server-'));
const server = new OPCUAServer({
  port: 0,
  host: '127.0.0.1',
  hostname: '127.0.0.1',
  alternateHostname: ['127.0.0.1'],
  serverCertificateManager: new OPCUACertificateManager({ rootFolder: join(dir, 'pki'), automaticallyAcceptUnknownCertificate: true }),
  allowAnonymous: true,
  serverCapabilities: { maxMonitoredItems: 2 * n + 1000, maxMonitoredItemsPerSubscription: 2 * n + 1000, maxMonitoredItemsPerCall: 2 * n + 1000 } as never,
});
await server.initialize();
const addressSpace = server.engine.addressSpace;
if (addressSpace === null) throw new Error('no address space');
const ns = addressSpace.getOwnNamespace();
const folder = ns.addFolder(addressSpace.rootFolder.objects, { browseName: 'Line' });
const vars = Array.from({ length: n }, (_, i) => ns.addVariable({ componentOf: folder, nodeId: `s=v${i}`, browseName: `v${i}`, dataType: 'Double', minimumSamplingInterval: tickMs, value: { dataType: DataType.Double, value: 0 } }));
await server.start();
const port = server.endpoints[0]?.port;
process.stdout.write(`${JSON.stringify({ event: 'ready', url: `opc.tcp://127.0.0.1:${port}`, items: n, startMs: Math.round(performance.now() - t0) })}\n`);
let tick = 0;
let produced = 0;
const timer = setInterval(() => {
  tick += 1;
  const t = performance.now();
  for (const v of vars) v.setValueFromSource({ dataType: DataType.Double, value: tick }, StatusCodes.Good);
  produced += vars.length;
  process.stdout.write(`${JSON.stringify({ event: 'tick', tick, produced, tickMs: Math.round(performance.now() - t) })}\n`);
}, tickMs);
process.once('SIGTERM', () => {
  clearInterval(timer);
  void server.shutdown(0).finally(() => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
});
