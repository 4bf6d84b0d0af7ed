"""sync's changing requests in /Bulk requests (mapper.sync.batched): each operation's result
reads as the answer to the same request sent alone would, whatever the app's bulk answer
holds; and against scim2-server behind a proxy that carries out only some operations, loses
results, shuffles them, refuses some and breaks whole requests, every run converges: each
Okta user exactly once in the app, as the ruleset renders them, and then nothing to send."""

from __future__ import annotations

import json
import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapper.sync.app import AppError, BulkLimits, Connection, ScimApp
from mapper.sync.batched import BatchedUsers
from mapper.sync.guard import DeactivationLimit
from mapper.sync.retry import AppUnavailable, Breaker, Counters, RetryPolicy
from tests.support.bulk_proxy import BulkFaults, bulk_proxy
from tests.support.scim_server import ScimServer, emptied
from tests.test_sync import _server_process, app_users, assert_in_line, sent, server, sync, user

__all__ = ["_server_process", "server"]  # the fixtures, shared with test_sync's module
ALL = DeactivationLimit.parse("100%")

CREATE = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada"}
PATCH = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "title", "value": "Boss"}]}  # fmt: skip


class AloneApp:
    """The app as BatchedUsers sees it: records each request sent on its own."""

    def __init__(self) -> None:
        self.counters = Counters()
        self.breaker = Breaker()
        self.alone: list[tuple[str, str | None]] = []

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        self.alone.append(("POST", None))
        return {**body, "id": "alone"}

    def patch(self, app_id: str, message: dict[str, Any]) -> None:
        self.alone.append(("PATCH", app_id))

    def put(self, app_id: str, body: dict[str, Any]) -> None:
        self.alone.append(("PUT", app_id))

    def delete(self, app_id: str) -> None:
        self.alone.append(("DELETE", app_id))


def batched(answer: Callable[[list[dict[str, Any]]], Any], most: int, size: int = 1 << 20) -> tuple[BatchedUsers, AloneApp, list[bytes]]:  # fmt: skip
    """BatchedUsers whose bulk requests ANSWER answers (from the operations sent), sending a batch
    once MOST operations wait (never sooner); the app it sends single requests to; the bodies sent."""
    app, sent_bodies = AloneApp(), []

    def bulk(content: bytes) -> Any:
        sent_bodies.append(content)
        return answer(json.loads(content)["Operations"])

    return BatchedUsers(app, bulk, BulkLimits(most, size), concurrency=4, linger=30.0), app, sent_bodies  # type: ignore[arg-type]


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Each call's result (or the exception it raised), the calls made from threads of their own."""
    results: list[Any] = [None] * len(calls)

    def one(i: int) -> None:
        try:
            results[i] = calls[i]()
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def located(operation: dict[str, Any], status: str = "201", **result: Any) -> dict[str, Any]:
    app_id = (
        operation["path"].rpartition("/")[2]
        if operation["method"] != "POST"
        else f"new-{operation['bulkId']}"
    )
    return {"method": operation["method"], "bulkId": operation["bulkId"], "status": status,
            "location": f"https://app.example/scim/v2/Users/{app_id}", **result}  # fmt: skip


def answered(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"], "Operations": results}


# ---------------------------------------------------------------- each result, read as the request alone


def test_results_are_matched_by_bulk_id_or_location_never_by_position() -> None:
    def answer(operations: list[dict[str, Any]]) -> Any:
        results = [located(op, "201" if op["method"] == "POST" else "204") for op in operations]
        for result in results:
            if result["method"] != "POST":
                del result["bulkId"]  # the location says whose it is
        return answered(results[::-1])

    users, app, bodies = batched(answer, most=4)
    created = at_once(lambda: users.create({**CREATE, "userName": "a"}), lambda: users.create({**CREATE, "userName": "b"}),
                      lambda: users.patch("u1", PATCH), lambda: users.delete("u2"))  # fmt: skip
    assert len(bodies) == 1 and app.alone == []
    first, second = created[0], created[1]
    assert (first["userName"], second["userName"]) == ("a", "b")
    assert first["id"] != second["id"] and {first["id"], second["id"]} <= {f"new-op{i}" for i in range(1, 5)}
    # The body sent is the user as created when the app leaves its body out (RFC 7644 allows it).
    assert first["meta"]["location"].endswith("/Users/" + first["id"])
    assert created[2:] == [None, None]
    request = json.loads(bodies[0])
    assert (
        request["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]
        and "failOnErrors" not in request
    )
    assert all(re.fullmatch(r"op\d+", op["bulkId"]) for op in request["Operations"])  # names of mapper's own


def test_an_operation_the_answer_says_nothing_of_is_in_doubt() -> None:
    users, app, _ = batched(lambda operations: answered([]), most=4)
    results = at_once(lambda: users.create(CREATE), lambda: users.patch("u1", PATCH),
                      lambda: users.put("u2", CREATE), lambda: users.delete("u3"))  # fmt: skip
    # A POST or a PATCH: an outcome unknown (the engine searches or reads before sending again);
    # a PUT or a DELETE: sent again on its own (repeating it is harmless).
    assert all(isinstance(r, AppError) and r.unknown_outcome for r in results[:2])
    assert results[2:] == [None, None] and sorted(app.alone) == [("DELETE", "u3"), ("PUT", "u2")]


def test_two_results_for_one_operation_are_in_doubt() -> None:
    users, _, _ = batched(lambda ops: answered([located(op) for op in ops] * 2), most=2)
    results = at_once(lambda: users.create(CREATE), lambda: users.create(CREATE))
    assert all(isinstance(r, AppError) and r.unknown_outcome for r in results)


@pytest.mark.parametrize(
    ("status", "response", "method", "expected"),
    [
        ("409", {"scimType": "uniqueness", "detail": "taken"}, "POST", (409, "uniqueness", False, False)),
        ("500", {}, "POST", (None, "", True, False)),  # in doubt: searched before it is sent again
        ("504", {}, "POST", (None, "", True, True)),  # the app may still be at work: the next run looks
        ("504", {}, "PATCH", (None, "", True, True)),
        ("404", {"detail": "no such user"}, "PATCH", (404, "", False, False)),
        ("400 Bad Request", {"scimType": "invalidValue"}, "PATCH", (400, "invalidValue", False, False)),
    ],
)
def test_an_operations_error_reads_as_the_request_alone(status: str, response: dict[str, Any], method: str,
                                                        expected: tuple[int, str, bool, bool]) -> None:  # fmt: skip
    def answer(operations: list[dict[str, Any]]) -> Any:
        return answered(
            [located(op, status if op["method"] == method else "204", response=response) for op in operations]
        )

    users, _, _ = batched(answer, most=2)
    call = {"POST": lambda: users.create(CREATE), "PATCH": lambda: users.patch("u1", PATCH),
            "DELETE": lambda: users.delete("u1")}[method]  # fmt: skip
    failed, _ = at_once(call, lambda: users.delete("u9"))
    assert isinstance(failed, AppError)
    assert (failed.status, failed.scim_type, failed.unknown_outcome, failed.later) == expected


@pytest.mark.parametrize("status", ["503", "429"])
def test_an_operation_refused_for_now_goes_alone(status: str) -> None:
    users, app, _ = batched(lambda ops: answered([located(op, status) for op in ops]), most=2)
    assert at_once(lambda: users.patch("u1", PATCH), lambda: users.create(CREATE)) == [
        None,
        {**CREATE, "id": "alone"},
    ]
    assert sorted(app.alone, key=str) == [("PATCH", "u1"), ("POST", None)]


@pytest.mark.parametrize("status", [413, 501, 404])
def test_a_bulk_request_refused_whole_sends_each_alone_and_bulk_stops(status: int) -> None:
    def refuse(operations: list[dict[str, Any]]) -> Any:
        raise AppError(status, "", "refused")

    users, app, bodies = batched(refuse, most=2)
    at_once(lambda: users.patch("u1", PATCH), lambda: users.patch("u2", PATCH))
    assert sorted(app.alone) == [("PATCH", "u1"), ("PATCH", "u2")] and users.off is not None
    users.delete("u3")  # bulk is off: alone at once
    assert len(bodies) == 1 and app.alone[-1] == ("DELETE", "u3")


def test_a_bulk_request_without_an_answer_leaves_posts_and_patches_in_doubt() -> None:
    def lost(operations: list[dict[str, Any]]) -> Any:
        raise AppError(None, "", "no answer", unknown_outcome=True)

    users, app, _ = batched(lost, most=3)
    results = at_once(
        lambda: users.create(CREATE), lambda: users.patch("u1", PATCH), lambda: users.delete("u2")
    )
    assert all(isinstance(r, AppError) and r.unknown_outcome for r in results[:2])
    assert results[2] is None and app.alone == [("DELETE", "u2")]
    # The app may still be creating: the user is looked for on the next run, not at once.
    assert results[0].later and results[1].later


@pytest.mark.parametrize(
    "answer",
    [
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"]},  # no results at all
        ["not", "an", "object"],
        None,
    ],
)
def test_an_answer_that_is_no_bulk_response_is_in_doubt(answer: Any) -> None:
    users, app, _ = batched(lambda ops: answer, most=2)
    results = at_once(lambda: users.create(CREATE), lambda: users.delete("u2"))
    assert isinstance(results[0], AppError) and results[0].unknown_outcome
    assert app.alone == [("DELETE", "u2")]


@pytest.mark.parametrize(
    "location",
    [
        "https://app.example/v2/Users/a%0Ab",
        "https://app.example/v2/Users/%2E%2E",
        "https://app.example/v2/Groups/x",
        "",
        7,
    ],
)
def test_a_create_without_a_usable_id_is_in_doubt(location: Any) -> None:
    def answer(operations: list[dict[str, Any]]) -> Any:
        return answered([{**located(op), "location": location} for op in operations])

    users, _, _ = batched(answer, most=2)
    assert all(
        isinstance(r, AppError) and r.unknown_outcome
        for r in at_once(lambda: users.create(CREATE), lambda: users.create(CREATE))
    )


def test_the_breaker_reaches_every_waiting_worker() -> None:
    def dark(operations: list[dict[str, Any]]) -> Any:
        raise AppUnavailable("the app stopped answering")

    users, _, _ = batched(dark, most=3)
    results = at_once(
        lambda: users.create(CREATE), lambda: users.patch("u1", PATCH), lambda: users.delete("u2")
    )
    assert all(isinstance(r, AppUnavailable) for r in results)


@given(
    st.lists(st.integers(min_value=0, max_value=3000), min_size=1, max_size=30),
    st.integers(min_value=2, max_value=7),
    st.integers(min_value=600, max_value=8000),
)
@settings(max_examples=40, deadline=None)
def test_bulk_requests_keep_the_announced_limits(sizes: list[int], most: int, payload: int) -> None:
    """Never more operations than maxOperations, never a body past maxPayloadSize; an operation
    too large for any bulk request goes alone; every operation gets its own result."""
    users, app, bodies = batched(
        lambda ops: answered([located(op, "204") for op in ops]), most=most, size=payload
    )
    users.linger = 0.001  # the last, smaller batches go too
    results = at_once(
        *(lambda n=n, i=i: users.patch(f"u{i}", {**PATCH, "pad": "x" * n}) for i, n in enumerate(sizes))
    )
    users.close()
    assert results == [None] * len(sizes)
    carried = [op["path"] for body in bodies for op in json.loads(body)["Operations"]]
    assert all(len(body) <= payload and len(json.loads(body)["Operations"]) <= most for body in bodies)
    assert sorted(carried + [f"/Users/{a}" for _, a in app.alone]) == sorted(
        f"/Users/u{i}" for i in range(len(sizes))
    )


def test_what_a_bulk_request_could_change_goes_alone() -> None:
    """A value an app would read as a bulkId reference, and an id that needs percent-encoding
    (a bulk operation's path is not always decoded), go as requests of their own."""
    users, app, bodies = batched(lambda ops: answered([located(op, "204") for op in ops]), most=2)
    assert users.create({**CREATE, "title": "BulkId:op1"}) == {**CREATE, "title": "BulkId:op1", "id": "alone"}
    users.patch("a b", PATCH)
    users.delete("ada@example.com")
    assert app.alone == [("POST", None), ("PATCH", "a b"), ("DELETE", "ada@example.com")] and bodies == []


def test_a_per_operation_5xx_on_a_put_or_delete_goes_again_alone() -> None:
    users, app, _ = batched(lambda ops: answered([located(op, "502") for op in ops]), most=2)
    assert at_once(lambda: users.delete("u1"), lambda: users.put("u2", CREATE)) == [None, None]
    assert sorted(app.alone) == [("DELETE", "u1"), ("PUT", "u2")]


def test_a_whole_400_leaves_posts_in_doubt_and_sends_deletes_alone() -> None:
    """A 400 may follow some processing (RFC 7644 section 3.7.3): a create is never sent twice unchecked."""

    def refuse(operations: list[dict[str, Any]]) -> Any:
        raise AppError(400, "invalidSyntax", "refused")

    users, app, _ = batched(refuse, most=2)
    created, deleted = at_once(lambda: users.create(CREATE), lambda: users.delete("u2"))
    assert isinstance(created, AppError) and created.unknown_outcome
    assert deleted is None and app.alone == [("DELETE", "u2")] and users.off is None


def test_a_location_that_is_no_url_is_in_doubt_never_a_crash() -> None:
    users, _, _ = batched(
        lambda ops: answered([{**located(op), "location": "http://[x/Users/1"} for op in ops]), most=2
    )
    assert all(
        isinstance(r, AppError) and r.unknown_outcome
        for r in at_once(lambda: users.create(CREATE), lambda: users.create(CREATE))
    )


# ---------------------------------------------------------------- a whole sync, over a mangling proxy


@given(
    st.integers(min_value=0, max_value=2**16),
    st.sampled_from([0.05, 0.15, 0.3]),
    st.booleans(),
)
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@pytest.mark.slow
def test_a_sync_over_mangled_bulk_answers_converges(_server_process: ScimServer, seed: int, chance: float,
                                                    refusals: bool) -> None:  # fmt: skip
    """Creates, then updates and deactivations, each phase run until it reports no failure, with
    bulk answers mangled: every user once, in line, and then a run with nothing to send."""
    server = emptied(_server_process)
    faults = BulkFaults(skip=chance, refuse_503=chance, lose=chance, whole_500=chance / 2, whole_drop=chance / 4,
                        whole_refused=0.05 if refusals else 0.0, seed=seed)  # fmt: skip
    first = [user(i) for i in range(120)]
    second = [user(i, title="Boss", status="DEPROVISIONED" if i % 7 == 0 else "ACTIVE") if i % 2 else u
              for i, u in enumerate(first[:110])]  # fmt: skip
    fast = RetryPolicy(attempts=3, base=0.001, cap=0.01)
    with tempfile.TemporaryDirectory() as folder, bulk_proxy(server.base_url, faults) as proxy:
        state = Path(folder) / "state.sqlite"
        for users in (first, second):
            for _ in range(8):
                summary = sync(proxy, users, state, policy=fast, concurrency=3, max_deactivations=ALL)
                if summary.counts["failed"] == 0 and summary.stopped is None:
                    break
            assert summary.counts["failed"] == 0, summary.failures[:3]
            assert_in_line(server, [u for u in users if u["status"] == "ACTIVE"])
        held = {u["userName"]: u for u in app_users(server)}
        assert len(held) == 120  # nobody twice; the ten gone, and the deprovisioned, deactivated
        assert all(held[u["profile"]["login"]]["active"] is False for u in first[110:])
        assert all(held[u["profile"]["login"]]["active"] is False for u in second if u["status"] != "ACTIVE")
        assert sent(sync(proxy, second, state)) == 0
    # Something was mangled (a refusal first may have turned bulk off for the run: nothing else then).
    assert (
        faults.counts["skip"]
        + faults.counts["lose"]
        + faults.counts["whole_500"]
        + faults.counts["whole_refused"]
        > 0
    )


@pytest.mark.slow
def test_no_bulk_sends_each_request_alone(server: ScimServer, tmp_path: Path) -> None:
    users = [user(i) for i in range(30)]
    alone = sync(server.base_url, users, tmp_path / "state.sqlite", bulk=False)
    assert alone.bulk is None and alone.requests == 31  # the listing, then a create each
    users = [user(i, title="Boss") for i in range(30)]
    batched_run = sync(server.base_url, users, tmp_path / "state.sqlite")
    assert batched_run.bulk is not None and batched_run.bulk[1] >= 2 and sent(batched_run) == 30
    assert_in_line(server, users)


@pytest.mark.slow
def test_the_command_line_sends_bulk_requests_unless_no_bulk(server: ScimServer, tmp_path: Path) -> None:
    """--no-bulk reaches the run: each change alone; without it, the summary and the report say how
    many changes went in /Bulk requests."""
    from tests.support.cli import mapper_cli
    from tests.test_sync_safety import write_users

    def run(users: list[dict[str, Any]], *flags: str) -> tuple[dict[str, Any], str]:
        ran = mapper_cli("sync", write_users(tmp_path / "users.jsonl", users), "--to", server.base_url,
                         "--state", tmp_path / "state.sqlite", "--report", tmp_path / "report.json", *flags,
                         env={"SCIM_TOKEN": "t"})  # fmt: skip
        assert ran.returncode == 0, ran.stderr
        return json.loads((tmp_path / "report.json").read_text()), ran.stderr

    alone, _ = run([user(i) for i in range(30)], "--no-bulk")
    assert (alone["bulkRequests"], alone["bulkOperations"], alone["created"]) == (0, 0, 30)
    carried, stderr = run([user(i, title="Boss") for i in range(30)])
    assert carried["bulkRequests"] >= 1 and carried["bulkOperations"] >= 2 and carried["updated"] == 30
    assert (
        f"{carried['bulkOperations']:,} changes sent in {carried['bulkRequests']:,} /Bulk requests" in stderr
    )


def test_the_bulk_limits_are_read_from_the_configuration(server: ScimServer) -> None:
    app = ScimApp(Connection(server.base_url, None))
    try:
        assert app.bulk_limits() == BulkLimits(1000, 1048576)  # scim2-server's defaults
    finally:
        app.close()


@pytest.mark.slow
def test_a_create_in_a_bulk_request_without_an_answer_is_looked_for_on_the_next_run(
    server: ScimServer, tmp_path: Path
) -> None:
    """The app acted on the bulk request but the answer was lost: this run reports the users
    (their rows stay pending, nothing is sent again while the app may still be at work); the next
    run finds and adopts them: nobody twice."""
    users = [user(i) for i in range(20)]
    state = tmp_path / "state.sqlite"
    faults = BulkFaults(skip=0, refuse_503=0, lose=0, strip=0, whole_500=1.0, whole_drop=0, whole_refused=0)
    with bulk_proxy(server.base_url, faults) as proxy:
        first = sync(proxy, users, state, policy=RetryPolicy(attempts=1))
        faults.whole_500 = 0.0
        second = sync(proxy, users, state)
    assert first.counts["failed"] >= 2 and first.counts["created"] + first.counts["failed"] == 20
    assert all("HTTP 500" in f.message for f in first.failures), first.failures[:1]
    assert second.counts["failed"] == 0 and second.counts["adopted"] == first.counts["failed"]
    assert_in_line(server, users)
