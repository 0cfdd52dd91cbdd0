import { readFile } from 'node:fs/promises';
import { RtspError } from './errors.js';

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** A credentials file is one short line; anything larger is not one. */
const MAX_FILE_BYTES = 4096;

/**
 * Reads a camera's credentials file: one line `user:password`, the form of a URL's user
 * info and of `curl -u` (the password may contain `:`; a trailing newline is ignored). It is
 * read again before every connection, so a rotated password takes effect at the next
 * reconnect. Errors name the file, never its content.
 */
export async function readCredentialsFile(path: string): Promise<Credentials> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new RtspError('E_RTSP_CREDENTIALS', `cannot read the credentials file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseCredentials(bytes, path);
}

export function parseCredentials(bytes: Uint8Array, path: string): Credentials {
  if (bytes.length > MAX_FILE_BYTES) throw new RtspError('E_RTSP_CREDENTIALS', `the credentials file ${path} is ${bytes.length} bytes; expected one line user:password`);
  const text = Buffer.from(bytes).toString('utf8').replace(/\r?\n$/, '');
  if (/[\r\n]/.test(text)) throw new RtspError('E_RTSP_CREDENTIALS', `the credentials file ${path} has more than one line; expected one line user:password`);
  const colon = text.indexOf(':');
  if (colon <= 0) throw new RtspError('E_RTSP_CREDENTIALS', `the credentials file ${path} is not user:password (${colon < 0 ? 'no ":"' : 'the user is empty'})`);
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}
