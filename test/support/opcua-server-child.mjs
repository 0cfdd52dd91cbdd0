// An OPC UA server for the tests (node-opcua-server), run as a child process by test/support/opcua-server.ts.
// Config in env OPCUA_TEST_SERVER (JSON): { port, vars, pkiDir, intervalMs, startTick }.
// Variables ns=1;s=v0..v<vars-1> (Double) all take the value of the tick counter on every tick; the tick
// (and so what was produced) is reported over IPC, so the test knows every change the server made.
// Constants ns=1;s=i64 (Int64 -5) and ns=1;s=u64 (UInt64 2^64 - 5). An AnalogItem ns=1;s=level (Double, EURange 0..200,
// starts at 100) that changes only when told (for percent deadbands, which need an EURange).
// IPC in: 'stop' (clean shutdown, then exit); { id, op: 'set', value } (sets ns=1;s=level); { id, op: 'acceptUnknownClients',
// value } (whether an unknown client certificate is trusted, default true, else put in <pkiDir>/rejected/).
// IPC out: { event: 'started', port, namespaceUri }, { event: 'tick', tick }, { event: 'done', id } after an op,
// { event: 'session', securityMode, securityPolicy } for each session activated (how the client really connected).
import { OPCUAServer } from 'node-opcua-server';
import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import { DataType, MessageSecurityMode, SecurityPolicy, StatusCodes, VariantArrayType } from 'node-opcua-client';

const cfg = JSON.parse(process.env.OPCUA_TEST_SERVER ?? '{}');
const serverCertificateManager = new OPCUACertificateManager({ rootFolder: cfg.pkiDir, automaticallyAcceptUnknownCertificate: true });
const server = new OPCUAServer({
  port: cfg.port,
  hostname: '127.0.0.1',
  resourcePath: '/UA/edgewise-test',
  serverCertificateManager,
  securityModes: [MessageSecurityMode.None, MessageSecurityMode.Sign, MessageSecurityMode.SignAndEncrypt],
  securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
  allowAnonymous: true,
  userManager: { isValidUser: (user, password) => user === 'op' && password === 'secret' },
  buildInfo: { productName: 'edgewise-test' },
});
await server.initialize();
const addressSpace = server.engine.addressSpace;
const ns = addressSpace.getOwnNamespace();
const folder = ns.addFolder(addressSpace.rootFolder.objects, { browseName: 'Line' });
let tick = cfg.startTick ?? 0;
const vars = [];
for (let i = 0; i < cfg.vars; i += 1) {
  vars.push(ns.addVariable({ componentOf: folder, nodeId: `s=v${i}`, browseName: `v${i}`, dataType: 'Double', value: { dataType: DataType.Double, value: tick } }));
}
// Two constants of the 64-bit types, with the same words 0xFFFFFFFF 0xFFFFFFFB: Int64 -5, UInt64 2^64 - 5.
const words = [0xffffffff, 0xfffffffb];
ns.addVariable({ componentOf: folder, nodeId: 's=i64', browseName: 'i64', dataType: 'Int64', value: { dataType: DataType.Int64, arrayType: VariantArrayType.Scalar, value: words } });
ns.addVariable({ componentOf: folder, nodeId: 's=u64', browseName: 'u64', dataType: 'UInt64', value: { dataType: DataType.UInt64, arrayType: VariantArrayType.Scalar, value: words } });
const level = ns.addAnalogDataItem({
  componentOf: folder,
  nodeId: 's=level',
  browseName: 'level',
  dataType: 'Double',
  engineeringUnitsRange: { low: 0, high: 200 },
  // Changes delivered as they happen, not sampled: each one set over IPC reaches every monitored item.
  minimumSamplingInterval: 0,
  value: { dataType: DataType.Double, value: 100 },
});
server.on('session_activated', (session) => {
  const channel = session.channel;
  process.send?.({ event: 'session', securityMode: MessageSecurityMode[channel?.securityMode ?? 0], securityPolicy: String(channel?.securityPolicy ?? '') });
});
await server.start();
process.send?.({ event: 'started', port: cfg.port, tick, namespaceUri: ns.namespaceUri });
const timer = setInterval(() => {
  tick += 1;
  for (const v of vars) v.setValueFromSource({ dataType: DataType.Double, value: tick }, StatusCodes.Good);
  process.send?.({ event: 'tick', tick });
}, cfg.intervalMs ?? 500);
process.on('message', async (m) => {
  if (m === 'stop') {
    clearInterval(timer);
    await server.shutdown(0);
    process.exit(0);
  }
  if (m?.op === 'set') level.setValueFromSource({ dataType: DataType.Double, value: m.value }, StatusCodes.Good);
  else if (m?.op === 'acceptUnknownClients') serverCertificateManager.automaticallyAcceptUnknownCertificate = m.value === true;
  else return;
  process.send?.({ event: 'done', id: m.id });
});
process.on('disconnect', () => process.exit(0));
