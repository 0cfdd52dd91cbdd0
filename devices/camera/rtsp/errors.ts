/**
 * What went wrong with an RTSP camera, by kind. The input logs each failure as
 * `camera.input_failed` with its message, reconnects after a backoff, and keeps the last
 * one as `lastError`; the message names the camera URL (never its password) and the step.
 */
export type RtspErrorCode =
  /** TCP connect failed or timed out. */
  | 'E_RTSP_CONNECT'
  /** A request got no answer in time, or no RTP came for too long while playing. */
  | 'E_RTSP_TIMEOUT'
  /** The server answered a request with a status other than 2xx (and not a 401 we could answer). */
  | 'E_RTSP_STATUS'
  /** 401 without credentials, credentials refused, or an authentication scheme we do not speak. */
  | 'E_RTSP_AUTH'
  /** Bytes that are not RTSP: a malformed status line or header, a body or header over its bound. */
  | 'E_RTSP_PROTOCOL'
  /** The session description has no H.264 track we can play. */
  | 'E_RTSP_SDP'
  /** The credentials file is missing, unreadable or not `user:password`. */
  | 'E_RTSP_CREDENTIALS'
  /** The server closed the connection. */
  | 'E_RTSP_CLOSED';

export class RtspError extends Error {
  override readonly name = 'RtspError';
  constructor(
    readonly code: RtspErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
