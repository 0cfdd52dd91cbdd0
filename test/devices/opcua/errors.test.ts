import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainError } from '../../../devices/opcua/errors.js';
import { makeTempDir } from '../../support/temp-dir.js';

const pem = (der: Buffer): string => `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n-----END CERTIFICATE-----\n`;

// explainError alone (one function, no server): what a refused secure channel says and which rejected file it names.
describe('opcua connect errors', () => {
  let dir: { path: string; remove: () => Promise<void> };
  let pki: string;
  const oldCert = Buffer.from('an old server certificate, DER bytes stand-in');
  const thisCert = Buffer.from('the certificate of the server of this attempt');
  const at = () => ({ endpoint: 'opc.tcp://plc:4840', pkiDir: pki, clientCertificateFile: join(pki, 'own', 'certs', 'client_certificate.pem') });

  beforeAll(async () => {
    dir = await makeTempDir('edgewise-opcua-errors-');
    pki = join(dir.path, 'pki');
    await mkdir(join(pki, 'rejected'), { recursive: true });
    // The old one is the newest file: picking by time would name it.
    await writeFile(join(pki, 'rejected', 'old.pem'), pem(oldCert));
    await utimes(join(pki, 'rejected', 'old.pem'), new Date(Date.now() + 60_000), new Date(Date.now() + 60_000));
    await writeFile(join(pki, 'rejected', 'this.pem'), pem(thisCert));
  });
  afterAll(async () => {
    await dir?.remove();
  });

  it('BadSecurityChecksFailed with no refusal of ours: says the server most likely refused our certificate (naming it), the other causes, and names no rejected file', async () => {
    const e = await explainError(new Error('The connection has been rejected by server,\nErr = (BadSecurityChecksFailed)'), at());
    expect(e.code).toBe('E_OPCUA_SECURITY_CHECKS');
    expect(e.message).toContain("most often the server does not trust this gateway's certificate");
    expect(e.message).toContain(join(pki, 'own', 'certs', 'client_certificate.pem'));
    expect(e.message).toContain('This gateway did not refuse the server');
    expect(e.message).not.toContain('old.pem');
    expect(e.message).not.toContain('this.pem');
  });

  it('our refusal names the rejected file holding the certificate of this attempt (by content, also a chain), never another', async () => {
    const e = await explainError(new Error('server Certificate verification failed with err BadCertificateUntrusted'), { ...at(), refusedServerCertificate: Buffer.concat([thisCert, Buffer.from('issuer DER')]) });
    expect(e.code).toBe('E_OPCUA_UNTRUSTED_SERVER');
    expect(e.message).toContain(`it was put in ${join(pki, 'rejected', 'this.pem')}`);
    expect(e.message).not.toContain('old.pem');
    const none = await explainError(new Error('server Certificate verification failed with err BadCertificateUntrusted'), { ...at(), refusedServerCertificate: Buffer.from('a certificate not in the folder') });
    expect(none.message).toContain(`it should be in ${join(pki, 'rejected')}/ (no file there holds the certificate of this attempt)`);
    expect(none.message).not.toContain('old.pem');
  });
});
