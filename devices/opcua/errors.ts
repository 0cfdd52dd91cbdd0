import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** An error of this source with a stable code and a message an operator can act on. */
export class OpcuaError extends Error {
  constructor(
    readonly code: 'E_OPCUA_UNTRUSTED_SERVER' | 'E_OPCUA_SECURITY_CHECKS' | 'E_OPCUA_USER_REFUSED' | 'E_OPCUA_CONNECT' | 'E_OPCUA_SESSION' | 'E_OPCUA_SUBSCRIPTION',
    message: string,
  ) {
    super(message);
    this.name = 'OpcuaError';
  }
}

export interface ErrorContext {
  readonly endpoint: string;
  readonly pkiDir: string;
  readonly user?: { readonly name: string; readonly passwordFile: string } | undefined;
  /** The client's certificate the server was shown (the configured certificateFile, else the one made in pkiDir/own). */
  readonly clientCertificateFile: string;
  /** The server certificate (DER, maybe a chain) our trust check refused during this attempt; undefined when it refused none. */
  readonly refusedServerCertificate?: Buffer | undefined;
}

/** Rejected files looked at for the one that holds the refused certificate (the folder grows with every server ever refused). */
const MAX_REJECTED_FILES = 500;

/** Turns node-opcua's errors into ours: what went wrong, where, and what to do. */
export async function explainError(err: Error, at: ErrorContext): Promise<OpcuaError> {
  if (err instanceof OpcuaError) return err;
  const msg = err.message ?? String(err);
  const trusted = join(at.pkiDir, 'trusted', 'certs');
  const rejected = join(at.pkiDir, 'rejected');
  if (at.refusedServerCertificate !== undefined || /BadCertificateUntrusted|Certificate verification failed/i.test(msg)) {
    // Our side refused the server's certificate: name the rejected file only if it holds that very certificate.
    const file = at.refusedServerCertificate === undefined ? undefined : await rejectedFileOf(rejected, at.refusedServerCertificate);
    return new OpcuaError(
      'E_OPCUA_UNTRUSTED_SERVER',
      `the server certificate of ${at.endpoint} is not trusted (${firstLine(msg)}); ${file === undefined ? `it should be in ${rejected}/ (no file there holds the certificate of this attempt)` : `it was put in ${file}`}: ` +
        `if it is the right server, move it to ${trusted}/ and the source connects on its next attempt`,
    );
  }
  if (/BadSecurityChecksFailed/i.test(msg)) {
    // Our trust check passed (or was not reached): most often the server refused our certificate.
    return new OpcuaError(
      'E_OPCUA_SECURITY_CHECKS',
      `${at.endpoint} closed the secure channel (${firstLine(msg)}): most often the server does not trust this gateway's certificate ` +
        `(${at.clientCertificateFile}): trust it in the server's own configuration (it is usually in the server's rejected list), then the source connects on its next attempt; ` +
        `it can also be a certificate the server finds invalid (expired, wrong application URI or host name) or a security policy it does not allow. ` +
        `This gateway did not refuse the server's certificate on this attempt (nothing new for it in ${rejected}/)`,
    );
  }
  if (/BadUserAccessDenied|BadIdentityTokenInvalid|BadIdentityTokenRejected/i.test(msg)) {
    return new OpcuaError('E_OPCUA_USER_REFUSED', `${at.endpoint} refused user "${at.user?.name ?? '(anonymous)'}" (${firstLine(msg)}): check user.name and the password in ${at.user?.passwordFile ?? '(no user configured)'}`);
  }
  return new OpcuaError('E_OPCUA_CONNECT', `cannot connect to ${at.endpoint}: ${firstLine(msg)}`);
}

export function firstLine(s: string): string {
  // node-opcua's messages carry ANSI colours and multi-line dumps.
  // eslint-disable-next-line no-control-regex
  return (s.split('\n')[0] ?? s).replace(/\u001b\[[0-9;]*m/g, '').trim();
}

/** The file in `dir` (PEM or DER) holding `certificate` (its leaf: the first DER of a chain), else undefined. */
export async function rejectedFileOf(dir: string, certificate: Buffer): Promise<string | undefined> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.pem') || n.endsWith('.der')).slice(0, MAX_REJECTED_FILES);
  } catch {
    return undefined;
  }
  for (const name of names) {
    const file = join(dir, name);
    try {
      const der = derOf(await readFile(file), name);
      if (der.length > 0 && certificate.length >= der.length && certificate.subarray(0, der.length).equals(der)) return file;
    } catch {
      // Unreadable (removed meanwhile): not this one.
    }
  }
  return undefined;
}

function derOf(content: Buffer, name: string): Buffer {
  if (name.endsWith('.der')) return content;
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(content.toString('latin1'));
  return m === null ? Buffer.alloc(0) : Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64');
}
