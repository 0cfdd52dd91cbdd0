/**
 * Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999). The encoded form has no zero
 * bytes, so 0x00 can delimit frames: a receiver that lost sync (line noise, a cable pulled
 * mid-frame) is back in step at the next 0x00. Overhead: one byte per 254, plus one.
 */

/** Worst-case encoded length of `n` bytes (without the trailing delimiter). */
export function cobsMaxEncodedLength(n: number): number {
  return n + Math.ceil(n / 254) + 1;
}

/** Encodes `input` into `out` at `offset`; returns the offset after the last byte written. */
export function cobsEncodeInto(input: Uint8Array, out: Uint8Array, offset: number): number {
  let codeAt = offset;
  let write = offset + 1;
  let code = 1;
  for (let i = 0; i < input.length; i += 1) {
    const byte = input[i] as number;
    if (byte === 0) {
      out[codeAt] = code;
      codeAt = write;
      write += 1;
      code = 1;
    } else {
      out[write] = byte;
      write += 1;
      code += 1;
      if (code === 0xff) {
        out[codeAt] = code;
        codeAt = write;
        write += 1;
        code = 1;
      }
    }
  }
  out[codeAt] = code;
  return write;
}

export function cobsEncode(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsMaxEncodedLength(input.length));
  return out.subarray(0, cobsEncodeInto(input, out, 0));
}

/**
 * Decodes one COBS block (no delimiter) of `bytes[start, end)` into `out`; returns the
 * decoded length, or -1 if the block is malformed (a zero byte, or a code that runs past
 * the end). Never throws.
 */
export function cobsDecodeInto(bytes: Uint8Array, start: number, end: number, out: Uint8Array): number {
  let read = start;
  let write = 0;
  while (read < end) {
    const code = bytes[read] as number;
    if (code === 0) return -1;
    read += 1;
    const stop = read + code - 1;
    if (stop > end) return -1;
    if (write + (stop - read) > out.length) return -1;
    while (read < stop) {
      const b = bytes[read] as number;
      if (b === 0) return -1;
      out[write] = b;
      write += 1;
      read += 1;
    }
    if (code !== 0xff && read < end) {
      if (write >= out.length) return -1;
      out[write] = 0;
      write += 1;
    }
  }
  return write;
}

export function cobsDecode(bytes: Uint8Array): Uint8Array | undefined {
  const out = new Uint8Array(bytes.length);
  const n = cobsDecodeInto(bytes, 0, bytes.length, out);
  return n < 0 ? undefined : out.subarray(0, n);
}
