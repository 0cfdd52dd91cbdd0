import { RtspError } from './errors.js';

/** An `rtsp://` URL taken apart: where to connect, what to put in requests, and any credentials it carried. */
export interface RtspUrl {
  readonly host: string;
  readonly port: number;
  /** The URL without user and password: what goes into request lines, logs and Digest's `uri`. */
  readonly url: string;
  readonly user?: string;
  readonly password?: string;
}

/** RFC 2326 3.2: the default port of `rtsp://`. */
export const RTSP_DEFAULT_PORT = 554;

export function parseRtspUrl(text: string): RtspUrl {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new RangeError(`not a URL: "${redactUrl(text)}" (expected rtsp://host[:port]/path)`);
  }
  if (u.protocol !== 'rtsp:') throw new RangeError(`expected an rtsp:// URL, got "${u.protocol}//..." (rtsps:// and RTSP over HTTP are not supported)`);
  if (u.hostname === '') throw new RangeError(`no host in "${redactUrl(text)}"`);
  const port = u.port === '' ? RTSP_DEFAULT_PORT : Number(u.port);
  const user = u.username === '' ? undefined : decode(u.username, 'user');
  const password = u.password === '' ? undefined : decode(u.password, 'password');
  u.username = '';
  u.password = '';
  // WHATWG URL keeps IPv6 hosts in brackets; net.connect wants them bare.
  const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return { host, port, url: u.toString(), ...(user === undefined ? {} : { user }), ...(password === undefined ? {} : { password }) };
}

/** The URL with its password replaced by `***`, for messages (works on text that is not a valid URL too). */
export function redactUrl(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:\s]*):[^/@\s]*@/i, '$1:***@');
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new RangeError(`the ${what} in the camera URL is not valid percent-encoding`);
  }
}

/**
 * Resolves an `a=control` attribute against the presentation's base URL the way cameras and
 * other clients (FFmpeg, live555) do: an absolute URL stands, `*` is the base itself, and
 * anything else is appended to the base with one `/`. RFC 3986 resolution would replace
 * the base's last segment (`rtsp://cam/live` + `trackID=1` -> `rtsp://cam/trackID=1`), and
 * Dahua's `Content-Base: rtsp://cam/cam/realmonitor?channel=1&subtype=0/` expects the
 * control appended after its query.
 */
export function resolveControl(base: string, control: string | undefined): string {
  if (control === undefined || control === '' || control === '*') return base;
  if (/^rtsp:\/\//i.test(control)) return control;
  return `${base.endsWith('/') ? base : `${base}/`}${control}`;
}
