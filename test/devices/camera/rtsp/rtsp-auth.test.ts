import { describe, expect, it } from 'vitest';
import { Authenticator, digestResponse, parseChallenges } from '../../../../devices/camera/rtsp/rtsp-auth.js';

describe('RTSP authentication', () => {
  it('computes Digest responses as the RFCs\' worked examples do', () => {
    // RFC 2617 3.5.
    expect(
      digestResponse({ user: 'Mufasa', password: 'Circle Of Life', realm: 'testrealm@host.com', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', method: 'GET', uri: '/dir/index.html', algorithm: 'MD5', qop: 'auth', nc: '00000001', cnonce: '0a4f113b' }),
    ).toBe('6629fae49393a05397450978507c4ef1');
    // RFC 7616 3.9.1, MD5 and SHA-256.
    const rfc7616 = { user: 'Mufasa', password: 'Circle of Life', realm: 'http-auth@example.org', nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', method: 'GET', uri: '/dir/index.html', qop: 'auth' as const, nc: '00000001', cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ' };
    expect(digestResponse({ ...rfc7616, algorithm: 'MD5' })).toBe('8ca523f5e9506fed4657c9700eebdbec');
    expect(digestResponse({ ...rfc7616, algorithm: 'SHA-256' })).toBe('753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  });

  it('parses challenges: quoted values with commas and escapes, several per header', () => {
    expect(parseChallenges(['Digest realm="IP Camera(C1234)", nonce="a,b\\"c", stale=FALSE', 'Basic realm="x"', 'Digest realm="r", nonce="n", algorithm=SHA-256, Basic realm="y"'])).toEqual([
      { scheme: 'digest', params: { realm: 'IP Camera(C1234)', nonce: 'a,b"c', stale: 'FALSE' } },
      { scheme: 'basic', params: { realm: 'x' } },
      { scheme: 'digest', params: { realm: 'r', nonce: 'n', algorithm: 'SHA-256' } },
      { scheme: 'basic', params: { realm: 'y' } },
    ]);
  });

  it('answers the strongest challenge it speaks, with an increasing nonce count', () => {
    const auth = new Authenticator({ user: 'admin', password: 'pa:ss' });
    expect(auth.authorization('DESCRIBE', 'rtsp://cam/live')).toBeUndefined(); // nothing before a 401
    expect(auth.accept(parseChallenges(['Basic realm="cam"', 'Digest realm="cam", nonce="n1", qop="auth", algorithm=MD5', 'Digest realm="cam", nonce="n2", qop="auth", algorithm=SHA-256']))).toBe(true);
    expect(auth.scheme).toBe('Digest SHA-256');
    const first = auth.authorization('DESCRIBE', 'rtsp://cam/live')!;
    const fields = Object.fromEntries([...first.matchAll(/(\w+)=(?:"([^"]*)"|([^,\s]+))/g)].map((m) => [m[1], m[2] ?? m[3]]));
    expect(fields).toMatchObject({ username: 'admin', realm: 'cam', nonce: 'n2', uri: 'rtsp://cam/live', algorithm: 'SHA-256', qop: 'auth', nc: '00000001' });
    expect(fields['response']).toBe(digestResponse({ user: 'admin', password: 'pa:ss', realm: 'cam', nonce: 'n2', method: 'DESCRIBE', uri: 'rtsp://cam/live', algorithm: 'SHA-256', qop: 'auth', nc: '00000001', cnonce: fields['cnonce']! }));
    expect(auth.authorization('SETUP', 'rtsp://cam/live/track1')).toMatch(/nc=00000002/);
  });

  it('answers Digest without qop (RFC 2069 style, as many cameras send it) and Basic', () => {
    const auth = new Authenticator({ user: 'u', password: 'p' });
    auth.accept(parseChallenges(['Digest realm="r", nonce="n"']));
    const header = auth.authorization('OPTIONS', 'rtsp://cam/')!;
    expect(header).toContain(`response="${digestResponse({ user: 'u', password: 'p', realm: 'r', nonce: 'n', method: 'OPTIONS', uri: 'rtsp://cam/', algorithm: 'MD5' })}"`);
    expect(header).not.toMatch(/qop|nc=|algorithm/);
    const basic = new Authenticator({ user: 'u', password: 'p' });
    expect(basic.accept(parseChallenges(['Basic realm="r"']))).toBe(true);
    expect(basic.authorization('OPTIONS', 'rtsp://cam/')).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
  });

  it('refuses challenges it cannot answer', () => {
    const auth = new Authenticator({ user: 'u', password: 'p' });
    expect(auth.accept(parseChallenges(['Digest realm="r", nonce="n", algorithm=SHA-512-256', 'Negotiate', 'Digest realm="r", nonce="n", qop="auth-conf"']))).toBe(false);
  });
});
