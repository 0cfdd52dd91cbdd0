import { describe, expect, it } from 'vitest';
import { RtspError } from '../../../../devices/camera/rtsp/errors.js';
import { h264TrackFromSdp } from '../../../../devices/camera/rtsp/sdp.js';

const crlf = (lines: string[]): string => `${lines.join('\r\n')}\r\n`;

/** What GStreamer's RTSP server (gst-rtsp-server 1.22, the integration tests' server) answered to DESCRIBE, verbatim. */
const GSTREAMER_SDP = crlf([
  'v=0',
  'o=- 14767475973232956566 1 IN IP4 127.0.0.1',
  's=Session streamed with GStreamer',
  'i=rtsp-server',
  't=0 0',
  'a=tool:GStreamer',
  'a=type:broadcast',
  'a=control:*',
  'a=range:npt=now-',
  'm=video 0 RTP/AVP 96',
  'c=IN IP4 0.0.0.0',
  'a=rtpmap:96 H264/90000',
  'a=framerate:30',
  'a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LADYxoFB8gHhEI1A==,aM48gA==;profile-level-id=42c00d;level-asymmetry-allowed=1',
  'a=control:stream=0',
  'a=ts-refclk:local',
  'a=mediaclk:sender',
  'a=ssrc:3289541046 cname:user1171706056@host-8438acf8',
]);

/** In the form Hikvision cameras answer: absolute control URLs with a query, "; " between fmtp parameters, a metadata track. */
const HIKVISION_STYLE_SDP = crlf([
  'v=0',
  'o=- 1109162014219182 1109162014219192 IN IP4 192.0.2.10',
  's=Media Presentation',
  'e=NONE',
  'b=AS:5050',
  't=0 0',
  'a=control:rtsp://192.0.2.10:554/Streaming/Channels/101/?transportmode=unicast',
  'm=video 0 RTP/AVP 96',
  'c=IN IP4 0.0.0.0',
  'b=AS:5000',
  'a=recvonly',
  'a=x-dimensions:1920,1080',
  'a=control:rtsp://192.0.2.10:554/Streaming/Channels/101/trackID=1?transportmode=unicast',
  'a=rtpmap:96 H264/90000',
  'a=fmtp:96 profile-level-id=420029; packetization-mode=1; sprop-parameter-sets=Z00AKpWoHgCJ+WEAAAMD6AAAYahCAA==,aO48gA==',
  'm=application 0 RTP/AVP 107',
  'c=IN IP4 0.0.0.0',
  'a=control:rtsp://192.0.2.10:554/Streaming/Channels/101/trackID=3?transportmode=unicast',
  'a=rtpmap:107 isapi.metadata/90000',
]);

describe('SDP: the H.264 track', () => {
  it("reads GStreamer's description: control URL against Content-Base, payload type, parameter sets", () => {
    const track = h264TrackFromSdp(GSTREAMER_SDP, 'rtsp://127.0.0.1:34203/cam/');
    expect(track).toMatchObject({ controlUrl: 'rtsp://127.0.0.1:34203/cam/stream=0', sessionUrl: 'rtsp://127.0.0.1:34203/cam/', payloadType: 96, clockRate: 90_000, packetizationMode: 1 });
    expect(Buffer.from(track.sps!).toString('base64')).toBe('Z0LADYxoFB8gHhEI1A==');
    expect(track.pps.map((p) => Buffer.from(p).toString('base64'))).toEqual(['aM48gA==']);
  });

  it('takes absolute control URLs as they are and skips tracks that are not H.264 video', () => {
    const track = h264TrackFromSdp(HIKVISION_STYLE_SDP, 'rtsp://192.0.2.10:554/Streaming/Channels/101');
    expect(track).toMatchObject({
      controlUrl: 'rtsp://192.0.2.10:554/Streaming/Channels/101/trackID=1?transportmode=unicast',
      sessionUrl: 'rtsp://192.0.2.10:554/Streaming/Channels/101/?transportmode=unicast',
      payloadType: 96,
      packetizationMode: 1,
    });
    expect(track.sps?.[0]).toBe(0x67);
  });

  it('appends a relative control to a base with a query, as Dahua cameras expect', () => {
    const sdp = crlf(['v=0', 'o=- 1 1 IN IP4 0.0.0.0', 's=Media Server', 't=0 0', 'm=video 0 RTP/AVP 96', 'a=control:trackID=0', 'a=rtpmap:96 H264/90000', 'a=fmtp:96 packetization-mode=1']);
    const track = h264TrackFromSdp(sdp, 'rtsp://192.0.2.11:554/cam/realmonitor?channel=1&subtype=0/');
    expect(track.controlUrl).toBe('rtsp://192.0.2.11:554/cam/realmonitor?channel=1&subtype=0/trackID=0');
    expect(track.sessionUrl).toBe('rtsp://192.0.2.11:554/cam/realmonitor?channel=1&subtype=0/');
    expect(track.sps).toBeUndefined();
    expect(track.pps).toEqual([]);
  });

  it('refuses a camera without H.264 video, naming what it offers', () => {
    const h265 = crlf(['v=0', 'o=- 1 1 IN IP4 0.0.0.0', 's=x', 't=0 0', 'm=video 0 RTP/AVP 96', 'a=rtpmap:96 H265/90000', 'm=audio 0 RTP/AVP 8', 'a=rtpmap:8 PCMA/8000']);
    expect(() => h264TrackFromSdp(h265, 'rtsp://cam/')).toThrow(/offers no H\.264 video \(it offers video H265\/90000, audio PCMA\/8000\); set its stream to H\.264/);
    try {
      h264TrackFromSdp(h265, 'rtsp://cam/');
    } catch (err) {
      expect((err as RtspError).code).toBe('E_RTSP_SDP');
    }
    expect(() => h264TrackFromSdp('garbage', 'rtsp://cam/')).toThrow(/no RTP tracks/);
  });

  it('refuses interleaved packetization (mode 2)', () => {
    const sdp = crlf(['v=0', 's=x', 't=0 0', 'm=video 0 RTP/AVP 97', 'a=rtpmap:97 H264/90000', 'a=fmtp:97 packetization-mode=2']);
    expect(() => h264TrackFromSdp(sdp, 'rtsp://cam/')).toThrow(/packetization-mode 2/);
  });
});
