import { describe, expect, it } from 'vitest';
import { parseCredentials } from '../../../../devices/camera/rtsp/credentials.js';
import { parseRtspUrl, redactUrl, resolveControl } from '../../../../devices/camera/rtsp/rtsp-url.js';

describe('RTSP URLs and credentials', () => {
  it('takes a camera URL apart, credentials out of the request URL', () => {
    expect(parseRtspUrl('rtsp://admin:p%40ss:w@192.0.2.10/Streaming/Channels/101?transportmode=unicast')).toEqual({
      host: '192.0.2.10',
      port: 554,
      url: 'rtsp://192.0.2.10/Streaming/Channels/101?transportmode=unicast',
      user: 'admin',
      password: 'p@ss:w',
    });
    expect(parseRtspUrl('rtsp://[::1]:8554/cam')).toEqual({ host: '::1', port: 8554, url: 'rtsp://[::1]:8554/cam' });
    expect(() => parseRtspUrl('http://cam/')).toThrow(/expected an rtsp:\/\/ URL/);
    expect(() => parseRtspUrl('rtsp://user:secret@')).toThrow(/not a URL: "rtsp:\/\/user:\*\*\*@"/);
  });

  it('never shows a password in a message', () => {
    expect(redactUrl('rtsp://admin:hunter2@cam:554/live')).toBe('rtsp://admin:***@cam:554/live');
    expect(redactUrl('rtsp://cam/live')).toBe('rtsp://cam/live');
  });

  it('resolves control attributes as cameras expect', () => {
    expect(resolveControl('rtsp://cam/live', 'trackID=1')).toBe('rtsp://cam/live/trackID=1');
    expect(resolveControl('rtsp://cam/live/', 'trackID=1')).toBe('rtsp://cam/live/trackID=1');
    expect(resolveControl('rtsp://cam/live', '*')).toBe('rtsp://cam/live');
    expect(resolveControl('rtsp://cam/live', undefined)).toBe('rtsp://cam/live');
    expect(resolveControl('rtsp://cam/live', 'RTSP://other/track')).toBe('RTSP://other/track');
  });

  it('reads a credentials file of one line user:password', () => {
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
    expect(parseCredentials(enc('admin:pa:ss\n'), 'f')).toEqual({ user: 'admin', password: 'pa:ss' });
    expect(parseCredentials(enc('admin:\r\n'), 'f')).toEqual({ user: 'admin', password: '' });
    expect(() => parseCredentials(enc('admin'), '/etc/cam.cred')).toThrow(/\/etc\/cam.cred is not user:password \(no ":"\)/);
    expect(() => parseCredentials(enc(':secret'), 'f')).toThrow(/the user is empty/);
    expect(() => parseCredentials(enc('a:b\nc:d\n'), 'f')).toThrow(/more than one line/);
    // The content never appears in a message.
    expect(() => parseCredentials(enc('secretvalue'), 'f')).not.toThrow(/secretvalue/);
  });
});
