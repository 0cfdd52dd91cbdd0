import { OPCUACertificateManager } from 'node-opcua-certificate-manager';
import { MessageSecurityMode, OPCUAClient, SecurityPolicy, UserTokenType, type ClientSession, type StatusCode, type UserIdentityInfo } from 'node-opcua-client';
import type { OpcuaConfig } from './schema.js';

/** The configured security mode and policy, with their defaults (Basic256Sha256 when signing). */
export function securityOf(o: OpcuaConfig) {
  const mode = o.security?.mode ?? 'None';
  return { mode, policy: o.security?.policy ?? (mode === 'None' ? 'None' : 'Basic256Sha256') };
}

/**
 * node-opcua's client for one connect attempt, with its own certificate manager on `pkiDir`
 * (read afresh: a certificate the operator moved to trusted/ counts on the next attempt).
 * `refused` is told each server certificate our trust check refused, so the error can name the
 * rejected file holding that very certificate.
 */
export async function createClient(o: OpcuaConfig, pkiDir: string, refused: (certificate: Buffer | undefined) => void): Promise<OPCUAClient> {
  const { mode, policy } = securityOf(o);
  const clientCertificateManager = new OPCUACertificateManager({ rootFolder: pkiDir, automaticallyAcceptUnknownCertificate: false });
  await clientCertificateManager.initialize();
  const check = clientCertificateManager.checkCertificate.bind(clientCertificateManager) as (c: Buffer | Buffer[]) => Promise<StatusCode>;
  (clientCertificateManager as unknown as { checkCertificate: (c: Buffer | Buffer[]) => Promise<StatusCode> }).checkCertificate = async (c) => {
    const status = await check(c);
    if (!status.isGood()) refused(Array.isArray(c) ? c[0] : c);
    return status;
  };
  return OPCUAClient.create({
    applicationName: `edgewise-${o.id}`,
    // The server advertises its own host name; we connect to the address the config gives.
    endpointMustExist: false,
    clientCertificateManager,
    ...(o.security?.certificateFile !== undefined ? { certificateFile: o.security.certificateFile, privateKeyFile: o.security.privateKeyFile } : {}),
    securityMode: MessageSecurityMode[mode],
    securityPolicy: SecurityPolicy[policy],
    // No retry inside connect(): our loop retries and explains; afterwards node-opcua reconnects forever.
    connectionStrategy: { maxRetry: 0, initialDelay: o.reconnect?.minDelayMs ?? 1000, maxDelay: o.reconnect?.maxDelayMs ?? 30_000 },
    transportTimeout: o.connectTimeoutMs ?? 10_000,
    keepSessionAlive: true,
    requestedSessionTimeout: o.sessionTimeoutMs ?? 60_000,
  });
}

/**
 * Connects `client` and opens a session as the configured user (anonymous without one). Once
 * connected, node-opcua is left to repair a lost connection for ever: `maxRetry` is a private
 * field its reconnection reads (README, "When upgrading node-opcua").
 */
export async function openSession(client: OPCUAClient, o: OpcuaConfig, password: string | undefined): Promise<ClientSession> {
  await client.connect(o.endpoint);
  (client as unknown as { connectionStrategy: { maxRetry: number } }).connectionStrategy.maxRetry = -1;
  const identity: UserIdentityInfo = o.user === undefined ? { type: UserTokenType.Anonymous } : { type: UserTokenType.UserName, userName: o.user.name, password: password ?? '' };
  return client.createSession(identity);
}
