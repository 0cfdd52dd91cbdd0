import { FLAG_RELIABLE, FLAG_SYN, FrameDecoder, encodeFrame, type DecoderCounters, type Frame } from './frame.js';
import { decodePayload, encodePayload, isReliable, messageCode, type Message } from './messages.js';

export interface LinkOptions {
  /** Writes bytes to the wire (the serial port). Must not throw; a dead port drops them. */
  readonly write: (bytes: Uint8Array) => void;
  /** Gets every message that is not link control (ACK/NACK), reliable ones in order, once. */
  readonly deliver: (message: Message) => void;
  /** Reliable frames in flight at most (the window). */
  readonly windowFrames?: number;
  /** Reliable messages waiting for the window at most; `sendReliable` refuses beyond. */
  readonly maxQueued?: number;
  /** Resend a frame when it has waited this long for an ACK after it left the line (doubles on every timeout in a row, up to 8x). */
  readonly retransmitTimeoutMs?: number;
  /**
   * Bytes per second the line carries (baud / 10 for 8N1). A frame's timeout counts from
   * when its last byte can have left the line, not from when it was handed to the port:
   * at 115200 baud a window of 16 one-KiB frames takes 1.4 s to go out.
   */
  readonly lineBytesPerSecond?: number;
  /** Called when delivering a message threw (an application bug); the link carries on. */
  readonly onDeliverError?: (error: unknown, message: Message) => void;
  /** Called for a frame that passed the CRC but whose payload is malformed. */
  readonly onBadPayload?: (error: string, frame: Frame) => void;
  /** Session ids come from here (tests make them deterministic). */
  readonly random?: () => number;
  /**
   * The peer said it knows no session of ours (it restarted). Without this hook the link
   * resends what is in flight as a new session; with it, the application decides (the MCU
   * starts over with HELLO and resends every sample not yet committed).
   */
  readonly onPeerUnsynced?: () => void;
}

export interface LinkCounters extends DecoderCounters {
  sentFrames: number;
  retransmits: number;
  duplicates: number;
  gaps: number;
  unsynced: number;
  badPayloads: number;
  deliverErrors: number;
  sessionsStarted: number;
  peerSessions: number;
}

export class LinkResetError extends Error {
  override readonly name = 'LinkResetError';
  readonly code = 'E_LINK_RESET';
}

export class LinkBusyError extends Error {
  override readonly name = 'LinkBusyError';
  readonly code = 'E_LINK_BUSY';
}

interface Outgoing {
  readonly message: Message;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

interface InFlight extends Outgoing {
  readonly seq: number;
  bytes: Uint8Array;
  sentAt: number;
  /** The peer reported it received this frame (after a gap): do not resend it. */
  sacked: boolean;
  /** Position of its latest transmission in the order of all our transmissions. */
  sendOrder: number;
}

const HALF = 0x8000;
/** Frames a receiver keeps after a gap, and the most a sender may have in flight (the ACK bitmap has 32 bits). */
const RX_WINDOW = 32;
/** True when `a` comes before `b` in u16 sequence space. */
export function seqBefore(a: number, b: number): boolean {
  const d = (b - a) & 0xffff;
  return d !== 0 && d < HALF;
}

/**
 * One end of the reliable link (the gateway and the MCU run the same rules).
 *
 * Selective repeat. Sending: reliable messages get consecutive u16 sequence numbers within a
 * session; at most `windowFrames` (<= 32) are unacknowledged; an ACK(seq, received)
 * acknowledges everything up to seq and, by its bitmap, frames that arrived after a gap; the
 * holes below the highest such frame are resent at once, and a timeout resends every frame
 * not known to have arrived; a NACK (unsynced) resends the window as a new session, SYN on
 * its first frame. Receiving: frames are delivered in sequence order exactly once; frames
 * after a gap wait (up to 32 ahead) for it to fill; duplicates are dropped and acknowledged
 * again; a SYN frame under a new session id starts the peer's new session.
 *
 * Why selective repeat: at 1% byte corruption a 100-byte frame arrives intact only 37% of
 * the time; go-back-N resends the whole window for every loss and its throughput collapses.
 */
export class LinkEndpoint {
  readonly counters: LinkCounters;
  private readonly decoder = new FrameDecoder();
  private readonly windowFrames: number;
  private readonly maxQueued: number;
  private readonly rto: number;
  private readonly random: () => number;
  // sender
  private txSession = 0;
  private txNextSeq = 0;
  private synPending = true;
  private readonly window: InFlight[] = [];
  private readonly queue: Outgoing[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sendCounter = 0;
  /** When the line will have sent everything written so far (a model of the UART). */
  private lineFreeAt = 0;
  /** Timeouts in a row without progress: the timeout doubles with each. */
  private backoff = 0;
  private strayAcks = 0;
  /** The next write starts with 0x00, flushing whatever partial frame the peer holds. */
  private flushLine = true;
  private roomWaiters: (() => void)[] = [];
  // receiver
  private rxSession: number | null = null;
  private rxExpected = 0;
  /** The seq of the SYN that started the followed session (a SYN with another seq is a new session). */
  private rxSynSeq = -1;
  /** Frames that arrived after a gap, by sequence number, waiting for the gap to fill. */
  private readonly rxAhead = new Map<number, Message | undefined>();
  private ackTimer: NodeJS.Immediate | undefined;
  private lastNackAt = 0;
  private closed = false;

  constructor(private readonly options: LinkOptions) {
    this.windowFrames = Math.min(RX_WINDOW, options.windowFrames ?? 16);
    this.maxQueued = options.maxQueued ?? 64;
    this.rto = options.retransmitTimeoutMs ?? 250;
    this.random = options.random ?? Math.random;
    const d = this.decoder.counters;
    // One object: decoder counters and link counters read together.
    this.counters = Object.assign(d, { sentFrames: 0, retransmits: 0, duplicates: 0, gaps: 0, unsynced: 0, badPayloads: 0, deliverErrors: 0, sessionsStarted: 0, peerSessions: 0 });
    this.startSession();
  }

  /** The session id frames are sent under now. */
  get session(): number {
    return this.txSession;
  }

  /** Reliable messages waiting or in flight. */
  get pending(): number {
    return this.window.length + this.queue.length;
  }

  /** True when `sendReliable` would accept another message now. */
  hasRoom(): boolean {
    return !this.closed && this.queue.length < this.maxQueued;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The line was (re)opened: the next frame goes out after a 0x00 that resets the peer's decoder. */
  lineReset(): void {
    this.flushLine = true;
    this.lineFreeAt = 0;
  }

  /** Resolves the next time a reliable message leaves the queue (or the link closes). */
  whenRoom(): Promise<void> {
    if (this.hasRoom() || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** True when nothing reliable is queued or in flight. */
  get idle(): boolean {
    return this.window.length === 0 && this.queue.length === 0;
  }

  /**
   * Starts a new session: everything queued or in flight is dropped (its promises reject with
   * LinkResetError) and the next reliable frame carries SYN under a new session id. The
   * application resends what it still needs (the MCU resends uncommitted samples).
   */
  startSession(): void {
    const dropped = [...this.window, ...this.queue];
    this.window.length = 0;
    this.queue.length = 0;
    for (const o of dropped) o.reject(new LinkResetError('link session restarted'));
    this.wakeRoomWaiters();
    this.txSession = this.newSessionId();
    this.txNextSeq = Math.floor(this.random() * 0x10000);
    this.synPending = true;
    this.flushLine = true;
    this.backoff = 0;
    this.counters.sessionsStarted += 1;
    this.clearTimer();
  }

  /** A session id from 1 to 255 that differs from the current one (so the peer resets). */
  private newSessionId(): number {
    const id = 1 + Math.floor(this.random() * 254);
    return id >= this.txSession && this.txSession !== 0 ? id + 1 : id;
  }

  /**
   * The peer lost track of us (it restarted, or its state disagrees with ours): keep what is
   * in flight but resend it as a new session, SYN on the first frame.
   */
  private resync(): void {
    this.txSession = this.newSessionId();
    this.counters.sessionsStarted += 1;
    this.flushLine = true;
    let first = true;
    for (const entry of this.window) {
      entry.bytes = encodeFrame({ type: messageCode(entry.message.type), flags: FLAG_RELIABLE | (first ? FLAG_SYN : 0), session: this.txSession, seq: entry.seq, payload: encodePayload(entry.message) });
      entry.sacked = false; // the peer's new session has none of them
      first = false;
    }
    if (this.window.length === 0) this.synPending = true;
    else this.resendFrom((this.window[0] as InFlight).seq);
  }

  /** Sends a reliable message; resolves when the peer acknowledged it. Throws LinkBusyError when the queue is full. */
  sendReliable(message: Message): Promise<void> {
    if (!isReliable(message.type)) throw new TypeError(`${message.type} is not a reliable message`);
    if (this.closed) return Promise.reject(new LinkResetError('link closed'));
    if (this.queue.length >= this.maxQueued) throw new LinkBusyError(`link: ${this.queue.length} messages already waiting`);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ message, resolve, reject });
      this.pump();
    });
  }

  /** Sends a message that is not sequenced (time sync, commit): fire and forget. */
  sendUnreliable(message: Message): void {
    if (isReliable(message.type)) throw new TypeError(`${message.type} is a reliable message`);
    if (this.closed) return;
    this.writeFrame(encodeFrame({ type: messageCode(message.type), flags: 0, session: message.type === 'ack' || message.type === 'nack' ? (this.rxSession ?? 0) : 0, seq: 0, payload: encodePayload(message) }));
  }

  /** Writes a frame; returns when its last byte will have left the line (ms, wall clock). */
  private writeFrame(bytes: Uint8Array): number {
    this.counters.sentFrames += 1;
    let out = bytes;
    if (this.flushLine) {
      this.flushLine = false;
      out = new Uint8Array(bytes.length + 1);
      out.set(bytes, 1);
    }
    this.options.write(out);
    const now = Date.now();
    const bps = this.options.lineBytesPerSecond;
    if (bps === undefined) return now;
    this.lineFreeAt = Math.max(now, this.lineFreeAt) + (out.length * 1000) / bps;
    return this.lineFreeAt;
  }

  private pump(): void {
    const hadNoRoom = this.queue.length >= this.maxQueued;
    while (this.window.length < this.windowFrames && this.queue.length > 0) {
      const next = this.queue.shift() as Outgoing;
      const seq = this.txNextSeq;
      this.txNextSeq = (this.txNextSeq + 1) & 0xffff;
      const flags = FLAG_RELIABLE | (this.synPending ? FLAG_SYN : 0);
      this.synPending = false;
      const bytes = encodeFrame({ type: messageCode(next.message.type), flags, session: this.txSession, seq, payload: encodePayload(next.message) });
      const entry: InFlight = { ...next, seq, bytes, sentAt: 0, sacked: false, sendOrder: (this.sendCounter += 1) };
      this.window.push(entry);
      entry.sentAt = this.writeFrame(bytes);
    }
    if (hadNoRoom && this.queue.length < this.maxQueued) this.wakeRoomWaiters();
    this.armTimer();
  }

  private wakeRoomWaiters(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }

  private armTimer(): void {
    if (this.window.length === 0 || this.closed) {
      this.clearTimer();
      return;
    }
    if (this.timer !== undefined) return;
    let oldest = Infinity;
    for (const entry of this.window) if (!entry.sacked && entry.sentAt < oldest) oldest = entry.sentAt;
    // All reported but none acknowledged: the cumulative ACK was lost; poke the peer.
    if (oldest === Infinity) oldest = (this.window[0] as InFlight).sentAt;
    const wait = Math.max(1, oldest + this.timeoutMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const now = Date.now();
      // Resend what has waited a whole timeout since it left the line and the peer has not
      // reported. Timeouts in a row without progress double the timeout (up to 8x), so a
      // dead line costs one window per few seconds, not a flood.
      let resent = false;
      for (const entry of this.window) {
        if (!entry.sacked && now - entry.sentAt >= this.timeoutMs) {
          this.resend(entry);
          resent = true;
        }
      }
      const first = this.window[0];
      if (!resent && first !== undefined && now - first.sentAt >= this.timeoutMs) {
        this.resend(first); // all reported, none acknowledged: a duplicate draws a fresh ACK
        resent = true;
      }
      if (resent) this.backoff += 1;
      this.armTimer();
    }, wait);
  }

  private clearTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private resend(entry: InFlight): void {
    entry.sendOrder = this.sendCounter += 1;
    this.counters.retransmits += 1;
    entry.sentAt = this.writeFrame(entry.bytes);
  }

  private get timeoutMs(): number {
    return this.rto * 2 ** Math.min(this.backoff, 3);
  }

  /** Resends every frame from `seq` on that the peer has not reported. */
  private resendFrom(seq: number): void {
    for (const entry of this.window) if (!seqBefore(entry.seq, seq) && !entry.sacked) this.resend(entry);
    this.clearTimer();
    this.armTimer();
  }

  /** Bytes from the wire, in chunks of any size. Never throws. */
  receive(chunk: Uint8Array): void {
    if (this.closed) return;
    this.decoder.push(chunk, (frame) => this.onFrame(frame));
  }

  private onFrame(frame: Frame): void {
    const decoded = decodePayload(frame.type, frame.payload);
    const reliable = (frame.flags & FLAG_RELIABLE) !== 0;
    if ('error' in decoded) {
      this.counters.badPayloads += 1;
      this.options.onBadPayload?.(decoded.error, frame);
      // A reliable frame with a bad payload is still consumed in order: resending it would
      // not make it better, and stalling the link on it would stop everything behind it.
      if (reliable) this.accept(frame, undefined);
      return;
    }
    const m = decoded.message;
    if (!reliable) {
      if (m.type === 'ack') this.onAck(frame.session, m.seq, m.received);
      else if (m.type === 'nack') this.onNack(frame.session, m.expectedSeq, m.reason);
      else this.deliver(m);
      return;
    }
    this.accept(frame, m);
  }

  private accept(frame: Frame, message: Message | undefined): void {
    // A SYN starts the peer's new session, unless it is a resend of the very frame that
    // started the session we follow (same session id and same seq): then it is ordinary.
    // Comparing the seq too keeps a session id reused after a reboot from passing as old.
    if ((frame.flags & FLAG_SYN) !== 0 && (frame.session !== this.rxSession || frame.seq !== this.rxSynSeq)) {
      this.rxSession = frame.session;
      this.rxExpected = frame.seq;
      this.rxSynSeq = frame.seq;
      this.rxAhead.clear();
      this.counters.peerSessions += 1;
    }
    if (this.rxSession === null || frame.session !== this.rxSession) {
      this.counters.unsynced += 1;
      this.nack(frame.seq, 'unsynced', frame.session);
      return;
    }
    if (frame.seq === this.rxExpected) {
      this.rxExpected = (this.rxExpected + 1) & 0xffff;
      this.scheduleAck();
      if (message !== undefined) this.deliver(message);
      // Frames that waited behind the gap go out now, in order.
      while (this.rxAhead.has(this.rxExpected)) {
        const waiting = this.rxAhead.get(this.rxExpected);
        this.rxAhead.delete(this.rxExpected);
        this.rxExpected = (this.rxExpected + 1) & 0xffff;
        if (waiting !== undefined) this.deliver(waiting);
      }
      return;
    }
    if (seqBefore(frame.seq, this.rxExpected) || this.rxAhead.has(frame.seq)) {
      this.counters.duplicates += 1;
      this.scheduleAck();
      return;
    }
    this.counters.gaps += 1;
    if (((frame.seq - this.rxExpected) & 0xffff) <= RX_WINDOW) {
      this.rxAhead.set(frame.seq, message);
      this.scheduleAck(); // the bitmap tells the sender what to fill
      return;
    }
    this.nack(this.rxExpected, 'gap', this.rxSession);
  }

  /** Hands a message to the application; a throw there must not break the link's state. */
  private deliver(message: Message): void {
    try {
      this.options.deliver(message);
    } catch (err) {
      this.counters.deliverErrors += 1;
      this.options.onDeliverError?.(err, message);
    }
  }

  /** Bit i set: frame rxExpected + 1 + i (= acknowledged seq + 2 + i) has arrived; rxExpected is the gap. */
  private receivedBitmap(): number {
    let bits = 0;
    for (const seq of this.rxAhead.keys()) {
      const i = ((seq - this.rxExpected) & 0xffff) - 1;
      if (i >= 0 && i < 32) bits |= 1 << i;
    }
    return bits >>> 0;
  }

  /** `session`: the session the NACK is about (for `unsynced`, that of the frame refused). */
  private nack(expectedSeq: number, reason: 'gap' | 'unsynced', session: number): void {
    // One NACK per half timeout is enough: a burst of out-of-order frames asks once.
    const now = Date.now();
    if (now - this.lastNackAt < this.rto / 2) return;
    this.lastNackAt = now;
    if (this.closed) return;
    this.writeFrame(encodeFrame({ type: messageCode('nack'), flags: 0, session, seq: 0, payload: encodePayload({ type: 'nack', expectedSeq, reason }) }));
  }

  private scheduleAck(): void {
    // One cumulative ACK per turn of the event loop, however many frames arrived in it.
    if (this.ackTimer !== undefined || this.closed) return;
    this.ackTimer = setImmediate(() => {
      this.ackTimer = undefined;
      if (this.rxSession !== null) this.sendUnreliable({ type: 'ack', seq: (this.rxExpected - 1) & 0xffff, received: this.receivedBitmap() });
    });
  }

  private onAck(session: number, seq: number, received = 0): void {
    // An ACK for a frame we have not sent is from a confused peer: ignore it, never let it
    // acknowledge frames it cannot have seen.
    if (session !== this.txSession) return;
    if (!seqBefore(seq, this.txNextSeq)) {
      // Acknowledging frames we never sent: the peer follows some other session of ours
      // (a session id reused after a reboot). A few of these in a row: start afresh.
      this.strayAcks += 1;
      if (this.strayAcks >= 3) {
        this.strayAcks = 0;
        this.resync();
      }
      return;
    }
    this.strayAcks = 0;
    let acked = false;
    while (this.window.length > 0) {
      const first = this.window[0] as InFlight;
      if (first.seq !== seq && !seqBefore(first.seq, seq)) break;
      this.window.shift();
      first.resolve();
      acked = true;
    }
    if (received !== 0) {
      // Frames the peer holds after a gap; the holes below the highest of them are lost
      // (or late): resend those at once rather than waiting for the timeout.
      // Bit i is frame seq + 2 + i (seq + 1 is the gap itself).
      let latestEvidence = 0;
      for (const entry of this.window) {
        const i = ((entry.seq - seq) & 0xffff) - 2;
        if (i >= 0 && i < 32 && ((received >>> i) & 1) === 1) {
          entry.sacked = true;
          latestEvidence = Math.max(latestEvidence, entry.sendOrder);
        }
      }
      // A serial line does not reorder: a hole whose last transmission went out before a
      // frame that arrived is lost. Resend it now, once per such evidence.
      for (const entry of this.window) if (!entry.sacked && entry.sendOrder < latestEvidence) this.resend(entry);
    }
    if (acked) this.backoff = 0;
    if (acked || received !== 0) {
      this.clearTimer();
      this.pump();
    }
  }

  private onNack(session: number, expectedSeq: number, reason: 'gap' | 'unsynced'): void {
    if (reason === 'unsynced') {
      // Only about the session we send under now: a NACK about an older one is stale.
      if (session !== this.txSession) return;
      if (this.options.onPeerUnsynced !== undefined) this.options.onPeerUnsynced();
      else this.resync();
      return;
    }
    if (session !== this.txSession) return;
    // Everything before the missing frame has arrived.
    this.onAck(session, (expectedSeq - 1) & 0xffff);
    const first = this.window[0];
    const expectedIsNext = expectedSeq === this.txNextSeq;
    if (first === undefined) {
      if (!expectedIsNext) this.resync();
      return;
    }
    // The peer must want a frame we hold (or the next one); anything else means our states
    // disagree (an old session id reused after a reboot): start over as a new session.
    if (first.seq !== expectedSeq && !expectedIsNext) {
      this.resync();
      return;
    }
    if (!expectedIsNext) this.resendFrom(expectedSeq);
  }

  /** Stops timers; pending sends reject with LinkResetError. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wakeRoomWaiters();
    this.clearTimer();
    if (this.ackTimer !== undefined) clearImmediate(this.ackTimer);
    const dropped = [...this.window, ...this.queue];
    this.window.length = 0;
    this.queue.length = 0;
    for (const o of dropped) o.reject(new LinkResetError('link closed'));
  }
}
