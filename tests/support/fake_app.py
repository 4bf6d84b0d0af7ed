"""A small SCIM app on loopback that misbehaves on purpose, for the sync's guards: it can
stop answering after some requests (503, or dropped connections), ask to wait for hours
(429 with Retry-After), or ignore search filters. It keeps users in memory and counts
every request it was sent."""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.loopback import serving


@dataclass
class Behaviour:
    fail_after: int | None = None  # requests answered well; after that, every request fails
    failure: str = "503"  # "503", "drop" (the connection closed without an answer), "429"
    retry_after: str | None = None  # the Retry-After of a 429
    ignore_filter: bool = False
    requests: int = 0
    methods: list[str] = field(default_factory=list)  # of every request, in order
    paths: list[str] = field(default_factory=list)  # of every request, as sent (percent-encoded)
    ids: list[str] = field(default_factory=list)  # the ids to give created users, in order
    search_answer: bytes | None = None  # the body of every answer to a search (a filter), as is
    slow: dict[str, float] = field(default_factory=dict)  # seconds a method takes before it acts and answers
    refuse_posts: int = 0  # the next POSTs to /Users refused (400 invalidValue), not acted on
    finished: int = 0  # requests handled to the end (acted on; answered, or the client had gone)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(behaviour: Behaviour) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
            self._answer_raw(status, json.dumps(body).encode() if body is not None else b"", headers)

        def _answer_raw(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/scim+json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            with behaviour.lock:
                behaviour.requests += 1
                behaviour.methods.append(self.command)
                behaviour.paths.append(self.path)
                failing = behaviour.fail_after is not None and behaviour.requests > behaviour.fail_after
            if failing:
                if behaviour.failure == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                status = 429 if behaviour.failure == "429" else 503
                headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after else {}
                self._answer(status, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                                      "status": str(status)}, headers)  # fmt: skip
                return
            time.sleep(behaviour.slow.get(self.command, 0.0))
            url = urlsplit(self.path)
            parts = url.path.rstrip("/").split("/")
            if parts[-1] == "Users" and self.command == "GET":
                found = list(behaviour.users.values())
                query = parse_qs(url.query).get("filter")
                if query and behaviour.search_answer is not None:
                    self._answer_raw(200, behaviour.search_answer)
                    return
                if query and not behaviour.ignore_filter:
                    attribute, value = re.fullmatch(r'(\S+) eq "(.*)"', query[0]).groups()  # type: ignore[union-attr]
                    found = [u for u in found if _values(u, attribute, value)]
                self._answer(200, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                                   "totalResults": len(found), "Resources": found})  # fmt: skip
            elif parts[-1] == "Users" and self.command == "POST" and behaviour.refuse_posts:
                behaviour.refuse_posts -= 1
                self._answer(400, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400",
                                   "scimType": "invalidValue", "detail": "refused"})  # fmt: skip
            elif parts[-1] == "Users" and self.command == "POST":
                user = {**body, "id": behaviour.ids.pop(0) if behaviour.ids else uuid.uuid4().hex}
                behaviour.users[user["id"]] = user
                self._answer(201, user)
            elif len(parts) > 1 and parts[-2] == "Users" and unquote(parts[-1]) in behaviour.users:
                user = behaviour.users[unquote(parts[-1])]
                if self.command == "PUT":
                    user.clear()
                    user.update({**body, "id": unquote(parts[-1])})
                elif self.command == "PATCH":
                    for op in body["Operations"]:
                        if "path" not in op and isinstance(op.get("value"), dict):
                            user.update(op["value"])
                        elif op.get("path") in ("active", "title"):
                            user[op["path"]] = op.get("value")
                self._answer(
                    200 if self.command != "DELETE" else 204, user if self.command != "DELETE" else None
                )
            else:
                self._answer(
                    404, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "404"}
                )

        def _handle_counted(self) -> None:
            try:
                self._handle()
            finally:
                with behaviour.lock:
                    behaviour.finished += 1

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle_counted

    return Handler


def _values(user: dict[str, Any], attribute: str, value: str) -> bool:
    if attribute == "emails.value":
        return any(e.get("value", "").lower() == value.lower() for e in user.get("emails", []))
    found = user.get(attribute)
    return isinstance(found, str) and found.lower() == value.lower()


@contextmanager
def fake_app(behaviour: Behaviour) -> Iterator[str]:
    """The fake app's base URL, while it runs."""
    with serving(_handler(behaviour)) as url:
        yield url
