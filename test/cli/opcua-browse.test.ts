import { mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { runOpcuaBrowse, type OpcuaBrowseCommandOptions } from '../../cli/opcua-command.js';
import { OpcuaBrowseServer } from '../support/opcua-browse-server.js';
import { listenOnLoopback } from '../support/ports.js';
import { edgewise } from './edgewise-command.js';

/**
 * `edgewise opcua browse` against a node-opcua server in this process (test/support/opcua-browse-server.ts).
 * One server and one client PKI folder for the whole file: the client's certificate is made once
 * (about a second of CPU), and each browse runs in this process except the one that proves the
 * command line end to end (bin/edgewise, --yaml).
 */
let server: OpcuaBrowseServer;
let dir: string;
let pki: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'opcua-browse-'));
  pki = join(dir, 'pki');
  server = await OpcuaBrowseServer.start();
});

afterAll(async () => {
  await server?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const defaults = (): OpcuaBrowseCommandOptions => ({ depth: 3, maxNodes: 2000, security: 'None', policy: 'Basic256Sha256', pki, timeoutMs: 10_000, yaml: false, verbose: false });

async function browse(url: string, o: Partial<OpcuaBrowseCommandOptions> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runOpcuaBrowse(url, { ...defaults(), ...o }, { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

/** The line of the tree whose first word (after the indent) is `name` and that names `nodeId`. */
function lineOf(stdout: string, nodeId: string): string {
  const line = stdout.split('\n').find((l) => l.split('  ').includes(nodeId));
  if (line === undefined) throw new Error(`no line for ${nodeId} in:\n${stdout}`);
  return line;
}

describe('edgewise opcua browse', () => {
  it('prints the tree under Objects with data types, value ranks, access levels and engineering units', async () => {
    const r = await browse(server.url);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(lineOf(r.stdout, 'ns=0;i=85')).toBe('Objects  ns=0;i=85  Object');
    expect(lineOf(r.stdout, 'ns=1;s=Plant')).toBe('  Plant  ns=1;s=Plant  Object');
    expect(lineOf(r.stdout, 'ns=1;s=Press1')).toBe('    Press1  ns=1;s=Press1  Object');
    expect(lineOf(r.stdout, 'ns=1;s=Press1.Temperature')).toBe('      Temperature  ns=1;s=Press1.Temperature  Double  rw  °C  [-50, 300]');
    expect(lineOf(r.stdout, 'ns=1;s=Press1.Pressure')).toBe('      Pressure  ns=1;s=Press1.Pressure  Float  r  bar  [0, 400]');
    expect(lineOf(r.stdout, 'ns=1;s=Press1.Counts')).toBe('      Counts  ns=1;s=Press1.Counts  UInt32[]  r');
    expect(lineOf(r.stdout, 'ns=1;s=Press2.Reset')).toBe('      Reset  ns=1;s=Press2.Reset  Boolean  w');
    // The properties that carry the units are folded into their variable's line, not listed.
    expect(r.stdout).not.toContain('EngineeringUnits');
    // The server's own Server object (diagnostics, hundreds of nodes) is named, not walked.
    expect(r.stdout).toContain("(not shown: Server ns=0;i=2253, the server's own objects; browse it with --node 'ns=0;i=2253')");
    expect(r.stdout.trim().split('\n').at(-1)).toBe('11 nodes, 7 variables, depth 3');
  });

  it('prints with --yaml (bin/edgewise) the items of a subscription: readable numeric scalars, names unique, units kept, the rest named with the reason', async () => {
    const r = await edgewise(['opcua', 'browse', server.url, '--yaml', '--pki', pki], 60_000);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(parse(r.stdout)).toEqual({
      items: [
        { nodeId: 'ns=1;s=Press1.Temperature', name: 'Temperature', unit: '°C' },
        { nodeId: 'ns=1;s=Press1.Pressure', name: 'Pressure', unit: 'bar' },
        { nodeId: 'ns=1;s=Press1.Running', name: 'Running' },
        { nodeId: 'ns=1;s=Press2.Temperature', name: 'Press2_Temperature', unit: '°C' },
      ],
    });
    expect(r.stdout).toContain(
      ['# 3 variables left out:', '#   Counts ns=1;s=Press1.Counts: not a scalar (UInt32[])', '#   Mode ns=1;s=Press2.Mode: not a number (String)', '#   Reset ns=1;s=Press2.Reset: not readable'].join('\n'),
    );
  });

  it('starts at --node (ns= or nsu= form) and stops at --depth and --max-nodes, saying so', async () => {
    const byIndex = await browse(server.url, { node: 'ns=1;s=Press2', depth: 1 });
    expect(byIndex.code).toBe(0);
    expect(byIndex.stdout.split('\n').map((l) => l.split('  ns=')[0])).toEqual(['Press2', '  Temperature', '  Mode', '  Reset', '4 nodes, 3 variables, depth 1', '']);
    const byUri = await browse(server.url, { node: `nsu=${server.namespaceUri};s=Press2`, depth: 1 });
    expect(byUri.stdout).toBe(byIndex.stdout);

    const shallow = await browse(server.url, { depth: 2 });
    expect(lineOf(shallow.stdout, 'ns=1;s=Press1')).toBe('    Press1  ns=1;s=Press1  Object  (more below: raise --depth or browse it with --node)');

    const capped = await browse(server.url, { maxNodes: 4 });
    expect(capped.code).toBe(0);
    expect(capped.stdout.trim().split('\n').at(-1)).toBe('4 nodes, 0 variables, depth 3; stopped at 4 nodes (--max-nodes): narrow with --node or --depth');
  });

  it('refuses a bad node id before connecting, and a node the server does not have, with exit 2', async () => {
    const bad = await browse(server.url, { node: 'ns=1;x=Press2' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: --node: "ns=1;x=Press2" is not a node id: the identifier must start with i=, s=, g= or b= \(expected ns=2;s=Line1\.Temperature, .*\) \[E_OPCUA_NODE_ID\]\n$/);
    const unknown = await browse(server.url, { node: 'ns=1;s=Press9' });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('error: --node: the server has no node ns=1;s=Press9 (BadNodeIdUnknown); browse its parent to see the ids it has [E_OPCUA_NODE_UNKNOWN]\n');
    const nsu = await browse(server.url, { node: 'nsu=urn:nobody;s=Press2' });
    expect(nsu.code).toBe(2);
    expect(nsu.stderr).toContain('error: --node: the server has no namespace "urn:nobody"; it has: 0 http://opcfoundation.org/UA/, 1 ');
  });

  it('says an endpoint cannot be reached (exit 1) and a URL that is not opc.tcp (exit 2)', async () => {
    const closed = createServer();
    const port = await listenOnLoopback(closed);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await browse(`opc.tcp://127.0.0.1:${port}`, { timeoutMs: 5_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^error: cannot reach opc\\.tcp://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.*check the host, the port \\(4840 is the OPC UA default\\) and that the server runs \\[E_OPCUA_UNREACHABLE\\]\\n$`));
    const http = await browse('http://127.0.0.1:4840');
    expect(http).toEqual({ code: 2, stdout: '', stderr: 'error: URL: expected opc.tcp://host:port, got "http://127.0.0.1:4840"\n' });
  });

  it('refuses an untrusted server certificate saying where it was put and how to trust it; once moved to trusted/ it browses with SignAndEncrypt and a user', async () => {
    const passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, 'secret\n');
    const secure = { security: 'SignAndEncrypt', user: 'op', passwordFile, node: 'ns=1;s=Press1', depth: 1 } as const;
    const refused = await browse(server.url, secure);
    expect(refused.code).toBe(1);
    const rejected = readdirSync(join(pki, 'rejected')).filter((f) => f.endsWith('.pem'));
    expect(rejected).toHaveLength(1);
    const file = join(pki, 'rejected', rejected[0] as string);
    expect(refused.stderr).toBe(
      `error: the server's certificate was refused (BadCertificateUntrusted); it was saved as ${file}. If this is the server you mean (compare the thumbprint in the file name with the one the server's own configuration shows), trust it: mv '${file}' '${join(pki, 'trusted', 'certs')}/', then run again. [E_OPCUA_UNTRUSTED_SERVER]\n`,
    );
    renameSync(file, join(pki, 'trusted', 'certs', basename(file)));
    const ok = await browse(server.url, secure);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(lineOf(ok.stdout, 'ns=1;s=Press1.Temperature')).toContain('Double  rw  °C');

    writeFileSync(passwordFile, 'wrong\n');
    const denied = await browse(server.url, secure);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/^error: opc\.tcp:\/\/127\.0\.0\.1:\d+ refused the session \(BadUserAccessDenied\): check the user name "op" and its password file \[E_OPCUA_USER_REFUSED\]\n$/);
  });
});
