import { createCipheriv, createHash } from 'node:crypto';

/** A deterministic byte source for tests: the AES-256-CTR keystream under SHA-256 of a label. */
export function seededBytes(label: string | number): (n: number) => Uint8Array {
  const key = createHash('sha256').update(`secagg-test/${String(label)}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return (n) => new Uint8Array(cipher.update(Buffer.alloc(n)));
}

/** `count` words from a seeded source (inputs that look like nothing in particular). */
export function seededWords(label: string | number, count: number): Uint32Array {
  const bytes = seededBytes(label)(count * 4);
  return new Uint32Array(bytes.buffer, bytes.byteOffset, count).slice();
}

/** Uniform numbers in [0, 1) from a seeded source (stochastic rounding in tests). */
export function seededUniform(label: string | number): () => number {
  const next = seededBytes(label);
  return () => new DataView(next(4).buffer).getUint32(0, true) / 0x1_0000_0000;
}
