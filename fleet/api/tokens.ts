import { randomBytes } from 'node:crypto';
import type { Queryable } from '../db/open-database.js';
import { sha256Hex } from '../registry/credentials.js';

/** `read-only` may read everything but tokens; `read-write` may also change the fleet and manage tokens. */
export type TokenRole = 'read-write' | 'read-only';
export const TOKEN_ROLES: readonly TokenRole[] = ['read-write', 'read-only'];

/** Who a valid token belongs to. */
export interface Operator {
  readonly id: string;
  readonly role: TokenRole;
  readonly name: string;
}

export interface TokenInfo extends Operator {
  readonly createdMs: number;
  readonly revokedMs: number | null;
}

/** A new token: the secret is in `token`, shown this once and stored only as its hash. */
export interface CreatedToken extends TokenInfo {
  readonly token: string;
}

export const TOKEN_PREFIX = 'ewt_';
/** `ewt_` and 32 random bytes in base64url (43 characters). */
const TOKEN_RE = /^ewt_[A-Za-z0-9_-]{43}$/;

interface TokenRow {
  id: string;
  role: TokenRole;
  name: string;
  created_ms: number;
  revoked_ms: number | null;
}

const info = (r: TokenRow): TokenInfo => ({ id: r.id, role: r.role, name: r.name, createdMs: r.created_ms, revokedMs: r.revoked_ms });

/**
 * Operator tokens for the HTTP API, in the `operator_tokens` table.
 *
 * Stored as plain SHA-256, not scrypt: a slow, salted hash exists to make guessing a
 * password a person chose expensive. These tokens are 256 bits from the CSPRNG; no guessing
 * finds one, fast hash or slow, and a leaked table gives nothing to invert. A salt would
 * also rule out finding the token by its hash with one indexed lookup, and a slow hash
 * would cost CPU on every API request. A timing difference in that lookup can at most leak
 * bits of the hash, which are as useless as the hash itself.
 */
export class TokenStore {
  constructor(private readonly db: Queryable) {}

  async create(role: TokenRole, name: string, nowMs = Date.now()): Promise<CreatedToken> {
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const id = randomBytes(8).toString('hex');
    await this.db.query('INSERT INTO operator_tokens (id, token_hash, role, name, created_ms) VALUES ($1, $2, $3, $4, $5)', [id, sha256Hex(token), role, name, nowMs]);
    return { id, role, name, createdMs: nowMs, revokedMs: null, token };
  }

  /** The token's owner, or undefined for anything that is not a live token (unknown, revoked, malformed). */
  async verify(token: string): Promise<Operator | undefined> {
    if (!TOKEN_RE.test(token)) return undefined;
    const rows = await this.db.query<TokenRow>('SELECT id, role, name, created_ms, revoked_ms FROM operator_tokens WHERE token_hash = $1 AND revoked_ms IS NULL', [sha256Hex(token)]);
    const r = rows[0];
    return r === undefined ? undefined : { id: r.id, role: r.role, name: r.name };
  }

  /** Every token, revoked ones included, oldest first. */
  async list(): Promise<TokenInfo[]> {
    return (await this.db.query<TokenRow>('SELECT id, role, name, created_ms, revoked_ms FROM operator_tokens ORDER BY created_ms, id')).map(info);
  }

  async get(id: string): Promise<TokenInfo | undefined> {
    const r = (await this.db.query<TokenRow>('SELECT id, role, name, created_ms, revoked_ms FROM operator_tokens WHERE id = $1', [id]))[0];
    return r === undefined ? undefined : info(r);
  }

  /** Revokes a token (idempotent: the first revocation time stays); undefined when unknown. */
  async revoke(id: string, nowMs = Date.now()): Promise<TokenInfo | undefined> {
    const r = (await this.db.query<TokenRow>('UPDATE operator_tokens SET revoked_ms = COALESCE(revoked_ms, $2) WHERE id = $1 RETURNING id, role, name, created_ms, revoked_ms', [id, nowMs]))[0];
    return r === undefined ? undefined : info(r);
  }
}
