#!/usr/bin/python3
"""An RTSP server for the camera tests: GStreamer's gst-rtsp-server (Debian's
gir1.2-gst-rtsp-server-1.0), serving a raw H.264 Annex B file in a loop at a fixed frame
rate, RTP over the RTSP connection only (TCP interleaved), bound to 127.0.0.1.

    rtsp-server.py --file clip.h264 [--port 0] [--path /cam] [--fps 30] [--mtu 1400]
                   [--session-timeout 60] [--drop-every N] [--user U --password P [--auth digest|basic]]

Prints "READY <port>" on stdout once it accepts connections (port 0: the system's choice),
"TEARDOWN" for each TEARDOWN it gets and "DROPPED <packets>" for each drop (--drop-every),
and serves until it is killed.
"""
import argparse
import signal
import sys

import gi

gi.require_version('Gst', '1.0')
gi.require_version('GstRtsp', '1.0')
gi.require_version('GstRtspServer', '1.0')
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def split_access_units(data: bytes) -> list:
    """Cuts an Annex B byte stream into pictures: a picture begins at an SPS, a PPS, an AUD or
    SEI after a slice, or at a slice whose first_mb_in_slice is 0 (its first bit is set)."""
    starts = []
    i = data.find(b'\x00\x00\x01')
    while i >= 0:
        starts.append(i + 3)
        i = data.find(b'\x00\x00\x01', i + 3)
    pictures, current, has_slice = [], bytearray(), False
    for k, start in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else len(data)
        nal = data[start:end].rstrip(b'\x00')
        if not nal:
            continue
        kind = nal[0] & 0x1F
        is_slice = 1 <= kind <= 5
        begins = kind in (6, 7, 8, 9) or (is_slice and len(nal) > 1 and nal[1] & 0x80)
        if has_slice and begins:
            pictures.append(bytes(current))
            current, has_slice = bytearray(), False
        current += b'\x00\x00\x00\x01' + nal
        has_slice = has_slice or is_slice
    if has_slice:
        pictures.append(bytes(current))
    return pictures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument('--file', required=True)
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--path', default='/cam')
    parser.add_argument('--fps', type=int, default=30)
    parser.add_argument('--mtu', type=int, default=1400, help='largest RTP packet: smaller NAL units go whole or in STAP-A, larger in FU-A')
    parser.add_argument('--drop-every', type=int, default=0, help='drop every Nth RTP packet (or packet list) after the payloader: sequence gaps, as a congested camera makes')
    parser.add_argument('--session-timeout', type=int, default=60, help='seconds, announced in the Session header')
    parser.add_argument('--user')
    parser.add_argument('--password')
    parser.add_argument('--auth', choices=['digest', 'basic'], default='digest')
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address('127.0.0.1')
    server.set_service(str(args.port))

    pictures = split_access_units(open(args.file, 'rb').read())
    if not pictures:
        print(f'{args.file}: no H.264 pictures in it', file=sys.stderr)
        return 1
    frame_ns = Gst.SECOND // args.fps

    factory = GstRtspServer.RTSPMediaFactory()
    # The pictures go in one by one through appsrc, each stamped n / fps (a raw H.264 file
    # has no clock, and h264parse does not make one up), so the server's sinks pace them.
    factory.set_launch(
        f'( appsrc name=pictures format=time is-live=false '
        f'caps=video/x-h264,stream-format=byte-stream,alignment=au,framerate={args.fps}/1 '
        f'! h264parse ! rtph264pay name=pay0 pt=96 mtu={args.mtu} aggregate-mode=zero-latency )'
    )

    def on_media_configure(_factory, media):
        appsrc = media.get_element().get_by_name('pictures')
        state = {'n': 0}

        def need_data(src, _length):
            n = state['n']
            state['n'] = n + 1
            buf = Gst.Buffer.new_wrapped(pictures[n % len(pictures)])
            buf.pts = buf.dts = n * frame_ns
            buf.duration = frame_ns
            src.emit('push-buffer', buf)

        appsrc.connect('need-data', need_data)
        if args.drop_every > 0:
            pay = media.get_element().get_by_name('pay0')
            seen = {'n': 0}

            def drop(_pad, info):
                seen['n'] += 1
                if seen['n'] % args.drop_every != 0:
                    return Gst.PadProbeReturn.OK
                packets = info.get_buffer_list().length() if info.type & Gst.PadProbeType.BUFFER_LIST else 1
                print(f'DROPPED {packets}', flush=True)
                return Gst.PadProbeReturn.DROP

            pay.get_static_pad('src').add_probe(Gst.PadProbeType.BUFFER | Gst.PadProbeType.BUFFER_LIST, drop)

    factory.connect('media-configure', on_media_configure)
    factory.set_shared(True)
    # Only RTP over the RTSP connection: what the client under test must speak.
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)

    if args.user is not None:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, 'viewer')
        if args.auth == 'digest':
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
            auth.add_digest(args.user, args.password, token)
        else:
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role('viewer', GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
        permissions.add_permission_for_role('viewer', GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
        factory.set_permissions(permissions)

    server.get_mount_points().add_factory(args.path, factory)
    def on_client(_server, client):
        client.connect('new-session', lambda _client, session: session.set_timeout(args.session_timeout))
        # The tests wait for this line to know that a client ended its session politely.
        client.connect('teardown-request', lambda _client, _ctx: print('TEARDOWN', flush=True))

    server.connect('client-connected', on_client)
    if server.attach(None) == 0:
        print(f'cannot listen on 127.0.0.1:{args.port}', file=sys.stderr)
        return 1

    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    print(f'READY {server.get_bound_port()}', flush=True)
    loop.run()
    return 0


if __name__ == '__main__':
    sys.exit(main())
