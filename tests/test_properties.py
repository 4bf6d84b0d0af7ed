"""Properties over generated profiles and expressions (Hypothesis).

- render never raises anything but ProfileError, whatever JSON it is given;
- render_short gives render's outcome for any record of at most 10,000 bytes;
- shipped rulesets always produce resources that scim2-models validates;
- compiled code agrees with the reference evaluator, for the shipped rulesets
  and for generated expressions.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mapper
from mapper.core.helpers import MAX_VALUE_CHARS
from mapper.runtime.ruleset import split_user
from mapper.tools.validate import validate
from tests.conftest import SHIPPED
from tests.support import reference
from tests.support.strategies import hostile_users, okta_users

_RULESETS = {name: mapper.load(name) for name in SHIPPED}


@pytest.mark.parametrize("name", SHIPPED)
@given(user=hostile_users())
def test_render_raises_only_profile_errors_and_render_short_is_render(name: str, user: Any) -> None:
    """Whatever JSON render is given, it raises nothing but ProfileError, and its resources
    are JSON. render_short leaves out the length check of each string read (no string in a
    JSON text of 10,000 bytes is longer than 10,000 characters): for any record that short,
    it gives render's resource or render's error."""
    ruleset = _RULESETS[name]
    outcome = _outcome(ruleset.render, user)
    if isinstance(outcome, tuple):
        assert outcome[1]  # the error's message
    else:
        json.dumps(outcome, allow_nan=False)  # always valid JSON
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(10_000)  # the strategy nests a value 2,000 levels deep (8 KB of text)
    try:  # the shortest JSON text of the record
        text = json.dumps(user, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
        same = len(text) > MAX_VALUE_CHARS or _outcome(ruleset.render_short, user) == outcome
    finally:
        sys.setrecursionlimit(limit)
    assert same


def _outcome(render: Any, user: Any) -> Any:
    """RENDER's resource for USER, or its error (a tuple)."""
    try:
        return render(user)
    except mapper.ProfileError as exc:
        return ("error", str(exc), exc.attribute, exc.value)


@pytest.mark.parametrize("name", SHIPPED)
@given(user=okta_users())
def test_shipped_rulesets_always_produce_valid_scim(name: str, user: dict[str, Any]) -> None:
    ruleset = _RULESETS[name]
    resource = ruleset.render(user)
    assert validate(resource, ruleset.plan) == []


@pytest.mark.parametrize("name", SHIPPED)
@given(user=okta_users())
def test_compiled_code_agrees_with_reference(name: str, user: dict[str, Any]) -> None:
    ruleset = _RULESETS[name]
    profile, internal = split_user(user)
    assert ruleset.render(user) == reference.render(ruleset.plan, profile, internal)


# ---------------------------------------------------------------- generated expressions

_STRING_ATTRS = ("title", "nickName", "displayName", "department")
_short_text = st.text(alphabet="ab @-:", max_size=6)


def _quoted(value: str) -> str:
    return json.dumps(value)


def _typed_expressions() -> dict[str, st.SearchStrategy[str]]:
    """Strategies of well-typed Okta EL text, by result type; leaves come first so
    that Hypothesis shrinks towards small expressions."""
    strings: st.SearchStrategy[str] = st.deferred(
        lambda: st.one_of(
            _short_text.map(_quoted),
            st.sampled_from(_STRING_ATTRS).map("user.{}".format),
            st.tuples(strings, strings).map(lambda p: f"{p[0]} + {p[1]}"),
            st.tuples(strings, ints).map(lambda p: f"{p[0]} + {p[1]}"),
            st.tuples(strings, strings).map(lambda p: f"({p[0]} ?: {p[1]})"),
            st.tuples(bools, strings, strings).map(lambda p: f"({p[0]} ? {p[1]} : {p[2]})"),
            st.tuples(bools, strings).map(lambda p: f"({p[0]} ? {p[1]} : null)"),
            strings.map("String.toUpperCase({})".format),
            st.tuples(strings, strings).map(lambda p: f"String.substringBefore({p[0]}, {p[1]})"),
            st.tuples(strings, strings).map(lambda p: f"String.substringAfter({p[0]}, {p[1]})"),
            st.tuples(strings, strings, strings).map(lambda p: f"String.join({p[0]}, {p[1]}, {p[2]})"),
            st.tuples(strings, ints, ints).map(lambda p: f"String.substring({p[0]}, {p[1]}, {p[2]})"),
            strings.map('String.replace({}, "a+", "<$0>")'.format),
            st.tuples(strings, strings, strings).map(
                lambda p: f'String.stringSwitch({p[0]}, {p[1]}, "a", {p[2]})'
            ),
        )
    )
    ints: st.SearchStrategy[str] = st.deferred(
        lambda: st.one_of(
            st.integers(-3, 9).map(str),
            st.just("user.n"),
            st.tuples(ints, ints).map(lambda p: f"({p[0]} + {p[1]})"),
            st.tuples(ints, ints).map(lambda p: f"({p[0]} ?: {p[1]})"),
            st.tuples(bools, ints, ints).map(lambda p: f"({p[0]} ? {p[1]} : {p[2]})"),
            strings.map("String.len({})".format),
        )
    )
    bools: st.SearchStrategy[str] = st.deferred(
        lambda: st.one_of(
            st.sampled_from(["true", "false", "user.ok"]),
            st.tuples(st.one_of(strings, ints, bools), st.sampled_from(["==", "!="])).map(
                lambda p: f"({p[0]} {p[1]} null)"
            ),
            st.tuples(strings, strings, st.sampled_from(["==", "!=", "<", ">="])).map(
                lambda p: f"({p[0]} {p[2]} {p[1]})"
            ),
            st.tuples(ints, ints, st.sampled_from(["==", "<=", ">"])).map(
                lambda p: f"({p[0]} {p[2]} {p[1]})"
            ),
            st.tuples(bools, bools, st.sampled_from(["AND", "OR", "&&", "||"])).map(
                lambda p: f"({p[0]} {p[2]} {p[1]})"
            ),
            st.tuples(bools, bools).map(lambda p: f"({p[0]} ?: {p[1]})"),
            bools.map("!{}".format),
            st.tuples(strings, strings).map(lambda p: f"String.stringContains({p[0]}, {p[1]})"),
        )
    )
    return {"string": strings, "integer": ints, "boolean": bools}


_EXPRESSIONS = _typed_expressions()
_typed = st.sampled_from(sorted(_EXPRESSIONS)).flatmap(lambda t: st.tuples(_EXPRESSIONS[t], st.just(t)))


_SLOTS = {"string": "s", "boolean": "b", "integer": "i"}
_URN = "urn:example:gen:2.0:User"
_HEADER = (
    "ruleset gen\n"
    f'schema g = "{_URN}" {{\n  s: string\n  b: boolean\n  i: integer\n}}\n'
    "profile {\n  n: integer\n  ok: boolean\n}\n"
    "userName <- user.login\n"
)
_gen_profiles = st.fixed_dictionaries(
    {"login": st.just("u")},
    optional={
        **{a: st.one_of(st.none(), _short_text) for a in _STRING_ATTRS},
        "n": st.one_of(st.none(), st.integers(-5, 5)),
        "ok": st.one_of(st.none(), st.booleans()),
    },
)


@pytest.mark.slow
@settings(max_examples=settings.default.max_examples * 3)
@given(expression=_typed, profiles=st.lists(_gen_profiles, min_size=1, max_size=4), default=st.booleans())
def test_generated_expressions_agree_with_reference(
    expression: tuple[str, str], profiles: list[dict[str, Any]], default: bool
) -> None:
    text, type_ = expression
    slot = _SLOTS[type_]
    option = ""
    if default:
        option = {"string": ' default "d"', "boolean": " default true", "integer": " default 0"}[type_]
    ruleset = mapper.loads(f"{_HEADER}g:{slot} <- {text}{option}\n", "gen.mapper")
    for profile in profiles:
        assert ruleset.render(profile) == reference.render(ruleset.plan, profile, {}), ruleset.source
