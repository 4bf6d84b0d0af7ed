"""A real SCIM server for the tests: scim2-server started as its own process on
loopback, with the schemas of the rulesets under test registered."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from mapper.core.schema import Schema, to_scim_json

#: The bearer token of the tests' servers that require one: one token, so that the modules
#: that use such a server share it (see SharedServers).
TOKEN = "test-token-1"


class ScimServer:
    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={
                "Content-Type": "application/scim+json",
                "Accept": "application/scim+json",
                **({"Authorization": f"Bearer {self.token}"} if self.token else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_server(extensions: list[Schema], workdir: Path, token: str | None = None) -> Iterator[ScimServer]:
    """scim2-server on 127.0.0.1 with the RFC 7643 schemas plus EXTENSIONS on /Users (and,
    with TOKEN, accepting only that bearer token)."""
    from scim2_server.utils import load_default_resource_types, load_default_schemas

    schemas = [
        s.model_dump(mode="json", by_alias=True, exclude_none=True) for s in load_default_schemas().values()
    ]
    schemas += [to_scim_json(s) for s in extensions]
    resource_types = [
        rt.model_dump(mode="json", by_alias=True, exclude_none=True)
        for rt in load_default_resource_types().values()
    ]
    for rt in resource_types:
        if rt["id"] == "User":
            rt["schemaExtensions"] = [
                *rt.get("schemaExtensions", []),
                *({"schema": s.urn, "required": False} for s in extensions),
            ]
    (workdir / "schemas.json").write_text(json.dumps(schemas))
    (workdir / "resource-types.json").write_text(json.dumps(resource_types))
    port = _free_port()
    executable = shutil.which("scim2-server", path=str(Path(sys.executable).parent)) or "scim2-server"
    log_file = (workdir / "server.log").open("w")
    process = subprocess.Popen(
        [
            executable,
            "--hostname", "127.0.0.1",
            "--port", str(port),
            "--schema", str(workdir / "schemas.json"),
            "--resource-type", str(workdir / "resource-types.json"),
            *(["--bearer-token", token] if token else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )  # fmt: skip
    server = ScimServer(f"http://127.0.0.1:{port}", token)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _ = server.request("GET", "/ServiceProviderConfig")
                if status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log = (workdir / "server.log").read_text()
                raise RuntimeError(f"scim2-server did not start:\n{log}")
            time.sleep(0.05)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.close()


def emptied(server: ScimServer) -> ScimServer:
    """SERVER with every user deleted: one server process serves every test of a process that
    asks for its configuration (starting scim2-server takes about a second), each test starting
    from an empty app."""
    while True:
        status, page = server.request("GET", "/Users?startIndex=1&count=1000")
        assert status == 200, page
        found = page.get("Resources") or []
        if not found:
            return server
        for resource in found:
            status, answer = server.request("DELETE", f"/Users/{resource['id']}")
            assert status in (204, 404), answer


class SharedServers:
    """The scim2-servers of one test process, one for each configuration (extensions and
    token): the modules that ask for the same one share it (each test empties it first), and
    each start (about a second) happens once a process; all stop with the session."""

    def __init__(self, tmp_path_factory: Any) -> None:
        self._tmp = tmp_path_factory
        self._running: dict[tuple[str, str | None], ScimServer] = {}
        self._stack = ExitStack()

    def get(self, extensions: list[Schema], token: str | None = None) -> ScimServer:
        """The server with these EXTENSIONS and TOKEN, started on first use."""
        key = (json.dumps([to_scim_json(s) for s in extensions], sort_keys=True), token)
        if key not in self._running:
            started = running_server(extensions, self._tmp.mktemp("server"), token=token)
            self._running[key] = self._stack.enter_context(started)
        return self._running[key]

    def close(self) -> None:
        """Stop every server."""
        self._stack.close()


def server_fixtures(extensions: list[Schema], token: str | None = None) -> tuple[Any, Any]:
    """The fixtures ``_server_process`` (the test process's scim2-server with these EXTENSIONS
    and TOKEN, see :class:`SharedServers`) and ``server`` (it, emptied before each test), for a
    test module to assign under those names."""
    import pytest

    @pytest.fixture(scope="module")
    def _server_process(scim_servers: SharedServers) -> ScimServer:
        return scim_servers.get(extensions, token)

    @pytest.fixture
    def server(_server_process: ScimServer) -> ScimServer:
        """The module's scim2-server, emptied: every test starts with an app that has no users."""
        return emptied(_server_process)

    return _server_process, server
