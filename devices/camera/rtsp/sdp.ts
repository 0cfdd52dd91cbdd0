import { parse, parseParams } from 'sdp-transform';
import { RtspError } from './errors.js';
import { resolveControl } from './rtsp-url.js';

/** What the client needs of a DESCRIBE answer (RFC 2326 C, RFC 6184 8.2). */
export interface H264Track {
  /** Where to send SETUP for the video track. */
  readonly controlUrl: string;
  /** Where to send PLAY, TEARDOWN and keepalives: the aggregate control URL of the session. */
  readonly sessionUrl: string;
  readonly payloadType: number;
  /** RTP clock rate, 90000 for H.264. */
  readonly clockRate: number;
  /** 0 (single NAL units) or 1 (non-interleaved, with STAP-A and FU-A). */
  readonly packetizationMode: 0 | 1;
  /** From `sprop-parameter-sets`, when the camera gives them: used when the stream itself does not carry them. */
  readonly sps?: Uint8Array;
  readonly pps: readonly Uint8Array[];
}

const NAL_SPS = 7;
const NAL_PPS = 8;

/**
 * Finds the first H.264 video track in a session description. `baseUrl` is the DESCRIBE
 * answer's Content-Base, else its Content-Location, else the URL described (RFC 2326 C.1.1).
 * A camera that offers no H.264 video (H.265 only, or audio only) is refused with the tracks
 * it does offer named, so the operator knows what to change on the camera.
 */
export function h264TrackFromSdp(sdpText: string, baseUrl: string): H264Track {
  const session = parse(sdpText);
  const sessionUrl = resolveControl(baseUrl, session.control === undefined ? undefined : String(session.control));
  const offered: string[] = [];
  for (const media of session.media ?? []) {
    for (const rtp of media.rtp ?? []) {
      offered.push(`${media.type} ${rtp.codec}/${rtp.rate ?? '?'}`);
      if (media.type !== 'video' || rtp.codec.toUpperCase() !== 'H264') continue;
      const fmtp = media.fmtp?.find((f) => f.payload === rtp.payload);
      const params = fmtp === undefined ? {} : lowerKeys(parseParams(fmtp.config));
      const mode = Number(params['packetization-mode'] ?? 0);
      if (mode !== 0 && mode !== 1) {
        throw new RtspError('E_RTSP_SDP', `the camera's H.264 track uses packetization-mode ${String(params['packetization-mode'])} (interleaved); only modes 0 and 1 are supported`);
      }
      const sets = parameterSets(params['sprop-parameter-sets']);
      return {
        controlUrl: resolveControl(baseUrl, media.control === undefined ? undefined : String(media.control)),
        sessionUrl,
        payloadType: rtp.payload,
        clockRate: rtp.rate ?? 90_000,
        packetizationMode: mode,
        ...(sets.sps === undefined ? {} : { sps: sets.sps }),
        pps: sets.pps,
      };
    }
  }
  const what = offered.length === 0 ? 'no RTP tracks' : offered.join(', ');
  throw new RtspError('E_RTSP_SDP', `the camera offers no H.264 video (it offers ${what}); set its stream to H.264`);
}

function lowerKeys(params: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Decodes `sprop-parameter-sets` (comma-separated base64 NAL units); anything that is not an SPS or PPS is left out. */
export function parameterSets(value: unknown): { sps?: Uint8Array; pps: Uint8Array[] } {
  if (typeof value !== 'string') return { pps: [] };
  let sps: Uint8Array | undefined;
  const pps: Uint8Array[] = [];
  for (const part of value.split(',')) {
    const trimmed = part.trim();
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) continue;
    const nal = new Uint8Array(Buffer.from(trimmed, 'base64'));
    if (nal.length < 2 || (nal[0]! & 0x80) !== 0) continue;
    const type = nal[0]! & 0x1f;
    if (type === NAL_SPS && sps === undefined) sps = nal;
    else if (type === NAL_PPS) pps.push(nal);
  }
  return sps === undefined ? { pps } : { sps, pps };
}
