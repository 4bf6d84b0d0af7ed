"""What the tests' small HTTP servers share: serving a handler on 127.0.0.1 for the length of a
``with`` block, and writing one answer (forwarded headers filtered, SCIM's content type when
none is given)."""

from __future__ import annotations

import http.server
import socket
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

#: Headers an answer never forwards: the server writes its own.
_OWN = frozenset({"content-length", "connection", "transfer-encoding", "date", "server"})


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def get_request(self) -> tuple[socket.socket, Any]:
        # A handler writes an answer's headers and its body apart: without TCP_NODELAY, Nagle
        # holds the body back until the client acknowledges the headers, which it delays up to
        # 40 ms on a kept-alive connection. Apps answer at once, and so do the tests' servers.
        connection, address = super().get_request()
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that left (it timed out, or the test dropped the connection on purpose) is
        # no failure of the server's: only anything else is printed, as the base class does.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[str]:
    """The base URL of HANDLER served on a free port of 127.0.0.1, while the block runs."""
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()  # stops in 10 ms
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def send(
    handler: http.server.BaseHTTPRequestHandler,
    status: int,
    data: bytes,
    headers: Iterable[tuple[str, str]] = (),
) -> None:
    """Answer STATUS with DATA through HANDLER, with HEADERS (an upstream's, say) but those the
    server writes itself; application/scim+json when they name no content type."""
    handler.send_response(status)
    typed = False
    for key, value in headers:
        if key.lower() not in _OWN:
            handler.send_header(key, value)
            typed = typed or key.lower() == "content-type"
    if data and not typed:
        handler.send_header("Content-Type", "application/scim+json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
