"""mapper sync against a real SCIM server (scim2-server, its own process on loopback):
the lifecycle of thousands of users, adoption, failures injected by a proxy, and a sync
process killed at random moments. After each, the app holds every Okta user exactly once,
as the ruleset renders them, and one more run sends no request."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

import mapper
from mapper.sync.app import AppError, Connection, PreflightError, ScimApp
from mapper.sync.engine import Incoming, Options, Summary, Sync
from mapper.sync.retry import RateLimiter, RetryPolicy, RetryTransport, retry_after
from mapper.sync.state import State, StateError
from mapper.tools.examples import slot_value
from tests.support.fault_proxy import Faults, fault_proxy
from tests.support.scim_server import ScimServer, server_fixtures

# Slow: end to end against scim2-server: thousands of users, injected faults, killed processes. `pytest -m "not slow"` leaves them out.
pytestmark = pytest.mark.slow


APPSPACE = "urn:ietf:params:scim:schemas:extension:appspace:2.0:User"
RULESET = mapper.load("appspace")


_server_process, server = server_fixtures([RULESET.plan.schemas[APPSPACE]])


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    """mapper sync needs a token to send anything (this scim2-server takes any)."""
    monkeypatch.setenv("SCIM_TOKEN", "any-token")


def user(i: int, status: str = "ACTIVE", **profile: Any) -> dict[str, Any]:
    base = {"login": f"u{i}@example.com", "email": f"u{i}@example.com", "firstName": "Ada", "lastName": f"L{i}",
            "title": "Engineer", "costCenter": f"C{i % 7}", "department": "R&D"}  # fmt: skip
    return {"id": f"00u{i:06d}", "status": status, "profile": {**base, **profile}}


def sync(
    server_url: str,
    users: list[dict[str, Any]],
    state_path: Path,
    ruleset: mapper.Ruleset = RULESET,
    policy: RetryPolicy | None = None,
    **options: Any,
) -> Summary:
    app = ScimApp(Connection(server_url, None, timeout=10, concurrency=options.get("concurrency", 4)), policy)
    state = State(state_path, server_url, options.get("match", "userName"))
    try:
        return Sync(ruleset, app, state, Options(**options)).run(Incoming("x", u) for u in users)
    finally:
        app.close()
        state.close()


def sent(summary: Summary) -> int:
    """The requests a run made, a bulk request counted as the operations it carried: what the same
    run sends without /Bulk (the same changes, each on its own)."""
    bulk_requests, operations, _ = summary.bulk or (0, 0, None)
    return summary.requests - bulk_requests + operations


def app_users(server: ScimServer) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    start = 1
    while True:
        status, page = server.request("GET", f"/Users?startIndex={start}&count=500")
        assert status == 200, page
        found += page.get("Resources", [])
        if not page.get("Resources") or len(found) >= page["totalResults"]:
            return found
        start += len(page["Resources"])


def assert_in_line(
    server: ScimServer, users: list[dict[str, Any]], ruleset: mapper.Ruleset = RULESET
) -> None:
    """Every Okta user in the app exactly once (by userName), as the ruleset renders them."""
    held = app_users(server)
    names = [u["userName"] for u in held]
    assert len(names) == len(set(names)), "a user was created twice"
    by_name = {u["userName"]: u for u in held}
    for okta_user in users:
        wanted = ruleset.render(okta_user)
        got = by_name.get(wanted["userName"])
        assert got is not None, wanted["userName"]
        for rule in ruleset.plan.rules:
            assert slot_value(got, rule.target) == slot_value(wanted, rule.target), (
                wanted["userName"],
                rule.target.path,
            )


# ---------------------------------------------------------------- the lifecycle


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "alone"])
def test_the_lifecycle_of_hundreds_of_users(server: ScimServer, tmp_path: Path, bulk: bool) -> None:
    """Each change is one request alone, or one operation of a /Bulk request (scim2-server announces
    /Bulk): the same changes either way (`sent`)."""
    n = 600  # enough for the pool, the state and the summaries to work at scale
    state = tmp_path / "state.sqlite"
    users = [user(i) for i in range(n)]

    def sync(*args: Any, **options: Any) -> Summary:
        return globals()["sync"](*args, bulk=bulk, **options)

    first = sync(server.base_url, users, state)
    assert first.counts["created"] == n and first.counts["failed"] == 0
    # The app's users listed once (an empty app: one page), then a create each: the listing answers the
    # searches (never a duplicate: the app held none of them when it was read).
    assert sent(first) == 1 + n
    if bulk:  # at most 100 creates a bulk request; fewer while the first ones are out
        assert first.bulk is not None and first.bulk[1] > n * 0.9 and first.requests < n / 10
    else:
        assert first.requests == 1 + n
    assert_in_line(server, users)
    again = sync(server.base_url, users, state)
    assert (sent(again), again.counts["unchanged"]) == (0, n)

    # A profile change: exactly the changed users, one PATCH each.
    users[5] = user(5, title="Boss")
    users[6] = user(6, lastName="Byron")
    changed = sync(server.base_url, users, state)
    assert (changed.counts["updated"], sent(changed)) == (2, 2)
    assert dict(changed.attributes) == {"title": 1, "name.familyName": 1}
    assert_in_line(server, users)

    # A ruleset change: exactly the updates it implies (costCenter is C0..C6: all but none).
    upper = mapper.loads(
        (Path(mapper.__file__).parent.parent / "rulesets" / "appspace.mapper")
        .read_text()
        .replace(
            "appspace:costCenter     <- user.costCenter",
            "appspace:costCenter     <- String.toLowerCase(user.costCenter)",
        ),
        "appspace.mapper",
    )
    relabelled = sync(server.base_url, users, state, ruleset=upper)
    assert relabelled.counts["updated"] == n and sent(relabelled) == n
    assert dict(relabelled.attributes) == {f"{APPSPACE}:costCenter": n}
    assert_in_line(server, users, upper)

    # Deprovisioned and gone users are deactivated, never deleted; back again, reactivated.
    users[10] = user(10, status="DEPROVISIONED")
    gone = users.pop()
    ended = sync(server.base_url, users, state, ruleset=upper)
    assert (ended.counts["deactivated"], sent(ended)) == (2, 2)
    held = {u["userName"]: u for u in app_users(server)}
    assert held["u10@example.com"]["active"] is False and held[gone["profile"]["login"]]["active"] is False
    assert len(held) == n
    users[10] = user(10)
    users.append(gone)
    back = sync(server.base_url, users, state, ruleset=upper)
    assert back.counts["reactivated"] == 2 and back.counts["failed"] == 0
    assert_in_line(server, users, upper)
    assert sync(server.base_url, users, state, ruleset=upper).requests == 0

    # --delete removes users gone from the export.
    removed = sync(server.base_url, users[:-3], state, ruleset=upper, delete=True)
    assert removed.counts["deleted"] == 3 and len(app_users(server)) == n - 3


def test_existing_app_users_are_adopted_not_duplicated(server: ScimServer, tmp_path: Path) -> None:
    users = [user(i) for i in range(50)]
    for okta_user in users[:20]:  # already in the app, drifted, with what the app set itself
        body = {**RULESET.create(okta_user), "title": "Old title", "nickName": "set in the app"}
        body.pop("externalId")
        assert server.request("POST", "/Users", body)[0] == 201
    summary = sync(server.base_url, users, tmp_path / "state.sqlite")
    assert (summary.counts["adopted"], summary.counts["created"]) == (20, 30)
    assert_in_line(server, users)
    held = {u["userName"]: u for u in app_users(server)}
    assert held["u3@example.com"]["nickName"] == "set in the app"  # not the ruleset's: untouched
    assert sync(server.base_url, users, tmp_path / "state.sqlite").requests == 0


def test_repair_fixes_drift_made_in_the_app(server: ScimServer, tmp_path: Path) -> None:
    users = [user(i) for i in range(30)]
    state = tmp_path / "state.sqlite"
    sync(server.base_url, users, state)
    target = next(u for u in app_users(server) if u["userName"] == "u7@example.com")
    drift = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "replace", "path": "title", "value": "Edited in the app"}]}  # fmt: skip
    assert server.request("PATCH", f"/Users/{target['id']}", drift)[0] in (200, 204)
    assert sync(server.base_url, users, state).requests == 0  # the state cannot see it
    repaired = sync(server.base_url, users, state, repair=True)
    assert repaired.counts["updated"] == 1 and repaired.requests == 32  # a listing, 30 GETs, 1 PATCH
    assert_in_line(server, users)


def test_a_failure_is_reported_and_retried_next_run(server: ScimServer, tmp_path: Path) -> None:
    users = [user(i) for i in range(10)]
    twin = {**user(99), "profile": {**user(99)["profile"], "login": "u3@example.com"}}  # u3's userName
    state = tmp_path / "state.sqlite"
    summary = sync(server.base_url, [*users, twin], state, concurrency=1)
    # The twin finds u3's app user by userName, which the state gives to another Okta user:
    # refused, not adopted (two Okta users would fight over one app user).
    assert (summary.counts["created"], summary.counts["failed"]) == (10, 1)
    failure = summary.failures[0]
    assert failure.okta_id == "00u000099" and failure.scim_type == "uniqueness"
    assert failure.message.startswith("conflict: another Okta user (00u000003) holds the same userName")
    assert "Ada" not in failure.message and "u3@example.com" not in failure.message
    # Fixed in Okta: the next run creates it; nothing else is sent.
    fixed = sync(server.base_url, [*users, user(99)], state)
    assert (fixed.counts["created"], sent(fixed)) == (1, 2)
    assert_in_line(server, [*users, user(99)])


# ---------------------------------------------------------------- failures


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "alone"])
def test_injected_faults_lose_nothing(server: ScimServer, tmp_path: Path, bulk: bool) -> None:
    users = [user(i) for i in range(300)]
    carried = 0  # changes carried in /Bulk requests
    state = tmp_path / "state.sqlite"
    faults = Faults()
    fast = RetryPolicy(attempts=4, base=0.01, cap=0.05, sleep=lambda s: time.sleep(min(s, 0.05)))
    with fault_proxy(server.base_url, faults) as proxy:
        for phase, ruleset in (
            (users, RULESET),
            ([*users[:150], *(user(i, title="T2") for i in range(150, 300))], RULESET),
        ):
            runs = 0
            while True:
                runs += 1
                try:
                    summary = sync(
                        proxy, phase, state, ruleset=ruleset, policy=fast, concurrency=8, bulk=bulk
                    )
                except PreflightError:  # faults on both of the pre-flight's tries: run again later
                    assert runs < 12
                    continue
                carried += summary.bulk[1] if summary.bulk else 0
                if summary.counts["failed"] == 0 or runs >= 6:
                    break
            assert summary.counts["failed"] == 0, summary.failures[:3]
            assert_in_line(server, phase, ruleset)
        for _ in range(10):  # the pre-flight itself may meet two faults in a row
            try:
                assert sync(proxy, phase, state).requests == 0
                break
            except PreflightError:
                continue
        else:
            raise AssertionError("ten pre-flights in a row met faults")
    # Every kind of fault happened, and nothing was lost or doubled.
    kinds = ("refuse_500", "throttle_429", "unavailable_503", "after_500", "after_drop", "slow")
    assert all(faults.counts[k] > 0 for k in kinds), faults.counts
    assert (carried > 0) is bulk
    print("faults injected:", dict(faults.counts), "changes in /Bulk:", carried)


def test_a_sync_killed_at_random_moments_converges(server: ScimServer, tmp_path: Path) -> None:
    """Creates, then updates and deactivations, each phase killed (SIGKILL) at random moments
    and run again: no user twice, no update lost, and then nothing left to send."""
    export = tmp_path / "users.jsonl"
    state = tmp_path / "state.sqlite"
    command = [sys.executable, "-m", "mapper.cli", "sync", str(export), "--to", server.base_url,
               "-r", "appspace", "--state", str(state), "-q", "--concurrency", "8"]  # fmt: skip
    rng = random.Random(11)
    first = [user(i) for i in range(600)]
    second = [user(i, title="Boss", status="DEPROVISIONED" if i % 9 == 0 else "ACTIVE") if i % 2 else u
              for i, u in enumerate(first)]  # fmt: skip
    for phase, (users, window) in enumerate(((first, (0.3, 1.0)), (second, (0.3, 0.6)))):
        export.write_text("".join(json.dumps(u) + "\n" for u in users))
        kills = 0
        for _ in range(3):
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(*window))
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                kills += 1
            process.wait()
        assert kills >= 1, phase  # a run that finished first is no kill
        finished = subprocess.run(command, capture_output=True, text=True, check=False)
        assert finished.returncode == 0, finished.stderr
        active = [u for u in users if u["status"] == "ACTIVE"]
        assert_in_line(server, active)
        held = {u["userName"]: u for u in app_users(server)}
        assert len(held) == 600
        assert all(held[u["profile"]["login"]]["active"] is False for u in users if u["status"] != "ACTIVE")
    final = subprocess.run(
        [*command, "--report", str(tmp_path / "report.json")], capture_output=True, text=True
    )
    assert final.returncode == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["requests"] == 0 and report["unchanged"] == 600


def test_a_pending_row_is_read_from_the_app(server: ScimServer, tmp_path: Path) -> None:
    """A row left pending (the process died after sending) is not trusted: GET and reconcile."""
    import sqlite3

    users = [user(i) for i in range(5)]
    state = tmp_path / "state.sqlite"
    sync(server.base_url, users, state)
    target = next(u for u in app_users(server) if u["userName"] == "u2@example.com")
    # As if a run had sent this PATCH and died before writing the state:
    sent = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "emails", "value": [{"type": "home", "value": "h@example.com"}]}]}  # fmt: skip
    server.request("PATCH", f"/Users/{target['id']}", sent)
    with sqlite3.connect(state) as db:
        db.execute("UPDATE users SET pending = 1 WHERE okta_id = '00u000002'")
    users[2] = user(2, title="Boss")
    repaired = sync(server.base_url, users, state)
    assert (repaired.counts["updated"], repaired.requests) == (1, 2)  # the GET, then the PATCH
    held = next(u for u in app_users(server) if u["userName"] == "u2@example.com")
    assert held["title"] == "Boss"
    assert [e["type"] for e in held["emails"]].count("home") == 1  # not added twice
    assert sync(server.base_url, users, state).requests == 0


# ---------------------------------------------------------------- the pieces


def test_retry_after() -> None:
    assert retry_after("3") == 3.0
    assert retry_after(None) is None and retry_after("soon") is None
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 60))
    assert 55 <= (retry_after(later) or 0) <= 61


def _transport(answers: list[Any], method_log: list[str], sleeps: list[float]) -> httpx2.Client:
    def handler(request: httpx2.Request) -> httpx2.Response:
        method_log.append(request.method)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, headers = answer
        return httpx2.Response(status, headers=headers, json={})

    policy = RetryPolicy(attempts=4, base=1.0, cap=8.0, sleep=sleeps.append, random=lambda: 1.0)
    from mapper.sync.retry import Counters

    transport = RetryTransport(httpx2.MockTransport(handler), policy, RateLimiter(None), Counters())
    return httpx2.Client(transport=transport, base_url="http://app")


@pytest.mark.parametrize(
    ("method", "answers", "final", "sleeps"),
    [
        ("POST", [(429, {"Retry-After": "2"}), (201, {})], 201, [2.0]),
        ("POST", [(503, {}), (503, {}), (201, {})], 201, [1.0, 2.0]),
        ("POST", [(500, {}), (201, {})], 500, []),  # the app may have acted: up to the engine
        ("PATCH", [(502, {})], 502, []),
        ("GET", [(500, {}), (504, {}), (200, {})], 200, [1.0, 2.0]),
        ("GET", [(500, {})] * 4, 500, [1.0, 2.0, 4.0]),  # attempts run out: the last answer
        ("POST", [httpx2.ConnectError("refused"), (201, {})], 201, [1.0]),  # never sent: safe
    ],
)
def test_retry_transport(method: str, answers: list[Any], final: int, sleeps: list[float]) -> None:
    log: list[str] = []
    slept: list[float] = []
    client = _transport(list(answers), log, slept)
    assert client.request(method, "/Users").status_code == final
    assert slept == sleeps


def test_a_dropped_post_is_not_sent_again_by_the_transport() -> None:
    log: list[str] = []
    client = _transport([httpx2.ReadError("dropped"), (201, {})], log, [])
    with pytest.raises(httpx2.ReadError):
        client.post("/Users")
    assert log == ["POST"]


def test_rate_limiter_spaces_requests() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))

    limiter = RateLimiter(4, clock=lambda: now[0])
    for _ in range(4):
        limiter.wait(sleep)
    assert slept == [0.25, 0.5, 0.75]


def test_state_belongs_to_one_app(tmp_path: Path) -> None:
    state = State(tmp_path / "s.sqlite", "https://a.example/scim", "userName")
    state.acknowledged("00u1", "a1", {"userName": "x"}, True, "h", 1)
    state.close()
    with pytest.raises(StateError, match=re.escape("not https://b.example/scim: use another --state")):
        State(tmp_path / "s.sqlite", "https://b.example/scim", "userName")
    # A state no run recorded a user in is not left behind to refuse the next run.
    State(tmp_path / "empty.sqlite", "https://a.example/scim", "userName").close()
    assert not (tmp_path / "empty.sqlite").exists()
    (tmp_path / "junk.sqlite").write_text("not a database")
    with pytest.raises(StateError, match="not a mapper state file"):
        State(tmp_path / "junk.sqlite", "https://a.example/scim", "userName")


def test_scim_errors_say_what_to_do() -> None:
    error = AppError(409, "uniqueness", "userName taken")
    assert error.message() == (
        "HTTP 409 uniqueness: userName taken (another app user already holds this unique value: adopt it "
        "with --match, or remove the duplicate in the app)"
    )
    assert "mapper check --schemas" in AppError(400, "invalidPath", "").message()
    assert "on create" in AppError(400, "mutability", "").message()


def test_cli_dry_run_report_and_token(server: ScimServer, tmp_path: Path) -> None:
    export = tmp_path / "users.json"
    export.write_text(json.dumps([user(i) for i in range(5)]))  # as GET /api/v1/users returns them
    state = tmp_path / "state.sqlite"
    base = [sys.executable, "-m", "mapper.cli", "sync", str(export), "--to", server.base_url, "-r", "appspace",
            "--state", str(state)]  # fmt: skip
    dry = subprocess.run([*base, "--dry-run"], capture_output=True, text=True, check=False)
    assert dry.returncode == 0 and not state.exists()
    planned = [json.loads(line) for line in dry.stdout.splitlines()]
    assert [(p["method"], p["path"]) for p in planned] == [("POST", "/Users")] * 5
    assert app_users(server) == []
    env = {**os.environ, "APP_TOKEN": "t"}
    ran = subprocess.run([*base, "--token-env", "APP_TOKEN", "--report", str(tmp_path / "r.json")],
                         capture_output=True, text=True, check=False, env=env)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr.startswith("mapper: sync: 5 created, 0 adopted")
    assert json.loads((tmp_path / "r.json").read_text())["created"] == 5
    # With a state: a changed user, a user gone from the export, a new style; the state untouched.
    export.write_text(json.dumps([user(0, title="Boss"), *(user(i) for i in range(1, 4)), user(9)]))
    before = state.read_bytes()
    dry = subprocess.run(
        [*base, "--dry-run", "--style", "no-path"], capture_output=True, text=True, check=False
    )
    assert dry.returncode == 0, dry.stderr
    planned = [json.loads(line) for line in dry.stdout.splitlines()]
    assert [(p["okta_id"], p["method"]) for p in planned] == [
        ("00u000000", "PATCH"),
        ("00u000004", "PATCH"),  # gone from the export
        ("00u000009", "POST"),  # searched for first (a dry run sends its searches)
    ]
    assert dry.stderr.strip().endswith(
        "Plan: 1 to create, 0 to adopt, 1 to update, 1 to deactivate, 0 to reactivate, 0 to delete."
    )
    assert planned[0]["body"]["Operations"] == [{"op": "replace", "value": {"title": "Boss"}}]
    assert state.read_bytes() == before
    wrong = subprocess.run([*base[:-2], "--state", str(state), "--to", "http://127.0.0.1:9/elsewhere"],
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert wrong.returncode == 2 and "not http://127.0.0.1:9/elsewhere" in wrong.stderr


def test_shards_split_the_directory(server: ScimServer, tmp_path: Path) -> None:
    users = [user(i) for i in range(200)]
    export = tmp_path / "users.jsonl"
    export.write_text("".join(json.dumps(u) + "\n" for u in users))
    reports = []
    for k in range(3):
        report = tmp_path / f"r{k}.json"
        ran = subprocess.run(
            [sys.executable, "-m", "mapper.cli", "sync", str(export), "--to", server.base_url, "-r", "appspace",
             "--state", str(tmp_path / f"s{k}.sqlite"), "--shard", f"{k}/3", "--report", str(report), "-q"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        reports.append(json.loads(report.read_text())["created"])
    assert sum(reports) == 200 and all(reports)
    assert_in_line(server, users)
    bad = subprocess.run([sys.executable, "-m", "mapper.cli", "sync", str(export), "--to", server.base_url,
                          "--shard", "3/3"], capture_output=True, text=True, check=False)  # fmt: skip
    assert (
        bad.returncode == 2
        and bad.stderr.strip() == "mapper: sync: --shard 3/3: expected K/N with 0 <= K < N"
    )


@pytest.mark.parametrize("style", ["no-path", "whole-multivalued", "put"])
def test_updates_in_every_style(server: ScimServer, tmp_path: Path, style: str) -> None:
    users = [user(i) for i in range(40)]
    state = tmp_path / "state.sqlite"
    sync(server.base_url, users, state, style=style)
    users = [
        user(i, title="Boss", email=f"new{i}@example.com") if i % 4 == 0 else u for i, u in enumerate(users)
    ]
    changed = sync(server.base_url, users, state, style=style)
    assert changed.counts["updated"] == 10 and changed.counts["failed"] == 0
    assert sent(changed) == (20 if style == "put" else 10)  # put: a GET, then the PUT
    assert_in_line(server, users)
    assert sync(server.base_url, users, state, style=style).requests == 0


def test_a_create_in_doubt_for_a_user_who_left_is_found_and_deactivated(
    server: ScimServer, tmp_path: Path
) -> None:
    """Killed after the POST went out, and the user left the export before the next run: the
    create is searched for by --match and undone (deactivated), not forgotten in the app."""
    import sqlite3

    users = [user(i) for i in range(3)]
    state = tmp_path / "state.sqlite"
    sync(server.base_url, users, state)
    ghost, never = user(7), user(8)
    assert server.request("POST", "/Users", RULESET.create(ghost))[0] == 201  # the POST that went out
    store = State(state, server.base_url, "userName")
    store.mark_pending(ghost["id"], 1, "u7@example.com")
    store.mark_pending(never["id"], 1, "u8@example.com")  # its POST never reached the app
    store.close()
    summary = sync(server.base_url, users, state)
    assert summary.counts["deactivated"] == 1 and summary.counts["failed"] == 0
    held = {u["userName"]: u for u in app_users(server)}
    assert held["u7@example.com"]["active"] is False and "u8@example.com" not in held
    with sqlite3.connect(state) as db:
        rows = dict(db.execute("SELECT okta_id, pending FROM users").fetchall())
    assert rows.get(ghost["id"]) == 0 and never["id"] not in rows
    assert sync(server.base_url, users, state).requests == 0
