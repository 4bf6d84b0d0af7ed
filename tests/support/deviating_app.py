"""Test doubles of SCIM servers that depart from RFC 7644 as real ones do: a proxy in front of
scim2-server that changes what PATCH does, one deviation each (reported against real
servers; see ../shared/notes/provisioning-safety.md and scim-facts.md):

- ``filtered-remove-ignored``: a ``remove`` whose path has a filter (``phoneNumbers[type eq
  "mobile"]``) answers 204 and does nothing;
- ``emails-not-removable``: a ``remove`` of ``emails`` or one of its entries answers 204 and
  does nothing;
- ``no-path-refused``: a PATCH with a path-less operation is 400 ``invalidPath``;
- ``patch-501``: every PATCH is 501 Not Implemented (PUT only).
"""

from __future__ import annotations

import http.client
import http.server
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from tests.support.loopback import send, serving

DEVIATIONS = ("filtered-remove-ignored", "emails-not-removable", "no-path-refused", "patch-501")
_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def _error(status: int, scim_type: str, detail: str) -> bytes:
    return json.dumps(
        {"schemas": [_ERROR], "status": str(status), "scimType": scim_type, "detail": detail}
    ).encode()


@contextmanager
def deviating_app(upstream: str, deviation: str) -> Iterator[str]:
    """A base URL that serves UPSTREAM's SCIM API with DEVIATION."""
    assert deviation in DEVIATIONS
    target = urlsplit(upstream)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int, data: bytes, headers: list[tuple[str, str]] | None = None) -> None:
            send(self, status, data, headers or [])

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if self.command == "PATCH" and body:
                message: dict[str, Any] = json.loads(body)
                operations = message.get("Operations", [])
                if deviation == "patch-501":
                    self._answer(501, _error(501, "", "PATCH is not implemented"))
                    return
                if deviation == "no-path-refused" and any("path" not in op for op in operations):
                    self._answer(400, _error(400, "invalidPath", "a path is required"))
                    return
                if deviation == "filtered-remove-ignored":
                    kept = [
                        op
                        for op in operations
                        if not (op.get("op") == "remove" and "[" in op.get("path", ""))
                    ]
                    if not kept:
                        self._answer(204, b"")
                        return
                    body = json.dumps({**message, "Operations": kept}).encode()
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("host", "connection", "content-length")
            }
            connection.request(self.command, self.path, body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
            connection.close()
            self._answer(answer.status, data, answer.getheaders())

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url
