"""Runtime semantics of rendered resources, each rule of the README's
"Semantics" section with the exact expected output."""

from __future__ import annotations

from typing import Any

import pytest

import mapper
from tests.conftest import compile_rules

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
APPSPACE = "urn:ietf:params:scim:schemas:extension:appspace:2.0:User"


def test_missing_null_and_empty_attributes_are_omitted(shipped: dict[str, mapper.Ruleset]) -> None:
    resource = shipped["okta-default"].render(
        {"login": "a@example.com", "firstName": None, "lastName": "", "email": None, "title": ""}
    )
    assert resource == {"schemas": [CORE], "userName": "a@example.com", "active": True}


def test_no_empty_objects_or_arrays(shipped: dict[str, mapper.Ruleset]) -> None:
    resource = shipped["enterprise"].render({"login": "a@example.com"})
    assert "name" not in resource and "emails" not in resource and ENTERPRISE not in resource


def test_schemas_lists_exactly_the_extensions_with_a_value(shipped: dict[str, mapper.Ruleset]) -> None:
    appspace = shipped["appspace"]
    assert appspace.render({"login": "a@example.com"})["schemas"] == [CORE]
    assert appspace.render({"login": "a@example.com", "costCenter": "7"})["schemas"] == [CORE, APPSPACE]
    both = appspace.render({"login": "a@example.com", "costCenter": "7", "department": "R"})
    assert both["schemas"] == [CORE, ENTERPRISE, APPSPACE]
    assert both[APPSPACE] == {"costCenter": "7"} and both[ENTERPRISE] == {"department": "R"}


@pytest.mark.parametrize(
    ("status", "active"),
    [
        ("ACTIVE", True),
        ("PROVISIONED", True),
        ("STAGED", True),
        ("RECOVERY", True),
        ("PASSWORD_EXPIRED", True),
        ("LOCKED_OUT", True),
        ("SUSPENDED", True),  # Okta sends nothing on suspension: the app user stays active
        ("DEPROVISIONED", False),
    ],
)
def test_active_derives_from_okta_status(
    shipped: dict[str, mapper.Ruleset], status: str, active: bool
) -> None:
    user = {"id": "00u1", "status": status, "profile": {"login": "a@example.com"}}
    assert shipped["okta-default"].render(user)["active"] is active


def test_users_api_object_gives_external_id(shipped: dict[str, mapper.Ruleset]) -> None:
    user = {"id": "00u1", "status": "ACTIVE", "profile": {"login": "a@example.com"}}
    assert shipped["okta-default"].render(user) == {
        "schemas": [CORE],
        "externalId": "00u1",
        "userName": "a@example.com",
        "active": True,
    }


def test_bare_profile_counts_as_active_and_has_no_external_id(shipped: dict[str, mapper.Ruleset]) -> None:
    resource = shipped["okta-default"].render({"login": "a@example.com"})
    assert resource["active"] is True and "externalId" not in resource


def test_the_work_phone_is_the_primary_phone_alone(shipped: dict[str, mapper.Ruleset]) -> None:
    okta = shipped["okta-default"]
    both = okta.render({"login": "a", "primaryPhone": "1", "mobilePhone": "2"})
    assert both["phoneNumbers"] == [{"value": "1", "type": "work", "primary": True}]
    mobile_only = okta.render({"login": "a", "primaryPhone": "", "mobilePhone": "2"})
    assert "phoneNumbers" not in mobile_only  # as Okta's template: mobilePhone is not the work phone


def test_locale_is_sent_as_in_okta_create_request(shipped: dict[str, mapper.Ruleset]) -> None:
    assert shipped["okta-default"].create({"login": "a", "locale": "en-US"})["locale"] == "en-US"


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ([], "expected a JSON object (an Okta profile or Users API user), got an array"),
        ("x", "expected a JSON object (an Okta profile or Users API user), got a string"),
        (None, "expected a JSON object (an Okta profile or Users API user), got null"),
        ({"login": 5}, "profile attribute 'login': expected a string, got a number"),
        ({"login": "a", "title": ["x"]}, "profile attribute 'title': expected a string, got an array"),
        ({"login": "a", "email": {"x": 1}}, "profile attribute 'email': expected a string, got an object"),
        (
            {"login": "a", "department": True},
            "profile attribute 'department': expected a string, got a boolean",
        ),
        ({"id": 7, "profile": {"login": "a"}}, "profile attribute 'id': expected a string, got a number"),
        (
            {"title": "x"},
            "profile attribute 'login' for SCIM attribute 'userName': has no value, but RFC 7643 requires one",
        ),
    ],
)
def test_profile_errors_name_the_attribute_and_not_the_value(
    shipped: dict[str, mapper.Ruleset], user: Any, message: str
) -> None:
    with pytest.raises(mapper.ProfileError) as caught:
        shipped["okta-default"].render(user)
    assert str(caught.value) == message


def test_profile_error_fields() -> None:
    with pytest.raises(mapper.ProfileError) as caught:
        mapper.load("okta-default").render({"login": "a", "title": 3})
    assert caught.value.attribute == "title"


def test_output_shares_no_mutable_state_with_input_or_other_calls(shipped: dict[str, mapper.Ruleset]) -> None:
    okta = shipped["okta-default"]
    first = okta.render({"login": "a", "email": "a@example.com", "firstName": "A"})
    first["emails"][0]["value"] = "changed"
    first["name"]["givenName"] = "changed"
    first["schemas"].append("x")
    again = okta.render({"login": "a", "email": "a@example.com", "firstName": "A"})
    assert again["emails"][0]["value"] == "a@example.com"
    assert again["name"] == {"givenName": "A"} and again["schemas"] == [CORE]


# ---------------------------------------------------------------- types and conversions


def test_custom_typed_profile_attributes() -> None:
    ruleset = compile_rules(
        "profile {\n  badge: integer\n  vip: boolean\n  score: number\n  tags: string[]\n}\n"
        'schema x = "urn:example:x:2.0:User" {\n  badge: string\n  vip: boolean\n  score: decimal\n'
        "  level: integer\n  tags: string[]\n}\n"
        "x:badge <- user.badge\nx:vip <- user.vip\nx:score <- user.score\nx:level <- user.badge\nx:tags <- user.tags\n"
    )
    resource = ruleset.render(
        {"login": "a", "badge": 42, "vip": False, "score": 1.5, "tags": ["a", "", None, "b"]}
    )
    assert resource["urn:example:x:2.0:User"] == {
        "badge": "42",
        "vip": False,
        "score": 1.5,
        "level": 42,
        "tags": ["a", "b"],
    }
    for bad, message in [
        ({"badge": "42"}, "profile attribute 'badge': expected an integer, got a string"),
        ({"badge": True}, "profile attribute 'badge': expected an integer, got a boolean"),
        ({"vip": "true"}, "profile attribute 'vip': expected a boolean, got a string"),
        ({"score": "1.5"}, "profile attribute 'score': expected a number, got a string"),
        ({"score": float("inf")}, "profile attribute 'score': expected a finite number, got a number"),
        ({"tags": "a"}, "profile attribute 'tags': expected an array of strings, got a string"),
        ({"tags": ["a", 1]}, "profile attribute 'tags': expected an array of strings, got a number"),
    ]:
        with pytest.raises(mapper.ProfileError) as caught:
            ruleset.render({"login": "a", **bad})
        assert str(caught.value) == message


def test_conversion_failures_name_sources_and_target() -> None:
    ruleset = compile_rules(
        'schema x = "urn:example:x:2.0:User" {\n  n: integer\n  when: dateTime\n}\n'
        "x:n <- Convert.toInt(user.employeeNumber)\nx:when <- user.nickName\n"
    )
    assert ruleset.render({"login": "a", "employeeNumber": " 12.5 "})["urn:example:x:2.0:User"] == {"n": 13}
    with pytest.raises(mapper.ProfileError) as caught:
        ruleset.render({"login": "a", "employeeNumber": "twelve"})
    assert str(caught.value) == (
        "profile attribute 'employeeNumber' for SCIM attribute 'urn:example:x:2.0:User:n': cannot convert to an integer"
    )
    ok = ruleset.render({"login": "a", "nickName": "2024-01-02T03:04:05Z"})
    assert ok["urn:example:x:2.0:User"] == {"when": "2024-01-02T03:04:05Z"}
    with pytest.raises(mapper.ProfileError) as caught:
        ruleset.render({"login": "a", "nickName": "2024-01-02"})
    assert caught.value.target == "urn:example:x:2.0:User:when"


def test_default_applies_to_null_and_empty_results() -> None:
    ruleset = compile_rules('title <- String.substringAfter(user.title, ":") default "Staff"\n')
    assert ruleset.render({"login": "a"})["title"] == "Staff"
    assert ruleset.render({"login": "a", "title": "no colon"})["title"] == "Staff"
    assert ruleset.render({"login": "a", "title": "x:Boss"})["title"] == "Boss"


def test_multi_valued_entries_with_several_sub_attributes() -> None:
    ruleset = compile_rules(
        'addresses[type eq "work"].streetAddress <- user.streetAddress primary\n'
        'addresses[type eq "work"].locality <- user.city\n'
        'addresses[type eq "work"].country <- user.countryCode\n'
        'emails[type eq "work"].value <- user.email\n'
        'emails[type eq "home"].value <- user.secondEmail primary\n'
    )
    resource = ruleset.render(
        {"login": "a", "city": "Paris", "email": "w@example.com", "secondEmail": "h@example.com"}
    )
    assert resource["addresses"] == [{"locality": "Paris", "type": "work", "primary": True}]
    assert resource["emails"] == [
        {"value": "w@example.com", "type": "work"},
        {"value": "h@example.com", "type": "home", "primary": True},
    ]
    assert "addresses" not in ruleset.render({"login": "a"})


def test_create_only_rules_are_rendered() -> None:
    ruleset = compile_rules("nickName <- user.nickName on create\n")
    assert ruleset.render({"login": "a", "nickName": "n"})["nickName"] == "n"
    assert ruleset.rules[0].create_only


def test_rules_expose_targets_and_sources(shipped: dict[str, mapper.Ruleset]) -> None:
    rules = {r.target: r for r in shipped["okta-default"].rules}
    assert rules['phoneNumbers[type eq "work"].value'].sources == ("primaryPhone",)
    assert rules["active"].internal_sources == ("status",)
    assert rules["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"].sources == (
        "department",
    )
