"""Okta EL semantics: operators, null handling and every function, with exact results."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

import mapper
from mapper.core.functions import FUNCTIONS
from mapper.core.regex import PatternError, compile_pattern, replacement_parts

URN = "urn:example:t:2.0:User"
SCHEMA = f'schema t = "{URN}" {{\n  s: string\n  b: boolean\n  i: integer\n  d: decimal\n}}\n'
PROFILE = "profile {\n  n: integer\n  f: number\n  ok: boolean\n  tags: string[]\n  nums: integer[]\n}\n"


@cache
def _ruleset(expression: str, slot: str) -> mapper.Ruleset:
    text = f'ruleset t\n{SCHEMA}{PROFILE}userName <- "u"\nt:{slot} <- {expression}\n'
    return mapper.loads(text, "t.mapper")


def evaluate(expression: str, slot: str = "s", **profile: Any) -> Any:
    resource = _ruleset(expression, slot).render(profile)
    return resource.get(URN, {}).get(slot)


@pytest.mark.parametrize(
    ("expression", "profile", "expected"),
    [
        # concatenation: null operands count as empty; all null gives no value
        ('user.firstName + " " + user.lastName', {"firstName": "Ada", "lastName": "L"}, "Ada L"),
        ('user.firstName + " " + user.lastName', {"firstName": "Ada"}, "Ada "),
        ("user.firstName + user.lastName", {}, None),
        ('"n" + user.n', {"n": 7}, "n7"),
        ('"f" + user.f', {"f": 2.0}, "f2"),
        # ?: and ?:
        ('user.title != null ? user.title : "Staff"', {}, "Staff"),
        ('user.title != null ? user.title : "Staff"', {"title": "Boss"}, "Boss"),
        # Empty is not null, as in Okta: a cleared attribute is "".
        ('user.title == null ? "none" : "some"', {"title": ""}, "some"),
        ('user.title == "" ? "empty" : "not"', {"title": ""}, "empty"),
        ('user.title != "" ? user.title : "Staff"', {"title": ""}, "Staff"),
        ('user.title != null ? user.title : "Staff"', {"title": ""}, None),  # "" is sent as no value
        ('user.title ?: "Staff"', {"title": ""}, "Staff"),
        ('user.title ?: user.nickName ?: "x"', {"nickName": "n"}, "n"),
        ('String.substringAfter(user.login, "@") ?: "none"', {"login": "nodomain"}, "none"),
        # String functions
        ("String.toUpperCase(user.title)", {"title": "Straße"}, "STRASSE"),
        ("String.toLowerCase(user.title)", {"title": "ADA"}, "ada"),
        ("String.toLowerCase(user.title)", {}, None),
        ('String.substringBefore(user.login, "@")', {"login": "ada@example.com"}, "ada"),
        ('String.substringBefore(user.login, "@")', {"login": "ada"}, "ada"),
        ('String.substringAfter(user.login, "@")', {"login": "ada@example.com"}, "example.com"),
        ('String.substringAfter(user.login, "@")', {"login": "ada"}, None),
        ("String.substring(user.title, 0, 3)", {"title": "Engineer"}, "Eng"),
        ("String.substring(user.title, 2, 100)", {"title": "Engineer"}, "gineer"),
        ("String.substring(user.title, 5, 2)", {"title": "Engineer"}, None),
        ('String.replace(user.title, "[aeiou]", "")', {"title": "Engineer"}, "Engnr"),
        ('String.replace(user.login, "(\\w+)@(\\w+)", "$2.$1")', {"login": "ada@ex"}, "ex.ada"),
        ('String.replace(user.title, "a", "\\$")', {"title": "banana"}, "b$n$n$"),
        ('String.replaceFirst(user.title, "a", "o")', {"title": "banana"}, "bonana"),
        ('String.append(user.firstName, "!")', {"firstName": "Ada"}, "Ada!"),
        (
            'String.join(" ", user.firstName, user.middleName, user.lastName)',
            {"firstName": "A", "lastName": "L"},
            "A L",
        ),
        ('String.join(" ", user.firstName, user.middleName)', {}, None),
        ("String.removeSpaces(user.primaryPhone)", {"primaryPhone": "+1 555 01"}, "+155501"),
        (
            'String.stringSwitch(user.department, "Other", "Eng", "Engineering", "Ops", "Operations")',
            {"department": "Ops team"},
            "Operations",
        ),
        (
            'String.stringSwitch(user.department, "Other", "Eng", "Engineering")',
            {"department": "HR"},
            "Other",
        ),
        ('String.stringSwitch(user.department, "Other", "Eng", "Engineering")', {}, "Other"),
        ("Arrays.toCsvString(user.tags)", {"tags": ["a", "b"]}, "a,b"),
        ("Arrays.toCsvString(user.nums)", {"nums": [1, 2]}, "1,2"),
        ("Arrays.toCsvString(user.tags)", {"tags": []}, None),
    ],
)
def test_string_results(expression: str, profile: dict[str, Any], expected: Any) -> None:
    assert evaluate(expression, **profile) == expected


@pytest.mark.parametrize(
    ("expression", "profile", "expected"),
    [
        ('user.title == "a"', {"title": "a"}, True),
        ('user.title != "a"', {}, True),
        ("user.title == null", {"title": ""}, False),  # empty is not null, as in Okta
        ('user.title == ""', {"title": ""}, True),
        ("String.len(user.title) == 0", {"title": ""}, True),
        ("null == user.title", {"title": "x"}, False),
        ("user.n == 1.0", {"n": 1}, True),
        ("user.n > 1", {"n": 2}, True),
        ("user.n > 1", {}, False),
        ("user.n <= user.f", {"n": 2, "f": 2.0}, True),
        ('user.title < "b"', {"title": "a"}, True),
        ("user.ok", {"ok": False}, False),
        ("user.ok", {}, None),
        ("!user.ok", {"ok": False}, True),
        ("!user.ok", {}, None),
        ("!(user.title == null)", {}, False),
        ('user.ok AND user.title == "x"', {"ok": True, "title": "x"}, True),
        ("user.ok AND true", {}, False),
        ("user.ok OR true", {}, True),
        ("user.ok || false", {"ok": True}, True),
        ("user.ok && user.ok", {"ok": True}, True),
        ('String.stringContains(user.email, "@example.com")', {"email": "a@example.com"}, True),
        ('String.stringContains(user.email, "@example.com")', {}, False),
        ('Arrays.contains(user.tags, "vip")', {"tags": ["vip"]}, True),
        ('Arrays.contains(user.tags, "vip")', {}, False),
        ("Arrays.isEmpty(user.tags)", {}, True),
        ("Arrays.isEmpty(user.tags)", {"tags": ["a"]}, False),
        ("user.ok ? true : null", {"ok": False}, None),
    ],
)
def test_boolean_results(expression: str, profile: dict[str, Any], expected: Any) -> None:
    assert evaluate(expression, "b", **profile) == expected


@pytest.mark.parametrize(
    ("expression", "slot", "profile", "expected"),
    [
        ("user.n + 1", "i", {"n": 41}, 42),
        ("user.n + 1", "i", {}, None),
        ("user.n + user.f", "d", {"n": 1, "f": 0.5}, 1.5),
        ("String.len(user.title)", "i", {"title": "abc"}, 3),
        ("String.len(user.title)", "i", {}, None),
        ("Arrays.size(user.tags)", "i", {}, 0),
        ("Arrays.size(user.tags)", "i", {"tags": ["a", "b"]}, 2),
        ("Convert.toInt(user.employeeNumber)", "i", {"employeeNumber": "0042"}, 42),
        ("Convert.toInt(user.employeeNumber)", "i", {"employeeNumber": "-2.5"}, -3),
        ("Convert.toInt(user.f)", "i", {"f": 2.5}, 3),
        ("Convert.toInt(user.n)", "i", {"n": 5}, 5),
        ("Convert.toNum(user.costCenter)", "d", {"costCenter": "1e3"}, 1000.0),
        ("Convert.toNum(user.costCenter)", "d", {}, None),
        ("user.n", "d", {"n": 3}, 3),
        ("user.n ?: 7", "i", {}, 7),
    ],
)
def test_number_results(expression: str, slot: str, profile: dict[str, Any], expected: Any) -> None:
    result = evaluate(expression, slot, **profile)
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("expression", "value", "problem"),
    [
        ("Convert.toInt(user.employeeNumber)", "x", "cannot convert to an integer"),
        ("Convert.toInt(user.employeeNumber)", "Infinity", "cannot convert to an integer"),
        ("Convert.toNum(user.employeeNumber)", "nan", "cannot convert to a finite number"),
        ("Convert.toNum(user.employeeNumber)", "1,5", "cannot convert to a number"),
    ],
)
def test_conversion_errors(expression: str, value: str, problem: str) -> None:
    with pytest.raises(mapper.ProfileError) as caught:
        evaluate(expression, "d" if "Num" in expression else "i", employeeNumber=value)
    assert caught.value.problem == problem
    assert caught.value.attribute == "employeeNumber"


def test_every_function_is_exercised_here() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    missing = [name for name in FUNCTIONS if f"{name}(" not in source]
    assert missing == []


@pytest.mark.parametrize(
    ("pattern", "java", "parts"),
    [
        ("(a)(b)", "$1-$2", (1, b"-", 2)),
        ("(a)", "\\$1", (b"$1",)),
        ("a", "a\\\\b", (b"a\\b",)),
        ("a", "back\\slash", (b"backslash",)),
        ("(a)", "$10", (1, b"0")),  # as Java: the longest group number the pattern has
        ("(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)", "$10", (10,)),
        ("(?P<first>a)", "${first}!", (1, b"!")),
        ("a", "été", ("été".encode(),)),
    ],
)
def test_java_replacement_strings(pattern: str, java: str, parts: tuple[bytes | int, ...]) -> None:
    assert replacement_parts(compile_pattern(pattern), java) == parts


@pytest.mark.parametrize(
    ("pattern", "java", "message"),
    [
        ("(a)", "$2", "the replacement refers to group 2, but the pattern has 1"),
        ("a", "$", "a `$` in the replacement must name a group, as in $1"),
        ("a", "cost: $x", "a `$` in the replacement must name a group, as in $1"),
        ("a", "${nope}", "the replacement refers to a group named 'nope', which the pattern lacks"),
        ("a", "end\\", "the replacement ends in a lone backslash"),
        ("a", "$" + "1" * 5000, "the replacement refers to group 1, but the pattern has 0"),
        ("a", "\ud800", "the replacement holds a lone surrogate"),
    ],
)
def test_bad_replacements(pattern: str, java: str, message: str) -> None:
    with pytest.raises(PatternError) as caught:
        replacement_parts(compile_pattern(pattern), java)
    assert str(caught.value) == message


def test_internal_properties() -> None:
    ruleset = mapper.loads(
        'ruleset t\nuserName <- user.login\nnickName <- user.getInternalProperty("status") + "/" + '
        'user.getInternalProperty("id")\n',
        "t.mapper",
    )
    user = {"id": "00u9", "status": "ACTIVE", "profile": {"login": "a"}}
    assert ruleset.render(user)["nickName"] == "ACTIVE/00u9"
    # A bare profile has no internal properties; null operands of + count as empty.
    assert ruleset.render({"login": "a"})["nickName"] == "/"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('1 + 2 + "x"', "3x"),
        ('"x" + 1 + 2', "x12"),
        ('"x" + (1 + 2)', "x3"),
        ('user.n + 1 + "!"', "6!"),
        ('"a" + ("b" + user.title)', "ab"),
    ],
)
def test_plus_is_left_to_right_as_in_okta(expression: str, expected: str) -> None:
    assert evaluate(expression, n=5) == expected


@pytest.mark.parametrize(
    ("expression", "profile", "expected", "current"),
    [
        ("toUpperCase(user.firstName)", {"firstName": "Alexander"}, "ALEXANDER", "String.toUpperCase"),
        ("toLowerCase(user.firstName)", {"firstName": "AlexANDER"}, "alexander", "String.toLowerCase"),
        ("substringBefore(user.email, '@')", {"email": "alex@okta.com"}, "alex", "String.substringBefore"),
        ("substringAfter(user.email, '@')", {"email": "alex@okta.com"}, "okta.com", "String.substringAfter"),
        ("substring(user.firstName, 1, 4)", {"firstName": "Alexander"}, "lex", "String.substring"),
    ],
)
def test_deprecated_bare_functions_evaluate_as_okta_does_with_a_warning(
    expression: str, profile: dict[str, str], expected: str, current: str
) -> None:
    ruleset = mapper.loads(f"userName <- user.login\ntitle <- {expression}\n", "d.mapper")
    assert ruleset.render({"login": "a", **profile})["title"] == expected
    (warning,) = ruleset.warnings
    assert warning.message == f"{expression.split('(')[0]}(...) is deprecated in Okta Expression Language"
    assert warning.hint == f"write {current}(...), which does the same"


def test_an_unknown_bare_function_names_its_class() -> None:
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads("userName <- user.login\ntitle <- replace(user.title, 'a', 'b')\n", "d.mapper")
    (error,) = caught.value.errors
    assert error.message == "unknown function replace"
    assert error.hint == "functions are written with their class, e.g. String.replace(...)"


def test_string_starts_with() -> None:
    ruleset = mapper.loads(
        'userName <- user.login\nactive <- String.startsWith(user.title, "K")\n', "s.mapper"
    )
    assert ruleset.render({"login": "a", "title": "Kiss"})["active"] is True
    assert ruleset.render({"login": "a", "title": "kiss"})["active"] is False
    assert ruleset.render({"login": "a"})["active"] is False


ARRAYS = (
    "userName <- user.login\nprofile {\n  tags: string[]\n  nums: integer[]\n}\n"
    'schema x = "urn:example:arrays:2.0:User" {\n  sa: string[]\n  ia: integer[]\n  s: string\n  i: integer\n'
    "  b: boolean\n}\n"
)


@pytest.mark.parametrize(
    ("rule", "profile", "expected"),
    [
        ('x:sa <- Arrays.add(user.tags, "vip")', {"tags": ["a"]}, ["a", "vip"]),
        ('x:sa <- Arrays.add(user.tags, "vip")', {}, ["vip"]),
        ('x:sa <- Arrays.remove(user.tags, "b")', {"tags": ["a", "b", "c", "b"]}, ["a", "c", "b"]),
        ("x:sa <- Arrays.clear(user.tags)", {"tags": ["a"]}, None),
        # Okta's Arrays.clear gives an empty array, never null: an Elvis after it keeps it.
        ('x:sa <- Arrays.clear(user.tags) ?: {"fallback"}', {}, None),
        ('x:sa <- Arrays.clear(user.tags) ?: {"fallback"}', {"tags": ["a"]}, None),
        ("x:b <- Arrays.isEmpty(Arrays.clear(NULL))", {}, True),
        ("x:s <- Arrays.get(user.tags, 1)", {"tags": ["a", "b"]}, "b"),
        ("x:s <- Arrays.get(user.tags, 2)", {"tags": ["a", "b"]}, None),
        ("x:s <- user.tags[0]", {"tags": ["a", "b"]}, "a"),
        ("x:i <- user.nums[-1]", {"nums": [1]}, None),
        ('x:sa <- Arrays.flatten("a", {"b", "c"}, user.tags)', {"tags": ["d"]}, ["a", "b", "c", "d"]),
        ("x:ia <- {10, null, 30}", {}, [10, 30]),
        ("x:i <- Arrays.size(NULL)", {}, 0),
        ('x:b <- user.title matches "(?i)engineer"', {"title": "Senior Engineer"}, False),
        ('x:b <- user.title matches "(?i).*engineer"', {"title": "Senior Engineer"}, True),
        ('x:b <- user.title matches "a+"', {}, False),
    ],
)
def test_arrays_indexing_and_matches(rule: str, profile: dict[str, Any], expected: Any) -> None:
    ruleset = mapper.loads(f"{ARRAYS}{rule}\n", "a.mapper")
    slot = rule.split(" ")[0].split(":")[1]
    assert (
        ruleset.render({"login": "a", **profile}).get("urn:example:arrays:2.0:User", {}).get(slot) == expected
    )


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ('x:sa <- {"a", 1}', "an array holds one type: string and integer do not mix"),
        ("x:s <- user.title[0]", "only an array can be indexed, not string"),
        ('x:s <- user.tags["a"]', "an array position is an integer, not string"),
        ('x:b <- user.title matches "(a)\\1"', "invalid regular expression: invalid escape sequence: \\1"),
    ],
)
def test_array_and_matches_errors(rule: str, message: str) -> None:
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads(f"{ARRAYS}{rule}\n", "a.mapper")
    assert caught.value.errors[0].message == message


@pytest.mark.parametrize(
    ("expression", "code", "expected"),
    [
        ("Iso3166Convert.toAlpha2(user.countryCode)", "IND", "IN"),
        ("Iso3166Convert.toAlpha2(user.countryCode)", "356", "IN"),
        ("Iso3166Convert.toAlpha3(user.countryCode)", "us", "USA"),
        ("Iso3166Convert.toNumeric(user.countryCode)", "DE", "276"),
        ("Iso3166Convert.toName(user.countryCode)", "FR", "France"),
        ("Iso3166Convert.toName(user.countryCode)", "", None),
    ],
)
def test_iso3166_conversions(expression: str, code: str, expected: str | None) -> None:
    ruleset = mapper.loads(f"userName <- user.login\ntitle <- {expression}\n", "c.mapper")
    assert ruleset.render({"login": "a", "countryCode": code}).get("title") == expected


@pytest.mark.parametrize("code", ["XX", "Narnia", "1000", "9" * 5000])
def test_an_unknown_country_code_is_a_profile_error(code: str) -> None:
    ruleset = mapper.loads(
        "userName <- user.login\ntitle <- Iso3166Convert.toAlpha2(user.countryCode)\n", "c.mapper"
    )
    with pytest.raises(mapper.ProfileError) as caught:
        ruleset.render({"login": "a", "countryCode": code})
    assert caught.value.problem == "not an ISO 3166-1 country code"


@pytest.mark.parametrize(
    ("expression", "value", "expected"),
    [
        ("Time.fromUnixToIso8601(user.t)", "1438363117", "2015-07-31T17:18:37.000Z"),
        ("Time.fromWindowsToIso8601(user.t)", "130828367179790000", "2015-07-31T17:18:37.979Z"),
        ("Time.fromIso8601ToUnix(user.t)", "2015-07-31T17:18:37.979Z", "1438363117"),
        ("Time.fromIso8601ToWindows(user.t)", "2015-07-31T17:18:37.979Z", "130828367179790000"),
        ('Time.fromStringToIso8601(user.t, "MM/dd/yyyy hh:mm a")', "07/31/2015 05:18 PM", "2015-07-31T17:18:00.000Z"),
        ('Time.fromStringToIso8601(user.t, "yyyy-MM-dd\'T\'HH:mm:ssZZ")', "2015-07-31T19:18:37+02:00",
         "2015-07-31T17:18:37.000Z"),
        ('Time.fromIso8601ToString(user.t, "dd MMMM yyyy, EEEE")', "2015-07-31T17:18:37Z", "31 July 2015, Friday"),
        ("Time.fromUnixToIso8601(user.t)", "", None),
    ],
)  # fmt: skip
def test_time_conversions(expression: str, value: str, expected: str | None) -> None:
    ruleset = mapper.loads(f"userName <- user.login\ntitle <- {expression}\n", "t.mapper")
    assert ruleset.render({"login": "a", "t": value}).get("title") == expected


@pytest.mark.parametrize(
    ("expression", "value", "problem"),
    [
        ("Time.fromUnixToIso8601(user.t)", "soon", "not a Unix timestamp"),
        ("Time.fromUnixToIso8601(user.t)", "9" * 20, "a Unix timestamp out of range"),
        (
            'Time.fromStringToIso8601(user.t, "MM/dd/yyyy")',
            "31/07/2015",
            "not a date: month must be in 1..12",
        ),
        ("Time.fromIso8601ToUnix(user.t)", "yesterday", "not an ISO 8601 date and time"),
    ],
)
def test_time_values_that_do_not_parse_are_profile_errors(expression: str, value: str, problem: str) -> None:
    ruleset = mapper.loads(f"userName <- user.login\ntitle <- {expression}\n", "t.mapper")
    with pytest.raises(mapper.ProfileError) as caught:
        ruleset.render({"login": "a", "t": value})
    assert caught.value.problem == problem


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("title <- Time.now()", "Time.now() changes on every call, so every update would send it"),
        ('title <- Time.now("Mars/Olympus") on create', "unknown time zone 'Mars/Olympus'"),
        ('title <- Time.now("UTC", "yyyy-QQ") on create', "the time pattern letter 'Q' is not supported"),
        ('title <- Time.fromIso8601ToString(user.t, user.f)', "the time pattern of Time.fromIso8601ToString must be a string literal"),
        ('title <- Time.now("UTC", "yyyy", "x") on create', "Time.now takes 0 to 2 arguments, got 3"),
    ],
)  # fmt: skip
def test_time_rules_that_cannot_work_are_ruleset_errors(rule: str, message: str) -> None:
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads(f"userName <- user.login\n{rule}\n", "t.mapper")
    assert caught.value.errors[0].message == message
