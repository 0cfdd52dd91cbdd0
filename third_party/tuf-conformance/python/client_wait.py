# A pytest plugin (the run script loads it with `-p client_wait`): the suite's harness waits for
# the client under test without spinning a core.
#
# ClientRunner._run serves the simulated repository while the client runs:
#     while popen.poll() is None: server.handle_request()
# with the server's timeout at 0, so that loop polls as fast as Python goes for every client
# run (a few hundred per suite), and on a 2-core machine takes half the CPU away from the client
# it waits for. This version runs the same loop, but sleeps in select() until a request arrives
# on the server's socket or the client exits (a pidfd, Linux 5.3+). The same requests are
# served in the same way and the same exit status is returned; no test changes.
import os
import selectors
import subprocess

from tuf_conformance._internal.client_runner import ClientRunner

# A safety net only: select() wakes at once when a request or the exit comes.
_MAX_WAIT_S = 1.0
_NO_PIDFD_WAIT_S = 0.005


def _run(self: ClientRunner, cmd: list[str]) -> int:
    popen = subprocess.Popen(cmd)  # noqa: S603
    server = self._server
    try:
        pidfd = os.pidfd_open(popen.pid)
        wait_s = _MAX_WAIT_S
    except OSError:
        # No pidfd (a kernel before 5.3, some sandboxes): notice the exit within 5 ms instead.
        pidfd, wait_s = None, _NO_PIDFD_WAIT_S
    with selectors.DefaultSelector() as sel:
        try:
            sel.register(server.socket, selectors.EVENT_READ)
            if pidfd is not None:
                sel.register(pidfd, selectors.EVENT_READ)
            while popen.poll() is None:
                sel.select(wait_s)
                # The server's timeout is 0: this serves a waiting request, else returns.
                server.handle_request()
        finally:
            if pidfd is not None:
                os.close(pidfd)
    return popen.returncode


ClientRunner._run = _run
