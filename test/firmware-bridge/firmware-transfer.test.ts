import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FW_RESULT_CODES, FirmwareReceiver, FirmwareSender, FirmwareTransferError } from '../../firmware-bridge/firmware-transfer.js';
import { LinkEndpoint } from '../../firmware-bridge/link.js';
import type { Message } from '../../firmware-bridge/messages.js';

describe('firmware transfer', () => {
  it('the receiver answers once per transfer, even when it fails early', () => {
    const replies: Message[] = [];
    const rx = new FirmwareReceiver((m) => replies.push(m));
    rx.onMessage({ type: 'fwBegin', size: 4, sha256: new Uint8Array(createHash('sha256').update(Buffer.from([1, 2, 3, 4])).digest()), chunkSize: 4 });
    rx.onMessage({ type: 'fwChunk', offset: 0, data: new Uint8Array([1, 2, 3, 4, 5]) }); // runs past the declared size
    rx.onMessage({ type: 'fwEnd' });
    expect(replies).toEqual([{ type: 'fwResult', ok: false, code: FW_RESULT_CODES.sizeMismatch, message: 'chunk runs to 5, past the declared 4 bytes' }]);
  });

  it('a transfer on a link that closes fails at once instead of spinning', async () => {
    const link = new LinkEndpoint({ write: () => undefined, deliver: () => undefined, maxQueued: 2, windowFrames: 1 });
    const sender = new FirmwareSender(link);
    const transfer = sender.send(new Uint8Array(64 * 1024), { timeoutMs: 60_000 });
    setTimeout(() => link.close(), 20);
    // The code tells the two failures apart, with no stopwatch: E_FW_LINK is the closed link
    // seen at once; waiting it out would end in E_FW_TIMEOUT after 60 s (past the test's own
    // timeout), and spinning on a closed link would never settle at all.
    await expect(transfer).rejects.toBeInstanceOf(FirmwareTransferError);
    await expect(transfer).rejects.toMatchObject({ code: 'E_FW_LINK' });
  });
});
