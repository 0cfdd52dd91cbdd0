import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OPCUAServer } from 'node-opcua-server';

/**
 * An in-process node-opcua server for `edgewise opcua browse` tests: a small folder tree under
 * Objects with typed variables, two of them AnalogItems with EngineeringUnits, the same browse
 * name in two folders (so the --yaml names must be made unique), and a write-only variable.
 *
 *   Objects/Plant (ns=1;s=Plant, folder)
 *     Press1 (object)
 *       Temperature  Double  AnalogItem  °C   rw
 *       Pressure     Float   AnalogItem  bar  r
 *       Running      Boolean                  r
 *       Counts       UInt32[]                 r
 *     Press2 (object)
 *       Temperature  Double  AnalogItem  °C   r
 *       Mode         String                   r
 *       Reset        Boolean                  w (not readable)
 *
 * It offers None and SignAndEncrypt (Basic256Sha256), accepts any client certificate, and
 * keeps its PKI in a temp dir removed by stop(). Listens on 127.0.0.1 on a port the system chose.
 */
export class OpcuaBrowseServer {
  private constructor(
    private readonly server: OPCUAServer,
    private readonly dir: string,
    readonly url: string,
    /** The URI of the namespace the test nodes are in (for nsu= node ids). */
    readonly namespaceUri: string,
  ) {}

  static async start(): Promise<OpcuaBrowseServer> {
    const { OPCUAServer } = await import('node-opcua-server');
    const ua = await import('node-opcua-client');
    const { OPCUACertificateManager } = await import('node-opcua-certificate-manager');
    const dir = mkdtempSync(join(tmpdir(), 'opcua-browse-server-'));
    const serverCertificateManager = new OPCUACertificateManager({ rootFolder: join(dir, 'pki'), automaticallyAcceptUnknownCertificate: true });
    const server = new OPCUAServer({
      port: 0,
      host: '127.0.0.1',
      hostname: '127.0.0.1',
      alternateHostname: ['127.0.0.1'],
      serverCertificateManager,
      securityPolicies: [ua.SecurityPolicy.None, ua.SecurityPolicy.Basic256Sha256],
      securityModes: [ua.MessageSecurityMode.None, ua.MessageSecurityMode.SignAndEncrypt],
      allowAnonymous: true,
      userManager: { isValidUser: (name: string, password: string) => name === 'op' && password === 'secret' },
    });
    let namespaceUri = '';
    try {
      await server.initialize();
      const addressSpace = server.engine.addressSpace;
      if (addressSpace === null) throw new Error('the OPC UA server has no address space after initialize');
      const ns = addressSpace.getOwnNamespace();
      namespaceUri = ns.namespaceUri;
      const plant = ns.addFolder(addressSpace.rootFolder.objects, { browseName: 'Plant', nodeId: 's=Plant' });
      const press1 = ns.addObject({ organizedBy: plant, browseName: 'Press1', nodeId: 's=Press1' });
      const press2 = ns.addObject({ organizedBy: plant, browseName: 'Press2', nodeId: 's=Press2' });
      // node-opcua makes a variable readable and writable unless told otherwise.
      const readOnly = { accessLevel: 'CurrentRead', userAccessLevel: 'CurrentRead' } as const;
      const constant = (dataType: number, value: unknown, arrayType?: number) => ({ get: () => new ua.Variant({ dataType, value, ...(arrayType === undefined ? {} : { arrayType }) }) });
      // UNECE codes (Part 8 §5.6.3), as a PLC's address space gives them.
      const unit = (code: string, text: string, description: string) => ({ namespaceUri: 'http://www.opcfoundation.org/UA/units/un/cefact', unitId: Array.from(code).reduce((id, c) => id * 256 + c.charCodeAt(0), 0), displayName: { text }, description: { text: description } });
      const celsius = unit('CEL', '°C', 'degree Celsius');
      ns.addAnalogDataItem({
        componentOf: press1,
        browseName: 'Temperature',
        nodeId: 's=Press1.Temperature',
        dataType: 'Double',
        engineeringUnits: celsius,
        engineeringUnitsRange: { low: -50, high: 300 },
        accessLevel: 'CurrentRead | CurrentWrite',
        userAccessLevel: 'CurrentRead | CurrentWrite',
        value: constant(ua.DataType.Double, 71.5),
      });
      ns.addAnalogDataItem({
        componentOf: press1,
        browseName: 'Pressure',
        nodeId: 's=Press1.Pressure',
        dataType: 'Float',
        engineeringUnits: unit('BAR', 'bar', 'bar [unit of pressure]'),
        engineeringUnitsRange: { low: 0, high: 400 },
        ...readOnly,
        value: constant(ua.DataType.Float, 212.25),
      });
      ns.addVariable({ componentOf: press1, browseName: 'Running', nodeId: 's=Press1.Running', dataType: 'Boolean', ...readOnly, value: constant(ua.DataType.Boolean, true) });
      ns.addVariable({ componentOf: press1, browseName: 'Counts', nodeId: 's=Press1.Counts', dataType: 'UInt32', ...readOnly, valueRank: 1, arrayDimensions: [3], value: constant(ua.DataType.UInt32, [1, 2, 3], ua.VariantArrayType.Array) });
      ns.addAnalogDataItem({
        componentOf: press2,
        browseName: 'Temperature',
        nodeId: 's=Press2.Temperature',
        dataType: 'Double',
        engineeringUnits: celsius,
        engineeringUnitsRange: { low: -50, high: 300 },
        value: constant(ua.DataType.Double, 64),
      });
      ns.addVariable({ componentOf: press2, browseName: 'Mode', nodeId: 's=Press2.Mode', dataType: 'String', ...readOnly, value: constant(ua.DataType.String, 'auto') });
      ns.addVariable({
        componentOf: press2,
        browseName: 'Reset',
        nodeId: 's=Press2.Reset',
        dataType: 'Boolean',
        accessLevel: 'CurrentWrite',
        userAccessLevel: 'CurrentWrite',
        value: constant(ua.DataType.Boolean, false),
      });
      await server.start();
    } catch (err) {
      await server.shutdown().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const port = server.endpoints[0]?.port;
    if (port === undefined || port === 0) throw new Error('the OPC UA server did not report the port it listens on');
    return new OpcuaBrowseServer(server, dir, `opc.tcp://127.0.0.1:${port}`, namespaceUri);
  }

  /** Where the server keeps its own certificate (PEM): a test compares what the client rejected with it. */
  get certificateFile(): string {
    return join(this.dir, 'pki', 'own', 'certs', 'certificate.pem');
  }

  async stop(): Promise<void> {
    try {
      await this.server.shutdown(0);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
