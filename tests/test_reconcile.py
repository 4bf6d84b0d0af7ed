"""Ruleset.reconcile(current, user): for any resource an app may hold and any Okta user,
applying the PatchOp (scim2-models' strict PatchOp; scim2-server in test_scim_server)
gives what the ruleset wants on the attributes it owns, and leaves everything else as the
app had it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mapper
from mapper.runtime.put import put_body
from mapper.tools.examples import slot_value
from tests.support.scim_oracle import apply, normalise
from tests.support.strategies import okta_users
from tests.test_patch_properties import EXTRA, RULESETS

# Slow: Hypothesis properties per ruleset. `pytest -m "not slow"` leaves them out.
pytestmark = pytest.mark.slow


_TEXT = st.sampled_from(["", "x", "Drifted", "ada@example.com", "É"])
#: What an app may hold that no shipped ruleset maps.
_UNOWNED: dict[str, st.SearchStrategy[Any]] = {
    "nickName": _TEXT.filter(bool),
    "userType": st.just("Contractor"),
    "name.formatted": st.just("Set In The App"),
    "emails.other": st.just({"value": "other@example.com", "type": "other"}),
    "emails.home-primary": st.just({"value": "home@example.com", "type": "home", "primary": True}),
    "phoneNumbers.other": st.just({"value": "+1 555 0100", "type": "other"}),
}


@st.composite
def app_resources(draw: st.DrawFn, ruleset: mapper.Ruleset) -> dict[str, Any]:
    """A resource as an app may hold it: rendered for some user, or nothing of the ruleset's;
    then drifted (owned slots changed or dropped) and with attributes the ruleset does not own."""
    try:
        base = ruleset.render(draw(okta_users(EXTRA))) if draw(st.booleans()) else {}
    except mapper.ProfileError:
        base = {}
    resource: dict[str, Any] = {
        **copy.deepcopy(base),
        "schemas": base.get("schemas", ["urn:ietf:params:scim:schemas:core:2.0:User"]),
        "id": "app-1",
        "meta": {"resourceType": "User"},
    }
    for rule in draw(st.lists(st.sampled_from(ruleset.plan.rules), max_size=4)):
        t = rule.target
        if t.urn != "urn:ietf:params:scim:schemas:core:2.0:User" or t.scim_type != "string" or t.multi_simple:
            continue
        value = draw(st.one_of(st.none(), _TEXT.filter(bool)))
        if t.entry_type is None and t.sub is None:
            if value is None:
                resource.pop(t.attr, None)
            else:
                resource[t.attr] = value
        elif t.entry_type is None and t.sub is not None:
            holder = resource.setdefault(t.attr, {})
            if value is None:
                holder.pop(t.sub, None)
            else:
                holder[t.sub] = value
            if not holder:
                resource.pop(t.attr)
    owned_attrs = {r.target.attr for r in ruleset.plan.rules if r.target.entry_type is None}
    for key in draw(st.lists(st.sampled_from(sorted(_UNOWNED)), unique=True)):
        value = draw(_UNOWNED[key])
        attr, _, part = key.partition(".")
        if attr in owned_attrs and part != "formatted":
            continue
        if attr in ("emails", "phoneNumbers"):
            entries = resource.setdefault(attr, [])
            if all(e.get("type") != value["type"] for e in entries):
                if value.get("primary"):
                    for e in entries:
                        e.pop("primary", None)
                entries.append(dict(value))
        elif part == "formatted":
            if isinstance(resource.get("name", {}), dict):
                resource.setdefault("name", {})["formatted"] = value
        else:
            resource[attr] = value
    return resource


def _drawn(
    ruleset: mapper.Ruleset, data: Any
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None:
    """An app resource, an Okta user, and the user as the ruleset renders them (None: a user
    the ruleset refuses)."""
    current = data.draw(app_resources(ruleset), label="current")
    user = data.draw(okta_users(EXTRA), label="user")
    try:
        return current, user, ruleset.render(user)
    except mapper.ProfileError:
        return None


@pytest.mark.parametrize("name", sorted(RULESETS))
@given(data=st.data())
def test_reconcile_takes_any_app_resource_to_what_the_ruleset_wants(name: str, data: Any) -> None:
    ruleset = RULESETS[name]
    drawn = _drawn(ruleset, data)
    if drawn is None:
        return
    current, user, wanted = drawn
    message = ruleset.reconcile(current, user)
    after = apply(ruleset, current, message)  # strict: a bad path or a noTarget filter raises
    expected = normalise(ruleset, put_body(ruleset.plan, current, wanted))
    assert _without_schemas(after) == _without_schemas(expected)
    # Every owned slot as rendered (create-only ones as the app had them) ...
    for rule in ruleset.plan.rules:
        source = current if rule.create_only else wanted
        got = slot_value(after, rule.target)
        assert got == normalise_slot(slot_value(source, rule.target)), rule.target.path
    # ... and nothing else touched: id, meta and what the ruleset does not map.
    assert after["id"] == "app-1"
    for key in ("nickName", "userType"):
        if not any(r.target.attr == key for r in ruleset.plan.rules):
            assert after.get(key) == current.get(key)
    others = [e for e in current.get("emails", []) if e["type"] in ("other", "home")]
    if not any(
        r.target.attr == "emails" and r.target.entry_type in ("other", "home") for r in ruleset.plan.rules
    ):
        assert [_no_primary(e) for e in after.get("emails", []) if e["type"] in ("other", "home")] == sorted(
            (_no_primary(e) for e in others), key=lambda e: e["type"]
        )
    # Once reconciled, nothing is left to send; and an unchanged user costs no request.
    assert ruleset.reconcile(put_body(ruleset.plan, current, wanted), user) is None


def _containers(value: Any) -> list[int]:
    """The ids of every dict and list in VALUE."""
    found, stack = [], [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(id(item))
            stack.extend(item.values())
        elif isinstance(item, list):
            found.append(id(item))
            stack.extend(item)
    return found


@pytest.mark.parametrize("name", sorted(RULESETS))
@given(data=st.data())
def test_put_and_reconcile_change_neither_resource_and_share_nothing(name: str, data: Any) -> None:
    """reconcile builds its target without copying what it leaves alone: it must still leave
    both resources as they were; a PUT body and a PATCH message are the caller's own to change."""
    ruleset = RULESETS[name]
    drawn = _drawn(ruleset, data)
    if drawn is None:
        return
    current, user, wanted = drawn
    before = copy.deepcopy((current, wanted))
    message = ruleset.reconcile(current, user)
    body = put_body(ruleset.plan, current, wanted)
    assert (current, wanted) == before
    theirs = set(_containers(current) + _containers(wanted))
    assert not set(_containers(body)) & theirs
    assert not set(_containers(message)) & theirs  # the message is the caller's own too


_ENTRY_VALUE = st.sampled_from(["ada@example.com", "+1 555 0100", "x", 1, 1.0, -0.0, 0.0, True, None])


@st.composite
def _held_entries(draw: st.DrawFn, wanted: list[Any]) -> list[Any]:
    """A multi-valued attribute as an app may hold it: the rendered entries, some copied as
    they are (the common case: unchanged), some altered (a value, primary, of another type,
    1 for true), others of their own."""
    entries: list[Any] = []
    for entry in draw(st.lists(st.sampled_from(wanted), max_size=2)) if wanted else []:
        copied = dict(entry)
        for key in draw(st.lists(st.sampled_from(["value", "primary", "type", "display"]), max_size=2)):
            copied[key] = draw(st.one_of(_ENTRY_VALUE, st.sampled_from(["work", "home", "other"])))
        entries.append(copied)
    entries += draw(
        st.lists(
            st.one_of(
                st.fixed_dictionaries(
                    {"type": st.sampled_from(["work", "home", "other", None])},
                    optional={"value": _ENTRY_VALUE, "primary": st.sampled_from([True, False, 1, None])},
                ),
                st.just("not an entry"),
            ),
            max_size=2,
        )
    )
    return draw(st.permutations(entries))


@pytest.mark.parametrize("name", sorted(RULESETS))
@given(data=st.data())
def test_an_entry_list_already_as_wanted_is_left_as_it_is_and_only_then(name: str, data: Any) -> None:
    """put.target keeps the app's list of a multi-valued attribute when it is already what
    setting the owned entries would make of it (_already): the same target as building it."""
    from unittest import mock

    from mapper.runtime import put

    ruleset = RULESETS[name]
    user = data.draw(okta_users(EXTRA), label="user")
    try:
        wanted = ruleset.render(user)
    except mapper.ProfileError:
        return
    current: dict[str, Any] = {"schemas": list(wanted["schemas"]), "id": "app-1"}
    for rule in ruleset.plan.rules:
        t = rule.target
        core = t.urn == "urn:ietf:params:scim:schemas:core:2.0:User"
        if t.entry_type is not None and core and t.attr not in current:
            current[t.attr] = data.draw(_held_entries(wanted.get(t.attr) or []), label=t.attr)
    fast = put.target(ruleset.plan, current, wanted)
    with mock.patch.object(put, "_already", lambda *_: False):
        built = put.target(ruleset.plan, current, wanted)
    assert repr(fast) == repr(built)  # repr: JSON tells 1 from true and 1.0, == does not


def normalise_slot(value: Any) -> Any:
    return sorted(value) if isinstance(value, list) and all(isinstance(v, str) for v in value) else value


def _no_primary(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k != "primary"}


def _without_schemas(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "schemas"}


def test_an_adopted_user_keeps_what_the_app_set() -> None:
    ruleset = mapper.load("okta-default")
    current = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "2819c223",
        "userName": "ada@example.com",
        "name": {"givenName": "Ada", "familyName": "Byron"},
        "emails": [
            {"value": "ada@home.example", "type": "home"},
            {"value": "old@example.com", "type": "work", "primary": True, "display": "Ada"},
        ],
        "nickName": "set in the app",
        "meta": {"resourceType": "User"},
    }
    user = {"id": "00u1", "status": "ACTIVE",
            "profile": {"login": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace",
                        "email": "ada@example.com"}}  # fmt: skip
    assert ruleset.reconcile(current, user) == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "replace", "path": "name.familyName", "value": "Lovelace"},
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "ada@example.com"},
            {"op": "add", "path": "externalId", "value": "00u1"},
            {"op": "add", "path": "active", "value": True},
        ],
    }
