"""The parser: what parses into which nodes, and how syntax errors read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import mapper
from mapper.language import ast
from mapper.language.syntax import parse


def parse_ok(text: str) -> ast.RulesetFile:
    file, errors = parse(text, "t.mapper")
    assert errors == []
    return file


def test_header_schema_profile_and_rules() -> None:
    file = parse_ok(
        "ruleset appspace extends okta-default\n"
        'schema appspace = "urn:ex:appspace:2.0:User" {\n'
        "  costCenter: string\n"
        "  tags: string[]\n"
        "}\n"
        "profile {\n  badge: integer\n}\n"
        'emails[type eq "work"].value <- user.email primary\n'
        'appspace:costCenter <- user.costCenter on create default "none"\n'
    )
    header, schema, profile, emails, cost = file.statements
    assert header == ast.Header("appspace", "okta-default", header.span, header.extends_span)
    assert isinstance(schema, ast.SchemaDecl) and schema.urn == "urn:ex:appspace:2.0:User"
    assert schema.attributes is not None
    assert [(a.name, a.type, a.multi) for a in schema.attributes] == [
        ("costCenter", "string", False),
        ("tags", "string", True),
    ]
    assert isinstance(profile, ast.ProfileDecl) and profile.attributes[0].type == "integer"
    assert isinstance(emails, ast.Rule)
    assert (emails.target.attr, emails.target.filter_type, emails.target.sub) == ("emails", "work", "value")
    assert emails.primary and not emails.create_only
    assert isinstance(cost, ast.Rule) and cost.create_only
    assert cost.target.schema == "appspace"
    assert cost.default is not None and cost.default.value == "none"


def test_urn_qualified_target_keeps_the_urn_without_its_colon() -> None:
    file = parse_ok(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value <- user.managerId\n"
    )
    rule = file.statements[0]
    assert isinstance(rule, ast.Rule)
    assert rule.target.schema == "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    assert (rule.target.attr, rule.target.sub) == ("manager", "value")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('"a" + "b"', ast.Binary),
        ("user.a == null ? 'x' : \"y\"", ast.Conditional),
        ("!(user.a == null)", ast.Not),
        ("user.a ?: user.b", ast.Binary),
        ("user.a != null AND user.b != null OR user.c == null", ast.Binary),
        ("user.a != null && user.b != null || user.c == null", ast.Binary),
        ("String.toLowerCase(user.email)", ast.Call),
        ('user.getInternalProperty("status")', ast.UserMethod),
        ("-12.5", ast.Literal),
    ],
)
def test_expressions(source: str, expected: type) -> None:
    rule = parse_ok(f"title <- {source}\n").statements[0]
    assert isinstance(rule, ast.Rule)
    assert isinstance(rule.expr, expected)


def test_precedence_and_binds_tighter_than_or() -> None:
    rule = parse_ok("active <- user.a == null OR user.b == null AND user.c == null\n").statements[0]
    assert isinstance(rule, ast.Rule) and isinstance(rule.expr, ast.Binary)
    assert rule.expr.op == "OR"
    assert isinstance(rule.expr.right, ast.Binary) and rule.expr.right.op == "AND"


def test_indented_lines_continue_a_statement() -> None:
    file = parse_ok('title <- user.a\n    ?: user.b\n  ?: "x"\ndisplayName <- user.c\n')
    assert len(file.statements) == 2


def test_string_escapes() -> None:
    # As Okta (Spring EL) reads them: the quote doubled, and a backslash is a backslash.
    rule = parse_ok("title <- \"a\"\"b\\c\\u00e9\\n\" + 'it''s'\n").statements[0]
    assert isinstance(rule, ast.Rule) and isinstance(rule.expr, ast.Binary)
    assert isinstance(rule.expr.left, ast.Literal) and rule.expr.left.value == 'a"b\\c\\u00e9\\n'
    assert isinstance(rule.expr.right, ast.Literal) and rule.expr.right.value == "it's"


def test_filter_values_are_json_strings() -> None:
    rule = parse_ok('emails[type eq "a\\u0022b\\\\c\\u00e9"].value <- user.email\n').statements[0]
    assert isinstance(rule, ast.Rule) and rule.target.filter_type == 'a"b\\cé'
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads("userName <- user.login\nemails[type eq 'work'].value <- user.email\n", "t.mapper")
    assert caught.value.errors[0].message == "a SCIM filter value is a JSON string"


def test_comments_are_kept_for_the_formatter() -> None:
    file = parse_ok("# top\ntitle <- user.title  # trailing\n")
    assert [c[2] for c in file.comments] == ["# top", "# trailing"]


def test_every_syntax_error_in_a_file_is_reported_with_position_line_and_caret() -> None:
    text = (
        "ruleset broken\n"
        "userName <- user.login\n"
        "title = user.title\n"
        "displayName <- user.a and user.b\n"
        'nickName <- "unterminated\n'
        "locale <- user.locale -> x\n"
        "timezone <- (user.timezone\n"
        "userType <- user.userType\n"
    )
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads(text, "broken.mapper")
    errors = caught.value.errors
    assert [(d.span.line, d.span.col) for d in errors if d.span] == [
        (3, 7),
        (4, 23),
        (5, 13),
        (6, 23),
        (7, 27),
    ]
    first = errors[0].format().splitlines()
    assert first == [
        "broken.mapper:3:7: error: unexpected '='; expected '.', ':', '<-' or '['",
        "    title = user.title",
        "          ^",
        "    hint: a rule is written `target <- expression`",
    ]
    assert "AND, OR" in errors[1].hint
    assert errors[2].message == "unterminated string"
    assert "target <- expression" in errors[3].hint
    assert errors[4].message == "incomplete statement; expected ')'"


def test_two_rules_on_one_line() -> None:
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads("userName <- user.login title <- user.title\n", "t.mapper")
    (error,) = caught.value.errors
    assert error.message == "unexpected name 'title'"
    assert error.hint == "one rule per line"


def test_unknown_escape_is_an_error() -> None:
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads('userName <- user.login\nemails[type eq "a\\qb"].value <- user.email\n', "t.mapper")
    assert "unknown escape" in caught.value.errors[0].message


def test_bad_character_reports_its_code_point_when_unprintable() -> None:
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads("userName <- user.login \x00\n", "t.mapper")
    assert caught.value.errors[0].message == "unexpected character 'U+0000'"


def test_parser_table_is_built_from_the_shipped_grammar() -> None:
    """grammar/mapper.lark.json is what `python -m mapper.language.parser_build` writes today."""
    from mapper.language.parser_build import build_table
    from mapper.language.parser_table import dumps
    from mapper.language.resources import grammar_text, parser_table_path

    assert parser_table_path().read_text(encoding="utf-8") == dumps(build_table(grammar_text()))


def test_a_stale_parser_table_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from mapper.language import parser_table

    monkeypatch.setattr(parser_table, "grammar_text", lambda: "start: NAME\n")
    with pytest.raises(RuntimeError, match="regenerate it"):
        parser_table.load_parser()


def test_an_incompatible_lark_release_falls_back_to_building_in_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from lark import Lark

    from mapper.language import parser_table

    def refuse(*args: object, **kwargs: object) -> None:
        raise KeyError("format changed")

    monkeypatch.setattr(Lark, "_load_from_dict", refuse)
    rebuilt = parser_table.load_parser()
    tree = rebuilt.parse('userName <- user.login + "x"\n', start="start")
    assert tree.data == "start"


@pytest.mark.parametrize("variable", ["MAPPER_CACHE_DIR", "XDG_CACHE_HOME"])
def test_no_pickle_is_ever_read_from_a_cache_folder(tmp_path: Path, variable: str) -> None:
    """A cloned repository could carry a planted pickle where an old mapper kept its parser cache;
    loading a ruleset must never run it, whatever the cache variables say."""
    import hashlib
    import pickle

    from mapper.language.resources import grammar_text

    class Planted:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("PLANTED-PICKLE-RAN",))

    digest = hashlib.sha256(grammar_text().encode()).hexdigest()[:16]
    for folder in (tmp_path / ".mapper-cache", tmp_path / "mapper"):
        folder.mkdir(mode=0o700)
        # Lark's cache format: a hash line, then pickles (unpickled before the hash is compared).
        (folder / f"parser-{digest}.lark").write_bytes(b"0" * 64 + b"\n" + pickle.dumps(Planted()))
    env = {**os.environ, variable: ".mapper-cache" if variable == "MAPPER_CACHE_DIR" else "."}
    result = subprocess.run(
        [sys.executable, "-c", "import mapper; mapper.load('okta-default')"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "PLANTED" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("rule", "message", "hint"),
    [
        (
            "title <- firstName",
            "incomplete statement; expected '(' or '.'",
            "profile attributes are written user.firstName",
        ),
        (
            "title <- firstName + 1",
            "unexpected '+'; expected '(' or '.'",
            "profile attributes are written user.firstName",
        ),
        (
            'emails[type eq "work"].value <- user.email primary primary',
            "this option is given twice",
            "remove one",
        ),
        ("title <- 1e999", "number out of range", ""),
        ("title <- " + "9" * 5000, "number out of range", ""),
    ],
)
def test_friendly_syntax_errors(rule: str, message: str, hint: str) -> None:
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads(f"userName <- user.login\n{rule}\n", "t.mapper")
    error = caught.value.errors[0]
    assert (error.message, error.hint) == (message, hint)


def test_an_indented_line_says_it_continues_the_statement_above() -> None:
    text = "ruleset r\nuserName <- user.login\ntitle <- user.title\n  nickName <- user.nickName\n"
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads(text, "t.mapper")
    (error,) = caught.value.errors
    assert (
        error.hint
        == "line 4 is indented, so it continues the rule on line 3; start a new statement in column 1"
    )


@pytest.mark.parametrize(
    "broken",
    ["title = user.title", 'title <- "unterminated', "title <- user.a & user.b", "title <- (user.a",
     "ruleset r extends nope", 'schema x = "urn:ex:y" { a: strin'],
)  # fmt: skip
def test_one_broken_statement_hides_no_other_problem(broken: str) -> None:
    text = f"{broken}\nuserName <- user.login\nnickName <- Foo.bar(user.nickName)\nactive <- 1 + true\n"
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads(text, "t.mapper")
    messages = [e.message for e in caught.value.errors]
    assert "unknown function Foo.bar" in messages
    assert "cannot use + on boolean" in messages
    assert len(messages) == 3, messages


def test_the_double_question_mark_points_to_okta_elvis() -> None:
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads("userName <- user.login ?? user.email\n", "t.mapper")
    (error,) = caught.value.errors
    assert error.message == "`??` is not Okta Expression Language"
    assert error.hint == "write Okta's Elvis operator `?:`: the left side unless it is null or empty"


@pytest.mark.parametrize(
    ("profile", "expected"),
    [({"primaryPhone": "1", "mobilePhone": "2"}, "1"), ({"primaryPhone": "", "mobilePhone": "2"}, "2"),
     ({"mobilePhone": "2"}, "2"), ({}, None)],
)  # fmt: skip
def test_elvis_gives_the_left_side_unless_null_or_empty(
    profile: dict[str, str], expected: str | None
) -> None:
    ruleset = mapper.loads(
        "userName <- user.login\nnickName <- user.primaryPhone ?: user.mobilePhone\n", "t.mapper"
    )
    assert ruleset.render({"login": "a", **profile}).get("nickName") == expected
