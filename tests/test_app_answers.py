"""What mapper sync does with what an app answers that it should not (issue 19): ids that
are not URL path segments, searches that are not ListResponses, bodies without end, and
time without end. Each class of answer fails the users it concerns, with one clear line,
and never sends a request elsewhere, creates a duplicate or ends the run with exit 70."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from mapper.sync.ids import MAX_ID_LENGTH, id_problem, user_path
from tests.support.cli import Ran, mapper_cli, mapper_process
from tests.support.fake_app import Behaviour, fake_app
from tests.test_sync_safety import cli, run, user, write_users

# ---------------------------------------------------------------- ids as path segments

USABLE_IDS = ["a#frag", "../Groups/g1", "a?x=1", "a b", "100%", "ü/é", "a;b=c", "%2F", "x" * MAX_ID_LENGTH]
UNUSABLE_IDS = ["", ".", "..", "x" * 100_000, "a\tb", "a\r\nb", "a\x1b[31m", "\ud800"]


@pytest.mark.parametrize("app_id", USABLE_IDS)
def test_an_id_is_one_percent_encoded_path_segment(app_id: str) -> None:
    path = user_path(app_id)
    assert path.startswith("/Users/") and "/" not in path[len("/Users/") :]
    assert not set("?#") & set(path)


@pytest.mark.parametrize("app_id", [*UNUSABLE_IDS, None, 7, ["a"]])
def test_an_id_that_cannot_be_a_path_segment_is_named(app_id: object) -> None:
    assert id_problem(app_id)
    with pytest.raises(ValueError):
        user_path(app_id)  # type: ignore[arg-type]


@pytest.mark.parametrize("style", ["put", "rfc", "no-path"])
def test_every_method_sends_the_id_as_one_segment(tmp_path: Path, style: str) -> None:
    behaviour = Behaviour(ids=list(USABLE_IDS))
    users = [user(i) for i in range(len(USABLE_IDS))]
    state = tmp_path / "state.sqlite"
    with fake_app(behaviour) as url:
        assert cli(write_users(tmp_path / "a.jsonl", users), "--to", url, "--state", state).returncode == 0
        changed = [user(i, title="Boss") for i in range(len(USABLE_IDS) - 1)]
        changed.append(user(len(USABLE_IDS) - 1, status="DEPROVISIONED"))
        ran = cli(write_users(tmp_path / "b.jsonl", changed), "--to", url, "--state", state,
                  "--style", style, "--max-deactivations", "1")  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    expected = {f"/Users/{quote(i, safe='')}" for i in USABLE_IDS}
    sent = [p for m, p in zip(behaviour.methods, behaviour.paths, strict=True) if m in ("PUT", "PATCH")]
    assert len(sent) == len(USABLE_IDS) and set(sent) == expected
    # Which Okta user got which id depends on the order the creates arrived in: matched by userName.
    gone = changed[-1]["profile"]["login"]
    for held in behaviour.users.values():
        assert (held["active"] is False) if held["userName"] == gone else (held["title"] == "Boss")


@pytest.mark.parametrize("app_id", UNUSABLE_IDS)
def test_an_unusable_id_fails_that_user_and_every_later_run_says_so(tmp_path: Path, app_id: str) -> None:
    behaviour = Behaviour(ids=[app_id])
    export = write_users(tmp_path / "a.jsonl", [user(0), user(1)])
    state = tmp_path / "state.sqlite"
    with fake_app(behaviour) as url:
        first = cli(export, "--to", url, "--state", state)
        second = cli(export, "--to", url, "--state", state)
    for ran in (first, second):
        assert ran.returncode == 1, ran.stderr
        problems = [line for line in ran.stderr.splitlines() if "user id mapper cannot use" in line]
        assert len(problems) == 1 and ("00u000000" in problems[0] or "00u000001" in problems[0])
        assert "\r" not in ran.stderr and "\t" not in ran.stderr and "\x1b" not in ran.stderr
    assert behaviour.methods.count("POST") == 2  # user 1 once; user 0 once, then found, never again


# ---------------------------------------------------------------- rows of the state file

DAMAGE = {
    "a non-JSON resource": "UPDATE users SET resource = '{not json'",
    "a very deep resource": "UPDATE users SET resource = '" + "[" * 100_000 + "'",
    "a resource that is a list": "UPDATE users SET resource = '[1]'",
    "a blob app id": "UPDATE users SET app_id = x'2e2e'",
    "a dot-dot app id": "UPDATE users SET app_id = '..'",
    "an app id with a newline": "UPDATE users SET app_id = 'a' || char(10) || 'b'",
    "a text flag": "UPDATE users SET active = 'yes'",
    "a blob profile": "UPDATE users SET profile = x'7b7d'",
    "a text run counter": "UPDATE users SET seen = 'two'",
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_state_row_is_a_clear_error_and_sends_nothing(tmp_path: Path, damage: str) -> None:
    import sqlite3

    behaviour = Behaviour()
    export = write_users(tmp_path / "a.jsonl", [user(0)])
    state = tmp_path / "state.sqlite"
    with fake_app(behaviour) as url:
        assert cli(export, "--to", url, "--state", state).returncode == 0
        with sqlite3.connect(state) as db:
            db.execute(DAMAGE[damage])
        sent = len(behaviour.methods)
        ran = cli(write_users(tmp_path / "b.jsonl", [user(0, title="Boss")]), "--to", url, "--state", state)
    assert ran.returncode == 2, ran.stderr
    assert "state's row for 00u000000 is damaged" in ran.stderr and len(ran.stderr.splitlines()) == 1
    assert [m for m in behaviour.methods[sent:] if m != "GET"] == []


# ---------------------------------------------------------------- searches

NOT_LIST_RESPONSES = {
    "an empty object": b"{}",
    "a list": b"[]",
    "null": b"null",
    "a string": b'"no"',
    "an empty body": b"",
    "not JSON": b"<html>",
    "Resources not a list": b'{"totalResults": 0, "Resources": {}}',
    "a resource not an object": b'{"totalResults": 1, "Resources": [1]}',
    "totalResults not a number": b'{"totalResults": "0", "Resources": []}',
    "totalResults true": b'{"totalResults": true, "Resources": [{"id": "x", "userName": "u0@example.com"}]}',
    "more counted than given": b'{"totalResults": 2, "itemsPerPage": 1, "Resources": [{"id": "x", "userName": "u0@example.com"}]}',
    "a page that counts more": b'{"totalResults": 1, "startIndex": 1, "itemsPerPage": 0, "Resources": []}',
}


@pytest.mark.parametrize("answer", NOT_LIST_RESPONSES)
def test_a_search_answer_that_is_not_a_list_response_fails_the_user(tmp_path: Path, answer: str) -> None:
    behaviour = Behaviour(search_answer=NOT_LIST_RESPONSES[answer])
    with fake_app(behaviour) as url:  # searched, not listed (sync.listing): the searches are judged
        summary = run(url, [user(0)], tmp_path / "state.sqlite", list_first=False)
    assert summary.counts["failed"] == 1, answer
    assert "POST" not in behaviour.methods


# ---------------------------------------------------------------- answers without end


class _Endless:
    """A loopback server whose every answer is slow (a byte every 0.1 s) or endless."""

    def __init__(self, mode: str) -> None:
        import http.server
        import threading
        import time

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/scim+json")
                if mode == "drip":
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    try:
                        for _ in range(100000):
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            time.sleep(0.1)
                    except OSError:
                        return
                else:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"%x\r\n%s\r\n" % (1 << 16, b" " * (1 << 16))
                    try:
                        while True:
                            self.wfile.write(chunk)
                    except OSError:
                        return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _mapper(*args: str) -> Ran:
    done = mapper_process(*args, timeout=120, env={"SCIM_TOKEN": "test-token-1"})
    return Ran(done.returncode, done.stdout.decode(), done.stderr.decode())


@pytest.mark.parametrize("mode", ["drip", "endless"])
def test_an_answer_is_bounded_in_time_and_size(tmp_path: Path, mode: str) -> None:
    """--timeout bounds a whole answer, not each read; --max-response-mb bounds its size
    (the subprocess's own timeout is only a guard against a hang)."""
    server = _Endless(mode)
    try:
        export = write_users(tmp_path / "a.jsonl", [user(0)])
        synced = _mapper("sync", str(export), "--to", server.url, "--state", str(tmp_path / "s.sqlite"),
                         "--timeout", "1", "--max-response-mb", "1")  # fmt: skip
        checked = _mapper(
            "check", "okta-default", "--schemas", server.url, "--timeout", "1", "--max-response-mb", "1"
        )
    finally:
        server.close()
    expected = (
        "took longer than 1 s (--timeout)" if mode == "drip" else "larger than 1 MB (--max-response-mb)"
    )
    assert synced.returncode == 5 and expected in synced.stderr, synced.stderr
    assert checked.returncode == 1 and expected in checked.stderr, checked.stderr
    assert len(checked.stderr.splitlines()) == 1


def test_a_pause_past_the_breaker_window_opens_it_at_once() -> None:
    from mapper.sync.retry import AppUnavailable, Breaker

    now = [0.0]
    slept: list[float] = []
    breaker = Breaker(failures=100, seconds=60, clock=lambda: now[0])
    breaker.bad("HTTP 503")
    now[0] = 50.0
    breaker.pause(5, slept.append)  # within the window: waited
    with pytest.raises(AppUnavailable, match="--breaker-seconds"):
        breaker.pause(30, slept.append)  # would end at 80 s: the run stops now instead
    assert slept == [5]


# ---------------------------------------------------------------- odd values


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0"])
def test_a_number_option_that_is_no_number_is_a_usage_error(tmp_path: Path, value: str) -> None:
    export = write_users(tmp_path / "a.jsonl", [user(0)])
    for flag in ("--timeout", "--max-rps", "--breaker-seconds", "--max-retry-after"):
        if flag == "--max-retry-after" and value == "0":
            continue  # 0: never wait
        ran = cli(export, "--to", "http://127.0.0.1:9", "--state", tmp_path / "s.sqlite", flag, value)
        assert ran.returncode == 2, (flag, value, ran.stderr)
    result = mapper_cli(*["check", "okta-default", "--schemas", "x.json", "--timeout", value])
    assert result.exit_code == 2, result.stderr


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://127.0.0.1:abc/", "http://a\r\nb/", "http://a/" + "x" * 70_000, "ftp://a/",
            "http://user:pw@a/", "http://a/?x=1", "http://\x1b[31m/"],
)  # fmt: skip
def test_a_malformed_url_is_one_short_line_and_exit_2(tmp_path: Path, url: str) -> None:
    export = write_users(tmp_path / "a.jsonl", [user(0)])
    synced = cli(export, "--to", url, "--state", tmp_path / "s.sqlite")
    checked = mapper_cli(*["check", "okta-default", "--schemas", url], env={"SCIM_TOKEN": "t"})
    for code, err in ((synced.returncode, synced.stderr), (checked.exit_code, checked.stderr)):
        assert code == 2 and len(err.splitlines()) == 1 and len(err) < 600, err
        assert "\x1b" not in err and "\r" not in err


def test_retry_after_that_is_no_number_is_ignored() -> None:
    from mapper.sync.retry import retry_after

    assert [retry_after(v) for v in ["²", "٣", "1e3", "-5", "5", ""]] == [None, None, None, None, 5.0, None]


SCHEMA_DAMAGE = {
    "schemas not a list": {"schemas": 5, "Resources": []},
    "Resources not a list": {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "Resources": 5},
    "attributes a string": {"id": "urn:x", "attributes": "x"},
    "a name not a string": {"id": "urn:x", "attributes": [{"name": 7}]},
    "subAttributes a number": {"id": "urn:x", "attributes": [{"name": "a", "subAttributes": 5}]},
    "multiValued a string": {"id": "urn:x", "attributes": [{"name": "a", "multiValued": "no"}]},
    "type a number": {"id": "urn:x", "attributes": [{"name": "a", "type": 7}]},
    "canonicalValues a string": {"id": "urn:x", "attributes": [{"name": "a", "canonicalValues": "abc"}]},
    "schemaExtensions a number": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
                                  "name": "User", "endpoint": "/Users", "schema": "urn:x", "schemaExtensions": 5},
}  # fmt: skip


def _deep(levels: int) -> dict[str, object]:
    attribute: dict[str, object] = {"name": "leaf"}
    for _ in range(levels):
        attribute = {"name": "a", "type": "complex", "subAttributes": [attribute]}
    return {"id": "urn:x", "attributes": [attribute]}


@pytest.mark.parametrize("damage", [*SCHEMA_DAMAGE, "20 levels deep", "400 levels deep"])
def test_a_schema_document_of_the_wrong_shape_is_one_clear_line(tmp_path: Path, damage: str) -> None:
    import json

    document = _deep(int(damage.split()[0])) if "deep" in damage else SCHEMA_DAMAGE[damage]
    path = tmp_path / "schemas.json"
    path.write_text(json.dumps(document))
    result = mapper_cli(*["check", "okta-default", "--schemas", str(path)])
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("mapper: ") and (
        "levels deep" in result.stderr or "--schemas" in result.stderr
    )


def test_control_characters_from_an_app_never_reach_the_terminal(tmp_path: Path) -> None:
    import json

    document = {"Resources": [{"id": "urn:ietf:params:scim:schemas:core:2.0:User", "attributes": [{"name": "userName"}]},
                              {"id": "urn:evil:\x1b]0;pwned\x07\x1b[2J", "attributes": []}]}  # fmt: skip
    path = tmp_path / "schemas.json"
    path.write_text(json.dumps(document))
    for output in ("text", "json", "github"):
        result = mapper_cli(*["check", "appspace", "--schemas", str(path), "--format", output])
        assert result.exit_code == 2 and "its schemas" in result.stdout
        assert not any(c in result.stdout + result.stderr for c in "\x1b\x07"), output


def test_a_state_column_orjson_refuses_is_written_and_read_by_json(tmp_path: Path) -> None:
    """The state's JSON columns are read by orjson, and what it refuses or would read otherwise
    by json: an integer past 64 bits and a non-finite number read back as they were written."""
    from mapper.sync.state import State

    state = State(tmp_path / "state.sqlite", "http://127.0.0.1:1/scim/v2", "userName")
    try:
        resource = {"userName": "ada", "employeeNumber": 2**70 + 1, "name": {"givenName": "Ada"}}
        profile = {"id": "00u1", "n": -(2**80) - 3, "big": float("inf"), "nan": float("nan")}
        state.acknowledged("00u1", "a1", resource, True, "hash", 1, profile)
        row = state.get("00u1")
        assert row is not None and row.resource == resource
        assert type(row.resource["employeeNumber"]) is int and row.profile is not None
        assert (
            row.profile["n"] == -(2**80) - 3
            and row.profile["big"] == float("inf")
            and row.profile["nan"] != 0
        )
    finally:
        state.close()
