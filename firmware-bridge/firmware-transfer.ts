import { createHash } from 'node:crypto';
import type { LinkEndpoint } from './link.js';
import { FW_SHA256_LENGTH, type Message } from './messages.js';

/**
 * MCU firmware transfer over the reliable link:
 *
 *   gateway: FW_BEGIN(size, sha256, chunkSize) FW_CHUNK(offset, data)... FW_END
 *   MCU:     FW_RESULT(ok, code, message)   after checking size and sha256
 *
 * Chunks are reliable frames, so a corrupted one is resent by the link; the MCU takes
 * chunks only at the offset it expects next (a resent duplicate is ignored).
 */
export const FW_RESULT_CODES = {
  ok: 0,
  tooLarge: 1,
  hashMismatch: 2,
  sizeMismatch: 3,
  outOfOrder: 4,
  notStarted: 5,
} as const;

export const DEFAULT_CHUNK_SIZE = 512;

export interface FirmwareResult {
  readonly ok: boolean;
  readonly code: number;
  readonly message: string;
}

export class FirmwareTransferError extends Error {
  override readonly name = 'FirmwareTransferError';
  constructor(
    readonly code: 'E_FW_TIMEOUT' | 'E_FW_LINK' | 'E_FW_BUSY',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Gateway side. `onMessage` must be fed every FW_RESULT the link delivers. `send` streams
 * the image within the link's window and resolves with the MCU's verdict.
 */
export class FirmwareSender {
  private waiting: ((r: FirmwareResult) => void) | undefined;
  private sentBytes = 0;

  constructor(private readonly link: LinkEndpoint) {}

  get progressBytes(): number {
    return this.sentBytes;
  }

  onMessage(m: Message): void {
    if (m.type === 'fwResult') this.waiting?.({ ok: m.ok, code: m.code, message: m.message });
  }

  /**
   * Sends `image`; `declaredSha256` overrides the hash sent in FW_BEGIN (tests use it to
   * check that the MCU refuses a wrong one).
   */
  async send(image: Uint8Array, options: { chunkSize?: number; timeoutMs?: number; declaredSha256?: Uint8Array; onProgress?: (sentBytes: number) => void } = {}): Promise<FirmwareResult> {
    if (this.waiting !== undefined) throw new FirmwareTransferError('E_FW_BUSY', 'a firmware transfer is already running');
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    const sha256 = options.declaredSha256 ?? new Uint8Array(createHash('sha256').update(image).digest());
    if (sha256.length !== FW_SHA256_LENGTH) throw new RangeError('sha256 must be 32 bytes');
    const result = new Promise<FirmwareResult>((resolve) => {
      this.waiting = resolve;
    });
    const timeoutMs = options.timeoutMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FirmwareTransferError('E_FW_TIMEOUT', `firmware transfer: no result within ${timeoutMs} ms`)), timeoutMs);
    });
    timeout.catch(() => undefined); // observed by the races below; never unhandled
    try {
      this.sentBytes = 0;
      const sends: Promise<void>[] = [];
      // Each send is awaited together at the end; until then a rejection must not go unhandled.
      const track = (p: Promise<void>): void => {
        p.catch(() => undefined);
        sends.push(p);
      };
      track(this.link.sendReliable({ type: 'fwBegin', size: image.length, sha256, chunkSize }));
      const room = async (): Promise<void> => {
        while (!this.link.hasRoom()) {
          if (this.link.isClosed) throw new FirmwareTransferError('E_FW_LINK', 'firmware transfer: the link closed');
          await Promise.race([this.link.whenRoom(), timeout]);
        }
      };
      for (let offset = 0; offset < image.length; offset += chunkSize) {
        await room();
        const data = image.subarray(offset, Math.min(offset + chunkSize, image.length));
        track(
          this.link.sendReliable({ type: 'fwChunk', offset, data }).then(() => {
            this.sentBytes += data.length;
            options.onProgress?.(this.sentBytes);
          }),
        );
      }
      await room();
      track(this.link.sendReliable({ type: 'fwEnd' }));
      await Promise.race([Promise.all(sends), timeout]).catch((err: unknown) => {
        if (err instanceof FirmwareTransferError) throw err;
        throw new FirmwareTransferError('E_FW_LINK', `firmware transfer: the link dropped it (${(err as Error).message})`);
      });
      return await Promise.race([result, timeout]);
    } finally {
      clearTimeout(timer);
      this.waiting = undefined;
    }
  }
}

/** MCU side (the simulator runs it; it is also the reference for a C implementation). */
export class FirmwareReceiver {
  private image: Uint8Array | undefined;
  private expectedSha: Uint8Array | undefined;
  private received = 0;
  /** A result went out already for this transfer: ignore the rest of it, FW_END included. */
  private failed = false;
  /** Images that passed their checks, newest last (the simulator "flashes" them). */
  readonly accepted: Uint8Array[] = [];

  constructor(
    private readonly reply: (m: Message) => void,
    private readonly maxImageBytes = 4 * 1024 * 1024,
  ) {}

  get receivedBytes(): number {
    return this.received;
  }

  private fail(code: number, message: string): void {
    this.image = undefined;
    this.failed = true;
    this.reply({ type: 'fwResult', ok: false, code, message });
  }

  onMessage(m: Message): void {
    switch (m.type) {
      case 'fwBegin':
        this.failed = false;
        if (m.size > this.maxImageBytes) {
          this.fail(FW_RESULT_CODES.tooLarge, `image of ${m.size} bytes; this MCU takes at most ${this.maxImageBytes}`);
          return;
        }
        this.image = new Uint8Array(m.size);
        this.expectedSha = m.sha256;
        this.received = 0;
        return;
      case 'fwChunk':
        if (this.image === undefined) return; // after a failure: ignore the rest of the stream
        if (m.offset < this.received) return; // a resend we already have
        if (m.offset !== this.received) {
          this.fail(FW_RESULT_CODES.outOfOrder, `chunk at ${m.offset}, expected ${this.received}`);
          return;
        }
        if (m.offset + m.data.length > this.image.length) {
          this.fail(FW_RESULT_CODES.sizeMismatch, `chunk runs to ${m.offset + m.data.length}, past the declared ${this.image.length} bytes`);
          return;
        }
        this.image.set(m.data, m.offset);
        this.received += m.data.length;
        return;
      case 'fwEnd': {
        const image = this.image;
        if (this.failed) {
          this.failed = false;
          return;
        }
        if (image === undefined) {
          this.fail(FW_RESULT_CODES.notStarted, 'FW_END without a transfer');
          return;
        }
        if (this.received !== image.length) {
          this.fail(FW_RESULT_CODES.sizeMismatch, `got ${this.received} of ${image.length} bytes`);
          return;
        }
        const sha = createHash('sha256').update(image).digest();
        if (this.expectedSha === undefined || !sha.equals(Buffer.from(this.expectedSha))) {
          this.fail(FW_RESULT_CODES.hashMismatch, `sha256 ${sha.toString('hex').slice(0, 16)}... does not match the one announced`);
          return;
        }
        this.accepted.push(image);
        this.image = undefined;
        this.reply({ type: 'fwResult', ok: true, code: FW_RESULT_CODES.ok, message: `${image.length} bytes, sha256 ${sha.toString('hex').slice(0, 16)}...` });
        return;
      }
      default:
        return;
    }
  }
}
