"""The round-trip proof (Hypothesis): for any pair of profiles and every style,
applying patch(old, new) to render(old) with scim2-models' strict PatchOp gives
the resource the app should hold, render(new) with create-only targets kept
from old (Ruleset.updated); multi-valued lists are compared without order."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mapper
from mapper.core.helpers import split_user
from mapper.core.patch_ops import message
from mapper.core.styles import PatchStyle
from mapper.runtime import patch
from tests.conftest import SHIPPED
from tests.support.scim_oracle import apply, normalise
from tests.support.strategies import emails, okta_users, profile_text

# Slow: Hypothesis properties checked on scim2-models, per ruleset and style. `pytest -m "not slow"` leaves them out.
pytestmark = pytest.mark.slow


STYLES = ("rfc", "no-path", "whole-multivalued")

KITCHEN_SINK = """\
ruleset kitchen-sink extends enterprise

schema hr = "urn:example:hr:2.0:User" {
  badge: string
  level: integer
  tags: string[]
}
profile {
  badgeNumber: integer
  tags: string[]
}

nickName <- user.nickName on create
addresses[type eq "work"].streetAddress <- user.streetAddress primary
addresses[type eq "work"].locality      <- user.city
addresses[type eq "work"].postalCode    <- user.zipCode on create
addresses[type eq "home"].formatted     <- user.postalAddress
emails[type eq "home"].value            <- user.secondEmail
hr:badge <- user.badgeNumber
hr:level <- user.badgeNumber ?: 0
hr:tags  <- user.tags
title    <- String.toUpperCase(user.title) default "STAFF"
"""

RULESETS = {name: mapper.load(name) for name in SHIPPED}
RULESETS["kitchen-sink"] = mapper.loads(KITCHEN_SINK, "kitchen-sink.mapper")
EXTRA = {
    "badgeNumber": st.integers(-5, 10**6),
    "tags": st.lists(st.sampled_from(["a", "b", "", "c"]), max_size=3),
}


@st.composite
def profile_pairs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    old = draw(okta_users(EXTRA))
    if draw(st.booleans()):
        return old, draw(okta_users(EXTRA))
    # A realistic update: a few attributes of the same user change.
    new = {**old, "profile": dict(old["profile"])} if "profile" in old else dict(old)
    target = new.get("profile", new)
    for key in draw(
        st.lists(st.sampled_from(sorted(set(target) | {"title", "email", "city", "tags"})), max_size=3)
    ):
        if key == "login":
            continue
        if key in EXTRA:
            value = draw(st.one_of(st.none(), EXTRA[key]))
        else:
            value = draw(st.one_of(st.none(), st.just(""), emails if "mail" in key else profile_text))
        target[key] = value
    if "profile" in new and draw(st.booleans()):
        new["status"] = draw(st.sampled_from(["ACTIVE", "SUSPENDED", "DEPROVISIONED"]))
    return old, new


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("name", sorted(RULESETS))
@given(pair=profile_pairs())
def test_patch_takes_old_to_new_on_scim2_models(
    name: str, style: str, pair: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    ruleset = RULESETS[name]
    old, new = pair
    message = ruleset.patch(old, new, style)
    assert apply(ruleset, ruleset.render(old), message) == normalise(ruleset, ruleset.updated(old, new))
    assert ruleset.patch(old, new, style) == message  # the same change, the same request
    assert ruleset.patch(new, new, style) is None  # nothing changed: no request


@pytest.mark.parametrize("name", sorted(RULESETS))
@given(pair=profile_pairs())
def test_the_generated_rfc_patch_is_the_rfc_style_of_the_changes(
    name: str, pair: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    """patch_rfc writes the operations as it finds the changes: the same message (or the same
    error) as the changes function's units turned into RFC operations afterwards."""
    ruleset = RULESETS[name]
    old, new = pair
    _, changes, units = ruleset._changes
    outcomes = []
    for way in ("direct", "two passes"):
        try:
            if way == "direct":
                outcomes.append(ruleset._patch_rfc(old, new))
            else:
                (old_profile, old_fields), (new_profile, new_fields) = split_user(old), split_user(new)
                operations = patch.operations(units, changes(old_profile, old_fields, new_profile, new_fields),
                                              PatchStyle.RFC)  # fmt: skip
                outcomes.append(message(operations) if operations else None)
        except mapper.ProfileError as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("style", ("rfc", "no-path"))
@given(pair=profile_pairs())
def test_patch_touches_nothing_the_ruleset_does_not_own(
    style: str, pair: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    ruleset = RULESETS["okta-default"]
    old, new = pair
    unowned = {
        "nickName": "set by the app",
        "emails": [{"value": "other@example.com", "type": "other"}],
        "name": {"formatted": "Set By The App"},
    }

    def with_unowned(resource: dict[str, Any]) -> dict[str, Any]:
        merged = {**resource, "nickName": unowned["nickName"]}
        merged["emails"] = [*resource.get("emails", []), *unowned["emails"]]
        merged["name"] = {**resource.get("name", {}), **unowned["name"]}
        return merged

    patched = apply(ruleset, with_unowned(ruleset.render(old)), ruleset.patch(old, new, style))
    assert patched == normalise(ruleset, with_unowned(ruleset.updated(old, new)))


# ---------------------------------------------------------------- PUT from the app's current resource

#: What an app holds that no shipped ruleset maps: it must survive every PUT.
UNOWNED = {
    "nickName": "set in the app",
    "name": {"formatted": "Set In The App"},
    "emails": [{"value": "other@example.com", "type": "other"}],
    "phoneNumbers": [{"value": "+1 555 0100", "type": "other"}],
    "userType": "Contractor",
}


def with_unowned(ruleset: mapper.Ruleset, resource: dict[str, Any]) -> dict[str, Any]:
    """RESOURCE as an app might hold it: the ruleset's attributes plus ones it does not own."""
    owned = {r.target.attr for r in ruleset.plan.rules if r.target.urn == CORE}
    merged = {**resource, "id": "app-1", "meta": {"resourceType": "User"}}
    for key, value in UNOWNED.items():
        if key in ("name", "emails", "phoneNumbers"):
            existing = merged.get(key)
            merged[key] = {**value, **(existing or {})} if key == "name" else [*(existing or []), *value]  # type: ignore[dict-item]
        elif key not in owned:
            merged[key] = value
    return merged


CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.mark.parametrize("name", sorted(RULESETS))
@given(pair=profile_pairs())
def test_put_from_current_changes_only_what_the_ruleset_owns(
    name: str, pair: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    from mapper.tools.examples import slot_value

    ruleset = RULESETS[name]
    old, new = pair
    current = with_unowned(ruleset, ruleset.render(old))
    body = ruleset.put(current, new)
    # Valid on a strict implementation, the server's id and meta kept.
    assert apply(ruleset, body, None)
    assert body["id"] == "app-1" and body["meta"] == {"resourceType": "User"}
    # Every owned slot as the ruleset renders the new user; create-only ones as the app had them.
    wanted = ruleset.render(new)
    for rule in ruleset.plan.rules:
        source = current if rule.create_only else wanted
        assert slot_value(body, rule.target) == slot_value(source, rule.target), rule.target.path
    # Nothing the ruleset does not own is lost.
    assert body.get("nickName") == current.get("nickName")
    assert body.get("userType") == current.get("userType")
    assert body["name"]["formatted"] == "Set In The App"
    for key in ("emails", "phoneNumbers"):
        others = [{k: v for k, v in e.items() if k != "primary"} for e in body[key] if e["type"] == "other"]
        assert others == UNOWNED[key]
    # PUT of what the app holds changes nothing the ruleset would not.
    assert ruleset.put(body, new) == body
