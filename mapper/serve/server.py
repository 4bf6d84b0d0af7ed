"""The playground's HTTP server: the standard library's ThreadingHTTPServer on 127.0.0.1.

No web framework: the page is three static files shipped in the package and a handful of
JSON endpoints, which ``http.server`` serves in a few dozen lines; a framework would add a
dependency and an attack surface for nothing the page needs.

Safe by default, as a local tool that holds personal data must be:

- it listens on 127.0.0.1 only;
- every request for data carries the run's token (a random value printed in the URL, which
  the page sends in a header): another local user, or a page in the browser, cannot guess
  it; only the page's own static files are served without it;
- the ``Host`` header must name this server (127.0.0.1 or localhost and its port), which
  defeats DNS rebinding, and a request with an ``Origin`` header must come from this
  server's own origin, which defeats cross-site requests;
- answers carry a Content-Security-Policy that allows nothing from elsewhere (every asset is
  in the wheel; no CDN), ``X-Frame-Options: DENY`` and ``Cache-Control: no-store``;
- request bodies are bounded; nothing is written to disk but a save of the ruleset.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mapper.errors import MapperError
from mapper.serve.playground import Playground, SaveRefused, dumps

#: The largest request body: a ruleset (1 MB) and two profiles, with room for JSON escapes.
MAX_BODY = 64 << 20

_ASSETS = {"/": ("index.html", "text/html"), "/app.js": ("app.js", "text/javascript"),
           "/app.css": ("app.css", "text/css")}  # fmt: skip
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class PlaygroundServer(ThreadingHTTPServer):
    """The server of one playground, with its token; ``url`` is what to open."""

    daemon_threads = True

    def __init__(self, playground: Playground, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.playground = playground
        self.token = secrets.token_urlsafe(24)
        self.lock = threading.Lock()  # one request at a time touches the playground

    @property
    def port(self) -> int:
        """The port it listens on (chosen by the system when 0 was asked)."""
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        """The page's address, with the run's token."""
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def allowed_hosts(self) -> set[str]:
        """The Host header values that name this server."""
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}


class _Handler(BaseHTTPRequestHandler):
    server: PlaygroundServer
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a client may take to send a request: a stalled one holds nothing long
    # Buffered: an answer's headers and body leave in one write. Two small writes on a
    # kept-alive connection meet the browser's delayed acknowledgement, 40 ms an answer.
    wbufsize = 1 << 16

    def log_message(self, format: str, *args: Any) -> None:
        """Say nothing per request: a request line can carry profile data in a query."""

    # -- the guards ---------------------------------------------------------------------------

    def _refused(self) -> str | None:
        """Why this request is refused (None: it may go on)."""
        if self.headers.get("Host", "") not in self.server.allowed_hosts():
            return "unknown Host"
        origin = self.headers.get("Origin")
        if origin is not None and origin not in {f"http://{h}" for h in self.server.allowed_hosts()}:
            return "cross-origin request"
        if self.command == "GET" and urlsplit(self.path).path in _ASSETS:
            return None  # the page itself holds no data: every answer that does needs the token
        given = self.headers.get("X-Mapper-Token", "")
        if not hmac.compare_digest(given.encode(), self.server.token.encode()):
            return "no valid token"
        return None

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in _SECURITY_HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()  # the headers and the body leave in one write (see wbufsize)

    def _json(self, data: Any, status: int = HTTPStatus.OK) -> None:
        self._send(status, dumps(data), "application/json")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors http.server finds itself (a malformed request, an unknown method) answered as
        every answer is: plain text, with the security headers, never an HTML page."""
        self.close_connection = True
        self._send(code, (message or HTTPStatus(code).phrase).encode("utf-8", "replace"), "text/plain")

    def do_HEAD(self) -> None:
        """Refused: the page uses GET and POST only."""
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

    do_PUT = do_DELETE = do_OPTIONS = do_PATCH = do_HEAD

    # -- the methods --------------------------------------------------------------------------

    def do_GET(self) -> None:
        """The page, its assets, the playground's state, and the profile picker."""
        refused = self._refused()
        if refused:
            self._send(HTTPStatus.FORBIDDEN, refused.encode(), "text/plain")
            return
        path = urlsplit(self.path).path
        query = parse_qs(urlsplit(self.path).query)
        playground = self.server.playground
        if path in _ASSETS:
            name, kind = _ASSETS[path]
            self._send(
                HTTPStatus.OK, resources.files("mapper.serve").joinpath("static", name).read_bytes(), kind
            )
            return
        status: int = HTTPStatus.OK
        answer: Any = None
        try:
            with self.server.lock:  # held while the answer is made, never while it is sent
                if path == "/api/state":
                    answer = {"text": playground.text, "name": playground.name,
                              "saved_to": str(playground.path or ""), "builtin": playground.path is None,
                              "profiles": len(playground.profiles),
                              "styles": ["rfc", "no-path", "whole-multivalued", "put"],
                              "check": playground.check(playground.text)}  # fmt: skip
                elif path == "/api/profiles":
                    answer = playground.search((query.get("q") or [""])[0])
                elif path == "/api/profile":
                    index = int((query.get("index") or [""])[0])
                    if not 0 <= index < len(playground.profiles):
                        raise IndexError(index)
                    answer = playground.profile(index)
                else:
                    status, answer = HTTPStatus.NOT_FOUND, {"error": "not found"}
        except (ValueError, IndexError):
            status, answer = HTTPStatus.NOT_FOUND, {"error": "no such profile"}
        self._json(answer, status)

    def do_POST(self) -> None:
        """check, render and save: each a JSON body in, JSON out."""
        refused = self._refused()
        if refused:
            self._send(HTTPStatus.FORBIDDEN, refused.encode(), "text/plain")
            return
        if self.headers.get_content_type() != "application/json":
            self._json({"error": "send JSON"}, HTTPStatus.UNSUPPORTED_MEDIA_TYPE)  # a form cannot
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._json({"error": "no Content-Length"}, HTTPStatus.LENGTH_REQUIRED)
            return
        if not 0 <= length <= MAX_BODY:
            self._json({"error": "too large"}, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
            return
        try:
            body = json.loads(self.rfile.read(length))
        except (ValueError, RecursionError):
            self._json({"error": "not JSON"}, HTTPStatus.BAD_REQUEST)
            return
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            self._json({"error": "expected {text: ...}"}, HTTPStatus.BAD_REQUEST)
            return
        try:
            with self.server.lock:  # held while the answer is made, never while it is sent
                status, answer = self._answer(urlsplit(self.path).path, body)
            data = dumps(answer)
        except Exception as exc:
            status, data = (
                HTTPStatus.INTERNAL_SERVER_ERROR,
                dumps({"error": f"mapper serve: {type(exc).__name__}"}),
            )
        self._send(status, data, "application/json")

    def _answer(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        playground = self.server.playground
        text = body["text"]
        if path == "/api/check":
            return HTTPStatus.OK, playground.check(text)
        if path == "/api/render":
            profile, other, chosen = body.get("profile"), body.get("other"), body.get("style")
            return HTTPStatus.OK, playground.render(
                text, profile if isinstance(profile, str) else "", other if isinstance(other, str) else None,
                chosen if isinstance(chosen, str) else "rfc",
            )  # fmt: skip
        if path == "/api/save":
            name = body.get("name") if isinstance(body.get("name"), str) else None
            try:
                return HTTPStatus.OK, playground.save(text, name)
            except SaveRefused as exc:
                return HTTPStatus.CONFLICT, {"error": str(exc)}
            except (MapperError, OSError) as exc:
                reason = getattr(exc, "strerror", None) or str(exc)
                return HTTPStatus.CONFLICT, {"error": f"not saved: {reason}"}
        return HTTPStatus.NOT_FOUND, {"error": "not found"}
