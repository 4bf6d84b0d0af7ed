"""One decision core: for random OLD and NEW exports (every Okta status, users gone, new,
changed, reactivated), the requests of ``mapper plan OLD NEW`` equal those of ``mapper sync
NEW --dry-run`` after ``mapper sync OLD`` on a real SCIM server (scim2-server), app ids
aside."""

from __future__ import annotations

import itertools
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mapper
from mapper.sync import saved_plan
from mapper.sync.app import Connection, ScimApp
from mapper.sync.engine import Incoming, Options, Sync
from mapper.sync.state import State
from mapper.tools.bulk import Block, RecordFailure
from mapper.tools.plan_exports import Summary, plan
from tests.support.scim_server import ScimServer, SharedServers

# Slow: a sync per example against scim2-server. `pytest -m "not slow"` leaves them out.
pytestmark = pytest.mark.slow


RULESET = mapper.load("okta-default")
STATUSES = ["ACTIVE", "SUSPENDED", "DEPROVISIONED", "STAGED", "PROVISIONED", "LOCKED_OUT", "PASSWORD_EXPIRED",
            "RECOVERY"]  # fmt: skip
_examples = itertools.count()


@pytest.fixture(scope="module")
def server(scim_servers: SharedServers) -> ScimServer:
    """scim2-server without extensions or token (each example makes its own users)."""
    return scim_servers.get([])


profile = st.fixed_dictionaries(
    {
        "status": st.sampled_from(STATUSES),
        "title": st.sampled_from(["Engineer", "Boss", None]),
        "lastName": st.sampled_from(["Lovelace", "Byron"]),
    }
)
change = st.one_of(st.just("same"), st.just("gone"), profile)
exports = st.tuples(
    st.lists(st.tuples(profile, change), max_size=6), st.lists(profile, max_size=3), st.booleans()
)  # the last: NEW holds a record that cannot be read (then sync deactivates no one gone)


def _user(prefix: str, i: int, fields: dict[str, Any]) -> dict[str, Any]:
    body = {"login": f"{prefix}u{i}@example.com", "email": f"{prefix}u{i}@example.com", "firstName": "Ada",
            "lastName": fields["lastName"]}  # fmt: skip
    if fields["title"] is not None:
        body["title"] = fields["title"]
    return {"id": f"00u{prefix}{i}", "status": fields["status"], "profile": body}


def _normal(request: dict[str, Any]) -> tuple[str, str, str, str]:
    path = re.sub(r"^/Users/.+$", "/Users/{id}", request["path"])
    return request["okta_id"], request["method"], path, json.dumps(request["body"], sort_keys=True)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
@given(exports)
def test_plan_equals_the_dry_run_after_a_sync(server: ScimServer, generated: Any) -> None:
    pairs, added, unreadable = generated
    prefix = f"x{next(_examples)}x"
    old = [_user(prefix, i, before) for i, (before, _) in enumerate(pairs)]
    new = [
        _user(prefix, i, before if after == "same" else after)
        for i, (before, after) in enumerate(pairs)
        if after != "gone"
    ] + [_user(prefix, 100 + i, fields) for i, fields in enumerate(added)]
    blocks = lambda users: [Block("x.jsonl", 1, "".join(json.dumps(u) + "\n" for u in users).encode(), True)]  # noqa: E731
    new_blocks = blocks(new) + (
        [Block("x.jsonl", 99, b'{"id": "00ux", broken\n', True)] if unreadable else []
    )
    planned = [
        r
        for r in plan(RULESET, blocks(old), new_blocks, "rfc", Summary())
        if not isinstance(r, RecordFailure)
    ]

    with tempfile.TemporaryDirectory() as folder:
        state_path = Path(folder) / "state.sqlite"
        options = Options()
        if old:
            app = ScimApp(Connection(server.base_url, None))
            state = State(state_path, server.base_url, "userName")
            try:
                summary = Sync(RULESET, app, state, options).run(Incoming("x", u) for u in old)
                assert summary.counts["failed"] == 0, summary.failures
            finally:
                app.close()
                state.close()
        if not new:
            return  # an empty export is refused by sync (and plans nothing useful)
        app = ScimApp(Connection(server.base_url, None))
        state = State(state_path, server.base_url, "userName", readonly=True)
        try:
            recorder = saved_plan.Recorder(app)
            sync = Sync(RULESET, recorder, state, options)
            dry, summary = saved_plan.make(RULESET, "okta-default", sync, recorder,
                                           [*(Incoming("x", u) for u in new),
                                            *([Incoming("x:99", None, "invalid JSON")] if unreadable else [])],
                                           str(state_path), "")  # fmt: skip
        finally:
            app.close()
            state.close()
    assert not summary.held  # at most 6 users: under the guard's floor of 10
    assert sorted(map(_normal, planned)) == sorted(map(_normal, dry.requests()))
