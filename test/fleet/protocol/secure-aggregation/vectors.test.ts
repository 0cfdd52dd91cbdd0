import { createCipheriv, createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pairMaskSeed, selfMaskCommitment } from '../../../../fleet/protocol/secure-aggregation/derive.js';
import { addMask, expandSeed } from '../../../../fleet/protocol/secure-aggregation/prg.js';
import { agree, x25519FromSecret } from '../../../../fleet/protocol/secure-aggregation/x25519.js';

/**
 * The byte-level rules of the README, checked against independent constructions and pinned by
 * known answers, so another implementation (or a change here) is held to the same bits.
 */
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const seed = Uint8Array.from({ length: 32 }, (_, i) => i);

describe('secure aggregation byte rules', () => {
  it('PRG: AES-256-CTR from a zero counter is AES-256 of the big-endian block counters, words little-endian', () => {
    const words = 100;
    const blocks = Buffer.alloc(Math.ceil((words * 4) / 16) * 16);
    for (let i = 0; i < blocks.length / 16; i += 1) blocks.writeUInt32BE(i, i * 16 + 12);
    const ecb = createCipheriv('aes-256-ecb', seed, null).setAutoPadding(false).update(blocks);
    const expected = Uint32Array.from({ length: words }, (_, i) => ecb.readUInt32LE(i * 4));
    expect(expandSeed(seed, words)).toEqual(expected);
    expect([...expandSeed(seed, 4)].map((w) => w.toString(16).padStart(8, '0')).join(' ')).toBe('b60090f2 d09f492a 6a9af3a9 80772edd');
  });

  it('PRG: a mask longer than one keystream block continues the same stream; subtracting it undoes adding it', () => {
    const long = expandSeed(seed, 40_000);
    expect(long.subarray(0, 100)).toEqual(expandSeed(seed, 100));
    const v = Uint32Array.from({ length: 40_000 }, (_, i) => i * 7919);
    const copy = Uint32Array.from(v);
    addMask(v, seed, 1);
    expect(v).not.toEqual(copy);
    addMask(v, seed, -1);
    expect(v).toEqual(copy);
  });

  it('X25519 from raw bytes gives RFC 7748 section 6.1 keys and shared secret', () => {
    const alice = x25519FromSecret(Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex'));
    const bob = x25519FromSecret(Buffer.from('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb', 'hex'));
    expect(hex(alice.publicKey)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(hex(bob.publicKey)).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    expect(hex(agree(alice.privateKey, bob.publicKey, 'bob'))).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
    expect(hex(agree(bob.privateKey, alice.publicKey, 'alice'))).toBe('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
  });

  it('pair mask seed: HKDF-SHA256 (RFC 5869) with the round as salt and label, lower id, higher id as info; the same from either side', () => {
    const shared = Buffer.from('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742', 'hex');
    const prk = createHmac('sha256', 'round-1').update(shared).digest();
    const info = Buffer.concat([Buffer.from('edgewise/secagg/v1/pair-mask\0gw-000\0gw-001'), Buffer.of(1)]);
    const okm = createHmac('sha256', prk).update(info).digest();
    expect(hex(pairMaskSeed('round-1', shared, 'gw-000', 'gw-001'))).toBe(okm.toString('hex'));
    expect(pairMaskSeed('round-1', shared, 'gw-001', 'gw-000')).toEqual(pairMaskSeed('round-1', shared, 'gw-000', 'gw-001'));
    expect(pairMaskSeed('round-2', shared, 'gw-000', 'gw-001')).not.toEqual(pairMaskSeed('round-1', shared, 'gw-000', 'gw-001'));
  });

  it('self-mask commitment: SHA-256 of label, round, owner and seed, zero-separated', () => {
    const expected = createHash('sha256').update(Buffer.concat([Buffer.from('edgewise/secagg/v1/self-mask-commitment\0round-1\0gw-000\0'), seed])).digest('hex');
    expect(hex(selfMaskCommitment('round-1', 'gw-000', seed))).toBe(expected);
    expect(expected).toBe('6ae99157a0478c0acd2a5eaeae819f5803d14d06baa055dcbd937a6c39e6101e');
  });
});
