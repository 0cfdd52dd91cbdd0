import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** An error of this source with a stable code and a message an operator can act on. */
export class OpcuaError extends Error {
  constructor(
    readonly code: 'E_OPCUA_UNTRUSTED_SERVER' | 'E_OPCUA_USER_REFUSED' | 'E_OPCUA_CONNECT' | 'E_OPCUA_SESSION' | 'E_OPCUA_SUBSCRIPTION',
    message: string,
  ) {
    super(message);
    this.name = 'OpcuaError';
  }
}

/** Turns node-opcua's errors into ours: what went wrong, where, and what to do. */
export async function explainError(err: Error, at: { readonly endpoint: string; readonly pkiDir: string; readonly user?: { readonly name: string; readonly passwordFile: string } | undefined }): Promise<OpcuaError> {
  if (err instanceof OpcuaError) return err;
  const msg = err.message ?? String(err);
  if (/BadCertificateUntrusted|BadSecurityChecksFailed|Certificate verification failed/i.test(msg)) {
    const rejected = join(at.pkiDir, 'rejected');
    const file = await newestFile(rejected);
    return new OpcuaError(
      'E_OPCUA_UNTRUSTED_SERVER',
      `the server certificate of ${at.endpoint} is not trusted (${firstLine(msg)}); it was put in ${file ?? rejected}: ` +
        `if it is the right server, move it to ${join(at.pkiDir, 'trusted', 'certs')}/ and the source connects on its next attempt`,
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

async function newestFile(dir: string): Promise<string | undefined> {
  try {
    let best: { file: string; at: number } | undefined;
    for (const name of await readdir(dir)) {
      const file = join(dir, name);
      const at = (await stat(file)).mtimeMs;
      if (best === undefined || at > best.at) best = { file, at };
    }
    return best?.file;
  } catch {
    return undefined;
  }
}
