"""Fuzzing: rulesets from the grammar itself and mutations of the shipped ones,
and hostile profiles. Every ruleset either loads (and its generated code passes
the allowlist) or raises RulesetError with positions inside the input; every
profile either maps to values of the right SCIM types or raises ProfileError."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

import mapper
from mapper.compiler import plan_codec
from mapper.compiler.patchgen import plan_units
from mapper.core.schema import CORE_USER
from mapper.language.resources import grammar_text
from tests.conftest import ROOT
from tests.support.codecheck import check_generated_code
from tests.support.strategies import hostile_users, plain_json_values, typed_hostile_users
from tests.test_patch_properties import KITCHEN_SINK, RULESETS

# Slow: fuzzing: rulesets from the grammar, hostile profiles. `pytest -m "not slow"` leaves them out.
pytestmark = pytest.mark.slow


_GRAMMAR = Lark(grammar_text(), parser="lalr", lexer="basic", start=["start", "statement"])
_SOURCES = [p.read_text() for p in sorted((ROOT / "rulesets").glob("*.mapper"))] + [KITCHEN_SINK]
_FUZZ = settings(suppress_health_check=list(HealthCheck), deadline=None)


def check_ruleset_text(text: str) -> mapper.Ruleset | None:
    """Load TEXT; on failure every diagnostic must point inside it (or into a built-in parent)."""
    try:
        ruleset = mapper.loads(text, "fuzz.mapper")
    except mapper.RulesetError as exc:
        assert exc.diagnostics
        lines = text.split("\n")
        for d in exc.diagnostics:
            assert d.format()
            if d.span is None:
                assert "larger than" in d.message
                continue
            if d.span.file != "fuzz.mapper":
                assert d.span.file.startswith("<builtin>/")
                continue
            assert 1 <= d.span.line <= len(lines), (d, len(lines))
            assert 1 <= d.span.col <= len(lines[d.span.line - 1]) + 1, (d, lines[d.span.line - 1])
        return None
    check_generated_code(ruleset)
    check_cache_round_trip(ruleset)
    return ruleset


def check_cache_round_trip(ruleset: mapper.Ruleset) -> None:
    """The compile cache's data form of the plan reads back as the same plan (syntax aside),
    and the generator writes the same code from it."""
    plan = ruleset.plan
    data = json.loads(json.dumps(plan_codec.dump_plan(plan), allow_nan=False))
    again = plan_codec.read_plan(data)
    assert again == replace(
        plan,
        rules=tuple(replace(r, node=None) for r in plan.rules),
        inbound=tuple(replace(r, node=None) for r in plan.inbound),
    )
    warnings = json.loads(json.dumps(plan_codec.dump_diagnostics(ruleset.warnings)))
    cached = mapper.Ruleset(again, plan_codec.read_diagnostics(warnings))
    assert cached.source == ruleset.source
    assert cached.rules == ruleset.rules and cached.warnings == ruleset.warnings


@_FUZZ
@given(text=from_lark(_GRAMMAR, start="start"))
def test_rulesets_from_the_grammar(text: str) -> None:
    check_ruleset_text(text)


# Whole files from the grammar rarely load (tokens run together, userName is
# missing); statements one per line after a userName rule often do, which
# exercises the checker and the code generator on odd but valid input.
_statements = st.lists(from_lark(_GRAMMAR, start="statement"), max_size=6).map(
    lambda statements: "userName <- user.login\n" + "\n".join(s.replace("\n", " ") for s in statements) + "\n"
)


@_FUZZ
@given(text=_statements)
def test_statements_from_the_grammar(text: str) -> None:
    check_ruleset_text(text)


_PIECES = [
    "\n", " ", "    ", "\t", '"', "'", "\\", "#", "<-", "(", ")", "[", "]", "{", "}", ".", ":", ",", "?", "?:",
    "!", "==", "AND", "OR", "user.", "null", "true", "1e999", "-1", "on create", "primary", "default",
    "extends", "ruleset", "schema", "profile", "urn:x:y:", "enterprise:", "emails[type eq \"work\"]",
    "String.replace(", "Convert.toInt(", "\u2028", "\x00", "\r", "\x0c", "é", "🙂", "\ud800",
]  # fmt: skip


@st.composite
def mutated_rulesets(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(_SOURCES))
    for _ in range(draw(st.integers(1, 5))):
        position = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "duplicate-line", "drop-line", "swap-lines"]))
        if kind == "insert":
            piece = draw(st.one_of(st.sampled_from(_PIECES), st.text(max_size=5)))
            text = text[:position] + piece + text[position:]
        elif kind == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 20)) :]
        else:
            lines = text.split("\n")
            index = draw(st.integers(0, len(lines) - 1))
            if kind == "duplicate-line":
                lines.insert(index, lines[index])
            elif kind == "drop-line":
                del lines[index]
            else:
                other = draw(st.integers(0, len(lines) - 1))
                lines[index], lines[other] = lines[other], lines[index]
            text = "\n".join(lines)
    return text


@_FUZZ
@given(text=mutated_rulesets())
def test_mutations_of_real_rulesets(text: str) -> None:
    check_ruleset_text(text)


def test_limits_give_clear_errors() -> None:
    deep = "userName <- " + "String.toUpperCase(" * 150 + "user.login" + ")" * 150 + "\n"
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads(deep, "deep.mapper")
    assert caught.value.errors[0].message == "expression nested too deeply (more than 100 levels)"
    assert caught.value.errors[0].span is not None and caught.value.errors[0].span.line == 1
    nested = "userName <- " + "(" * 5000 + "user.login" + ")" * 5000 + "\n"
    assert mapper.loads(nested, "parens.mapper").render({"login": "a"})["userName"] == "a"
    chain = "userName <- " + " + ".join(["user.login"] * 5000) + "\n"
    with pytest.raises(mapper.RulesetError, match="nested too deeply"):
        mapper.loads(chain, "chain.mapper")
    with pytest.raises(mapper.RulesetError, match="larger than 1000000 bytes"):
        mapper.loads("# " + "x" * 1_000_001 + "\nuserName <- user.login\n", "big.mapper")
    many = "userName <- user.login\n" + "".join(
        f'emails[type eq "t{i}"].value <- user.email\n' for i in range(2001)
    )
    with pytest.raises(mapper.RulesetError, match="more than 2000 rules"):
        mapper.loads(many, "many.mapper")


# ---------------------------------------------------------------- hostile profiles

_PYTHON_TYPES = {
    "string": str,
    "reference": str,
    "dateTime": str,
    "binary": str,
    "boolean": bool,
    "integer": int,
}


def check_types(ruleset: mapper.Ruleset, resource: dict[str, Any]) -> None:
    """Every value in RESOURCE has the Python type its SCIM type needs."""
    json.dumps(resource, allow_nan=False)
    for rule in ruleset.plan.rules:
        t = rule.target
        container = resource if t.urn == CORE_USER else resource.get(t.urn, {})
        value = container.get(t.attr)
        if value is None:
            continue
        if t.entry_type is not None:
            values = [e.get(t.sub) for e in value if e.get("type") == t.entry_type]
        elif t.sub is not None:
            values = [value.get(t.sub)]
        elif t.multi_simple:
            values = list(value)
        else:
            values = [value]
        for v in values:
            if v is None:
                continue
            if t.scim_type == "decimal":
                assert type(v) in (int, float), (t.path, v)
            else:
                assert type(v) is _PYTHON_TYPES[t.scim_type], (t.path, v)


@pytest.mark.parametrize("name", sorted(RULESETS))
@_FUZZ
@given(old=hostile_users(), new=hostile_users())
def test_hostile_profiles(name: str, old: Any, new: Any) -> None:
    ruleset = RULESETS[name]
    before = _snapshot((old, new))
    for result in _outcomes(ruleset, old, new):
        if isinstance(result, mapper.ProfileError):
            assert result.attribute is None or isinstance(result.attribute, str)
    assert _snapshot((old, new)) == before, "a call changed its input"


def _outcomes(ruleset: mapper.Ruleset, old: Any, new: Any) -> list[Any]:
    """render, patch and updated on OLD and NEW: each result, checked (valid JSON, SCIM types),
    or the ProfileError it raised, checked (a message, no value in it)."""
    outcomes: list[Any] = []
    for call in (
        lambda: ruleset.render(new),
        lambda: ruleset.patch(old, new),
        lambda: ruleset.updated(old, new),
    ):
        try:
            result = call()
        except mapper.ProfileError as exc:
            assert str(exc)
            if isinstance(exc.value, str) and len(exc.value) >= 8:
                assert exc.value not in str(exc), "a profile value leaked into an error message"
            outcomes.append(exc)
            continue
        json.dumps(result, allow_nan=False)
        if result is not None and "Operations" not in result:
            check_types(ruleset, result)
        outcomes.append(result)
    return outcomes


# Custom typed attributes and every function that converts or grows a value: the paths a
# random profile never reaches, because its keys are rarely these names.
TYPED = mapper.loads(
    """ruleset typed
profile {
  n: integer
  f: number
  ok: boolean
  ints: integer[]
  nums: number[]
  words: string[]
  code: string
  digits: string
}
schema t = "urn:example:typed:2.0:User" {
  i: integer
  d: decimal
  b: boolean
  is: integer[]
  ds: decimal[]
  ws: string[]
  s1: string
  s2: string
  s3: string
  s4: string
  s5: string
  s6: string
  s7: string
}
userName <- user.login
t:s1 <- String.replace(user.code, "a|ß", "$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0$0")
t:s2 <- String.replaceFirst(user.digits, "([0-9]+)([.][0-9]*)?", "[$1$2]")
t:s3 <- String.toUpperCase(user.code) + Arrays.toCsvString(user.words)
t:s4 <- Arrays.toCsvString(user.nums) + Arrays.toCsvString(user.ints)
t:s5 <- String.join("-", user.code, user.code, user.code)
t:s6 <- String.replace(user.code, " +", " ") + Convert.toInt(user.f)
t:s7 <- Convert.toNum(user.n) + ""
t:i <- Convert.toInt(user.digits) + user.n
t:d <- Convert.toNum(user.digits) + user.f
t:b <- user.ok AND String.len(user.code) > 3
t:is <- user.ints
t:ds <- user.nums
t:ws <- user.words
""",
    "typed.mapper",
)
_TYPED_SOURCES = {name: t for name, t in TYPED.plan.profile_types.items() if name != "login"}


@_FUZZ
@given(old=typed_hostile_users(_TYPED_SOURCES), new=typed_hostile_users(_TYPED_SOURCES))
def test_hostile_values_in_typed_attributes_and_functions(old: Any, new: Any) -> None:
    for result in _outcomes(TYPED, old, new):
        if isinstance(result, mapper.ProfileError):
            assert result.attribute
        elif result is not None and "Operations" not in result:
            extension = result.get("urn:example:typed:2.0:User", {})
            assert all(len(v) <= 10_000 for v in extension.values() if isinstance(v, str))


_IMMUTABLE = frozenset({str, int, bool, type(None)})  # floats by repr: -0.0 == 0.0


def _snapshot(value: Any) -> list[object]:
    """VALUE flattened without recursion (hostile inputs nest deeper than the stack): each
    item's type, then a container's length and contents, or a scalar itself (it cannot change;
    a repr of the 1 MB string took most of this test's time) or its repr (anything else)."""
    out: list[object] = []
    stack = [value]
    while stack:
        item = stack.pop()
        out.append(item.__class__)
        if isinstance(item, dict):
            out.append(len(item))
            for key, child in item.items():
                out.append(key)
                stack.append(child)
        elif isinstance(item, list | tuple):
            out.append(len(item))
            stack.extend(item)
        else:
            out.append(item if item.__class__ in _IMMUTABLE else repr(item))
    return out


_INJECTIONS = st.sampled_from(
    [
        '"]', '[type eq "home"]', 'work"] or [type eq "home', ".value", "emails[type eq \"work\"].value",
        '{"op": "remove", "path": "userName"}', "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        "\\", '\\"', "\n", "'", "$1", "\u2028", "null", "../", "/userName",
    ]
)  # fmt: skip


@st.composite
def injecting_users(draw: st.DrawFn) -> dict[str, Any]:
    keys = [
        "login",
        "email",
        "secondEmail",
        "title",
        "firstName",
        "city",
        "postalAddress",
        "department",
        "managerId",
    ]
    profile = {k: draw(st.one_of(st.none(), _INJECTIONS, st.text(max_size=5))) for k in keys}
    profile["login"] = profile["login"] or "x"
    return profile


@pytest.mark.parametrize("style", ["rfc", "no-path", "whole-multivalued"])
@_FUZZ
@given(old=injecting_users(), new=injecting_users())
def test_profile_values_cannot_change_the_structure_of_a_patch(
    style: str, old: dict[str, Any], new: dict[str, Any]
) -> None:
    ruleset = RULESETS["kitchen-sink"]
    allowed_paths = set()
    for unit, _ in plan_units(ruleset.plan):
        allowed_paths.add(unit.path)
        for entry in unit.entries:
            allowed_paths.add(entry.path)
            allowed_paths.update(path for _, path in entry.sub_paths)
    for op in (ruleset.patch(old, new, style) or {"Operations": []})["Operations"]:
        assert set(op) <= {"op", "path", "value"} and op["op"] in ("add", "replace", "remove")
        if "path" in op:
            assert op["path"] in allowed_paths, op["path"]
        else:
            assert set(op["value"]) <= allowed_paths


# ---------------------------------------------------------------- the command line

_raw_documents = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    hostile_users(plain_json_values).map(
        lambda u: json.dumps(u, ensure_ascii=False).encode("utf-8", "surrogatepass")
    ),
    st.just(b'{"login": "a@example.com", "title": "x", "title": "y"}'),
    st.just(b'{"login": "a@example.com", "title": "\\ud800"}'),
    st.just(b'{"profile": {"login": "a@example.com"}, "status": "ACTIVE"'),
    st.just(b"[" * 100_000 + b"]" * 100_000),
)


@_FUZZ
@given(document=_raw_documents)
def test_cli_never_shows_a_traceback_or_half_a_document(document: bytes) -> None:
    from click.testing import CliRunner

    from mapper.cli.main import main

    result = CliRunner().invoke(main, ["render", "--compact", "-"], input=document)
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    if result.exit_code == 0:
        assert json.loads(result.stdout)["schemas"][0] == CORE_USER and result.stderr == ""
    else:
        assert result.stdout == "" and len(result.stderr.splitlines()) == 1
