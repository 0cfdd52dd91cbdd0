# The service manager's end of $NOTIFY_SOCKET, for the sd_notify tests: binds an AF_UNIX
# datagram socket (a path, or an abstract name starting with '@'), asks the kernel for the
# sender's credentials (SO_PASSCRED, as systemd does) and prints one JSON line per datagram:
# {"msg": "...", "pid": sender pid}. Node cannot receive unix datagrams, hence Python.
import json, socket, struct, sys

path = sys.argv[1]
addr = '\0' + path[1:] if path.startswith('@') else path
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(addr)
print(json.dumps({"listening": path}), flush=True)
while True:
    msg, anc, _flags, _addr = s.recvmsg(65536, socket.CMSG_SPACE(12))
    pid = None
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack('iII', data[:12])[0]
    print(json.dumps({"msg": msg.decode('utf-8', 'replace'), "pid": pid}), flush=True)
