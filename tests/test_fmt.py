"""mapper fmt: one canonical layout, idempotent, comments kept, meaning unchanged."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import mapper
from mapper.cli.main import main
from mapper.language.unparse import format_text
from tests.conftest import ROOT
from tests.test_properties import _EXPRESSIONS

FIXTURES = Path(__file__).parent / "fmt"


def test_messy_file_gets_the_canonical_layout() -> None:
    formatted, errors = format_text((FIXTURES / "messy.mapper").read_text(), "messy.mapper")
    assert errors == []
    assert formatted == (FIXTURES / "messy.formatted.mapper").read_text()


@pytest.mark.parametrize("path", sorted((ROOT / "rulesets").glob("*.mapper")), ids=lambda p: p.name)
def test_shipped_rulesets_are_formatted(path: Path) -> None:
    text = path.read_text()
    assert format_text(text, str(path))[0] == text


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("title <- ((user.title))", "title <- user.title"),
        ("title <- 'a\"b'", 'title <- "a""b"'),
        ("title <- 'it''s'", 'title <- "it\'s"'),
        ('title <- "DOMAIN\\" + user.login', 'title <- "DOMAIN\\" + user.login'),
        (
            "active <- user.a == null && user.b == null || !(user.c == null)",
            "active <- user.a == null AND user.b == null OR !(user.c == null)",
        ),
        (
            "active <- (user.a == null OR user.b == null) AND user.c == null",
            "active <- (user.a == null OR user.b == null) AND user.c == null",
        ),
        ('title <- "x" + (1 + 2)', 'title <- "x" + (1 + 2)'),
        ('title <- ("x" + 1) + 2', 'title <- "x" + 1 + 2'),
        ("title <- (user.a ?: user.b) ?: user.c", "title <- user.a ?: user.b ?: user.c"),
        ("title <- user.a ?: (user.b ?: user.c)", "title <- user.a ?: (user.b ?: user.c)"),
        ('title <- (user.a == null ? "x" : "y") ?: "z"', 'title <- (user.a == null ? "x" : "y") ?: "z"'),
        (
            'title <- user.a == null ? "x" : user.b == null ? "y" : "z"',
            'title <- user.a == null ? "x" : user.b == null ? "y" : "z"',
        ),
        (
            "title <- user.title default 'x' primary on create",
            'title <- user.title on create primary default "x"',
        ),
        ("title <- 1.50", "title <- 1.5"),
    ],
)
def test_expression_layout(source: str, expected: str) -> None:
    formatted, errors = format_text(source + "\n")
    assert errors == [] and formatted == expected + "\n"


def test_a_filter_keeps_the_attribute_it_was_written_on() -> None:
    """The checker refuses a filter on anything but type; fmt must not turn such a rule into
    an accepted one that means something else (and writes ``type`` in its canonical case)."""
    source = 'ruleset t extends okta-default\n\nemails[value eq "x"].display <- user.title\n'
    assert format_text(source, "t.mapper") == (source, [])
    cased = 'ruleset t extends okta-default\n\nemails[Type eq "x"].display <- user.title\n'
    assert format_text(cased, "t.mapper") == (cased.replace("Type", "type"), [])


def test_long_rules_break_before_top_level_operators() -> None:
    rule = "active <- " + " AND ".join(
        f'user.getInternalProperty("status") != "{s}"' for s in ("A", "B", "C")
    )
    formatted, _ = format_text(rule + "\n")
    assert formatted == (
        'active <- user.getInternalProperty("status") != "A"\n'
        '    AND user.getInternalProperty("status") != "B"\n'
        '    AND user.getInternalProperty("status") != "C"\n'
    )


def test_syntax_errors_are_reported_not_formatted() -> None:
    formatted, errors = format_text("title = user.title\n", "bad.mapper")
    assert formatted is None and errors[0].message.startswith("unexpected '='")


# ---------------------------------------------------------------- properties

_RULE_TARGETS = ["title", "nickName", "displayName", "userType", "locale", "timezone"]
_comment_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), max_size=15
).map(lambda s: "#" + s)


@st.composite
def rulesets(draw: st.DrawFn) -> str:
    lines = []
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["ruleset r", "ruleset  r   extends okta-default"])))
    statements = ["userName <- user.login"]
    for target in draw(st.lists(st.sampled_from(_RULE_TARGETS), unique=True, max_size=4)):
        expression = draw(_EXPRESSIONS["string"])
        arrow = draw(st.sampled_from([" <- ", "<-", "   <-  ", " <-\n    "]))
        option = draw(st.sampled_from(["", " on create", '  default "d"', " default 'd'  on create"]))
        statements.append(f"{target}{arrow}{expression}{option}")
    if draw(st.booleans()):
        statements.insert(
            draw(st.integers(0, len(statements))),
            'schema x = "urn:example:x:2.0:User" {\n  a: string\n   b : integer[]\n}',
        )
    # The generated expressions read the custom attributes user.n and user.ok: declare them,
    # or the ruleset is not one `mapper check` accepts (anywhere: fmt moves declarations up).
    statements.insert(
        draw(st.integers(0, len(statements))),
        draw(
            st.sampled_from(
                ["profile {\n  n: integer\n  ok: boolean\n}", "profile { n : integer ok:boolean }"]
            )
        ),
    )
    for statement in statements:
        for _ in range(draw(st.integers(0, 2))):
            lines.append(draw(st.sampled_from(["", draw(_comment_text)])))
        trailing = draw(st.one_of(st.just(""), _comment_text.map(lambda c: "  " + c)))
        lines.append(statement + trailing)
    if draw(st.booleans()):
        lines.append(draw(_comment_text))
    return "\n".join(lines) + "\n"


def _meaning(ruleset: mapper.Ruleset) -> list[tuple[object, ...]]:
    return [
        (r.target, r.expr, r.create_only, r.primary, r.default, r.sources, r.internal_sources, r.origin)
        for r in ruleset.plan.rules
    ]


def _comments(text: str) -> list[str]:
    from mapper.language.syntax import parse

    return sorted(c[2].strip() for c in parse(text, "x")[0].comments)


@given(text=rulesets())
def test_fmt_is_idempotent_keeps_comments_and_meaning(text: str) -> None:
    original = mapper.loads(text, "r.mapper")  # the strategy makes valid rulesets, warnings and all
    assert original.warnings == ()
    formatted, errors = format_text(text, "r.mapper")
    assert errors == [] and formatted is not None
    assert format_text(formatted, "r.mapper")[0] == formatted
    assert _comments(formatted) == _comments(text)
    assert _meaning(mapper.loads(formatted, "r.mapper")) == _meaning(original)
    assert not re.search(r"\n\n\n", formatted)
    assert all(line == line.rstrip() for line in formatted.splitlines())


# ---------------------------------------------------------------- the command


def run(*args: str) -> object:
    return CliRunner().invoke(main, list(args))


def test_fmt_writes_files_in_place(tmp_path: Path) -> None:
    messy = tmp_path / "messy.mapper"
    messy.write_text((FIXTURES / "messy.mapper").read_text())
    messy.chmod(0o640)
    result = CliRunner().invoke(main, ["fmt", str(tmp_path)])
    assert result.exit_code == 0, result.stderr
    assert messy.read_text() == (FIXTURES / "messy.formatted.mapper").read_text()
    assert messy.stat().st_mode & 0o777 == 0o640
    assert f"reformatted {messy}" in result.stderr
    again = CliRunner().invoke(main, ["fmt", str(messy)])
    assert again.exit_code == 0 and "0 files reformatted, 1 file left unchanged" in again.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["messy.mapper"]  # no temporary files left


def test_fmt_check_and_diff_change_nothing(tmp_path: Path) -> None:
    messy = tmp_path / "messy.mapper"
    original = (FIXTURES / "messy.mapper").read_text()
    messy.write_text(original)
    check = CliRunner().invoke(main, ["fmt", "--check", str(messy)])
    assert check.exit_code == 1 and f"would reformat {messy}" in check.stderr
    diff = CliRunner().invoke(main, ["fmt", "--diff", str(messy)])
    assert diff.exit_code == 1
    assert diff.stdout.startswith(f"--- {messy}\n+++ {messy} (formatted)\n")
    assert messy.read_text() == original
    clean = CliRunner().invoke(main, ["fmt", "--check", str(ROOT / "rulesets")])
    assert clean.exit_code == 0


@pytest.mark.parametrize(
    ("make", "message", "code"),
    [
        (lambda d: d / "missing.mapper", "mapper: {path}: no such file or folder", 2),
        (
            lambda d: (
                (d / "bad.mapper", (d / "bad.mapper").write_bytes(b"title <- \xff")) and d / "bad.mapper"
            ),
            "mapper: {path}: is not UTF-8 text (byte 9)",
            2,
        ),
        (
            lambda d: (
                (d / "syntax.mapper", (d / "syntax.mapper").write_text("title = x\n")) and d / "syntax.mapper"
            ),
            "{path}:1:7: error: unexpected '='; expected '.', ':', '<-' or '['",
            2,
        ),
    ],
)
def test_fmt_bad_input(tmp_path: Path, make: object, message: str, code: int) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    result = CliRunner().invoke(main, ["fmt", str(path)])
    assert result.exit_code == code
    assert result.stderr.splitlines()[0] == message.format(path=path)
    assert "Traceback" not in result.stderr


def _messy(path: Path) -> Path:
    path.write_text((FIXTURES / "messy.mapper").read_text())
    return path


def test_fmt_follows_a_symlink_and_keeps_it(tmp_path: Path) -> None:
    real = _messy(tmp_path / "real.mapper")
    (tmp_path / "links").mkdir()
    link = tmp_path / "links" / "link.mapper"
    link.symlink_to(real)
    result = CliRunner().invoke(main, ["fmt", str(link)])
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink()
    assert real.read_text() == (FIXTURES / "messy.formatted.mapper").read_text()
    assert sorted(p.name for p in (tmp_path / "links").iterdir()) == ["link.mapper"]


def test_fmt_keeps_the_owner(tmp_path: Path) -> None:
    import os

    messy = _messy(tmp_path / "messy.mapper")
    if os.geteuid() != 0:
        pytest.skip("only root can give a file to another user")
    os.chown(messy, 4321, 4322)
    result = CliRunner().invoke(main, ["fmt", str(messy)])
    assert result.exit_code == 0, result.stderr
    info = messy.stat()
    assert (info.st_uid, info.st_gid) == (4321, 4322)


def test_fmt_refuses_a_read_only_file(tmp_path: Path) -> None:
    messy = _messy(tmp_path / "messy.mapper")
    messy.chmod(0o444)
    result = CliRunner().invoke(main, ["fmt", str(messy)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"mapper: {messy}: not reformatted: it is read-only"
    assert messy.read_text() == (FIXTURES / "messy.mapper").read_text()


def test_fmt_in_an_unwritable_folder_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import tempfile

    messy = _messy(tmp_path / "messy.mapper")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    # Root may write anywhere, so the folder's refusal is simulated.
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    result = CliRunner().invoke(main, ["fmt", str(messy)])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"mapper: {messy}: not reformatted: permission denied"


def test_no_trailing_whitespace_anywhere() -> None:
    text = (
        '# a comment   \nruleset r  \n\nuserName <- user.login   # trailing \t \ntitle <- "x  "  \n# end  \n'
    )
    formatted, errors = format_text(text, "r.mapper")
    assert errors == [] and formatted is not None
    assert all(line == line.rstrip() for line in formatted.splitlines())
    assert 'title    <- "x  "' in formatted  # a string keeps its spaces
    assert format_text(formatted, "r.mapper")[0] == formatted
