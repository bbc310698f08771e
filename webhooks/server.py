"""`python -m webhooks.server`: waitress-serve (same options), whose refusals of a body too large reach
the client.

waitress refuses a body over --max-request-body-size from its Content-Length (or, chunked, once past it),
answers 413 and closes the socket at once, with the rest of the body still coming: the kernel then
resets the connection, and a client still sending (http.client, most HTTP libraries) sees "connection
reset by peer", never the 413. Here the channel lingers as web servers do (Apache's lingering close):
once the answer is sent it shuts its side for writing and reads and drops what the client still sends,
up to LINGER_BYTES and LINGER_SECONDS, then closes. waitress reads in its event loop, so a lingering
client costs a socket, never a thread (and --connection-limit and --channel-timeout bound those)."""

from __future__ import annotations

import socket
import sys
import time

from waitress import runner
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, create_server
from waitress.utilities import RequestEntityTooLarge

# Enough for the rest of a body a few times the limit (a 7 MB roster against 6 MiB); past either bound
# the socket is closed as before.
LINGER_BYTES = 64 * 1024 * 1024
LINGER_SECONDS = 30


class LingeringChannel(HTTPChannel):
    linger_after_answer = False  # a request was refused as too large: read what follows before closing
    linger_until: float | None = None  # set once lingering: the answer is sent and writing is shut
    lingered = 0

    def service(self):
        request = self.requests[0]
        if isinstance(request.error, RequestEntityTooLarge):
            # The limit in the app's words (webhooks.errors), not waitress's "exceeds max_body of N".
            limit = self.adj.max_request_body_size // 1024
            request.error = RequestEntityTooLarge(f"request too large (limit {limit} KiB)")
            self.linger_after_answer = True
        super().service()

    def handle_close(self):
        if self.linger_after_answer and self.linger_until is None and self.connected:
            try:
                self.socket.shutdown(socket.SHUT_WR)  # the answer is out (FIN after it): now drain
            except OSError:
                return super().handle_close()
            self.linger_until = time.monotonic() + LINGER_SECONDS
            self.will_close = self.close_when_flushed = False
            return None
        return super().handle_close()

    def readable(self):
        return True if self.linger_until is not None else super().readable()

    def writable(self):
        # Lingering, nothing is left to write; --channel-timeout's sweep still closes an idle one.
        return self.will_close if self.linger_until is not None else super().writable()

    def handle_read(self):
        if self.linger_until is None:
            return super().handle_read()
        try:
            data = self.recv(self.adj.recv_bytes)
        except OSError:
            data = b""
        self.lingered += len(data)
        self.last_activity = time.time()
        if not data or self.lingered > LINGER_BYTES or time.monotonic() > self.linger_until:
            self.linger_after_answer = False
            super().handle_close()
        return None


def _serve(app, **kw):
    """waitress.serve, with our channel on every listening socket (several --listen share one map)."""
    sockets: dict = {}
    server = create_server(app, map=sockets, **kw)
    for listener in sockets.values():
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = LingeringChannel
    server.print_listen("Serving on http://{}:{}")
    server.run()


def main(argv: list[str] | None = None) -> int:
    return runner.run(["waitress-serve", *(sys.argv[1:] if argv is None else argv)], _serve=_serve)


if __name__ == "__main__":
    sys.exit(main())
