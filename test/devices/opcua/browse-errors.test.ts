import { describe, expect, it } from 'vitest';
import { explainConnectError, type BrowseOptions } from '../../../devices/opcua/browse.js';

// explainConnectError alone (no server): the words and codes `edgewise opcua browse` gives a refused connection.
describe('opcua browse connect errors', () => {
  const opts: BrowseOptions = { url: 'opc.tcp://plc:4840', depth: 3, maxNodes: 2000, security: 'SignAndEncrypt', policy: 'Basic256Sha256', pkiDir: '/tmp/edgewise-no-such-pki', timeoutMs: 5000, applicationName: 'edgewise-browse' };

  it('BadSecurityChecksFailed: the server most likely refused our certificate, named, with the other causes (exit 1)', () => {
    const e = explainConnectError(new Error('The connection may have been rejected by server, Err = (BadSecurityChecksFailed (0x80130000))'), opts, new Set());
    expect(e.code).toBe('E_OPCUA_SECURITY_CHECKS');
    expect(e.message).toContain('does not trust this client\'s certificate (/tmp/edgewise-no-such-pki/own/certs/client_certificate.pem)');
    expect(e.message).toMatch(/invalid.*security policy/);
    expect(e.exitCode).toBe(1);
  });

  it('a rejected security mode or policy stays E_OPCUA_SECURITY', () => {
    expect(explainConnectError(new Error('BadSecurityPolicyRejected (0x80550000)'), opts, new Set()).code).toBe('E_OPCUA_SECURITY');
  });
});
