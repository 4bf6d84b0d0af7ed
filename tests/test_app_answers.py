"""What mapper sync does with what an app answers that it should not (issue 19): ids that
are not URL path segments, searches that are not ListResponses, bodies without end, and
time without end. Each class of answer fails the users it concerns, with one clear line,
and never sends a request elsewhere, creates a duplicate or ends the run with exit 70."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from mapper.sync.ids import MAX_ID_LENGTH, id_problem, user_path
from tests.fake_app import Behaviour, fake_app
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
    for app_id in USABLE_IDS[:-1]:
        assert behaviour.users[app_id]["title"] == "Boss"
    assert behaviour.users[USABLE_IDS[-1]]["active"] is False


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
    with fake_app(behaviour) as url:
        summary = run(url, [user(0)], tmp_path / "state.sqlite")
    assert summary.counts["failed"] == 1, answer
    assert "POST" not in behaviour.methods
