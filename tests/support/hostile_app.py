"""A hostile SCIM app for the probe's tests: two real users (alice and bob) the probe must never
touch, and one misbehaviour per MODE (answers without ids, garbage bodies, ignored filters, a
dropped connection...), adapted from a reviewer's trial of mapper probe."""

# ruff: noqa
# mypy: ignore-errors

from __future__ import annotations

import http.server
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support.loopback import serving


LR = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERR = "urn:ietf:params:scim:api:messages:2.0:Error"
TOKEN = "tok-long-secret-123"
MODES = (
    "bulk_ignore_filter",
    "ignore_filter",
    "noid",
    "post200",
    "post_empty",
    "emptyid",
    "escid",
    "slashid",
    "dup_same",
    "garbage_get",
    "get_list",
    "get_empty",
    "weird_user",
    "weird_user2",
    "patch_drop",
    "patch_list",
    "spc_list",
    "delete_hang",
)


@contextmanager
def hostile_app(MODE: str) -> Iterator[tuple[str, dict, list]]:
    """(base URL, the app's users by id, the requests seen) of an app misbehaving as MODE."""
    users: dict = {}
    seen: list = []
    for n in ("alice@corp.example", "bob@corp.example"):
        i = str(uuid.uuid4())
        users[i] = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": i,
            "userName": n,
            "active": True,
        }

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, status, obj=None, raw=None):
            data = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
            self.send_response(status)
            self.send_header("Content-Type", "application/scim+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def lst(self, rs):
            self.send(
                200,
                {
                    "schemas": [LR],
                    "totalResults": len(rs),
                    "Resources": rs,
                    "startIndex": 1,
                    "itemsPerPage": len(rs),
                },
            )

        def handle_any(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(n)) if n else None
            u = urlsplit(self.path)
            path = unquote(u.path)
            q = parse_qs(u.query)
            seen.append((self.command, self.path))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self.send(401, {"schemas": [ERR], "status": "401", "detail": "bad token"})
            if path == "/ServiceProviderConfig":
                if MODE == "spc_list":
                    return self.send(200, [])
                return self.send(
                    200,
                    {
                        "patch": {"supported": True},
                        "filter": {"supported": True},
                        "bulk": {"supported": MODE.startswith("bulk"), "maxOperations": 10},
                    },
                )
            if path in ("/Schemas", "/ResourceTypes"):
                if MODE == "spc_list":
                    return self.send(200, raw=b"<html>nope</html>")
                return self.send(404, {"schemas": [ERR], "status": "404"})
            if path == "/Bulk":
                if MODE == "bulk_ignore_filter":
                    return self.send(200, {"Operations": [{"status": "500"}]})
            if path == "/Users" and self.command == "GET":
                f = q.get("filter", [""])[0]
                if f and MODE not in ("bulk_ignore_filter", "ignore_filter"):
                    val = json.loads(f.split(" eq ", 1)[1])
                    attr = f.split(" ", 1)[0]
                    rs = [
                        x
                        for x in users.values()
                        if attr == "userName" and x["userName"].lower() == val.lower()
                    ]
                    return self.lst(rs)
                return self.lst(list(users.values()))
            if path == "/Users" and self.command == "POST":
                for x in users.values():
                    if x["userName"].lower() == body["userName"].lower():
                        if MODE == "dup_same":
                            return self.send(200, x)
                        return self.send(409, {"schemas": [ERR], "status": "409", "scimType": "uniqueness"})
                i = {
                    "emptyid": "",
                    "escid": "ab\x1b[41mRED\x1b[0m",
                    "slashid": "../ServiceProviderConfig",
                }.get(MODE, str(uuid.uuid4()))
                x = {**body, "id": i, "active": body.get("active", True)}
                users[i] = x
                if MODE == "noid":
                    return self.send(201, {k: v for k, v in x.items() if k != "id"})
                if MODE == "post200":
                    return self.send(200, x)
                if MODE == "post_empty":
                    return self.send(201)
                return self.send(201, x)
            if path.startswith("/Users/"):
                i = path[len("/Users/") :]
                if i not in users:
                    return self.send(404, {"schemas": [ERR], "status": "404"})
                if self.command == "GET":
                    if MODE == "garbage_get":
                        return self.send(200, raw=b"\xff\xfe garbage <html>")
                    if MODE == "get_list":
                        return self.send(200, [users[i]])
                    if MODE == "get_empty":
                        return self.send(200)
                    if MODE == "weird_user":
                        return self.send(
                            200,
                            {
                                **users[i],
                                "emails": "oops",
                                "name": [1],
                                "phoneNumbers": {"a": 1},
                                "active": "yes",
                                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": "x",
                            },
                        )
                    if MODE == "weird_user2":
                        return self.send(
                            200, {**users[i], "emails": [None, 3, {"value": 5, "type": []}], "name": None}
                        )
                    return self.send(200, users[i])
                if self.command == "DELETE":
                    if MODE == "delete_hang":
                        import time

                        time.sleep(3)
                    if users.pop(i, None) is None:  # a second DELETE of the user, sent while the first slept
                        return self.send(404, {"schemas": [ERR], "status": "404"})
                    return self.send(204)
                if self.command == "PATCH":
                    if MODE == "patch_drop":
                        self.close_connection = True
                        self.connection.shutdown(2)
                        return
                    if MODE == "patch_list":
                        return self.send(200, raw=b"[1,2]")
                    return self.send(204)
                if self.command == "PUT":
                    users[i] = {**body, "id": i}
                    return self.send(200, users[i])
            return self.send(404, {"schemas": [ERR], "status": "404"})

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

    with serving(H) as url:
        yield url, users, seen
