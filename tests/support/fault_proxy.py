"""A fault-injecting HTTP proxy for the sync tests: in front of scim2-server, it answers
some requests itself (500, 429 with Retry-After, 503), passes some on and then fails
(the app acted, the client hears 500 or a dropped connection: the outcome is unknown to
it), and slows some down. Faults are drawn from a seeded random generator and counted."""

from __future__ import annotations

import http.client
import http.server
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tests.support.loopback import serving


@dataclass
class Faults:
    """Chances per request of each fault."""

    refuse_500: float = 0.05  # answered 500, not passed on
    throttle_429: float = 0.05  # answered 429 with Retry-After: 0 or 1, not passed on
    unavailable_503: float = 0.03  # answered 503, not passed on
    after_500: float = 0.04  # passed on, then 500 (the app acted)
    after_drop: float = 0.04  # passed on, then the connection is closed without an answer
    slow: float = 0.05  # passed on after a pause
    seed: int = 7
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def draw(self) -> str:
        with self.lock:
            roll = self.random.random()
            for name in ("refuse_500", "throttle_429", "unavailable_503", "after_500", "after_drop", "slow"):
                chance = getattr(self, name)
                if roll < chance:
                    self.counts[name] += 1
                    return name
                roll -= chance
            self.counts["passed"] += 1
            return "pass"


@contextmanager
def fault_proxy(upstream: str, faults: Faults) -> Iterator[str]:
    target = urlsplit(upstream)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            fault = faults.draw()
            if fault in ("refuse_500", "throttle_429", "unavailable_503"):
                status = {"refuse_500": 500, "throttle_429": 429, "unavailable_503": 503}[fault]
                payload = (
                    b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "%d"}' % status
                )
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", str(faults.random.choice([0, 1])))
                self.send_header("Content-Type", "application/scim+json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            if fault == "slow":
                time.sleep(0.2)
            connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            connection.request(self.command, self.path, body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
            connection.close()
            if fault == "after_drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if fault == "after_500":
                answer_status, data = (
                    500,
                    b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "500"}',
                )
            else:
                answer_status = answer.status
            self.send_response(answer_status)
            for key, value in answer.getheaders():
                if key.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        def log_message(self, *args: object) -> None:
            pass

    with serving(Handler) as url:
        yield url
