"""mapper sync's guards, each against a real SCIM server (scim2-server on loopback) or a
fake app that misbehaves on purpose (tests/fake_app.py): the deactivation guard and the
empty or unreadable export, the pre-flight, the circuit breaker, lookups of inactive users,
adoption conflicts and claims, saved plans, state migrations and the lock, output paths,
and the exit codes of each."""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import mapper
from mapper.cli.main import main
from mapper.sync.app import AppError, Connection, ScimApp
from mapper.sync.engine import EmptyExport, Incoming, Options, Sync
from mapper.sync.guard import DeactivationLimit
from mapper.sync.retry import Breaker, RetryPolicy
from mapper.sync.state import SCHEMA_VERSION, State, StateError, StateLocked
from tests.support.cli import Ran, mapper_cli
from tests.support.fake_app import Behaviour, fake_app
from tests.support.scim_server import TOKEN, ScimServer, server_fixtures

# Slow: each test provisions a real SCIM server. `pytest -m "not slow"` leaves them out.
pytestmark = pytest.mark.slow


RULESET = mapper.load("okta-default")
FIXTURES = Path(__file__).parent / "fixtures" / "state"


_server_process, server = server_fixtures([], token=TOKEN)


def user(i: int, status: str = "ACTIVE", **profile: Any) -> dict[str, Any]:
    base = {
        "login": f"u{i}@example.com",
        "email": f"u{i}@example.com",
        "firstName": "Ada",
        "lastName": f"L{i}",
    }
    return {"id": f"00u{i:06d}", "status": status, "profile": {**base, **profile}}


def write_users(path: Path, users: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(u) + "\n" for u in users))
    return path


def cli(*args: str | Path, token: str | None = TOKEN) -> Ran:
    """mapper sync ARGS, in this process, with SCIM_TOKEN set to TOKEN (or unset)."""
    return mapper_cli("sync", *args, env={"SCIM_TOKEN": token})


def app_users(server: ScimServer) -> dict[str, dict[str, Any]]:
    status, page = server.request("GET", "/Users?count=1000")
    assert status == 200
    return {u["userName"]: u for u in page.get("Resources", [])}


def engine(base_url: str, state: Path, policy: RetryPolicy | None = None, breaker: Breaker | None = None,
           **options: Any) -> tuple[Sync, ScimApp, State]:  # fmt: skip
    app = ScimApp(
        Connection(base_url, TOKEN, timeout=5, concurrency=options.get("concurrency", 4)), policy, breaker
    )
    opened = State(state, base_url, options.get("match", "userName"))
    return Sync(RULESET, app, opened, Options(**options)), app, opened


def run(base_url: str, users: list[dict[str, Any]], state: Path, **kwargs: Any) -> Any:
    sync, app, opened = engine(base_url, state, **kwargs)
    try:
        return sync.run(Incoming(f"users.jsonl:{n + 1}", u) for n, u in enumerate(users))
    finally:
        app.close()
        opened.close()


def synced(server: ScimServer, users: list[dict[str, Any]], state: Path, folder: Path) -> bool:
    """Whether `mapper sync` of USERS into STATE ended with exit code 0."""
    return (
        cli(write_users(folder / "all.jsonl", users), "--to", server.base_url, "--state", state).returncode
        == 0
    )


# ---------------------------------------------------------------- 1. the deactivation guard


def test_deactivation_guard(server: ScimServer, tmp_path: Path) -> None:
    users = [user(i) for i in range(30)]
    state = tmp_path / "state.sqlite"
    assert synced(server, users, state, tmp_path)
    # Half the export missing: 15 would go, more than 20% of 30 (at least 10): none does.
    half = write_users(tmp_path / "half.jsonl", users[:15])
    held = cli(half, "--to", server.base_url, "--state", state)
    assert held.returncode == 4, held.stderr
    assert "15 users would be deactivated" in held.stderr and "--max-deactivations" in held.stderr
    assert "00u000015" in held.stderr  # the first few Okta ids
    assert all(u["active"] for u in app_users(server).values())
    # The admin consents: exactly those go.
    allowed = cli(half, "--to", server.base_url, "--state", state, "--max-deactivations", "15")
    assert allowed.returncode == 0, allowed.stderr
    assert sum(not u["active"] for u in app_users(server).values()) == 15


def test_the_default_limit_allows_ten_on_a_small_app(server: ScimServer, tmp_path: Path) -> None:
    users = [user(i) for i in range(20)]
    state = tmp_path / "state.sqlite"
    assert synced(server, users, state, tmp_path)
    ten_gone = cli(write_users(tmp_path / "ten.jsonl", users[:10]), "--to", server.base_url, "--state", state)
    assert ten_gone.returncode == 0, ten_gone.stderr  # 20% of 20 is 4, but at least 10 may go
    assert sum(not u["active"] for u in app_users(server).values()) == 10


def test_an_empty_export_is_refused_before_any_request(tmp_path: Path) -> None:
    behaviour = Behaviour()
    with fake_app(behaviour) as url:
        done = cli(write_users(tmp_path / "empty.jsonl", []), "--to", url, "--state", tmp_path / "s.sqlite")
        assert done.returncode == 4 and "no users" in done.stderr
        with pytest.raises(EmptyExport):
            run(url, [], tmp_path / "s2.sqlite")
    assert behaviour.requests == 0


def test_an_unreadable_record_keeps_the_users_gone(server: ScimServer, tmp_path: Path) -> None:
    users = [user(i) for i in range(12)]
    state = tmp_path / "state.sqlite"
    export = write_users(tmp_path / "users.jsonl", users)
    assert cli(export, "--to", server.base_url, "--state", state).returncode == 0
    cut = export.read_text()[: export.read_text().index("u6@") + 3]  # cut off mid-line, as a failed download
    export.write_text(cut.replace('"lastName": "L0"', '"lastName": "Lovelace"'))
    done = cli(export, "--to", server.base_url, "--state", state)
    assert done.returncode == 1
    assert "users.jsonl:7" in done.stderr and "6 users gone from the export not deactivated" in done.stderr
    held = app_users(server)
    assert (
        all(u["active"] for u in held.values()) and held["u0@example.com"]["name"]["familyName"] == "Lovelace"
    )


def test_the_limit() -> None:
    assert DeactivationLimit().allowed(30) == 10 and DeactivationLimit().allowed(1000) == 200
    assert DeactivationLimit.parse("5").allowed(1000) == 5 and DeactivationLimit.parse("0").allowed(9) == 0
    assert (
        DeactivationLimit.parse("50%").allowed(100) == 50 and str(DeactivationLimit.parse("2.5%")) == "2.5%"
    )
    assert DeactivationLimit.parse("0%").allowed(1000) == 0 and DeactivationLimit.parse("5%").allowed(50) == 2
    for bad in ("", "-1", "x", "101%", "1.5", "²"):
        with pytest.raises(ValueError):
            DeactivationLimit.parse(bad)


# ---------------------------------------------------------------- 2. the pre-flight


def test_preflight(server: ScimServer, tmp_path: Path) -> None:
    export = write_users(tmp_path / "users.jsonl", [user(i) for i in range(20)])
    state = tmp_path / "state.sqlite"
    unset = cli(export, "--to", server.base_url, "--state", state, token=None)
    assert unset.returncode == 2 and "SCIM_TOKEN is not set" in unset.stderr and not state.exists()
    refused = cli(export, "--to", server.base_url, "--state", state, token="wrong")
    assert refused.returncode == 5 and len(refused.stderr.splitlines()) == 1, refused.stderr
    assert "HTTP 401" in refused.stderr and "$SCIM_TOKEN" in refused.stderr
    wrong_path = cli(export, "--to", server.base_url + "/scim/v2", "--state", tmp_path / "other.sqlite")
    assert wrong_path.returncode == 5 and "HTTP 404" in wrong_path.stderr and "base URL" in wrong_path.stderr
    assert len(wrong_path.stderr.splitlines()) == 1 and "creates it again" not in wrong_path.stderr
    assert app_users(server) == {}
    with fake_app(Behaviour()) as url:
        port = url.rsplit(":", 1)[1]
    closed = cli(export, "--to", f"http://127.0.0.1:{port}", "--state", tmp_path / "closed.sqlite")
    assert (
        closed.returncode == 5
        and "connection refused" in closed.stderr
        and len(closed.stderr.splitlines()) == 1
    )
    for bad in ("ftp://x", "http://[::1", "http://host:abc/", "http://h/\r\nX: y"):
        assert cli(export, "--to", bad, "--state", tmp_path / "b.sqlite").returncode == 2, bad


# ---------------------------------------------------------------- 3. the circuit breaker


@pytest.mark.parametrize("failure", ["503", "drop"])
def test_the_breaker_stops_a_run_when_the_app_goes_dark(tmp_path: Path, failure: str) -> None:
    # The pre-flight, the listing (the app's users read once), then 20 users (a create each).
    behaviour = Behaviour(fail_after=22, failure=failure)
    fast = RetryPolicy(base=0.001, cap=0.01)
    users = [user(i) for i in range(100)]
    state = tmp_path / "state.sqlite"
    with fake_app(behaviour) as url:
        summary = run(url, users, state, policy=fast, breaker=Breaker(failures=10, seconds=60))
        assert summary.stopped is not None and "in a row failed" in summary.stopped
        assert 15 <= summary.counts["created"] <= 20
        assert behaviour.requests < 22 + 10 + 4 * 6  # not retried user by user: the run stopped
        # The app is back: the next run creates exactly the users left, none twice.
        behaviour.fail_after = None
        again = run(url, users, state, policy=fast)
        assert again.stopped is None and again.counts["failed"] == 0
    names = [u["userName"] for u in behaviour.users.values()]
    assert sorted(names) == sorted({u["profile"]["login"] for u in users})


def test_a_long_retry_after_stops_the_run(tmp_path: Path) -> None:
    behaviour = Behaviour(fail_after=1, failure="429", retry_after="3600")
    with fake_app(behaviour) as url:
        summary = run(url, [user(i) for i in range(50)], tmp_path / "state.sqlite")
        done = cli(write_users(tmp_path / "u.jsonl", [user(1)]), "--to", url, "--state", tmp_path / "s.sqlite",
                   "--max-retry-after", "10")  # fmt: skip
    assert summary.stopped is not None and "3600 s" in summary.stopped
    assert done.returncode == 5 and "3600 s" in done.stderr and "--max-retry-after" in done.stderr


# ---------------------------------------------------------------- 4. inactive users new to the state


def test_first_sync_deactivates_an_active_account_of_a_deprovisioned_user(
    server: ScimServer, tmp_path: Path
) -> None:
    status, _ = server.request("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                                 "userName": "u1@example.com", "active": True})  # fmt: skip
    assert status == 201
    users = [
        user(0),
        user(1, status="DEPROVISIONED"),
        user(2, status="DEPROVISIONED"),
        user(3, status="SUSPENDED"),
    ]
    state = tmp_path / "state.sqlite"
    first = run(server.base_url, users, state)
    assert first.looked_up == 2 and first.counts["deactivated"] == 1 and first.counts["created"] == 2
    held = app_users(server)
    assert held["u1@example.com"]["active"] is False and "u2@example.com" not in held
    assert held["u3@example.com"]["active"] is True  # SUSPENDED stays active, as in Okta
    again = run(server.base_url, users, state)
    assert again.requests == 0 and again.looked_up == 0  # the one not found is remembered


# ---------------------------------------------------------------- 5. adoption conflicts and claims


def test_an_app_user_of_another_okta_user_is_never_adopted(server: ScimServer, tmp_path: Path) -> None:
    server.request("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                      "userName": "u1@example.com", "externalId": "00uSOMEONE", "title": "Keep"})  # fmt: skip
    export = write_users(tmp_path / "users.jsonl", [user(0), user(1)])
    done = cli(export, "--to", server.base_url, "--state", tmp_path / "state.sqlite")
    assert done.returncode == 1
    assert "users.jsonl:2: 00u000001: conflict:" in done.stderr and "00uSOMEONE" in done.stderr
    kept = app_users(server)["u1@example.com"]
    assert kept["externalId"] == "00uSOMEONE" and kept["title"] == "Keep"


def test_a_search_that_ignores_its_filter_is_not_trusted(tmp_path: Path) -> None:
    behaviour = Behaviour(ignore_filter=True)
    behaviour.users["x"] = {"id": "x", "userName": "stranger@example.com", "active": True}
    with fake_app(behaviour) as url:  # searched, not listed: the search is what is judged here
        summary = run(url, [user(0)], tmp_path / "state.sqlite", list_first=False)
    assert summary.counts["failed"] == 1 and "does not match" in summary.failures[0].message
    assert list(behaviour.users) == ["x"] and behaviour.users["x"]["userName"] == "stranger@example.com"


class _RacingApp:
    """Two workers' searches both find the same app user before either claims it."""

    def __init__(self, inner: ScimApp) -> None:
        self.inner, self.counters, self.breaker = inner, inner.counters, inner.breaker
        self.barrier = threading.Barrier(2, timeout=10)
        self.patched: list[str] = []

    def preflight(self) -> None:
        pass

    def find(self, match: str, value: str) -> list[dict[str, Any]]:
        found = [
            {
                "id": "shared",
                "userName": "x",
                "emails": [{"value": "a@example.com"}, {"value": "b@example.com"}],
            }
        ]
        self.barrier.wait()
        return found

    def patch(self, app_id: str, message: dict[str, Any]) -> None:
        self.patched.append(app_id)


def test_claims_hold_under_a_forced_interleaving(tmp_path: Path) -> None:
    a = {"id": "00uA", "status": "ACTIVE", "profile": {"login": "a", "email": "a@example.com"}}
    b = {"id": "00uB", "status": "ACTIVE", "profile": {"login": "b", "email": "b@example.com"}}
    app = ScimApp(Connection("http://127.0.0.1:9", None))
    racing = _RacingApp(app)
    state = State(tmp_path / "state.sqlite", "http://127.0.0.1:9", "email")
    summary = Sync(RULESET, racing, state, Options(match="email", concurrency=2)).run(
        [Incoming("f:1", a), Incoming("f:2", b)]
    )
    owners = {state.owner("shared")}
    state.close()
    assert (summary.counts["adopted"], summary.counts["failed"]) == (1, 1)
    assert "conflict" in summary.failures[0].message and owners <= {"00uA", "00uB"}


def test_two_okta_users_sharing_an_email_never_share_an_app_user(server: ScimServer, tmp_path: Path) -> None:
    """Okta allows two users one email; matched by email, at any concurrency, one gets the app
    user and the other is a conflict, run after run."""
    users = [user(i, email="shared@example.com") for i in range(6)]
    state = tmp_path / "state.sqlite"
    for _ in range(2):
        summary = run(server.base_url, users, state, match="email", concurrency=4)
        assert summary.counts["failed"] == 5 and all("conflict" in f.message for f in summary.failures)
    held = list(app_users(server).values())
    assert len(held) == 1 and held[0]["externalId"] in {u["id"] for u in users}


class _LateCreate(ScimApp):
    """An app slow to act on a create: the first POST's answer is lost (502) and the user appears
    only after the search that followed it found no one, as the next POST arrives."""

    held: dict[str, Any] | None = None

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.held is None:
            self.held = body
            raise AppError(502, "", "the answer was lost", unknown_outcome=True)
        if self.held:
            super().create(self.held)  # the first POST, acted on late
            self.held = {}
        return super().create(body)


def test_a_create_in_doubt_that_lands_late_is_adopted_not_reported_as_a_conflict(
    server: ScimServer, tmp_path: Path
) -> None:
    """The second POST meets the first one's account (409): it is this user's own, searched
    for again and adopted, not a failure whose advice would be to remove the duplicate."""
    app = _LateCreate(Connection(server.base_url, TOKEN, timeout=5, concurrency=1))
    state = State(tmp_path / "state.sqlite", server.base_url, "userName")
    try:
        summary = Sync(RULESET, app, state, Options(concurrency=1, list_first=False)).run(
            [Incoming("f:1", user(1))]
        )
        assert state.owner(app_users(server)["u1@example.com"]["id"]) == "00u000001"
    finally:
        app.close()
        state.close()
    assert (summary.counts["adopted"], summary.counts["failed"]) == (1, 0), summary.failures
    assert [u["externalId"] for u in app_users(server).values()] == ["00u000001"]


def _wait_for(done: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, "the fake app never finished the request"
        time.sleep(0.05)


def _runs(
    behaviour: Behaviour, state: Path, exports: list[list[dict[str, Any]]], match: str = "userName"
) -> list[Any]:
    """A sync of each export in turn against the fake app (--timeout 0.5 s, one state), each
    starting once the app has finished what it was still at work on; their summaries."""
    with fake_app(behaviour) as url:
        app = ScimApp(Connection(url, TOKEN, timeout=0.5, concurrency=1))
        opened = State(state, url, match)
        summaries = []
        try:
            for users in exports:
                incoming = [Incoming(f"f:{n}", u) for n, u in enumerate(users)]
                summaries.append(
                    Sync(RULESET, app, opened, Options(match=match, concurrency=1)).run(incoming)
                )
                _wait_for(lambda: behaviour.finished >= behaviour.requests)
        finally:
            app.close()
            opened.close()
    return summaries


def test_a_create_that_timed_out_is_looked_for_by_the_next_run_not_sent_again(tmp_path: Path) -> None:
    """An app slower than --timeout creates the user after the client gave up. A search at once
    would miss it and a second POST make a second account (this app, as many, does not refuse a
    userName twice): the user stays pending, and the next run finds it and adopts it."""
    behaviour = Behaviour(slow={"POST": 1.5})
    first, second = _runs(behaviour, tmp_path / "state.sqlite", [[user(1)], [user(1)]])
    assert first.counts["failed"] == 1 and "timed out" in first.failures[0].message
    assert "the next run looks at the app before sending it again" in first.failures[0].message
    assert (second.counts["adopted"], second.counts["failed"]) == (1, 0), second.failures
    assert behaviour.methods.count("POST") == 1 and len(behaviour.users) == 1  # never sent again


def test_a_create_in_doubt_is_looked_for_by_the_value_it_carried(tmp_path: Path) -> None:
    """The create timed out, and the user's login changed in Okta before the next run: the
    account it made is found by the login it carried, and adopted, not made again."""
    behaviour = Behaviour(slow={"POST": 1.5})
    renamed = {**user(1), "profile": {**user(1)["profile"], "login": "renamed@example.com"}}
    first, second = _runs(behaviour, tmp_path / "state.sqlite", [[user(1)], [renamed]])
    assert first.counts["failed"] == 1
    assert (second.counts["adopted"], second.counts["failed"]) == (1, 0), second.failures
    assert behaviour.methods.count("POST") == 1 and len(behaviour.users) == 1


def _in_doubt_then_a_run_that_fails(
    state: Path, answered: int, failing: dict[str, Any], last: list[dict[str, Any]]
) -> tuple[Any, Any, Behaviour]:
    """A create of user 1 that times out (the app makes the account late); a run of FAILING in
    which the app answers 503 after ANSWERED requests; a run of LAST. The failing run's
    summary, the last run's, and the app."""
    behaviour = Behaviour(slow={"POST": 1.5})
    policy = RetryPolicy(attempts=2, base=0.01, cap=0.01)
    with fake_app(behaviour) as url:
        app = ScimApp(Connection(url, TOKEN, timeout=0.5, concurrency=1), policy, Breaker(failures=100))
        opened = State(state, url, "userName")
        try:
            Sync(RULESET, app, opened, Options(concurrency=1)).run([Incoming("f:1", user(1))])
            _wait_for(lambda: bool(behaviour.users))
            behaviour.fail_after = behaviour.requests + answered  # (the pre-flight and the bulk limits: 2)
            failed = Sync(RULESET, app, opened, Options(concurrency=1)).run([Incoming("f:1", failing)])
            assert failed.counts["failed"] == 1 and "HTTP 503" in failed.failures[0].message, failed.failures
            row = opened.get("00u000001")
            assert row is not None and (row.pending, row.match) == (True, "u1@example.com")
            behaviour.fail_after = None
            incoming = [Incoming(f"f:{n}", u) for n, u in enumerate(last)]
            done = Sync(RULESET, app, opened, Options(concurrency=1)).run(incoming)
        finally:
            app.close()
            opened.close()
    return failed, done, behaviour


@pytest.mark.parametrize("answered", [2, 3], ids=["search-fails", "adoption-fails"])
def test_the_value_a_create_in_doubt_carried_outlives_a_run_that_failed(
    tmp_path: Path, answered: int
) -> None:
    """The create timed out; the login changed; the next run fails (503s) before it could look
    for that create's account, or while it adopts it: the row still holds the value the create
    carried, and the run after finds the account by it and adopts it (one account)."""
    renamed = user(1, login="renamed@example.com")
    _, last, behaviour = _in_doubt_then_a_run_that_fails(
        tmp_path / "state.sqlite", answered, renamed, [renamed]
    )
    assert (last.counts["adopted"], last.counts["created"]) == (1, 0), last.failures
    assert behaviour.methods.count("POST") == 1 and len(behaviour.users) == 1


def test_an_adoption_s_patch_that_timed_out_is_read_back_by_the_next_run(tmp_path: Path) -> None:
    """The account found by --match is brought in line by a PATCH that times out: no GET and no
    second PATCH in the run (a GET could come before the first lands); the next run finds the
    account in line and sends nothing more."""
    found = {**RULESET.render(user(1)), "id": "theirs", "title": "Old"}  # only the title to bring in line
    behaviour = Behaviour(users={"theirs": found}, slow={"PATCH": 1.5})
    first, second = _runs(behaviour, tmp_path / "state.sqlite", [[user(1)], [user(1)]])
    assert first.counts["failed"] == 1 and "timed out" in first.failures[0].message, first.failures
    assert second.counts["failed"] == 0, second.failures
    assert behaviour.methods.count("PATCH") == 1 and "POST" not in behaviour.methods


class _NeverAnswers(ScimApp):
    """An app whose every POST and PATCH goes unanswered (500) without being acted on."""

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        raise AppError(500, "", "", unknown_outcome=True)

    def patch(self, app_id: str, message: dict[str, Any], if_match: str | None = None) -> None:
        raise AppError(500, "", "", unknown_outcome=True)


def test_a_user_whose_requests_went_unanswered_three_times_stays_pending(tmp_path: Path) -> None:
    """The last of three creates (or PATCHes) is in doubt like the first: the row stays pending
    with its value, so that the next run looks at the app before sending anything."""
    found = {**RULESET.render(user(2)), "id": "found", "title": "Old"}  # adopted: one PATCH to send
    with fake_app(Behaviour(users={"found": found})) as url:
        app = _NeverAnswers(Connection(url, TOKEN, concurrency=1))
        state = State(tmp_path / "state.sqlite", url, "userName")
        try:
            summary = Sync(RULESET, app, state, Options(concurrency=1, list_first=False)).run(
                [Incoming("f:1", user(1)), Incoming("f:2", user(2))]
            )
            rows = [state.get("00u000001"), state.get("00u000002")]
        finally:
            app.close()
            state.close()
    assert sorted(f.message.split(";")[0] for f in summary.failures) == [
        "no answer: the app did not answer a PATCH three times",
        "no answer: the app did not answer a create three times",
    ]
    assert [(r.pending, r.match) for r in rows if r is not None] == [
        (True, "u1@example.com"),
        (True, "u2@example.com"),
    ]


def test_a_pending_create_keeps_its_value_until_looked_for(tmp_path: Path) -> None:
    """mark_pending keeps the value of a create in doubt; carried() replaces it when that create
    has been looked for and a new one is about to be sent; an update's row takes the new value."""
    state = State(tmp_path / "state.sqlite", "http://127.0.0.1:9", "userName")
    try:
        state.mark_pending("00u1", 1, "a@example.com")
        state.mark_pending("00u1", 2, "b@example.com")
        assert state.get("00u1").match == "a@example.com"  # type: ignore[union-attr]
        state.carried("00u1", "b@example.com")
        assert state.get("00u1").match == "b@example.com"  # type: ignore[union-attr]
        state.acknowledged("00u1", "app-1", {"id": "app-1"}, True, "r", 2)
        state.mark_pending("00u1", 3, "c@example.com")
        assert state.get("00u1").match == "c@example.com"  # type: ignore[union-attr]
    finally:
        state.close()


def test_a_user_deleted_in_the_app_and_with_no_match_value_is_reported(tmp_path: Path) -> None:
    """An update meets a 404 (the app user was deleted in the app), and the user has no email
    now: it is not created again without a search, and the run goes on (no internal error)."""
    no_email = {**user(1), "profile": {k: v for k, v in user(1)["profile"].items() if k != "email"}}
    state = tmp_path / "state.sqlite"
    behaviour = Behaviour()
    with fake_app(behaviour) as url:
        export = write_users(tmp_path / "users.jsonl", [user(1), user(2)])
        assert cli(export, "--to", url, "--state", state, "--match", "email").returncode == 0
        behaviour.users.clear()  # deleted in the app
        posts = behaviour.methods.count("POST")
        export = write_users(export, [no_email, user(2)])
        dry = cli(export, "--to", url, "--state", state, "--match", "email", "--dry-run")
        assert dry.returncode == 0 and "1 to update" in dry.stderr  # the PATCH's 404 is not known yet
        ran = cli(export, "--to", url, "--state", state, "--match", "email")
        assert ran.returncode == 1, ran.stderr
        assert "00u000001: no email to look for the user by in the app (--match email)" in ran.stderr
    assert behaviour.methods.count("POST") == posts and not behaviour.users


def test_a_create_in_doubt_is_not_forgotten_when_its_user_has_no_value_now(tmp_path: Path) -> None:
    """The create timed out, then the user's email went: the user is refused (no search by a value
    it does not have) but its row keeps the value the create carried, so that when the user
    leaves the export the account that create made is found and deactivated."""
    behaviour = Behaviour(slow={"POST": 1.5})
    no_email = {**user(1), "profile": {k: v for k, v in user(1)["profile"].items() if k != "email"}}
    exports = [[user(1)], [no_email, user(2)], [user(2)]]
    _, refused, gone = _runs(behaviour, tmp_path / "state.sqlite", exports, match="email")
    assert "no email to look for the user by" in refused.failures[0].message
    assert gone.counts["deactivated"] == 1, gone.failures
    assert [u["active"] for u in behaviour.users.values() if u["externalId"] == "00u000001"] == [False]


def test_the_value_a_create_in_doubt_carried_adopts_only_that_create_s_account(tmp_path: Path) -> None:
    """The create in doubt never landed, and its login now names someone else's account: that
    account is not adopted (it does not carry this user's externalId); the user is created."""
    other = {"id": "theirs", "userName": "u1@example.com", "externalId": "00u000777", "active": True}
    behaviour = Behaviour(users={"theirs": dict(other)})
    renamed = {**user(1), "profile": {**user(1)["profile"], "login": "renamed@example.com"}}
    with fake_app(behaviour) as url:
        app = ScimApp(Connection(url, TOKEN, concurrency=1))
        opened = State(tmp_path / "state.sqlite", url, "userName")
        try:
            opened.mark_pending("00u000001", 0, "u1@example.com")  # a run killed after its POST went
            summary = Sync(RULESET, app, opened, Options(concurrency=1)).run([Incoming("f:1", renamed)])
        finally:
            app.close()
            opened.close()
    assert (summary.counts["created"], summary.counts["adopted"]) == (1, 0), summary.failures
    assert behaviour.users["theirs"] == other and "PATCH" not in behaviour.methods


def test_a_create_in_doubt_is_kept_when_the_search_for_it_fails(tmp_path: Path) -> None:
    """The create timed out; the next run's search for the user fails (503s), the user's login
    unchanged: the row keeps the value the create carried, so that when the user then leaves the
    export the account that create made is found and deactivated (not left active, unknown)."""
    _, gone, behaviour = _in_doubt_then_a_run_that_fails(tmp_path / "state.sqlite", 2, user(1), [user(2)])
    assert gone.counts["deactivated"] == 1, gone.failures
    assert [u["active"] for u in behaviour.users.values() if u["externalId"] == "00u000001"] == [False]


class _ActsThenFails(ScimApp):
    """An app that creates the user but loses the answer (500), then refuses the search that
    follows (400): what the POST did is not known at the end of the run."""

    posted = False

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        super().create(body)
        self.posted = True
        raise AppError(500, "", "the answer was lost", unknown_outcome=True)

    def find(self, match: str, value: str) -> list[dict[str, Any]]:
        if self.posted:  # the first search answers; the one after the POST is refused
            raise AppError(400, "invalidFilter", "the app refused the search")
        return super().find(match, value)


def test_a_create_in_doubt_in_this_run_is_kept_when_the_search_after_it_fails(tmp_path: Path) -> None:
    """The POST's answer was lost and the search after it refused: the run ends not knowing
    whether the account exists, so the row stays pending with the value the POST carried."""
    behaviour = Behaviour()
    with fake_app(behaviour) as url:
        app = _ActsThenFails(Connection(url, TOKEN, concurrency=1))
        opened = State(tmp_path / "state.sqlite", url, "userName")
        try:
            summary = Sync(RULESET, app, opened, Options(concurrency=1, list_first=False, preflight=False,
                                                        bulk=False)).run([Incoming("f:1", user(1))])  # fmt: skip
            row = opened.get("00u000001")
        finally:
            app.close()
            opened.close()
    assert summary.counts["failed"] == 1 and "HTTP 400" in summary.failures[0].message, summary.failures
    assert behaviour.methods == ["GET", "POST"] and len(behaviour.users) == 1
    assert row is not None and (row.app_id, row.pending, row.match) == (None, True, "u1@example.com")


def _deleted_in_the_app(behaviour: Behaviour, url: str, state: Path, *users: dict[str, Any]) -> None:
    """A sync of each of USERS in turn into STATE, then the account deleted in the app."""
    opened = State(state, url, "userName")
    setup = ScimApp(Connection(url, TOKEN, concurrency=1))
    try:
        for one in users:
            Sync(RULESET, setup, opened, Options(concurrency=1)).run([Incoming("f:1", one)])
    finally:
        setup.close()
        opened.close()
    behaviour.users.clear()


def test_a_user_deleted_in_the_app_whose_new_create_timed_out_is_looked_for_by_its_value(
    tmp_path: Path,
) -> None:
    """An update meets a 404 (deleted in the app); the create that follows times out; the login
    changes before the next run: the account that create made is found by the login it
    carried and adopted, not made a second time."""
    behaviour = Behaviour()
    state = tmp_path / "state.sqlite"
    renamed = user(1, title="Boss", login="renamed@example.com")
    with fake_app(behaviour) as url:
        _deleted_in_the_app(behaviour, url, state, user(1))
        behaviour.slow["POST"] = 1.5
        app = ScimApp(Connection(url, TOKEN, timeout=0.5, concurrency=1))
        opened = State(state, url, "userName")
        try:
            first = Sync(RULESET, app, opened, Options(concurrency=1)).run(
                [Incoming("f:1", user(1, title="Boss"))]
            )
            assert first.counts["failed"] == 1 and "timed out" in first.failures[0].message, first.failures
            _wait_for(lambda: behaviour.finished >= behaviour.requests)
            second = Sync(RULESET, app, opened, Options(concurrency=1)).run([Incoming("f:1", renamed)])
        finally:
            app.close()
            opened.close()
    assert (second.counts["adopted"], second.counts["created"]) == (1, 0), second.failures
    assert behaviour.methods.count("POST") == 2 and len(behaviour.users) == 1  # the first sync's, and one


def test_a_user_deleted_in_the_app_whose_new_create_was_refused_is_created_by_the_next_run(
    tmp_path: Path,
) -> None:
    """--repair finds the app user deleted (404) and the create that follows is refused: the
    next run, with the user unchanged, creates it (the state does not go on pointing at the
    deleted account, which would make the user look in line)."""
    behaviour = Behaviour()
    state = tmp_path / "state.sqlite"
    with fake_app(behaviour) as url:
        _deleted_in_the_app(behaviour, url, state, user(1))
        behaviour.refuse_posts = 1
        app = ScimApp(Connection(url, TOKEN, concurrency=1))
        opened = State(state, url, "userName")
        try:
            repair = Sync(RULESET, app, opened, Options(concurrency=1, repair=True)).run(
                [Incoming("f:1", user(1))]
            )
            assert repair.counts["failed"] == 1 and "HTTP 400" in repair.failures[0].message, repair.failures
            after = Sync(RULESET, app, opened, Options(concurrency=1)).run([Incoming("f:1", user(1))])
        finally:
            app.close()
            opened.close()
    assert after.counts["created"] == 1, (after.counts, after.failures)
    assert [u["externalId"] for u in behaviour.users.values()] == ["00u000001"]


def test_a_user_active_again_whose_account_was_deleted_in_the_app_is_provisioned_again(
    tmp_path: Path,
) -> None:
    """A deactivated user's account was deleted in the app; the user is active again in Okta:
    the reactivation meets a 404, and the user is created again, as an update's 404 is."""
    behaviour = Behaviour()
    state = tmp_path / "state.sqlite"
    with fake_app(behaviour) as url:
        _deleted_in_the_app(behaviour, url, state, user(1), user(1, status="DEPROVISIONED"))
        app = ScimApp(Connection(url, TOKEN, concurrency=1))
        opened = State(state, url, "userName")
        try:
            again = Sync(RULESET, app, opened, Options(concurrency=1)).run([Incoming("f:1", user(1))])
        finally:
            app.close()
            opened.close()
    assert (again.counts["created"], again.counts["failed"]) == (1, 0), again.failures
    assert [(u["externalId"], u["active"]) for u in behaviour.users.values()] == [("00u000001", True)]


class _GatewayPatch404(ScimApp):
    """A gateway in front of the app that answers 404 to every PATCH while BLOCKED (as one does
    for an operation it does not route): the account is still there."""

    blocked = False

    def patch(self, app_id: str, message: dict[str, Any], if_match: str | None = None) -> None:
        if self.blocked:
            raise AppError(404, "", "not found")
        super().patch(app_id, message, if_match)


def _gateway_runs(state: Path, exports: list[list[dict[str, Any]]], blocked: list[bool]) -> list[Any]:
    """A sync of each export in turn through a _GatewayPatch404, blocked or not as BLOCKED says."""
    behaviour = Behaviour()
    summaries = []
    with fake_app(behaviour) as url:
        app = _GatewayPatch404(Connection(url, TOKEN, concurrency=1))
        opened = State(state, url, "userName")
        try:
            for users, block in zip(exports, blocked, strict=True):
                app.blocked = block
                incoming = [Incoming(f"f:{n}", u) for n, u in enumerate(users)]
                summaries.append(Sync(RULESET, app, opened, Options(concurrency=1)).run(incoming))
        finally:
            app.close()
            opened.close()
    return [*summaries, behaviour]


def test_a_deactivation_that_meets_a_404_is_reported_and_sent_again(tmp_path: Path) -> None:
    """A 404 is not proof that the account is gone (a gateway may answer one): the deactivation
    is a failure, the row keeps the account's id, and once the gateway lets the PATCH through
    the next run deactivates the account."""
    deprovisioned = user(1, status="DEPROVISIONED")
    *runs, behaviour = _gateway_runs(tmp_path / "state.sqlite", [[user(1)], [deprovisioned], [deprovisioned]],
                                     [False, True, False])  # fmt: skip
    assert runs[1].counts["failed"] == 1 and "HTTP 404" in runs[1].failures[0].message, runs[1].failures
    assert runs[2].counts["deactivated"] == 1, runs[2].failures
    assert [u["active"] for u in behaviour.users.values()] == [False]


def test_an_update_s_404_keeps_the_row_until_a_post_goes(tmp_path: Path) -> None:
    """An update meets a gateway's 404; the search that follows finds the same account, whose
    reconcile PATCH meets a 404 too: the row keeps the account's id (no POST went), so that when
    the user leaves the export, the gateway fixed, that account is deactivated."""
    *runs, behaviour = _gateway_runs(tmp_path / "state.sqlite", [[user(1)], [user(1, title="Boss")], [user(2)]],
                                     [False, True, False])  # fmt: skip
    assert runs[1].counts["failed"] == 1 and "HTTP 404" in runs[1].failures[0].message, runs[1].failures
    assert runs[2].counts["deactivated"] == 1, runs[2].failures
    assert behaviour.methods.count("POST") == 2  # user 1 once, user 2 once
    assert [u["active"] for u in behaviour.users.values() if u["externalId"] == "00u000001"] == [False]


def test_a_rename_that_meets_a_gateway_s_404_makes_no_second_account(tmp_path: Path) -> None:
    """The update renames the user and meets a gateway's 404: the account is looked for by the
    login it was last sent too, found (it carries the user's externalId) and kept, not made a
    second time; the next run, the gateway fixed, renames it."""
    renamed = user(1, login="renamed@example.com")
    *runs, behaviour = _gateway_runs(tmp_path / "state.sqlite", [[user(1)], [renamed], [renamed]],
                                     [False, True, False])  # fmt: skip
    assert runs[1].counts["failed"] == 1 and "HTTP 404" in runs[1].failures[0].message, runs[1].failures
    assert (runs[2].counts["updated"], runs[2].counts["failed"]) == (1, 0), runs[2].failures  # the rename
    assert behaviour.methods.count("POST") == 1
    assert [u["externalId"] for u in behaviour.users.values()] == ["00u000001"]


def test_an_applied_create_refused_after_a_404_is_created_by_the_next_run(tmp_path: Path) -> None:
    """--repair --plan-out finds the account deleted in the app and plans a create; --apply sends
    it and the app refuses it: the row does not go on holding the deleted account's id (which
    would make the unchanged user look in line), so the next sync creates the user."""
    behaviour = Behaviour()
    state, plan = tmp_path / "state.sqlite", tmp_path / "plan.json"
    with fake_app(behaviour) as url:
        export = write_users(tmp_path / "users.jsonl", [user(1)])
        assert cli(export, "--to", url, "--state", state).returncode == 0
        behaviour.users.clear()
        assert cli(export, "--to", url, "--state", state, "--repair", "--plan-out", plan).returncode == 0
        behaviour.refuse_posts = 1
        applied = cli("--apply", plan, "--to", url, "--state", state)
        assert applied.returncode == 1 and "HTTP 400" in applied.stderr, applied.stderr
        again = cli(export, "--to", url, "--state", state)
    assert again.returncode == 0 and "1 created" in again.stderr, again.stderr
    assert [u["externalId"] for u in behaviour.users.values()] == ["00u000001"]


def test_an_update_that_timed_out_is_read_back_by_the_next_run(tmp_path: Path) -> None:
    """A PATCH that timed out may land after a GET sent at once, and a PATCH built from that GET
    would then apply its change twice (an ``add`` to a multi-valued attribute, a second entry):
    the user stays pending, and the next run reads what the app holds, which needs nothing."""
    behaviour = Behaviour()
    state = tmp_path / "state.sqlite"
    with fake_app(behaviour) as url:
        opened = State(state, url, "userName")
        setup = ScimApp(Connection(url, TOKEN, concurrency=1))  # the default timeout: no PATCH yet
        Sync(RULESET, setup, opened, Options(concurrency=1)).run([Incoming("f:1", user(1))])
        setup.close()
        app = ScimApp(Connection(url, TOKEN, timeout=0.5, concurrency=1))
        try:
            behaviour.slow["PATCH"] = 1.5
            changed = [Incoming("f:1", user(1, title="Boss"))]
            first = Sync(RULESET, app, opened, Options(concurrency=1)).run(changed)
            assert first.counts["failed"] == 1 and "timed out" in first.failures[0].message
            patched = behaviour.methods.index("PATCH")
            assert behaviour.methods[patched:] == ["PATCH"]  # no GET, no second PATCH in the run
            _wait_for(
                lambda: next(iter(behaviour.users.values())).get("title") == "Boss"
            )  # the app finishes it
            second = Sync(RULESET, app, opened, Options(concurrency=1)).run(changed)
        finally:
            app.close()
            opened.close()
    assert second.counts["unchanged"] == 1 and second.counts["failed"] == 0, second.failures
    assert behaviour.methods.count("PATCH") == 1


def test_which_failures_are_looked_at_by_the_next_run() -> None:
    """A 504 is a gateway that stopped waiting: the app behind it may still be creating the user."""
    from mapper.sync.app import _error

    assert [(e.unknown_outcome, e.later) for e in (_error(s, None, True) for s in (500, 502, 504, 409))] == [
        (True, False), (True, False), (True, True), (False, False)
    ]  # fmt: skip
    assert not _error(504, None, False).later  # a GET, PUT or DELETE is retried, never in doubt


def test_a_user_who_cannot_be_looked_for_is_never_created(server: ScimServer, tmp_path: Path) -> None:
    """Matched by email, a user with no email cannot be searched for: creating it could make a
    second account (beside one the app holds, or after a create in doubt). Sync and its dry
    run fail that user alike, and send nothing for it."""
    users = [user(1), {**user(2), "profile": {"login": "u2@example.com", "firstName": "Ada"}}]
    export = write_users(tmp_path / "users.jsonl", users)
    state = tmp_path / "state.sqlite"
    dry = cli(export, "--to", server.base_url, "--state", state, "--match", "email", "--dry-run")
    first, done = (cli(export, "--to", server.base_url, "--state", state, "--match", "email") for _ in "12")
    assert first.returncode == done.returncode == 1, done.stderr  # some users failed
    assert dry.returncode == 1, dry.stderr
    assert "0 to delete. 1 failure (above).\n" in dry.stderr and "Plan: 1 to create," in dry.stderr
    assert "1 created" in first.stderr and "0 created" in done.stderr and "1 failed" in done.stderr
    # mapper plan decides alike: the same request as the dry run, the same failure
    empty = write_users(tmp_path / "empty.jsonl", [])
    planned = mapper_cli("plan", empty, export, "--match", "email")
    assert planned.returncode == 1
    assert [json.loads(line) for line in planned.stdout.splitlines()] == [
        json.loads(line) for line in dry.stdout.splitlines()
    ]
    for ran in (dry, first, done):
        assert "00u000002: no email to look for the user by in the app (--match email)" in ran.stderr
    assert "users.jsonl:2: no email to look for the user by in the app (--match email)" in planned.stderr
    assert all("u2@example.com" not in ran.stderr for ran in (dry, first, done, planned))  # no personal data
    assert list(app_users(server)) == ["u1@example.com"]


def test_plan_sends_nothing_for_a_user_who_stays_deprovisioned(tmp_path: Path) -> None:
    from mapper.tools.bulk import Block
    from mapper.tools.plan_exports import Summary, plan

    old = [user(0, status="DEPROVISIONED", title="A"), user(1, status="ACTIVE")]
    new = [user(0, status="DEPROVISIONED", title="B"), user(1, status="DEPROVISIONED")]
    blocks = [
        [Block("x", 1, "".join(json.dumps(u) + "\n" for u in users).encode(), True)] for users in (old, new)
    ]
    summary = Summary()
    requests = list(plan(RULESET, blocks[0], blocks[1], "rfc", summary))
    assert [(r["okta_id"], r["method"], r["body"]) for r in requests] == [  # type: ignore[index]
        ("00u000001", "PATCH", RULESET.deactivate("rfc"))  # the style of the run (rfc)
    ]


# ---------------------------------------------------------------- 7. saved plans


def test_plan_out_then_apply(server: ScimServer, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    users = [user(i) for i in range(6)]
    assert (
        cli(write_users(tmp_path / "v1.jsonl", users), "--to", server.base_url, "--state", state).returncode
        == 0
    )
    users[0] = user(0, lastName="Byron")
    users[1] = user(1, status="DEPROVISIONED")
    users.append(user(6))
    export = write_users(tmp_path / "v2.jsonl", users)
    plan = tmp_path / "plan.json"
    made = cli(export, "--to", server.base_url, "--state", state, "--plan-out", plan)
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(plan.stat().st_mode) == 0o600
    assert "Byron" not in made.stdout and "+ create     00u000006" in made.stdout
    assert "Plan: 1 to create, 0 to adopt, 1 to update, 1 to deactivate" in made.stderr
    assert "Byron" in cli(export, "--to", server.base_url, "--state", state, "--plan-out", tmp_path / "p2.json",
                          "--show-values").stdout  # fmt: skip
    assert "u6@example.com" not in app_users(server)  # nothing sent
    other = write_users(tmp_path / "v3.jsonl", [*users, user(7)])
    assert (
        cli(other, "--to", server.base_url, "--state", state, "--plan-out", tmp_path / "p3.json").returncode
        == 0
    )
    # Refused: another URL, another ruleset; then applied exactly; then stale.
    other = cli("--apply", plan, "--to", server.base_url + "/", "--state", state, "-r", "appspace")
    assert other.returncode == 4 and "not appspace" in other.stderr
    applied = cli("--apply", plan, "--to", server.base_url, "--state", state)
    assert applied.returncode == 0, applied.stderr
    held = app_users(server)
    assert (
        held["u0@example.com"]["name"]["familyName"] == "Byron" and held["u1@example.com"]["active"] is False
    )
    assert "u6@example.com" in held
    again = cli("--apply", plan, "--to", server.base_url, "--state", state)
    assert again.returncode == 4 and "already applied" in again.stderr
    stale = cli("--apply", tmp_path / "p3.json", "--to", server.base_url, "--state", state)
    assert stale.returncode == 4 and "stale" in stale.stderr
    assert cli(export, "--to", server.base_url, "--state", state, "--dry-run").stdout == ""


def test_a_plan_sends_only_reads(tmp_path: Path) -> None:
    behaviour = Behaviour()
    with fake_app(behaviour) as url:
        state = tmp_path / "state.sqlite"
        export = write_users(tmp_path / "u.jsonl", [user(i) for i in range(5)])
        made = cli(export, "--to", url, "--state", state, "--plan-out", tmp_path / "plan.json")
        assert made.returncode == 0 and not state.exists()
        assert set(behaviour.methods) == {"GET"} and behaviour.users == {}
        assert len(json.loads((tmp_path / "plan.json").read_text())["users"]) == 5
        assert cli("--apply", tmp_path / "plan.json", "--to", url, "--state", state).returncode == 0
    assert behaviour.methods.count("POST") == 5 and len(behaviour.users) == 5


def test_apply_skips_a_user_changed_in_the_app_since_the_plan(server: ScimServer, tmp_path: Path) -> None:
    server.request("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                      "userName": "u0@example.com", "title": "Old"})  # fmt: skip
    state, plan = tmp_path / "state.sqlite", tmp_path / "plan.json"
    export = write_users(tmp_path / "users.jsonl", [user(0), user(1)])
    assert cli(export, "--to", server.base_url, "--state", state, "--plan-out", plan).returncode == 0
    app_id = app_users(server)["u0@example.com"]["id"]
    server.request("PATCH", f"/Users/{app_id}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "path": "title", "value": "Changed"}]})  # fmt: skip
    applied = cli("--apply", plan, "--to", server.base_url, "--state", state)
    assert applied.returncode == 1 and "changed since the plan" in applied.stderr
    held = app_users(server)
    assert held["u0@example.com"]["title"] == "Changed" and "u1@example.com" in held


# ---------------------------------------------------------------- 8. migrations, 9. the lock


@pytest.mark.parametrize("schema", [1, 2, 3])
def test_state_files_of_every_earlier_schema_are_upgraded(tmp_path: Path, schema: int) -> None:
    path = tmp_path / "state.sqlite"
    shutil.copy(FIXTURES / f"schema-{schema}.sqlite", path)
    base_url = dict(sqlite3.connect(path).execute("SELECT key, value FROM meta").fetchall())["base_url"]
    before = (
        sqlite3.connect(path).execute("SELECT okta_id, app_id, active FROM users ORDER BY okta_id").fetchall()
    )
    # A dry run reads it without changing the file.
    State(path, base_url, "userName", readonly=True).close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 0
    state = State(path, base_url, "userName")
    rows = [state.get(okta_id) for okta_id, _, _ in before]
    state.close()
    assert [(r.okta_id, r.app_id, r.active) for r in rows if r] == [(o, a, bool(x)) for o, a, x in before]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_newer_or_foreign_state_is_refused(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite"
    sqlite3.connect(newer).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StateError, match="newer mapper"):
        State(newer, "http://a", "userName")
    foreign = tmp_path / "foreign.sqlite"
    sqlite3.connect(foreign).execute("CREATE TABLE notes (x)")
    with pytest.raises(StateError, match="not a mapper state file"):
        State(foreign, "http://a", "userName")
    (tmp_path / "link.sqlite").symlink_to(foreign)
    with pytest.raises(StateError, match="symbolic link"):
        State(tmp_path / "link.sqlite", "http://a", "userName")


def test_one_sync_per_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    held = State(path, "http://127.0.0.1:9", "userName")
    with pytest.raises(StateLocked):
        State(path, "http://127.0.0.1:9", "userName")
    with pytest.raises(StateLocked):
        State(path, "http://127.0.0.1:9", "userName", readonly=True)
    locked = cli(write_users(tmp_path / "u.jsonl", [user(1)]), "--to", "http://127.0.0.1:9", "--state", path)
    assert locked.returncode == 4 and "another mapper sync" in locked.stderr
    held.close()
    # A killed process releases it.
    code = f"from mapper.sync.state import State; State({str(path)!r}, 'http://127.0.0.1:9', 'userName'); print('ok', flush=True); input()"
    holder = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline() == "ok\n"
    with pytest.raises(StateLocked):
        State(path, "http://127.0.0.1:9", "userName")
    holder.kill()
    holder.communicate()
    State(path, "http://127.0.0.1:9", "userName").close()


# ---------------------------------------------------------------- 10. output paths


def test_output_paths_are_checked_before_any_request(tmp_path: Path) -> None:
    behaviour = Behaviour()
    export = write_users(tmp_path / "u.jsonl", [user(1)])
    with fake_app(behaviour) as url:
        for flag, value in [("--report", tmp_path / "no" / "r.json"), ("--state", tmp_path / "no" / "s.sqlite"),
                            ("--plan-out", tmp_path / "no" / "p.json"), ("--report", tmp_path)]:  # fmt: skip
            args = [export, "--to", url, flag, value]
            if flag != "--state":
                args += ["--state", tmp_path / "s.sqlite"]
            done = cli(*args)
            assert done.returncode == 2 and flag in done.stderr and "nothing was sent" in done.stderr, (
                done.stderr
            )
    assert behaviour.requests == 0


def test_bad_paths_and_urls_are_usage_errors(tmp_path: Path) -> None:
    behaviour = Behaviour()
    export = write_users(tmp_path / "u.jsonl", [user(1)])
    state = tmp_path / "s.sqlite"
    with fake_app(behaviour) as url:
        cases = [
            [export, "--to", url, "--state", state, "--report", state],  # a report over the state
            [export, "--to", url, "--state", state, "--plan-out", export],  # a plan over the export
            [export, "--to", url, "--state", state, "--report", "/dev/null"],  # not a regular file
            [export, tmp_path / "missing.jsonl", "--to", url, "--state", state],
            [tmp_path, "--to", url, "--state", state],
            [export, "--to", url.replace("http://", "http://admin:secret@"), "--state", state],
            [export, "--to", url + "/?x=1", "--state", state],
            [export, "--to", url, "--state", state, "--max-deactivations", "abc"],
            [export, "--to", url, "--state", state, "--shard", "²/3"],
            ["--to", url, "--state", state],
        ]
        for args in cases:
            done = cli(*args)
            assert done.returncode == 2, (args, done.stderr)
            assert len(done.stderr.splitlines()) == 1 and "secret" not in done.stderr, done.stderr
    assert behaviour.requests == 0 and not state.exists()


def test_a_refused_run_leaves_no_state_behind(server: ScimServer, tmp_path: Path) -> None:
    export = write_users(tmp_path / "u.jsonl", [user(1)])
    state = tmp_path / "s.sqlite"
    assert cli(export, "--to", server.base_url + "/scim/v2", "--state", state).returncode == 5
    assert not state.exists()  # so the corrected --to is not refused as another app's state
    assert cli(export, "--to", server.base_url, "--state", state).returncode == 0


def test_a_plan_shows_adoptions_and_is_applied_once(server: ScimServer, tmp_path: Path) -> None:
    users = [user(i) for i in range(3)]
    for u in users[:2]:  # already in the app, as the ruleset renders them
        server.request("POST", "/Users", RULESET.create(u))
    state, plan = tmp_path / "state.sqlite", tmp_path / "plan.json"
    made = cli(
        write_users(tmp_path / "u.jsonl", users),
        "--to",
        server.base_url,
        "--state",
        state,
        "--plan-out",
        plan,
    )
    assert made.returncode == 0, made.stderr
    assert "Plan: 1 to create, 2 to adopt" in made.stderr and made.stdout.count("~ adopt") == 2
    assert cli("--apply", plan, "--to", server.base_url, "--state", state).returncode == 0
    again = cli("--apply", plan, "--to", server.base_url, "--state", state)
    assert again.returncode == 4 and "already applied" in again.stderr


# ---------------------------------------------------------------- found in review


def test_a_conflicted_user_who_leaves_never_deactivates_the_other_account(
    server: ScimServer, tmp_path: Path
) -> None:
    server.request("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                      "userName": "u7@example.com", "externalId": "00uOTHER", "active": True})  # fmt: skip
    state = tmp_path / "state.sqlite"
    assert run(server.base_url, [user(7), user(8)], state).counts["failed"] == 1  # the conflict
    assert run(server.base_url, [user(8)], state).counts["deactivated"] == 0
    assert app_users(server)["u7@example.com"]["active"] is True


def test_the_guard_does_not_count_this_runs_creates(server: ScimServer, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    run(server.base_url, [user(i) for i in range(20)], state)
    replaced = run(server.base_url, [user(i) for i in range(100, 160)], state)  # another export altogether
    assert (
        replaced.counts["created"] == 60 and replaced.counts["deactivated"] == 0 and len(replaced.held) == 20
    )


def test_repair_deactivations_pass_the_guard(server: ScimServer, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    users = [user(i) for i in range(15)]
    run(server.base_url, users, state)
    gone = [user(i, status="DEPROVISIONED") for i in range(15)]
    assert (
        run(server.base_url, gone, state, max_deactivations=DeactivationLimit(15)).counts["deactivated"] == 15
    )
    for held in app_users(server).values():  # reactivated by hand in the app
        server.request("PATCH", f"/Users/{held['id']}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "active", "value": True}]})  # fmt: skip
    repaired = run(server.base_url, gone, state, repair=True, max_deactivations=DeactivationLimit(5))
    assert repaired.counts["deactivated"] == 0 and len(repaired.held) == 15
    assert all(u["active"] for u in app_users(server).values())
    allowed = run(server.base_url, gone, state, repair=True, max_deactivations=DeactivationLimit(15))
    assert allowed.counts["deactivated"] == 15 and not any(u["active"] for u in app_users(server).values())


def test_a_user_listed_twice_keeps_the_first(server: ScimServer, tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    run(server.base_url, [user(1), user(2)], state)
    twice = run(server.base_url, [user(1), user(2), user(1, status="DEPROVISIONED")], state)
    assert twice.counts["deactivated"] == 0 and "listed twice" in twice.failures[0].message
    assert all(u["active"] for u in app_users(server).values())


def test_the_breaker_window_starts_at_the_first_failure() -> None:
    now = [0.0]
    breaker = Breaker(failures=10, seconds=60, clock=lambda: now[0])
    breaker.good()
    now[0] = 600.0  # a long quiet time (users that needed nothing), then one failure
    breaker.bad("HTTP 503")
    assert breaker.reason is None
    now[0] = 661.0
    breaker.bad("HTTP 503")
    assert breaker.reason is not None and "61 s" in breaker.reason


def test_a_repair_plan_with_several_requests_applies_whole(server: ScimServer, tmp_path: Path) -> None:
    source = (Path(mapper.__file__).parent.parent / "rulesets" / "okta-default.mapper").read_text()
    ruleset = tmp_path / "no-active.mapper"
    ruleset.write_text(
        "\n".join(line for line in source.splitlines() if not line.startswith("active")) + "\n"
    )
    state, plan = tmp_path / "state.sqlite", tmp_path / "plan.json"
    export = write_users(tmp_path / "u.jsonl", [user(1, title="Engineer")])
    assert cli(export, "--to", server.base_url, "--state", state, "-r", ruleset).returncode == 0
    app_id = app_users(server)["u1@example.com"]["id"]
    server.request("PATCH", f"/Users/{app_id}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "replace", "value": {"active": False, "title": "Drifted"}}]})  # fmt: skip
    made = cli(
        export, "--to", server.base_url, "--state", state, "-r", ruleset, "--repair", "--plan-out", plan
    )
    assert made.returncode == 0, made.stderr
    assert [r["method"] for r in json.loads(plan.read_text())["users"][0]["requests"]] == ["PATCH", "PATCH"]
    applied = cli("--apply", plan, "--to", server.base_url, "--state", state)
    assert applied.returncode == 0, applied.stderr
    held = app_users(server)["u1@example.com"]
    assert held["active"] is True and held["title"] == "Engineer"


def test_a_bad_token_or_a_damaged_plan_is_a_usage_error(server: ScimServer, tmp_path: Path) -> None:
    export = write_users(tmp_path / "u.jsonl", [user(1)])
    for token in ("T\n", "tökén", "xy z"):
        done = cli(export, "--to", server.base_url, "--state", tmp_path / "s.sqlite", token=token)
        assert done.returncode == 2 and token not in done.stderr, done.stderr
    plan = tmp_path / "plan.json"
    assert (
        cli(export, "--to", server.base_url, "--state", tmp_path / "s.sqlite", "--plan-out", plan).returncode
        == 0
    )
    document = json.loads(plan.read_text())
    for damage in ({"options": {}}, {"users": [{**document["users"][0], "outcome": "failed"}]},
                   {"users": [{**document["users"][0], "requests": [{"method": "POST", "path": "/Users", "body": {},
                                                                    "search": {"match": 1}}]}]}):  # fmt: skip
        plan.write_text(json.dumps({**document, **damage}))
        done = cli("--apply", plan, "--to", server.base_url, "--state", tmp_path / "s.sqlite")
        assert done.returncode == 2 and "damaged" in done.stderr, done.stderr
    assert app_users(server) == {}


def test_a_stale_etag_is_refused_by_the_app(server: ScimServer, tmp_path: Path) -> None:
    """--apply sends the ETag the plan read with the first change to a record (If-Match); an app
    that checks versions refuses it when the record changed between the check and the change."""
    from mapper.sync.app import AppError

    status, created = server.request("POST", "/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                                         "userName": "etag@example.com"})  # fmt: skip
    assert status == 201 and created["meta"]["version"]
    app = ScimApp(Connection(server.base_url, TOKEN))
    message = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
               "Operations": [{"op": "replace", "path": "title", "value": "X"}]}  # fmt: skip
    try:
        with pytest.raises(AppError) as refused:
            app.patch(created["id"], message, 'W/"not-this-one"')
        assert refused.value.status == 412 and "make a new plan" in refused.value.message()
        app.patch(created["id"], message, created["meta"]["version"])
    finally:
        app.close()


def test_plain_http_to_another_host_is_refused(tmp_path: Path) -> None:
    """Checked before any request: nothing here is sent anywhere (the host cannot resolve)."""
    from mapper.core.urls import clear_text_to_another_host

    export = write_users(tmp_path / "u.jsonl", [user(1)])
    for url in ("http://app.example.invalid/scim/v2", "http://192.0.2.1/scim"):
        done = cli(export, "--to", url, "--state", tmp_path / "s.sqlite")
        assert done.returncode == 2 and "clear text" in done.stderr and "--allow-http" in done.stderr
    checked = CliRunner().invoke(main, ["check", "okta-default", "--schemas", "http://app.example.invalid/v2"],
                                 env={"SCIM_TOKEN": "t"})  # fmt: skip
    assert checked.exit_code == 2 and "clear text" in checked.stderr
    urls = ["http://127.0.0.2:8080", "http://[::1]/", "http://localhost", "https://app.example.com",
            "http://app.example.com", "http://10.1.2.3"]  # fmt: skip
    assert [clear_text_to_another_host(u) for u in urls] == [False, False, False, False, True, True]


def test_a_put_status_change_never_sends_a_body_without_the_resource() -> None:
    """put (de)activates by PUTting the app's resource back; without it (a plan made from the state
    alone, a row that has none) a PUT would clear the user, so the pathed PATCH is sent instead."""
    from mapper.core.styles import UpdateStyle
    from mapper.sync.decide import Policy, status_request

    current = {"id": "a1", "userName": "u@example.com", "active": True}
    put = status_request(RULESET, Policy(style=UpdateStyle.PUT), "00u1", "/Users/a1", False, current)
    assert (put.method, put.body) == ("PUT", {**current, "active": False})
    bare = status_request(RULESET, Policy(style=UpdateStyle.PUT), "00u1", "/Users/a1", False, None)
    assert (bare.method, bare.body) == ("PATCH", RULESET.deactivate("rfc"))


# -- a first sync's listing -----------------------------------------------------------------------


class _Searched:
    """An app whose searches are counted (what the listing spares)."""

    def __init__(self) -> None:
        self.counters, self.breaker, self.searches = None, None, []

    def find(self, match: str, value: str) -> list[dict[str, Any]]:
        self.searches.append(value)
        return [{"id": "later", "userName": value}]


def test_the_listing_answers_each_first_search_and_the_app_every_later_one() -> None:
    from mapper.sync.app import Listing
    from mapper.sync.listing import ListedUsers

    app = _Searched()
    listing = Listing(
        [{"id": "a1", "userName": "Ada@Example.com", "emails": [{"value": "ada@example.com"}]}], (1,), 0
    )
    listed = ListedUsers(app, listing, "userName")  # type: ignore[arg-type]
    assert listed.find("userName", "ada@example.com") == [listing.users[0]]  # userName ignores case
    assert listed.find("userName", "bob@example.com") == [] and app.searches == []
    # A second search for a value (a create in doubt, searched again) goes to the app.
    assert listed.find("userName", "bob@example.com") == [{"id": "later", "userName": "bob@example.com"}]
    assert app.searches == ["bob@example.com"] and listed.answered == 2


def test_a_listing_that_changed_while_read_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mapper.sync.app import Listing

    behaviour = Behaviour()
    with fake_app(behaviour) as url:
        monkeypatch.setattr(ScimApp, "list_users", lambda self, page_size: Listing([], (2, 1), 0))
        summary = run(url, [user(0), user(1)], tmp_path / "state.sqlite")
    assert summary.counts["created"] == 2 and summary.requests == 4  # searched, as without a listing
