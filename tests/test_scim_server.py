"""Integration with a real SCIM server (scim2-server, its own process on
loopback): POST create(old), send patch(old, new) (or PUT), GET the user back:
it must equal updated(old, new), apart from the server-managed id and meta."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mapper
from tests.support.scim_oracle import normalise
from tests.test_patch_properties import RULESETS, profile_pairs

try:
    import scim2_server  # noqa: F401
except ImportError:  # pragma: no cover - CI installs it with the test extras
    if os.environ.get("CI"):
        raise
    pytest.skip("scim2-server is not installed", allow_module_level=True)

from mapper.runtime.put import put_body
from mapper.tools.examples import slot_value
from tests.support.scim_server import ScimServer, SharedServers
from tests.support.strategies import okta_users
from tests.test_patch_properties import EXTRA
from tests.test_reconcile import app_resources

# Slow: property tests on a real SCIM server. `pytest -m "not slow"` leaves them out.
pytestmark = pytest.mark.slow


_EXTENSIONS = [s for r in RULESETS.values() for urn, s in r.plan.schemas.items() if not s.builtin]
_ids = itertools.count()


@pytest.fixture(scope="module")
def server(scim_servers: SharedServers) -> ScimServer:
    """scim2-server with every extension of the rulesets under test (each example makes its own users)."""
    return scim_servers.get(list({s.urn: s for s in _EXTENSIONS}.values()))


def _with_login(user: dict[str, Any], login: str) -> dict[str, Any]:
    if "profile" in user:
        return {**user, "profile": {**user["profile"], "login": login}}
    return {**user, "login": login}


def _login(user: dict[str, Any]) -> Any:
    return user.get("profile", user).get("login")


def _unique_pair(pair: tuple[dict[str, Any], dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The server keeps userName unique: every example gets fresh logins."""
    old, new = pair
    n = next(_ids)
    same = _login(old) == _login(new)
    return _with_login(old, f"old{n}@example.com"), _with_login(
        new, f"{'old' if same else 'new'}{n}@example.com"
    )


def _strip(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k not in ("id", "meta")}


def round_trip(
    server: ScimServer, ruleset: mapper.Ruleset, old: dict[str, Any], new: dict[str, Any], style: str
) -> None:
    status, created = server.request("POST", "/Users", ruleset.create(old))
    assert status == 201, created
    user_id = created["id"]
    try:
        if style == "put":
            body = ruleset.updated(old, new) if ruleset.patch(old, new) is not None else None
            if body:
                status, answer = server.request("PUT", f"/Users/{user_id}", {**body, "id": user_id})
                assert status == 200, (body, answer)
        else:
            message = ruleset.patch(old, new, style)
            if message is not None:
                status, answer = server.request("PATCH", f"/Users/{user_id}", message)
                assert status in (200, 204), (message, answer)
        status, fetched = server.request("GET", f"/Users/{user_id}")
        assert status == 200
        assert normalise(ruleset, _strip(fetched)) == normalise(ruleset, ruleset.updated(old, new))
    finally:
        server.request("DELETE", f"/Users/{user_id}")


@pytest.mark.parametrize("style", ["rfc", "no-path", "whole-multivalued", "put"])
@pytest.mark.parametrize("name", sorted(RULESETS))
@settings(max_examples=max(50, settings.default.max_examples // 3))
@given(pair=profile_pairs(), data=st.data())
def test_round_trip_on_scim2_server(
    server: ScimServer,
    name: str,
    style: str,
    pair: tuple[dict[str, Any], dict[str, Any]],
    data: st.DataObject,
) -> None:
    old, new = _unique_pair(pair)
    round_trip(server, RULESETS[name], old, new, style)


def test_deactivate_and_reactivate_on_the_server(server: ScimServer, tmp_path: Path) -> None:
    ruleset = RULESETS["okta-default"]
    status, created = server.request(
        "POST", "/Users", ruleset.create({"login": f"life{next(_ids)}@example.com"})
    )
    assert status == 201 and created["active"] is True
    for message, active in [(ruleset.deactivate(), False), (ruleset.reactivate("no-path"), True)]:
        status, _ = server.request("PATCH", f"/Users/{created['id']}", message)
        assert status in (200, 204)
        assert server.request("GET", f"/Users/{created['id']}")[1]["active"] is active


@pytest.mark.parametrize("name", sorted(RULESETS))
@settings(max_examples=max(50, settings.default.max_examples // 3))
@given(pair=profile_pairs())
def test_put_from_the_current_resource_loses_nothing_on_scim2_server(
    server: ScimServer, name: str, pair: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """Okta's way: GET the user, change what the ruleset owns, PUT it all back. The server
    may clear what a PUT omits (RFC 7644 3.5.1); nothing the ruleset does not own is lost."""
    from mapper.tools.examples import slot_value
    from tests.test_patch_properties import UNOWNED, with_unowned

    ruleset = RULESETS[name]
    old, new = _unique_pair(pair)
    created_body = {
        k: v for k, v in with_unowned(ruleset, ruleset.create(old)).items() if k not in ("id", "meta")
    }
    status, created = server.request("POST", "/Users", created_body)
    assert status == 201, created
    try:
        status, current = server.request("GET", f"/Users/{created['id']}")
        assert status == 200
        body = ruleset.put(current, new)
        status, answer = server.request("PUT", f"/Users/{created['id']}", body)
        assert status == 200, (body, answer)
        status, fetched = server.request("GET", f"/Users/{created['id']}")
        assert status == 200
        wanted = ruleset.render(new)
        for rule in ruleset.plan.rules:
            expected = slot_value(current if rule.create_only else wanted, rule.target)
            assert slot_value(fetched, rule.target) == expected, rule.target.path
        assert fetched.get("nickName") == current.get("nickName")
        assert fetched.get("userType") == current.get("userType")
        assert fetched["name"].get("formatted") == UNOWNED["name"]["formatted"]
        for key in ("emails", "phoneNumbers"):
            others = [
                {k: v for k, v in e.items() if k != "primary"} for e in fetched[key] if e["type"] == "other"
            ]
            assert others == UNOWNED[key]
    finally:
        server.request("DELETE", f"/Users/{created['id']}")


@pytest.mark.parametrize("name", sorted(RULESETS))
@settings(max_examples=max(50, settings.default.max_examples // 3))
@given(data=st.data())
def test_reconcile_brings_any_app_user_in_line_on_scim2_server(
    server: ScimServer, name: str, data: Any
) -> None:
    """Adopting or repairing a user: whatever the server holds, reconcile's PATCH leaves it with
    the ruleset's values on the owned attributes and everything else as it was."""
    ruleset = RULESETS[name]
    n = next(_ids)
    current_body = data.draw(app_resources(ruleset), label="current")
    current_body = {k: v for k, v in current_body.items() if k not in ("id", "meta")}
    current_body["userName"] = f"app{n}@example.com"
    user = _with_login(data.draw(okta_users(EXTRA), label="user"), f"app{n}@example.com")
    try:
        wanted = ruleset.render(user)
    except mapper.ProfileError:
        return
    status, created = server.request("POST", "/Users", current_body)
    assert status == 201, created
    try:
        status, current = server.request("GET", f"/Users/{created['id']}")
        message = ruleset.reconcile(current, user)
        if message is not None:
            status, answer = server.request("PATCH", f"/Users/{created['id']}", message)
            assert status in (200, 204), (message, answer)
        status, fetched = server.request("GET", f"/Users/{created['id']}")
        expected = put_body(ruleset.plan, current, wanted)
        for rule in ruleset.plan.rules:
            assert slot_value(fetched, rule.target) == slot_value(expected, rule.target), rule.target.path
        assert normalise(ruleset, _strip(fetched)) == normalise(ruleset, _strip(expected))
        assert ruleset.reconcile(fetched, user) is None
    finally:
        server.request("DELETE", f"/Users/{created['id']}")
