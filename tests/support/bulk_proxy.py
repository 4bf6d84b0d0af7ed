"""A proxy in front of scim2-server that mangles /Bulk requests the ways an app may: it carries
out only some operations, answers some with 503 without doing them, loses results of
operations it did, shuffles the results, leaves out bulkIds (a PATCH, PUT or DELETE keeps its
location) and created users' bodies, answers a bulk request it carried out with a 500 or a
dropped connection, or refuses one whole (413, 501) without doing anything. Every other
request passes as it is. Faults are drawn from a seeded generator and counted."""

from __future__ import annotations

import http.client
import http.server
import json
import random
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.support.loopback import send, serving

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@dataclass
class BulkFaults:
    """Chances of each fault: per operation (skip, refuse_503, lose, strip) and per bulk request
    (whole_500, whole_drop, whole_refused)."""

    skip: float = 0.1  # not carried out, no result (the app stopped early)
    refuse_503: float = 0.1  # not carried out, answered 503
    lose: float = 0.1  # carried out, its result left out
    strip: float = 0.5  # its bulkId (not a POST's) and response body left out of its result
    whole_500: float = 0.1  # carried out, the whole answer a 500
    whole_drop: float = 0.05  # carried out, the connection closed without an answer
    whole_refused: float = 0.05  # not carried out, answered 413 or 501
    seed: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)

    def roll(self, name: str) -> bool:
        with self.lock:
            hit = self.random.random() < getattr(self, name)
            self.counts[name] += hit
            return hit

    def shuffle(self, items: list[Any]) -> None:
        with self.lock:
            self.random.shuffle(items)


@contextmanager
def bulk_proxy(upstream: str, faults: BulkFaults) -> Iterator[str]:
    target = urlsplit(upstream)

    def forward(
        method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        connection.request(method, path, body=body, headers=headers)
        answer = connection.getresponse()
        data = answer.read()
        connection.close()
        return answer.status, answer.getheaders(), data

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, data: bytes, headers: list[tuple[str, str]] | None = None) -> None:
            send(self, status, data, headers or [])

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("host", "connection", "content-length")
            }
            if self.command == "POST" and self.path.rstrip("/").endswith("/Bulk") and body:
                self._bulk(json.loads(body), headers)
                return
            status, answer_headers, data = forward(self.command, self.path, body, headers)
            self._answer(status, data, answer_headers)

        def _bulk(self, request: dict[str, Any], headers: dict[str, str]) -> None:
            if faults.roll("whole_refused"):
                status = faults.random.choice([413, 501])
                self._answer(status, json.dumps({"schemas": [ERROR], "status": str(status)}).encode())
                return
            carried, results = [], []
            for operation in request["Operations"]:
                if faults.roll("skip"):
                    continue
                if faults.roll("refuse_503"):
                    results.append({"method": operation["method"], "bulkId": operation.get("bulkId"),
                                    "status": "503", "response": {"schemas": [ERROR], "status": "503"}})  # fmt: skip
                    continue
                carried.append(operation)
            if carried:
                status, _, data = forward(
                    "POST", self.path, json.dumps({**request, "Operations": carried}).encode(), headers
                )
                assert status == 200, data
                for result in json.loads(data)["Operations"]:
                    if faults.roll("lose"):
                        continue
                    if faults.roll("strip"):
                        result.pop("response", None) if str(result.get("status", "")).startswith(
                            "2"
                        ) else None
                        if result.get("method") != "POST":
                            result.pop("bulkId", None)
                    results.append(result)
            faults.shuffle(results)
            if faults.roll("whole_drop"):
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if faults.roll("whole_500"):
                self._answer(500, json.dumps({"schemas": [ERROR], "status": "500"}).encode())
                return
            self._answer(200, json.dumps({"schemas": [BULK_RESPONSE], "Operations": results}).encode())

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

    with serving(Handler) as url:
        yield url
