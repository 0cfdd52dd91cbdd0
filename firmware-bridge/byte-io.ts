/**
 * Little-endian readers and writers for message payloads. The reader never throws: a read
 * past the end sets `failed` and returns zeros, and the caller checks `failed` once at the
 * end (a truncated message is then refused as a whole).
 */
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: false });

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(initial = 64) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.room(1);
    this.view.setUint8(this.pos, v);
    this.pos += 1;
    return this;
  }
  u16(v: number): this {
    this.room(2);
    this.view.setUint16(this.pos, v, true);
    this.pos += 2;
    return this;
  }
  u32(v: number): this {
    this.room(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
    return this;
  }
  /** An unsigned 64-bit integer from a JS number (exact below 2^53). */
  u64(v: number): this {
    this.room(8);
    this.view.setBigUint64(this.pos, BigInt(v), true);
    this.pos += 8;
    return this;
  }
  f32(v: number): this {
    this.room(4);
    this.view.setFloat32(this.pos, v, true);
    this.pos += 4;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }
  /** A string as u8 length + UTF-8 bytes (at most 255 bytes). */
  str8(s: string): this {
    const b = textEncoder.encode(s);
    if (b.length > 255) throw new RangeError(`string of ${b.length} bytes does not fit a str8`);
    return this.u8(b.length).bytes(b);
  }
  /** A string as u16 length + UTF-8 bytes. */
  str16(s: string): this {
    const b = textEncoder.encode(s);
    if (b.length > 65_535) throw new RangeError(`string of ${b.length} bytes does not fit a str16`);
    return this.u16(b.length).bytes(b);
  }

  get length(): number {
    return this.pos;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

export class ByteReader {
  private readonly view: DataView;
  private pos: number;
  failed = false;

  constructor(
    private readonly source: Uint8Array,
    start = 0,
    private readonly end = source.length,
  ) {
    this.view = new DataView(source.buffer, source.byteOffset, source.byteLength);
    this.pos = start;
  }

  private take(n: number): number {
    if (this.pos + n > this.end) {
      this.failed = true;
      this.pos = this.end;
      return -1;
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  u8(): number {
    const at = this.take(1);
    return at < 0 ? 0 : this.view.getUint8(at);
  }
  u16(): number {
    const at = this.take(2);
    return at < 0 ? 0 : this.view.getUint16(at, true);
  }
  u32(): number {
    const at = this.take(4);
    return at < 0 ? 0 : this.view.getUint32(at, true);
  }
  u64(): number {
    const at = this.take(8);
    if (at < 0) return 0;
    const v = this.view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      this.failed = true;
      return 0;
    }
    return Number(v);
  }
  f32(): number {
    const at = this.take(4);
    return at < 0 ? 0 : this.view.getFloat32(at, true);
  }
  bytes(n: number): Uint8Array {
    const at = this.take(n);
    return at < 0 ? new Uint8Array(0) : this.source.slice(at, at + n);
  }
  str8(): string {
    return textDecoder.decode(this.bytes(this.u8()));
  }
  str16(): string {
    return textDecoder.decode(this.bytes(this.u16()));
  }
  /** Float32 values straight into an array (the hot path of SAMPLES). */
  f32s(n: number): number[] {
    const at = this.take(n * 4);
    const out = new Array<number>(at < 0 ? 0 : n);
    for (let i = 0; i < out.length; i += 1) out[i] = this.view.getFloat32(at + i * 4, true);
    return out;
  }

  get remaining(): number {
    return this.end - this.pos;
  }
}
