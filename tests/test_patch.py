"""PATCH semantics, each rule with the exact request expected (RFC 7644 section 3.5.2)."""

from __future__ import annotations

from typing import Any

import pytest

import mapper
from mapper.core.styles import PatchStyle
from tests.support.scim_oracle import apply, normalise

OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
APP = "urn:ietf:params:scim:schemas:extension:appspace:2.0:User"


def ops(
    ruleset: mapper.Ruleset, old: dict[str, Any], new: dict[str, Any], style: str = "rfc"
) -> list[dict[str, Any]]:
    message = ruleset.patch(old, new, style)
    # Every request in this file must also do what it claims on a strict implementation.
    assert apply(ruleset, ruleset.render(old), message) == normalise(ruleset, ruleset.updated(old, new))
    if message is None:
        return []  # no request
    assert message["schemas"] == [OP] and message["Operations"] != []
    operations: list[dict[str, Any]] = message["Operations"]
    return operations


def user(**profile: Any) -> dict[str, Any]:
    return {"login": "a@example.com", **profile}


@pytest.fixture(scope="module")
def okta() -> mapper.Ruleset:
    return mapper.load("okta-default")


@pytest.fixture(scope="module")
def appspace() -> mapper.Ruleset:
    return mapper.load("appspace")


def test_nothing_changed_means_no_request(okta: mapper.Ruleset) -> None:
    # RFC 7644 3.5.2: Operations holds "one or more" operations; servers reject an empty list.
    profile = user(firstName="A", email="a@example.com")
    for style in ("rfc", "no-path", "whole-multivalued"):
        assert okta.patch(profile, dict(profile), style) is None
        assert okta.patch(profile, {**profile, "unmapped": "x"}, style) is None


def test_add_replace_remove_on_plain_paths(okta: mapper.Ruleset) -> None:
    assert ops(okta, user(), user(title="T")) == [{"op": "add", "path": "title", "value": "T"}]
    assert ops(okta, user(title="T"), user(title="U")) == [{"op": "replace", "path": "title", "value": "U"}]
    assert ops(okta, user(title="T"), user()) == [{"op": "remove", "path": "title"}]
    assert ops(okta, user(title="T"), user(title="")) == [{"op": "remove", "path": "title"}]
    assert ops(okta, user(title="T"), user(title=None)) == [{"op": "remove", "path": "title"}]


def test_complex_sub_attributes(okta: mapper.Ruleset) -> None:
    assert ops(okta, user(), user(firstName="A")) == [{"op": "add", "path": "name.givenName", "value": "A"}]
    assert ops(okta, user(firstName="A", lastName="L"), user(lastName="L")) == [
        {"op": "remove", "path": "name.givenName"}
    ]
    # The last sub-attribute going leaves no name at all (render(new) has none).
    assert ops(okta, user(firstName="A"), user()) == [{"op": "remove", "path": "name.givenName"}]


def test_filtered_entry_is_added_whole_when_the_app_has_none(okta: mapper.Ruleset) -> None:
    assert ops(okta, user(), user(email="a@example.com")) == [
        {
            "op": "add",
            "path": "emails",
            "value": [{"value": "a@example.com", "type": "work", "primary": True}],
        }
    ]


def test_filtered_entry_value_is_replaced_when_it_exists(okta: mapper.Ruleset) -> None:
    assert ops(okta, user(email="a@example.com"), user(email="b@example.com")) == [
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "b@example.com"}
    ]


def test_cleared_value_removes_the_entry_not_just_its_value(okta: mapper.Ruleset) -> None:
    assert ops(okta, user(email="a@example.com"), user()) == [
        {"op": "remove", "path": 'emails[type eq "work"]'}
    ]


def test_fallback_source_change() -> None:
    ruleset = mapper.loads(
        "ruleset r\nuserName <- user.login\n"
        'phoneNumbers[type eq "work"].value <- user.primaryPhone ?: user.mobilePhone primary\n',
        "r.mapper",
    )
    assert ops(ruleset, user(primaryPhone="1", mobilePhone="2"), user(mobilePhone="2")) == [
        {"op": "replace", "path": 'phoneNumbers[type eq "work"].value', "value": "2"}
    ]
    assert (
        ops(ruleset, user(primaryPhone="1", mobilePhone="2"), user(primaryPhone="1", mobilePhone="3")) == []
    )


def test_the_work_phone_is_the_primary_phone_alone(okta: mapper.Ruleset) -> None:
    assert ops(okta, user(primaryPhone="1", mobilePhone="2"), user(mobilePhone="2")) == [
        {"op": "remove", "path": 'phoneNumbers[type eq "work"]'}
    ]


def test_extension_attributes_use_urn_paths_and_leave_schemas_to_the_server(appspace: mapper.Ruleset) -> None:
    assert ops(appspace, user(), user(costCenter="C")) == [
        {"op": "add", "path": f"{APP}:costCenter", "value": "C"}
    ]
    assert ops(appspace, user(costCenter="C"), user()) == [{"op": "remove", "path": f"{APP}:costCenter"}]
    assert ops(appspace, user(department="D"), user(department="E")) == [
        {"op": "replace", "path": f"{ENT}:department", "value": "E"}
    ]


def test_status_transitions_set_active(okta: mapper.Ruleset) -> None:
    def status(s: str) -> dict[str, Any]:
        return {"id": "00u1", "status": s, "profile": user()}

    for before, after, active in [("ACTIVE", "DEPROVISIONED", False), ("DEPROVISIONED", "ACTIVE", True)]:
        assert ops(okta, status(before), status(after)) == [
            {"op": "replace", "path": "active", "value": active}
        ]
    # Okta sends nothing when a user is suspended or unsuspended, or locked out.
    for before, after in [("ACTIVE", "SUSPENDED"), ("SUSPENDED", "ACTIVE"), ("ACTIVE", "LOCKED_OUT")]:
        assert okta.patch(status(before), status(after)) is None


def test_deactivate_and_reactivate(okta: mapper.Ruleset) -> None:
    # Okta's own body by default: replace without a path.
    assert okta.deactivate() == {
        "schemas": [OP],
        "Operations": [{"op": "replace", "value": {"active": False}}],
    }
    assert okta.reactivate() == {
        "schemas": [OP],
        "Operations": [{"op": "replace", "value": {"active": True}}],
    }
    assert okta.deactivate("rfc") == {
        "schemas": [OP],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }
    with pytest.raises(ValueError, match="put is not a PATCH style"):
        okta.deactivate("put")


def test_create_only_rules_never_patch() -> None:
    ruleset = mapper.loads(
        "ruleset t extends okta-default\nnickName <- user.nickName on create\n"
        'emails[type eq "home"].value <- user.secondEmail on create\n',
        "t.mapper",
    )
    assert ruleset.create(user(nickName="N"))["nickName"] == "N"
    assert ops(ruleset, user(nickName="N"), user(nickName="M")) == []
    assert ops(ruleset, user(secondEmail="h@example.com"), user()) == []
    assert ruleset.updated(user(nickName="N"), user(nickName="M", title="T"))["nickName"] == "N"


def test_filter_values_are_escaped() -> None:
    ruleset = mapper.loads(
        'ruleset t\nuserName <- user.login\nemails[type eq "a\\u0022b\\\\c"].value <- user.email\n',
        "t.mapper",
    )
    assert ruleset.patch(user(email="x@example.com"), user(email="y@example.com"))["Operations"] == [
        {"op": "replace", "path": 'emails[type eq "a\\"b\\\\c"].value', "value": "y@example.com"}
    ]


def test_values_that_look_like_paths_stay_values(okta: mapper.Ruleset) -> None:
    hostile = 'x"] or [type eq "home'
    assert ops(okta, user(title="a"), user(title=hostile)) == [
        {"op": "replace", "path": "title", "value": hostile}
    ]


def test_order_is_ruleset_order(appspace: mapper.Ruleset) -> None:
    old = user()
    new = user(costCenter="C", title="T", firstName="F", email="e@example.com", department="D")
    paths = [op["path"] for op in ops(appspace, old, new)]
    assert paths == ["name.givenName", "title", "emails", f"{ENT}:department", f"{APP}:costCenter"]
    assert appspace.patch(old, new) == appspace.patch(old, new)


def test_entry_with_several_sub_attributes() -> None:
    ruleset = mapper.loads(
        "ruleset t\nuserName <- user.login\n"
        'addresses[type eq "work"].locality <- user.city primary\n'
        'addresses[type eq "work"].postalCode <- user.zipCode\n',
        "t.mapper",
    )
    assert ops(ruleset, user(city="P"), user(city="P", zipCode="75")) == [
        {"op": "add", "path": 'addresses[type eq "work"].postalCode', "value": "75"}
    ]
    assert ops(ruleset, user(city="P", zipCode="75"), user(zipCode="75")) == [
        {"op": "remove", "path": 'addresses[type eq "work"].locality'}
    ]
    assert ops(ruleset, user(zipCode="75"), user()) == [{"op": "remove", "path": 'addresses[type eq "work"]'}]


# ---------------------------------------------------------------- styles


def test_no_path_style_merges_sets_and_keeps_what_it_cannot_express(appspace: mapper.Ruleset) -> None:
    old = user(firstName="F", email="e@example.com", costCenter="C")
    new = user(lastName="L", department="D", email="f@example.com", title="T")
    assert ops(appspace, old, new, "no-path") == [
        {"op": "replace", "value": {"name.familyName": "L", "title": "T", f"{ENT}:department": "D"}},
        {"op": "remove", "path": "name.givenName"},
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "f@example.com"},
        {"op": "remove", "path": f"{APP}:costCenter"},
    ]


def test_whole_multivalued_style(okta: mapper.Ruleset) -> None:
    assert ops(okta, user(email="e@example.com"), user(email="f@example.com"), "whole-multivalued") == [
        {
            "op": "replace",
            "path": "emails",
            "value": [{"value": "f@example.com", "type": "work", "primary": True}],
        }
    ]
    assert ops(okta, user(email="e@example.com"), user(), "whole-multivalued") == [
        {"op": "remove", "path": "emails"}
    ]
    assert ops(okta, user(), user(email="e@example.com"), "whole-multivalued") == [
        {
            "op": "add",
            "path": "emails",
            "value": [{"value": "e@example.com", "type": "work", "primary": True}],
        }
    ]


def test_put_is_not_a_patch_style(okta: mapper.Ruleset) -> None:
    """patch() returns a PatchOp in every style; a PUT is another request (Ruleset.put)."""
    for old, new in ((user(title="T"), user(title="U")), (user(title="T"), user(title="T"))):
        with pytest.raises(ValueError, match=r"put is not a PATCH style: a PUT's body is Ruleset\.put"):
            okta.patch(old, new, "put")
    assert okta.patch(user(title="T"), user(title="U"), PatchStyle.NO_PATH) == okta.patch(
        user(title="T"), user(title="U"), "no-path"
    )


def test_unknown_style(okta: mapper.Ruleset) -> None:
    with pytest.raises(ValueError, match="unknown patch style 'json'"):
        okta.patch(user(), user(title="T"), "json")


def test_patch_profile_errors_name_the_attribute(okta: mapper.Ruleset) -> None:
    with pytest.raises(mapper.ProfileError) as caught:
        okta.patch(user(title="T"), user(title=5))
    assert str(caught.value) == "profile attribute 'title': expected a string, got a number"
    with pytest.raises(mapper.ProfileError) as caught:
        okta.patch(user(), {"title": "x"})
    assert caught.value.target == "userName"


def test_both_input_shapes(okta: mapper.Ruleset) -> None:
    api = {"id": "00u1", "status": "ACTIVE", "profile": user(title="T")}
    # A bare profile has no id (externalId goes) and counts as active (no change).
    assert ops(okta, api, user(title="U")) == [
        {"op": "remove", "path": "externalId"},
        {"op": "replace", "path": "title", "value": "U"},
    ]


def test_patch_reads_its_style_the_same_before_and_after_it_is_compiled() -> None:
    """ruleset.patch becomes the generated function on first use: the styles it takes, and
    the error for one it does not, stay what they were."""
    import gc
    import weakref

    ruleset = mapper.loads("ruleset t\nuserName <- user.login\ntitle <- user.title\n", "t.mapper")
    old, new = {"login": "a"}, {"login": "a", "title": "b"}
    for _ in range(2):  # compiled by the first call
        with pytest.raises(ValueError, match="unknown patch style None"):
            ruleset.patch(old, new, None)  # type: ignore[arg-type]
        assert (
            ruleset.patch(old, new) == ruleset.patch(old, new, "rfc") == ruleset.patch(old, new, style="rfc")
        )
        assert ruleset.patch(old, new, PatchStyle.NO_PATH) == {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"title": "b"}}],
        }
    # The generated code holds no strong reference back to its ruleset: no cycle to collect.
    gc.disable()
    try:
        held = weakref.ref(ruleset)
        del ruleset
        assert held() is None
    finally:
        gc.enable()
