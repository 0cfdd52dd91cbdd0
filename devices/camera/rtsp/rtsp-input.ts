import { setTimeout as sleep } from 'node:timers/promises';
import type { Backoff } from '../../../runtime/uplink/backoff.js';
import type { InputEvent, InputStatus } from '../byte-input.js';
import { MonotonicWallClock } from '../frame-timing.js';
import { readCredentialsFile, type Credentials } from './credentials.js';
import { RtspError } from './errors.js';
import { H264Depacketizer, type DepacketizedUnit } from './h264-depacketizer.js';
import { RtpClock } from './rtp-clock.js';
import { parseRtpPacket } from './rtp-packet.js';
import { RtpSequence } from './rtp-sequence.js';
import { Authenticator } from './rtsp-auth.js';
import { RtspConnection } from './rtsp-connection.js';
import { header } from './rtsp-reader.js';
import { parseRtspUrl, type RtspUrl } from './rtsp-url.js';
import { h264TrackFromSdp, type H264Track } from './sdp.js';

export interface RtspInputOptions {
  /** `rtsp://[user:password@]host[:port]/path` */
  readonly url: string;
  /** A file holding `user:password` (takes the place of credentials in the URL). */
  readonly credentialsFile?: string | undefined;
  /** Connect, each request's answer, and RTP while playing must each come within this. */
  readonly timeoutMs: number;
}

/** The RTSP input's counters, in the camera's `stats()` beside the other inputs' ones. */
export interface RtspCounters {
  /** Sessions that reached PLAY. */
  rtspSessions: number;
  /** Keepalives (GET_PARAMETER or OPTIONS) the camera answered. */
  rtspKeepalives: number;
  /** RTP packets received on the video channel. */
  rtpPackets: number;
  /** RTP packets lost: gaps in the sequence numbers (the camera or a relay dropped them). */
  rtpPacketsLost: number;
  /** Duplicate, late, malformed or foreign (another payload type) packets, not used. */
  rtpPacketsDropped: number;
  /** Pictures dropped because a packet of theirs was lost or malformed. */
  rtpPicturesDamaged: number;
  /** Complete pictures dropped while waiting for an IDR picture (session start, after a loss). */
  rtpPicturesSkippedToKey: number;
  /** Pictures over 4 MiB, dropped. */
  rtpPicturesOversize: number;
  /** Re-anchors of the RTP clock within a session: the camera's timestamps jumped or drifted more than the bounds from arrival, or its stream restarted. */
  rtpClockResets: number;
  /** The last picture's arrival minus its RTP-clock time, ms (negative: the camera's clock is ahead). */
  rtpClockLagMs: number;
}

export function newRtspCounters(): RtspCounters {
  return { rtspSessions: 0, rtspKeepalives: 0, rtpPackets: 0, rtpPacketsLost: 0, rtpPacketsDropped: 0, rtpPicturesDamaged: 0, rtpPicturesSkippedToKey: 0, rtpPicturesOversize: 0, rtpClockResets: 0, rtpClockLagMs: 0 };
}

/** RFC 6184 5.1: H.264's RTP clock; the SDP's rtpmap says it again. */
const H264_CLOCK_RATE = 90_000;

interface Session {
  readonly track: H264Track;
  /** Interleaved channel of RTP (RTCP is the next one; this client ignores RTCP). */
  readonly rtpChannel: number;
  readonly keepalive: 'GET_PARAMETER' | 'OPTIONS';
}

/**
 * An RTSP camera as a camera input: connect, OPTIONS, DESCRIBE, SETUP with RTP interleaved
 * on the RTSP connection (RFC 2326 10.12: no UDP ports to open, nothing lost to a
 * firewall or NAT), PLAY; then each complete picture goes out as one `data` event of Annex
 * B bytes, which the camera's parser and decoder take as from any other input. A failure
 * (connect, a refused request, the camera closing or going quiet) yields `break` and
 * reconnects after a backoff; stopping sends TEARDOWN.
 */
export async function* rtspInput(options: RtspInputOptions, backoff: Backoff, status: InputStatus, signal: AbortSignal): AsyncGenerator<InputEvent> {
  const url = parseRtspUrl(options.url);
  const label = `rtsp ${url.url}`;
  const counters = newRtspCounters();
  status.rtsp = counters;
  const depacketizer = new H264Depacketizer();
  const wall = new MonotonicWallClock();
  const rtpClock = new RtpClock({ clockRate: H264_CLOCK_RATE });
  while (!signal.aborted) {
    let conn: RtspConnection | undefined;
    let sessionUrl = url.url;
    try {
      const credentials = await credentialsFor(url, options.credentialsFile);
      conn = await RtspConnection.open({
        host: url.host,
        port: url.port,
        timeoutMs: options.timeoutMs,
        label,
        authenticator: credentials === undefined ? undefined : new Authenticator(credentials),
        signal,
      });
      const session = await play(conn, url.url);
      sessionUrl = session.track.sessionUrl;
      depacketizer.useParameterSets(session.track.sps, session.track.pps);
      // A new session's timestamps start anywhere: its first picture anchors the clock again.
      rtpClock.restart(session.track.clockRate);
      status.connected = true;
      counters.rtspSessions += 1;
      conn.startKeepalive(sessionUrl, session.keepalive);
      const sequence = new RtpSequence();
      const keepalivesBefore = counters.rtspKeepalives;
      const c = conn;
      const countKeepalives = (): void => void (counters.rtspKeepalives = keepalivesBefore + c.keepalives);
      for await (const frame of conn.frames(session.rtpChannel)) {
        countKeepalives();
        if (frame.channel !== session.rtpChannel) continue;
        counters.rtpPackets += 1;
        const packet = parseRtpPacket(frame.payload);
        if (typeof packet === 'string' || packet.payloadType !== session.track.payloadType) {
          counters.rtpPacketsDropped += 1;
          continue;
        }
        const verdict = sequence.next(packet.sequence, packet.ssrc);
        if (verdict.kind === 'drop') {
          counters.rtpPacketsDropped += 1;
          continue;
        }
        const lost = verdict.kind === 'next' ? verdict.lost : 0;
        counters.rtpPacketsLost += lost;
        const units = depacketizer.push(packet, verdict.kind === 'restart' || lost > 0);
        if (verdict.kind === 'restart') rtpClock.reanchor();
        copyCounters(depacketizer, counters);
        // A picture arrives with the packet that completes it.
        const arrivalMs = wall.now();
        for (const unit of units) {
          backoff.reset();
          const timeMs = rtpClock.time(unit.timestamp, arrivalMs);
          counters.rtpClockResets = rtpClock.resets;
          counters.rtpClockLagMs = Math.round(rtpClock.lagMs);
          yield { kind: 'data', bytes: annexB(unit), timeUs: Math.round(timeMs * 1000) };
        }
      }
      countKeepalives();
    } catch (err) {
      const message = (err as Error).message;
      // Every message names the camera (without its password); the connection's own already do.
      if (!signal.aborted) failed(status, message.startsWith(label) ? message : `${label}: ${message}`);
    } finally {
      status.connected = false;
      depacketizer.reset();
      copyCounters(depacketizer, counters);
      if (conn !== undefined) await conn.teardown(sessionUrl);
    }
    if (signal.aborted) return;
    yield { kind: 'break' };
    await sleep(backoff.next(), undefined, { signal }).catch(() => undefined);
    if (!signal.aborted) status.reconnects += 1;
  }
}

async function credentialsFor(url: RtspUrl, file: string | undefined): Promise<Credentials | undefined> {
  if (file !== undefined) return readCredentialsFile(file);
  if (url.user !== undefined) return { user: url.user, password: url.password ?? '' };
  return undefined;
}

/** OPTIONS, DESCRIBE, SETUP (RTP over the connection), PLAY. */
async function play(conn: RtspConnection, url: string): Promise<Session> {
  // OPTIONS tells which keepalive the camera takes; a camera that refuses OPTIONS itself still plays.
  let keepalive: Session['keepalive'] = 'OPTIONS';
  try {
    const options = await conn.request('OPTIONS', url);
    if (/\bGET_PARAMETER\b/i.test(header(options.headers, 'public') ?? '')) keepalive = 'GET_PARAMETER';
  } catch (err) {
    if (!(err instanceof RtspError && err.code === 'E_RTSP_STATUS')) throw err;
  }
  const described = await conn.request('DESCRIBE', url, { Accept: 'application/sdp' });
  const base = header(described.headers, 'content-base') ?? header(described.headers, 'content-location') ?? url;
  const track = h264TrackFromSdp(Buffer.from(described.body).toString('utf8'), base);
  const setup = await conn.request('SETUP', track.controlUrl, { Transport: 'RTP/AVP/TCP;unicast;interleaved=0-1' });
  const sessionHeader = header(setup.headers, 'session');
  if (sessionHeader === undefined) throw new RtspError('E_RTSP_PROTOCOL', `SETUP ${track.controlUrl} answered without a Session header`);
  const [id, ...params] = sessionHeader.split(';').map((s) => s.trim());
  conn.sessionId = id;
  const timeout = params.map((p) => /^timeout=(\d+)$/i.exec(p)).find((m) => m !== null);
  if (timeout != null) conn.sessionTimeoutS = Math.max(1, Number(timeout[1]));
  const transport = header(setup.headers, 'transport') ?? '';
  const interleaved = /interleaved=(\d+)/i.exec(transport);
  if (!/RTP\/AVP\/TCP/i.test(transport) && transport !== '') {
    throw new RtspError('E_RTSP_PROTOCOL', `SETUP ${track.controlUrl}: the camera chose transport "${transport}", not RTP over the RTSP connection`);
  }
  await conn.request('PLAY', track.sessionUrl, { Range: 'npt=0.000-' });
  return { track, rtpChannel: interleaved === null ? 0 : Number(interleaved[1]), keepalive };
}

const START_CODE = Uint8Array.of(0, 0, 0, 1);
/**
 * An access unit delimiter (NAL type 9, primary_pic_type 7: any slice types). Sent after each
 * picture, it tells the Annex B parser at once that the picture is complete: the parser
 * otherwise holds a picture until the next one begins (a frame of latency, and the last
 * picture before a break would be discarded). The camera's own delimiters are left out,
 * so each picture has exactly one, at its start, where H.264 wants it.
 */
const TRAILING_AUD = Uint8Array.of(0, 0, 0, 1, 0x09, 0xf0);
const NAL_AUD = 9;

/** A picture as Annex B bytes: each NAL unit behind a 4-byte start code, then an access unit delimiter. */
export function annexB(unit: DepacketizedUnit): Uint8Array {
  const nals = unit.nals.filter((n) => (n[0]! & 0x1f) !== NAL_AUD);
  const out = new Uint8Array(nals.reduce((n, nal) => n + 4 + nal.length, TRAILING_AUD.length));
  let off = 0;
  for (const nal of nals) {
    out.set(START_CODE, off);
    out.set(nal, off + 4);
    off += 4 + nal.length;
  }
  out.set(TRAILING_AUD, off);
  return out;
}

function copyCounters(d: H264Depacketizer, counters: RtspCounters): void {
  counters.rtpPicturesDamaged = d.counters.damaged;
  counters.rtpPicturesSkippedToKey = d.counters.skippedToKey;
  counters.rtpPicturesOversize = d.counters.oversize;
}

function failed(status: InputStatus, message: string): void {
  status.lastError = message;
  status.onError?.(message);
}
