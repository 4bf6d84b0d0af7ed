"""The inbound direction (app to Okta): the language, the checker, derivation, and
Ruleset.inbound, proved against render by Hypothesis (inbound(render(user)) gives back the
mapped part of every profile, for any ruleset of plain copies)."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mapper
from mapper.core.plan import Inverse
from mapper.errors import ProfileError, ResourceError, RulesetError
from mapper.language.unparse import format_text
from tests.support.codecheck import check_generated_code
from tests.support.scim_server import ScimServer, server_fixtures
from tests.support.strategies import json_values

EXT = "urn:example:params:scim:schemas:extension:acme:2.0:User"

_ACME = f"""schema acme = "{EXT}" {{
  badge: string
  level: integer
  score: decimal
  remote: boolean
  tags: string[]
  codes: integer[]
}}
"""


def _errors(text: str) -> list[tuple[int, str]]:
    with pytest.raises(RulesetError) as caught:
        mapper.loads(text, "t.mapper", cache=False)
    return [(d.span.line if d.span else 0, d.message) for d in caught.value.errors]


# -- the language ---------------------------------------------------------------------------


def test_inbound_rules_read_the_app_by_scim_paths_as_targets_are_written() -> None:
    ruleset = mapper.loads(
        "ruleset t extends okta-default\n" + _ACME + "profile {\n  badgeNumber: string\n  level: integer\n}\n"
        "user.badgeNumber <- String.toUpperCase(appuser.acme:badge) on create\n"
        "user.level <- appuser.urn:example:params:scim:schemas:extension:acme:2.0:User:level\n"
        "user.nickName <- appuser.nickName ?: appuser.name.givenName\n"
        'user.secondEmail <- appuser.emails[type eq "home"].value\n',
        "t.mapper",
        cache=False,
    )
    declared = {r.attr: r for r in ruleset.plan.inbound if r.derived_from is None}
    assert list(declared) == ["badgeNumber", "level", "nickName", "secondEmail"]
    assert declared["badgeNumber"].create_only and not declared["level"].create_only
    assert [str(p) for p in declared["nickName"].app_sources] == ["nickName", "name.givenName"]
    resource = {
        "userName": "ada@example.com",
        "nickName": "",
        "name": {"givenName": "Ada"},
        "emails": [{"value": "ada@home.example", "type": "home"}],
        EXT: {"badge": "b-7", "level": 3},
    }
    profile = ruleset.inbound(resource)
    assert profile["badgeNumber"] == "B-7" and profile["level"] == 3
    assert profile["nickName"] == "Ada"  # an empty string is no value, as outbound
    assert profile["secondEmail"] == "ada@home.example"
    assert profile["login"] == "ada@example.com" and profile["title"] is None  # derived
    update = ruleset.inbound(resource, update=True)
    assert "badgeNumber" not in update and update["level"] == 3  # DONT_PUSH only on create


def test_the_formatter_puts_inbound_rules_after_the_outbound_ones_aligned() -> None:
    text = (
        "ruleset t\n# back\nuser.title <- appuser.title   on create  # kept\n"
        "userName <- user.login\nuser.nickName<-appuser.enterprise:department\n"
    )
    formatted, errors = format_text(text)
    assert not errors
    assert formatted == (
        "ruleset t\n\nuserName <- user.login\n\n# back\n"
        "user.title    <- appuser.title on create  # kept\n"
        "user.nickName <- appuser.enterprise:department\n"
    )
    assert format_text(formatted)[0] == formatted


@pytest.mark.parametrize(
    ("rule", "line", "message"),
    [
        ("user.title <- appuser.titel", 2, "unknown attribute 'titel' in User"),
        ("user.title <- appuser.Title", 2, "'Title' differs only in case from 'title'"),
        ("user.title <- appuser.name", 2, "name is complex: name a sub-attribute"),
        (
            "user.title <- appuser.emails.value",
            2,
            "emails is multi-valued: select the entry with a type filter",
        ),
        ("user.title <- appuser.acme:badge", 2, "unknown schema alias 'acme'"),
        (
            "user.title <- user.nickName",
            2,
            "an inbound rule reads the app's resource, not the Okta user's user.nickName",
        ),
        (
            "title <- appuser.title",
            2,
            "appuser.title reads the app's resource: that is the app-to-Okta direction",
        ),
        ("user.Title <- appuser.title", 2, "user.Title differs only in case from user.title"),
        ("user.title <- appuser.active", 2, "user.title is string, but the expression gives boolean"),
        (
            "user.title <- appuser.title primary",
            2,
            "`primary` marks a SCIM entry: an Okta attribute has none",
        ),
        ("user.title <- appuser.title default 3", 2, "the default of user.title must be string"),
        ("user.title <- Time.now()", 2, "Time.now() changes on every call, so every import would update it"),
        ("user.title <- null", 2, "this expression is always null, so the rule never sets a value"),
    ],
)
def test_the_checker_says_what_is_wrong_with_an_inbound_rule(rule: str, line: int, message: str) -> None:
    text = f"ruleset t\n{rule}\nuserName <- user.login\n"
    assert (line, message) in _errors(text)


def test_every_error_is_reported_at_once_with_its_line() -> None:
    errors = _errors(
        "ruleset t\nuserName <- user.login\n"
        "user.title <- appuser.titel\n"
        "user.title <- appuser.title\n"  # a second rule for user.title
        "user.nickName <- appuser.nickName +\n"  # a syntax error
        "user.locale <- user.locale\n"
    )
    lines = [line for line, _ in errors]
    assert lines == [3, 4, 5, 6]
    assert errors[1][1] == "user.title is already set on line 3"


def test_an_undeclared_okta_attribute_is_a_warning_with_the_declaration_to_write() -> None:
    ruleset = mapper.loads(
        "ruleset t\nuserName <- user.login\nuser.badge <- appuser.active\n", "t.mapper", cache=False
    )
    (warning,) = ruleset.warnings
    assert warning.message == "user.badge is not an Okta base profile attribute"
    assert warning.hint == "if it is a custom attribute, declare it: `profile { badge: boolean }`"
    assert ruleset.inbound({"active": False}) == {"login": None, "badge": False}


# -- derivation -----------------------------------------------------------------------------


def test_plain_copies_are_derived_and_everything_else_says_why_not() -> None:
    ruleset = mapper.loads(
        "ruleset t\n" + _ACME + "profile {\n  level: integer\n}\n"
        "userName <- user.login\n"
        'emails[type eq "work"].value <- user.email primary\n'
        'emails[type eq "home"].value <- user.email\n'
        "title <- String.toUpperCase(user.title)\n"
        'nickName <- "x"\n'
        'displayName <- user.firstName + " " + user.lastName\n'
        'externalId <- user.getInternalProperty("id")\n'
        'locale <- user.locale default "en"\n'
        "acme:badge <- user.level\n"
        "acme:level <- user.level\n"
        "user.title <- appuser.title\n",
        "t.mapper",
        cache=False,
    )
    kinds = [
        (r.target.path, i.kind, i.detail)
        for r, i in zip(ruleset.plan.rules, ruleset.plan.inversions, strict=True)
    ]
    assert kinds == [
        ("userName", Inverse.DERIVED, "user.login <- appuser.userName"),
        ('emails[type eq "work"].value', Inverse.DERIVED, 'user.email <- appuser.emails[type eq "work"].value'),
        ('emails[type eq "home"].value', Inverse.SHADOWED, 'user.email comes back from emails[type eq "work"].value'),
        ("title", Inverse.DECLARED, "user.title is set by the inbound rule at t.mapper:23"),
        ("nickName", Inverse.NOT_INVERTIBLE, "a constant"),
        ("displayName", Inverse.NOT_INVERTIBLE, "a function of several attributes (user.firstName, user.lastName)"),
        ("externalId", Inverse.NOT_INVERTIBLE,
         "it reads Okta's user fields (getInternalProperty), which an import does not set"),
        ("locale", Inverse.NOT_INVERTIBLE, "a default stands in for an empty value"),
        (f"{EXT}:badge", Inverse.NOT_INVERTIBLE, "it converts integer to SCIM string"),
        (f"{EXT}:level", Inverse.DERIVED, "user.level <- appuser.acme:level"),
    ]  # fmt: skip


def test_a_child_ruleset_overrides_an_inherited_inbound_rule(tmp_path: Any) -> None:
    (tmp_path / "base.mapper").write_text(
        "ruleset base\nuserName <- user.login\nuser.title <- appuser.title\nuser.locale <- appuser.locale\n"
    )
    child = mapper.loads(
        "ruleset child extends base\nuser.title <- String.toLowerCase(appuser.title)\n",
        "child.mapper",
        base_dir=tmp_path,
        cache=False,
    )
    assert [(r.attr, r.origin) for r in child.plan.inbound] == [
        ("login", "base"),
        ("title", "child"),
        ("locale", "base"),
    ]
    assert child.inbound({"title": "CTO"})["title"] == "cto"


# -- Ruleset.inbound ------------------------------------------------------------------------


def test_names_are_matched_without_regard_to_case_and_the_primary_entry_wins() -> None:
    ruleset = mapper.load("appspace")
    resource = {
        "UserName": "ada",
        "NAME": {"GivenName": "Ada"},
        "Emails": [
            {"Value": "first@example.com", "Type": "Work"},
            {"value": "primary@example.com", "type": "WORK", "primary": True},
        ],
        "urn:ietf:params:scim:schemas:extension:APPSPACE:2.0:User": {"CostCenter": "cc"},
    }
    profile = ruleset.inbound(resource)
    assert profile["login"] == "ada" and profile["firstName"] == "Ada"
    assert profile["email"] == "primary@example.com" and profile["costCenter"] == "cc"
    assert (
        ruleset.inbound({"emails": [{"value": "w@example.com", "type": "work"}]})["email"] == "w@example.com"
    )


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ([], "expected a SCIM resource (a JSON object), got an array"),
        ({"title": 3}, "SCIM attribute 'title': expected a string, got a number"),
        ({"name": "Ada"}, "SCIM attribute 'name': expected an object, got a string"),
        ({"emails": {"value": "x"}}, "SCIM attribute 'emails': expected an array of objects, got an object"),
        ({"emails": ["x"]}, "SCIM attribute 'emails': expected an array of objects, got a string"),
        ({"title": "x" * 10_001}, "SCIM attribute 'title': longer than 10,000 characters"),
        (
            {"userName": "a", "USERNAME": "b"},
            "SCIM attribute 'userName': spelt two ways (SCIM names ignore case)",
        ),
    ],
)
def test_bad_input_is_a_resource_error_that_names_the_attribute_not_the_value(
    resource: Any, message: str
) -> None:
    with pytest.raises(ResourceError) as caught:
        mapper.load("okta-default").inbound(resource)
    assert str(caught.value) == message
    assert isinstance(caught.value, ProfileError)  # a gateway's `except ProfileError` catches it


def test_typed_attributes_are_checked_and_converted() -> None:
    ruleset = mapper.loads(
        "ruleset t\nuserName <- user.login\n"
        + _ACME
        + "profile {\n  level: integer\n  score: number\n  remote: boolean\n  tags: string[]\n  code: string\n}\n"
        "user.level <- appuser.acme:level\nuser.score <- appuser.acme:score\n"
        "user.remote <- appuser.acme:remote\nuser.tags <- appuser.acme:tags\n"
        "user.code <- appuser.acme:level\n",
        "t.mapper",
        cache=False,
    )
    body = {EXT: {"level": 7, "score": 2.5, "remote": False, "tags": ["a", None, "", "b"]}}
    assert ruleset.inbound(body) == {
        "login": None,
        "level": 7,
        "score": 2.5,
        "remote": False,
        "tags": ["a", "b"],
        "code": "7",
    }
    assert ruleset.inbound({EXT: {"tags": []}})["tags"] is None
    for bad, message in (
        ({"level": True}, "expected a 64-bit integer, got a boolean"),
        ({"level": 2**63}, "expected a 64-bit integer, got a number"),
        ({"score": math.inf}, "expected a finite number, got a number"),
        ({"remote": "true"}, "expected a boolean, got a string"),
        ({"tags": "a"}, "expected an array of strings, got a string"),
    ):
        with pytest.raises(ResourceError, match=message):
            ruleset.inbound({EXT: bad})


def test_a_function_that_refuses_a_value_names_the_rule() -> None:
    ruleset = mapper.loads(
        "ruleset t\nuserName <- user.login\nprofile {\n  n: integer\n}\nuser.n <- Convert.toInt(appuser.title)\n",
        "t.mapper",
        cache=False,
    )
    assert ruleset.inbound({"title": "42"})["n"] == 42
    with pytest.raises(ResourceError) as caught:
        ruleset.inbound({"title": "forty-two"})
    assert str(caught.value).startswith("SCIM attribute 'title' for Okta attribute 'n': ")
    assert "forty-two" not in str(caught.value)


def test_the_compile_cache_keeps_the_inbound_direction(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAPPER_CACHE_DIR", str(tmp_path))
    text = "ruleset t extends appspace\nuser.nickName <- String.toUpperCase(appuser.appspace:costCenter) on create\n"
    fresh = mapper.loads(text, "t.mapper", cache=False)
    mapper.loads(text, "t.mapper")  # stores
    cached = mapper.loads(text, "t.mapper")
    assert cached.plan.rules[0].node is None  # read back from the cache, not parsed
    assert cached.plan.inversions == fresh.plan.inversions
    assert [(r.attr, r.text, r.derived_from) for r in cached.plan.inbound] == [
        (r.attr, r.text, r.derived_from) for r in fresh.plan.inbound
    ]
    resource = fresh.render({"login": "a", "costCenter": "x1"})
    assert cached.inbound(resource) == fresh.inbound(resource) != {}


def test_hostile_paths_and_literals_stay_data_in_the_generated_code() -> None:
    hostile = 'x"); import os #\u2028\x00'
    from mapper.language.literals import filter_value, literal

    ruleset = mapper.loads(
        f"ruleset t\nuserName <- user.login\n"
        f"user.title <- appuser.emails[type eq {filter_value(hostile)}].value default {literal(hostile)}\n",
        "t.mapper",
        cache=False,
    )
    assert ruleset.inbound({"emails": [{"type": hostile, "value": "v"}]})["title"] == "v"
    assert ruleset.inbound({})["title"] == hostile
    check_generated_code(ruleset)


# -- the property: inbound(render(user)) is the mapped part of the user ------------------------

#: Plain copies a ruleset can hold: (rule, the Okta attribute, its Okta type).
_COPIES = [
    ("name.givenName <- user.firstName", "firstName", "string"),
    ("name.familyName <- user.lastName", "lastName", "string"),
    ("displayName <- user.displayName", "displayName", "string"),
    ("title <- user.title", "title", "string"),
    ("profileUrl <- user.profileUrl", "profileUrl", "string"),
    ('emails[type eq "work"].value <- user.email primary', "email", "string"),
    ('phoneNumbers[type eq "mobile"].value <- user.mobilePhone', "mobilePhone", "string"),
    ('addresses[type eq "work"].locality <- user.city', "city", "string"),
    ("enterprise:department <- user.department", "department", "string"),
    ("enterprise:manager.value <- user.managerId", "managerId", "string"),
    ("active <- user.enabled", "enabled", "boolean"),
    ("acme:level <- user.level", "level", "integer"),
    ("acme:score <- user.score", "score", "number"),
    ("acme:remote <- user.remote", "remote", "boolean"),
    ("acme:tags <- user.tags", "tags", "string[]"),
    ("acme:codes <- user.codes", "codes", "integer[]"),
]
_DECLARED = {"enabled": "boolean", "level": "integer", "score": "number", "remote": "boolean"}
_DECLARED |= {"tags": "string[]", "codes": "integer[]"}
_COMPILED: dict[tuple[int, ...], mapper.Ruleset] = {}


def _ruleset(chosen: tuple[int, ...]) -> mapper.Ruleset:
    if chosen not in _COMPILED:
        declarations = "".join(f"  {name}: {kind}\n" for name, kind in _DECLARED.items())
        rules = "".join(_COPIES[i][0] + "\n" for i in chosen)
        text = f"ruleset copies\n{_ACME}profile {{\n{declarations}}}\nuserName <- user.login\n{rules}"
        _COMPILED[chosen] = mapper.loads(text, "copies.mapper", cache=False)
    return _COMPILED[chosen]


_text = st.text(max_size=12)
_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "string": st.one_of(st.none(), st.just(""), _text),
    "boolean": st.one_of(st.none(), st.booleans()),
    "integer": st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)),
    "number": st.one_of(st.none(), st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False)),
    "string[]": st.one_of(st.none(), st.lists(st.one_of(st.none(), st.just(""), _text), max_size=4)),
    "integer[]": st.one_of(st.none(), st.lists(st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1)), max_size=4)),
}  # fmt: skip


def _mapped(kind: str, value: Any) -> Any:
    """What the ruleset keeps of VALUE: no value for null, "" and empty arrays; arrays without
    their null and empty entries (as render reads them)."""
    if kind.endswith("[]"):
        kept = [v for v in value or () if v is not None and v != ""]
        return kept or None
    return None if value == "" else value


@st.composite
def _cases(draw: st.DrawFn) -> tuple[mapper.Ruleset, dict[str, Any], dict[str, Any]]:
    chosen = tuple(sorted(draw(st.sets(st.integers(0, len(_COPIES) - 1), max_size=len(_COPIES)))))
    profile: dict[str, Any] = {"login": draw(st.text(min_size=1, max_size=12))}
    expected = {"login": profile["login"]}
    for index in chosen:
        _, name, kind = _COPIES[index]
        value = draw(_VALUES[kind])
        if value is not None or draw(st.booleans()):  # an attribute null or missing
            profile[name] = value
        expected[name] = _mapped(kind, value)
    return _ruleset(chosen), profile, expected


@settings(max_examples=200)
@given(_cases())
def test_inbound_of_render_is_the_mapped_part_of_the_profile(
    case: tuple[mapper.Ruleset, dict[str, Any], dict[str, Any]],
) -> None:
    ruleset, profile, expected = case
    assert all(i.kind is Inverse.DERIVED for i in ruleset.plan.inversions)
    assert ruleset.inbound(ruleset.render(profile)) == expected
    assert ruleset.inbound(ruleset.render({"profile": profile, "status": "ACTIVE"}), update=True) == expected


# -- the oracle: what a strict SCIM server stores and gives back maps back the same ----------------

_server_process, _ = server_fixtures([_ruleset(tuple(range(len(_COPIES)))).plan.schemas[EXT]])
_SERVER_COPIES = tuple(i for i, (rule, _, _) in enumerate(_COPIES) if not rule.startswith("profileUrl"))
_logins = itertools.count()


@st.composite
def _server_cases(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    profile: dict[str, Any] = {"login": f"inbound{next(_logins)}@example.com"}
    expected = {"login": profile["login"]}
    for index in _SERVER_COPIES:  # profileUrl left out: the server checks it is a URI
        _, name, kind = _COPIES[index]
        value = draw(_VALUES[kind])
        if value is not None:
            profile[name] = value
        expected[name] = _mapped(kind, value)
    return profile, expected


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(case=_server_cases())
def test_what_scim2_server_gives_back_maps_back_to_the_profile(
    _server_process: ScimServer, case: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    server = _server_process  # one server for every example: each has a fresh userName
    ruleset = _ruleset(_SERVER_COPIES)
    profile, expected = case
    status, created = server.request("POST", "/Users", ruleset.create(profile))
    assert status == 201, created
    status, fetched = server.request("GET", f"/Users/{created['id']}")
    assert status == 200, fetched
    assert ruleset.inbound(fetched) == expected


# -- from a review: what must not be derived, and errors where they belong -------------------------


def _inversions(text: str) -> list[tuple[str, Inverse, str]]:
    ruleset = mapper.loads(text, "t.mapper", cache=False)
    return [
        (r.target.path, i.kind, i.detail)
        for r, i in zip(ruleset.plan.rules, ruleset.plan.inversions, strict=True)
    ]


def test_what_the_app_never_returns_is_neither_read_nor_derived() -> None:
    assert (2, "password is write-only: the app never returns it") in _errors(
        "ruleset t\nuser.title <- appuser.password\nuserName <- user.login\n"
    )
    kinds = _inversions(
        "ruleset t\nuserName <- user.login\npassword <- user.nickName\nnickName <- user.nickName\n"
    )
    assert kinds[1:] == [
        ("password", Inverse.NOT_INVERTIBLE, "the app never returns it (write-only)"),
        ("nickName", Inverse.DERIVED, "user.nickName <- appuser.nickName"),
    ]


def test_entries_whose_types_differ_only_in_case_are_not_inverted() -> None:
    kinds = _inversions(
        'ruleset t\nuserName <- user.login\nemails[type eq "Work"].value <- user.email\n'
        'emails[type eq "work"].value <- user.secondEmail\n'
    )
    assert [k for _, k, _ in kinds[1:]] == [Inverse.NOT_INVERTIBLE, Inverse.NOT_INVERTIBLE]
    assert kinds[1][2] == "another emails entry's type differs from 'Work' only in case"


def test_an_on_create_copy_gives_way_to_one_that_follows_okta() -> None:
    both = mapper.loads(
        "ruleset t\nuserName <- user.login\ntitle <- user.title on create\nenterprise:division <- user.title\n",
        "t.mapper",
        cache=False,
    )
    (title,) = [r for r in both.plan.inbound if r.attr == "title"]
    assert title.text == "user.title <- appuser.enterprise:division" and not title.create_only
    assert both.plan.inversions[1].kind is Inverse.SHADOWED
    alone = mapper.loads(
        "ruleset t\nuserName <- user.login\ntitle <- user.title on create\n", "t.mapper", cache=False
    )
    (title,) = [r for r in alone.plan.inbound if r.attr == "title"]
    assert title.create_only and title.text == "user.title <- appuser.title on create"  # DONT_PUSH
    assert "title" not in alone.inbound({"title": "Old"}, update=True)


def test_a_child_cannot_retype_what_an_inherited_inbound_rule_sets(tmp_path: Any) -> None:
    (tmp_path / "base.mapper").write_text(
        "ruleset base\nuserName <- user.login\nuser.level <- appuser.title\n"
    )
    with pytest.raises(RulesetError) as caught:
        mapper.loads(
            "ruleset child extends base\nprofile {\n  level: integer\n}\n",
            "child.mapper",
            base_dir=tmp_path,
            cache=False,
        )
    (error,) = caught.value.errors
    assert error.span is not None and error.span.line == 3
    assert error.message.startswith("user.level is set as string by the inherited inbound rule at ")


def test_errors_inside_an_app_path_point_at_their_place() -> None:
    with pytest.raises(RulesetError) as caught:
        mapper.loads(
            'ruleset t\nuserName <- user.login\nuser.title <- appuser.emails[type eq "\\ud800"].value\n'
            'user.nickName <- appuser.title on create default "x" primary\n',
            "t.mapper",
            cache=False,
        )
    spans = [(e.span.line, e.span.col) for e in caught.value.errors if e.span]
    assert spans == [(3, 38), (4, 54)]


def test_a_conditional_without_spaces_reads_as_one() -> None:
    ruleset = mapper.loads(
        "ruleset t\nuserName <- user.login\nuser.title <- appuser.active ?appuser.title:appuser.nickName\n"
        "user.nickName <- appuser.active?appuser.title:String.toUpperCase(appuser.nickName)\n",
        "t.mapper",
        cache=False,
    )
    assert ruleset.inbound({"active": False, "title": "t", "nickName": "n"}) == {
        "login": None,
        "title": "n",
        "nickName": "N",
    }


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"type": ["work"], "value": "a"}, "SCIM attribute 'emails[].type': expected a string, got an array"),
        (
            {"type": "work", "primary": "true"},
            "SCIM attribute 'emails[].primary': expected a boolean, got a string",
        ),
    ],
)
def test_an_entry_with_a_mistyped_type_or_primary_is_an_error(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(ResourceError) as caught:
        mapper.load("okta-default").inbound({"emails": [entry]})
    assert str(caught.value) == message


def test_a_ruleset_of_inbound_rules_alone_needs_no_user_name() -> None:
    ruleset = mapper.loads("ruleset imports\nuser.login <- appuser.userName\n", "t.mapper", cache=False)
    assert ruleset.inbound({"userName": "ada"}) == {"login": "ada"}
    assert (1, "the ruleset never sets userName, which RFC 7643 requires") in _errors("ruleset empty\n")


def test_check_lists_inbound_rules_for_people_only() -> None:
    from tests.support.cli import mapper_cli

    result = mapper_cli("check", "--inbound", "--format", "json", "okta-default")
    assert result.exit_code == 2 and "--inbound lists rules for people" in result.stderr


# -- review and mapper test ---------------------------------------------------------------------


def test_review_shows_what_an_import_would_set_differently(tmp_path: Any) -> None:
    from tests.support.cli import mapper_cli

    old, new = tmp_path / "old.mapper", tmp_path / "new.mapper"
    old.write_text(
        "ruleset r\nuserName <- user.login\ntitle <- user.title\nuser.nickName <- appuser.nickName\n"
    )
    new.write_text(
        "ruleset r\nuserName <- user.login\ntitle <- String.toUpperCase(user.title)\n"
        'user.login <- appuser.emails[type eq "work"].value\nuser.nickName <- appuser.title on create\n'
    )
    result = mapper_cli("review", str(old), str(new))
    assert result.exit_code == 0
    assert "1 rule changed; inbound: 1 removed, 2 changed; 2 rules in all." in result.stdout
    assert (
        '| changed | `user.login` | `appuser.userName` | `appuser.emails[type eq "work"].value` | now declared |'
        in result.stdout
    )
    assert (
        "| changed | `user.nickName` | `appuser.nickName` | `appuser.title on create` |  |" in result.stdout
    )
    assert "| removed | `user.title` | `appuser.title` |  | derived from title |" in result.stdout


def test_examples_state_what_comes_back_from_the_app(tmp_path: Any) -> None:
    from tests.support.cli import mapper_cli

    (tmp_path / "r.mapper").write_text(
        "ruleset r\nuserName <- user.login\nuser.nickName <- String.toUpperCase(appuser.nickName) on create\n"
    )
    examples = tmp_path / "r.examples.json"
    examples.write_text(
        json.dumps(
            {
                "examples": [
                    {
                        "name": "created",
                        "app_user": {"userName": "a", "nickName": "ada"},
                        "profile": {"login": "a", "nickName": "ADA"},
                    },
                    {
                        "name": "updated",
                        "app_user": {"userName": "a", "nickName": "ada"},
                        "update": True,
                        "profile": {"login": "a", "nickName": "ADA"},
                    },
                    {
                        "name": "bad",
                        "app_user": {"userName": 3},
                        "error": "SCIM attribute 'userName': expected a string, got a number",
                    },
                    {"name": "to write", "app_user": {"userName": "b"}},
                ]
            }
        )
    )
    result = mapper_cli("test", str(examples), "--update")
    assert result.exit_code == 1, result.stdout
    assert "FAILED " + str(examples) + ": updated" in result.stdout
    assert '    - /nickName: "ADA" (expected, missing)' in result.stdout  # DONT_PUSH: not updated
    written = json.loads(examples.read_text())["examples"][3]
    assert written["profile"] == {"login": "b", "nickName": None}
    assert "no example covers userName" in result.stdout  # user.nickName is covered by "created"
    wrong = tmp_path / "bad.examples.json"
    wrong.write_text(
        json.dumps({"ruleset": "r.mapper", "examples": [{"name": "x", "app_user": {}, "resource": {}}]})
    )
    refused = mapper_cli("test", str(wrong))
    assert refused.exit_code == 2 and 'give exactly one of "profile", "error"' in refused.stdout


# -- hostile resources: a ResourceError or a profile, nothing else ----------------------------------

_RESOURCE_KEYS = st.sampled_from(
    ["userName", "USERNAME", "name", "Name", "emails", "phoneNumbers", "title", "active", "displayName", EXT,
     "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "schemas", "id"]
) | st.text(max_size=6)  # fmt: skip
_SUB_KEYS = st.sampled_from(["givenName", "GIVENNAME", "value", "type", "primary", "badge", "level", "tags"])


def _hostile(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    entry = st.dictionaries(_SUB_KEYS, values | st.sampled_from(["work", "WORK", True]), max_size=4)
    member = values | entry | st.lists(entry | values, max_size=3)
    return st.dictionaries(_RESOURCE_KEYS, member, max_size=6) | values


@settings(max_examples=300)
@given(resource=_hostile(json_values))
def test_any_json_maps_back_or_is_a_resource_error_without_its_values(resource: Any) -> None:
    ruleset = _ruleset(tuple(range(len(_COPIES))))
    try:
        profile = ruleset.inbound(resource)
    except ResourceError as exc:
        message = str(exc)
        assert "\n" not in message and len(message) < 300
        return
    assert set(profile) == {r.attr for r in ruleset.plan.inbound}
    for rule in ruleset.plan.inbound:
        value = profile[rule.attr]
        if value is not None and not rule.type.multi:
            assert isinstance(
                value,
                {"string": str, "boolean": bool, "integer": int, "decimal": (int, float)}[rule.type.base],
            )
