import { mkdir } from 'node:fs/promises';
import { DELEGATED_ROLE_PATTERN, KeyError, ROLES, generateKey, isKeyRole } from './keys.js';

/** `edgewise keys generate --role ROLE --out DIR` (a top-level role, or a delegated role such as `federated-<task>`): prints the key id; exit 0, or 2 with the reason. */
export async function runKeysGenerate(o: { role: string; out: string }): Promise<number> {
  if (!isKeyRole(o.role)) {
    process.stderr.write(`edgewise keys: --role must be one of ${ROLES.join(', ')} or a delegated role's name (${DELEGATED_ROLE_PATTERN}), got ${JSON.stringify(o.role)}\n`);
    return 2;
  }
  try {
    await mkdir(o.out, { recursive: true, mode: 0o700 });
    const k = await generateKey(o.role, o.out);
    process.stdout.write(`${JSON.stringify({ role: o.role, keyid: k.keyid, private: k.privatePath, public: k.publicPath })}\n`);
    return 0;
  } catch (err) {
    if (err instanceof KeyError) {
      process.stderr.write(`edgewise keys: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
