import { createHash, randomBytes } from 'node:crypto';
import type { Credentials } from './credentials.js';

/**
 * HTTP authentication as RTSP cameras use it (RFC 2326 borrows it from HTTP): Basic
 * (RFC 7617) and Digest (RFC 2617, RFC 7616) with MD5 or SHA-256, `-sess` variants, and
 * qop `auth` or none. The client answers a 401's challenge and keeps answering each later
 * request with the same nonce and an increasing nonce count, as cameras expect.
 */

export interface Challenge {
  /** Lower case: `basic`, `digest`, ... */
  readonly scheme: string;
  /** Parameter names in lower case; values unquoted. */
  readonly params: Readonly<Record<string, string>>;
}

/** Parses the values of every `WWW-Authenticate` header of a response into challenges. */
export function parseChallenges(headerValues: readonly string[]): Challenge[] {
  const out: Challenge[] = [];
  for (const value of headerValues) {
    let i = 0;
    let current: { scheme: string; params: Record<string, string> } | undefined;
    const skip = (re: RegExp): void => {
      while (i < value.length && re.test(value[i]!)) i += 1;
    };
    while (i < value.length) {
      skip(/[\s,]/);
      const tokenStart = i;
      skip(/[^\s,=]/);
      const token = value.slice(tokenStart, i);
      if (token === '') break;
      skip(/\s/);
      if (value[i] === '=' && current !== undefined) {
        i += 1;
        skip(/\s/);
        let v = '';
        if (value[i] === '"') {
          i += 1;
          while (i < value.length && value[i] !== '"') {
            if (value[i] === '\\' && i + 1 < value.length) i += 1;
            v += value[i];
            i += 1;
          }
          i += 1;
        } else {
          const vStart = i;
          skip(/[^\s,]/);
          v = value.slice(vStart, i);
        }
        current.params[token.toLowerCase()] = v;
      } else {
        // A token not followed by `=` starts a new challenge (a header may carry several).
        current = { scheme: token.toLowerCase(), params: {} };
        out.push(current);
      }
    }
  }
  return out;
}

type DigestAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess';
const HASHES: Readonly<Record<string, { alg: DigestAlgorithm; hash: 'md5' | 'sha256'; rank: number }>> = {
  md5: { alg: 'MD5', hash: 'md5', rank: 2 },
  'md5-sess': { alg: 'MD5-sess', hash: 'md5', rank: 2 },
  'sha-256': { alg: 'SHA-256', hash: 'sha256', rank: 3 },
  'sha-256-sess': { alg: 'SHA-256-sess', hash: 'sha256', rank: 3 },
};

export interface DigestInput {
  readonly user: string;
  readonly password: string;
  readonly realm: string;
  readonly nonce: string;
  readonly method: string;
  readonly uri: string;
  readonly algorithm: DigestAlgorithm;
  /** `auth`, `auth-int` (over an empty body: RTSP requests here carry none), or undefined (RFC 2069 style). */
  readonly qop?: 'auth' | 'auth-int' | undefined;
  readonly nc?: string;
  readonly cnonce?: string;
}

/** The `response` value of a Digest answer (RFC 7616 3.4.1). */
export function digestResponse(d: DigestInput): string {
  const hashName = HASHES[d.algorithm.toLowerCase()]!.hash;
  const h = (s: string): string => createHash(hashName).update(s, 'utf8').digest('hex');
  let ha1 = h(`${d.user}:${d.realm}:${d.password}`);
  if (d.algorithm.endsWith('-sess')) ha1 = h(`${ha1}:${d.nonce}:${d.cnonce ?? ''}`);
  const ha2 = d.qop === 'auth-int' ? h(`${d.method}:${d.uri}:${h('')}`) : h(`${d.method}:${d.uri}`);
  return d.qop === undefined ? h(`${ha1}:${d.nonce}:${ha2}`) : h(`${ha1}:${d.nonce}:${d.nc ?? ''}:${d.cnonce ?? ''}:${d.qop}:${ha2}`);
}

const quote = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`;

/**
 * Answers challenges for one connection. `authorization()` is undefined until a 401 came:
 * credentials are never sent to a server that did not ask (Basic would send the password
 * in clear text to anyone on the path).
 */
export class Authenticator {
  private chosen: Challenge | undefined;
  private nc = 0;

  constructor(private readonly credentials: Credentials) {}

  /** The scheme in use (`Digest SHA-256`, `Basic`), for messages. */
  get scheme(): string | undefined {
    if (this.chosen === undefined) return undefined;
    return this.chosen.scheme === 'basic' ? 'Basic' : `Digest ${HASHES[(this.chosen.params['algorithm'] ?? 'md5').toLowerCase()]?.alg ?? ''}`;
  }

  /**
   * Takes the challenges of a 401. Returns false when none is usable (an unknown scheme or
   * algorithm, or Digest asking only for qop values we do not speak). The strongest usable
   * one wins: Digest SHA-256, then Digest MD5, then Basic.
   */
  accept(challenges: readonly Challenge[]): boolean {
    let best: { c: Challenge; rank: number } | undefined;
    for (const c of challenges) {
      const rank = this.rank(c);
      if (rank > 0 && (best === undefined || rank > best.rank)) best = { c, rank };
    }
    if (best === undefined) return false;
    if (best.c.params['nonce'] !== this.chosen?.params['nonce']) this.nc = 0;
    this.chosen = best.c;
    return true;
  }

  /** The `Authorization` value for a request, or undefined before any challenge. */
  authorization(method: string, uri: string): string | undefined {
    const c = this.chosen;
    if (c === undefined) return undefined;
    const { user, password } = this.credentials;
    if (c.scheme === 'basic') return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
    const p = c.params;
    const algorithm = HASHES[(p['algorithm'] ?? 'md5').toLowerCase()]!.alg;
    const qop = pickQop(p['qop']);
    this.nc += 1;
    const nc = this.nc.toString(16).padStart(8, '0');
    const cnonce = randomBytes(12).toString('hex');
    const realm = p['realm'] ?? '';
    const nonce = p['nonce'] ?? '';
    const response = digestResponse({ user, password, realm, nonce, method, uri, algorithm, qop, nc, cnonce });
    const fields = [`username=${quote(user)}`, `realm=${quote(realm)}`, `nonce=${quote(nonce)}`, `uri=${quote(uri)}`, `response=${quote(response)}`];
    // Sent only when the server named it: some cameras refuse an algorithm field they did not send.
    if (p['algorithm'] !== undefined) fields.push(`algorithm=${algorithm}`);
    if (p['opaque'] !== undefined) fields.push(`opaque=${quote(p['opaque'])}`);
    if (qop !== undefined) fields.push(`qop=${qop}`, `nc=${nc}`, `cnonce=${quote(cnonce)}`);
    return `Digest ${fields.join(', ')}`;
  }

  private rank(c: Challenge): number {
    if (c.scheme === 'basic') return 1;
    if (c.scheme !== 'digest' || c.params['nonce'] === undefined) return 0;
    const alg = HASHES[(c.params['algorithm'] ?? 'md5').toLowerCase()];
    if (alg === undefined) return 0;
    if (c.params['qop'] !== undefined && pickQop(c.params['qop']) === undefined) return 0;
    return alg.rank;
  }
}

function pickQop(offered: string | undefined): 'auth' | 'auth-int' | undefined {
  if (offered === undefined) return undefined;
  const list = offered.split(',').map((s) => s.trim().toLowerCase());
  if (list.includes('auth')) return 'auth';
  if (list.includes('auth-int')) return 'auth-int';
  return undefined;
}
