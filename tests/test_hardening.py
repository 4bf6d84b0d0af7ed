"""Hostile rulesets and hostile profiles: nothing crashes, hangs, runs code or
leaks a value; limits give clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mapper
from mapper.errors import Diagnostic, Severity, Span
from tests.conftest import ROOT
from tests.support.cli import mapper_cli

_BACKTRACKING = """
import mapper
ruleset = mapper.loads(
    'userName <- user.login\\n'
    'title <- String.replace(user.title, "(a+)+$", "x")\\n'
    'nickName <- String.replaceFirst(user.nickName, "(x|x)*y", "z")\\n',
    "evil.mapper",
)
resource = ruleset.render({"login": "a", "title": "a" * 9_999 + "!", "nickName": "x" * 10_000})
assert resource["title"] == "a" * 9_999 + "!"
assert resource["nickName"] == "x" * 10_000
"""


def test_regular_expressions_cannot_backtrack_catastrophically() -> None:
    # With a backtracking engine (Python's re, Java's) these patterns take
    # exponential time on these inputs; RE2 is linear. A subprocess with a
    # timeout keeps a regression from hanging the test run (no clock is asserted).
    result = subprocess.run(
        [sys.executable, "-c", _BACKTRACKING],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr


_NUMBERS = mapper.loads(
    "ruleset numbers\nuserName <- user.login\n"
    "profile {\n  n: integer\n  f: number\n}\n"
    'schema x = "urn:example:numbers:2.0:User" {\n  i: integer\n  d: decimal\n  s: string\n}\n'
    "x:i <- user.n + user.n\nx:d <- user.f + user.f\nx:s <- Convert.toInt(user.nickName)\n",
    "numbers.mapper",
)


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ({"n": 2**63}, "profile attribute 'n': out of the range of a SCIM integer (64 bits)"),
        ({"n": 2**62}, "profile attribute 'n' for SCIM attribute 'urn:example:numbers:2.0:User:i': "
                       "the sum is out of the range of a SCIM integer (64 bits)"),
        ({"f": 1e308}, "profile attribute 'f' for SCIM attribute 'urn:example:numbers:2.0:User:d': "
                       "the sum is not a finite number"),
        ({"nickName": "9" * 30}, "profile attribute 'nickName' for SCIM attribute 'urn:example:numbers:2.0:User:s': "
                                 "out of the range of a SCIM integer (64 bits)"),
        ({"nickName": "9" * 5000}, "profile attribute 'nickName' for SCIM attribute 'urn:example:numbers:2.0:User:s': "
                                   "out of the range of a SCIM integer (64 bits)"),
    ],
)  # fmt: skip
def test_numbers_scim_cannot_carry_are_profile_errors(profile: dict[str, object], message: str) -> None:
    for call in (
        lambda: _NUMBERS.render({"login": "a", **profile}),
        lambda: _NUMBERS.patch({"login": "a"}, {"login": "a", **profile}),
    ):
        with pytest.raises(mapper.ProfileError) as caught:
            call()
        assert str(caught.value) == message


def test_integer_literals_beyond_64_bits_are_ruleset_errors() -> None:
    with pytest.raises(mapper.RulesetError, match="number out of range"):
        mapper.loads(f"userName <- user.login\nx <- {2**63}\n", "big.mapper")


def _run_bounded(code: str, seconds: float = 60) -> str:
    """Runs CODE in a subprocess with a timeout, so a regression cannot hang the test run."""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=seconds, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.mark.parametrize("value", ["1e999999999", "-1E+999999999", "1e300000", "0.5e-999999999", "9" * 5000])
def test_numeric_strings_convert_in_linear_time(value: str) -> None:
    # An 11-character exponent made Decimal build a billion-digit integer (minutes, 442 MB).
    out = _run_bounded(
        "import time, mapper\n"
        "r = mapper.loads('userName <- user.login\\n"
        'externalId <- Convert.toInt(user.employeeNumber) + ""\\n'
        "nickName <- Convert.toNum(user.employeeNumber) + \"\"\\n', 'n.mapper')\n"
        "t = time.perf_counter()\n"
        f"try:\n    r.render({{'login': 'a', 'employeeNumber': {value!r}}})\n"
        "except mapper.ProfileError as e:\n    print(e.problem)\n"
        "print(time.perf_counter() - t)\n",
        seconds=30,
    )
    *messages, elapsed = out.splitlines()
    assert float(elapsed) < 0.5
    if value.startswith("0.5"):
        assert messages == []  # rounds to 0, and 5e-999999999 is a finite number
    else:
        assert messages == ["out of the range of a SCIM integer (64 bits)"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("12_000", "cannot convert to an integer"),  # Python's int() takes it; Java's does not
        ("١٢", "cannot convert to an integer"),  # Arabic-Indic digits, likewise
        ("0x10", "cannot convert to an integer"),
        ("", None),
        (" 42 ", None),
        ("2.5", None),
        ("-2.5", None),
    ],
)
def test_numeric_strings_are_read_as_java_reads_them(value: str, problem: str | None) -> None:
    ruleset = mapper.loads(
        'userName <- user.login\nexternalId <- Convert.toInt(user.employeeNumber) + ""\n', "n.mapper"
    )
    if problem is None:
        expected = {"": None, " 42 ": "42", "2.5": "3", "-2.5": "-3"}[value]
        assert ruleset.render({"login": "a", "employeeNumber": value}).get("externalId") == expected
        return
    with pytest.raises(mapper.ProfileError) as caught:
        ruleset.render({"login": "a", "employeeNumber": value})
    assert caught.value.problem == problem


_AMPLIFY = 'String.replace(user.title, "a", "' + "$0" * 16 + '")'


TOO_LONG = "the result is longer than 10,000 characters"
TOO_COSTLY = "the regular expression would search this value too long (over 50,000,000 RE2 steps)"


@pytest.mark.parametrize(
    ("expression", "title", "expected"),
    [
        (_AMPLIFY, "a" * 3_000, TOO_LONG),  # 113 s on 2 MB before: the output grew sixteenfold
        ('String.replace(user.title, " +", " ")', "a " * 2_000, 4_000),  # a match every other character
        ('String.replace(user.title, " +", " ")', "a " * 5_000, TOO_COSTLY),  # quadratic past the budget
        ('String.replace(user.title, "(a|aa|aaa|aaaa){1,100}b", "x")', "a" * 10_000, 10_000),
        ('String.replace(user.title, "a.*b|a", "x")', "a" * 10_000, TOO_COSTLY),  # each search scans on
        # Quadratic on RE2's NFA (the DFA for [ab]{200} outgrows its memory): 27 s before any budget.
        (
            'String.replace(user.title, "a(?:[ab]*a[ab]{200}c)?", "x")',
            "ab" * 2_500 + "ba" * 2_500,
            TOO_COSTLY,
        ),
        (
            'String.replaceFirst(user.title, "[ab]*a[ab]{1000}c", "x")',
            "ab" * 5_000,
            10_000,
        ),  # one search: fits
        ("String.toUpperCase(user.title)", "ß" * 10_000, TOO_LONG),  # upper-cases to "SS": twice as long
        ("user.title + user.title", "a" * 10_000, TOO_LONG),
    ],
)
def test_no_function_result_outgrows_the_value_limit(expression: str, title: str, expected: object) -> None:
    """Each outcome is decided by the input and the pattern alone (a budget of steps, never a
    clock), so the same profile renders the same on any machine under any load."""
    out = _run_bounded(
        "import mapper\n"
        f"r = mapper.loads('userName <- user.login\\ntitle <- ' + {expression!r} + '\\n', 'r.mapper')\n"
        f"try:\n    v = r.render({{'login': 'a', 'title': {title!r}}})['title']\n    print(len(v))\n"
        "except mapper.ProfileError as e:\n    print(e.problem)\n"
    )
    assert out.strip() == str(expected)


def test_google_re2_private_contract() -> None:
    """regex.py uses google-re2's _regexp.Match and _Anchor (one pass, byte spans): what it
    relies on, checked on the installed version (the dependency is pinned to one minor)."""
    import re2

    compiled = re2.compile("(a)(b)?|(é)")
    assert compiled.programsize > 0 and re2.compile(" +").programsize == 6
    spans = compiled._regexp.Match(re2._Anchor.UNANCHORED, "xéab".encode(), 0, 5)
    assert [tuple(s) for s in spans] == [(1, 3), (-1, -1), (-1, -1), (1, 3)]  # byte offsets, -1: none
    spans = compiled._regexp.Match(re2._Anchor.UNANCHORED, b"xxab", 3, 4)
    assert tuple(spans[0]) == (-1, -1)  # searched from 3 to 4 only
    assert tuple(re2.compile("x*")._regexp.Match(re2._Anchor.UNANCHORED, b"ab", 0, 2)[0]) == (0, 0)


def test_values_longer_than_the_limit_are_profile_errors() -> None:
    ruleset = mapper.load("okta-default")
    with pytest.raises(mapper.ProfileError) as caught:
        ruleset.render({"login": "a", "title": "x" * 10_001})
    assert str(caught.value) == "profile attribute 'title': longer than 10,000 characters"
    with pytest.raises(mapper.ProfileError):
        ruleset.patch({"login": "a"}, {"login": "a", "title": "x" * 10_001})
    assert ruleset.render({"login": "a", "title": "x" * 10_000})["title"] == "x" * 10_000


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(a|aa|aaa|aaaa){1,1000}b", "regular expression too large: 10,004 RE2 instructions, at most 1,200"),
        ("(a{1,30}){1,30}", "regular expression too large: 1,863 RE2 instructions"),
        ("\\ud800", "invalid regular expression: invalid escape sequence"),
        ("\ud800", "invalid regular expression: it holds a lone surrogate"),  # text from loads()
    ],
)
def test_patterns_are_bounded_when_the_ruleset_loads(pattern: str, message: str) -> None:
    text = f'userName <- user.login\ntitle <- String.replace(user.title, "{pattern}", "x")\n'
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads(text, "r.mapper")
    assert [e.message for e in caught.value.errors if e.message.startswith(message)]


@pytest.mark.parametrize("function", ["String.replace", "String.replaceFirst"])
def test_a_lone_surrogate_in_a_profile_value_is_a_profile_error(function: str) -> None:
    ruleset = mapper.loads(f'userName <- user.login\ntitle <- {function}(user.title, "a", "b")\n', "r.mapper")
    with pytest.raises(mapper.ProfileError) as caught:
        ruleset.render({"login": "a", "title": "a\ud800"})
    assert caught.value.problem == "is not valid Unicode (it holds a lone surrogate)"
    assert "\ud800" not in str(caught.value) and "\ud800" not in repr(caught.value.args)


_TYPED = mapper.loads(
    "ruleset typed\nuserName <- user.login\n"
    "profile {\n  f: number\n  ints: integer[]\n  nums: number[]\n  words: string[]\n}\n"
    'schema x = "urn:example:typed:2.0:User" {\n  d: decimal\n  is: integer[]\n  ds: decimal[]\n  ws: string[]\n'
    "  s: string\n}\n"
    "x:d <- user.f\nx:is <- user.ints\nx:ds <- user.nums\nx:ws <- user.words\n"
    'x:s <- Convert.toNum(user.f) + ""\n',
    "typed.mapper",
)


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ({"f": 10**400}, "profile attribute 'f': expected a finite number, got a number"),
        ({"ints": [1, 2**70]}, "profile attribute 'ints': an entry is out of the range of a SCIM integer (64 bits)"),
        ({"nums": [1.5, float("nan")]}, "profile attribute 'nums': expected a finite number, got a number"),
        ({"nums": [float("inf")]}, "profile attribute 'nums': expected a finite number, got a number"),
        ({"nums": [10**400]}, "profile attribute 'nums': expected a finite number, got a number"),
        ({"words": ["x" * 10_001]}, "profile attribute 'words': longer than 10,000 characters"),
        ({"words": ["x"] * 10_001}, "profile attribute 'words': has more than 10,000 entries"),
    ],
)  # fmt: skip
def test_arrays_get_the_checks_scalars_get(profile: dict[str, object], message: str) -> None:
    for call in (
        lambda: _TYPED.render({"login": "a", **profile}),
        lambda: _TYPED.patch({"login": "a"}, {"login": "a", **profile}),
    ):
        with pytest.raises(mapper.ProfileError) as caught:
            call()
        assert str(caught.value) == message


@pytest.mark.slow
def test_checking_is_linear_in_the_file() -> None:
    # check.py split the whole file once per rule: 20,000 rules took 100 s.
    out = _run_bounded(
        "import time, mapper\n"
        "text = 'userName <- user.login\\n' + ''.join(f'title <- user.title + \"{i}\"\\n' for i in range(20_000))\n"
        "t = time.perf_counter()\n"
        "try:\n    mapper.loads(text, 'big.mapper')\n"
        "except mapper.RulesetError as e:\n    print(len(e.diagnostics))\n"
        "print(time.perf_counter() - t)\n"
    )
    count, elapsed = out.splitlines()
    assert int(count) == 101  # 100 errors shown, then one that counts the rest
    assert float(elapsed) < 20


@pytest.mark.slow
def test_diagnostics_are_capped_and_long_lines_cut() -> None:
    # 5,000 errors on one 35 KB line printed 263 MB.
    line = 'title <- String.join(",", ' + ", ".join(f"Foo.f{i}(user.login)" for i in range(5000)) + ")"
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads(f"userName <- user.login\n{line}\n", "many.mapper")
    errors = caught.value.errors
    assert len(errors) == 101
    assert errors[-1].message == "4,900 more errors in this file not shown (the first 100 are)"
    report = str(caught.value)
    assert len(report) < 40_000
    for shown in errors[:100]:
        source, caret = shown.format().split("\n")[1:3]
        assert len(source) <= 4 + 102 and source.endswith("…")
        # The caret still points at the function's name.
        start = caret.index("^")
        assert source[start : start + 4] == "Foo."
    assert errors[99].format().split("\n")[1].startswith("    …")


def test_a_ruleset_reading_too_many_attributes_is_refused() -> None:
    names = ", ".join(f"user.a{i}" for i in range(1001))
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads(f'userName <- user.login\ntitle <- String.join(",", {names})\n', "wide.mapper")
    assert caught.value.errors[-1].message == "the ruleset reads 1,002 profile attributes, more than 1,000"


def test_warnings_are_capped_too() -> None:
    # 60,000 warnings on one long line ran out of 4 GB.
    line = 'title <- String.join(",", ' + ", ".join(f"user.u{i}" for i in range(900)) + ")"
    ruleset = mapper.loads(f"userName <- user.login\n{line}\n", "warned.mapper")
    assert len(ruleset.warnings) == 101
    assert ruleset.warnings[-1].message == "800 more warnings in this file not shown (the first 100 are)"
    assert sum(len(w.format()) for w in ruleset.warnings) < 100_000


def test_a_replacement_naming_a_huge_group_is_a_ruleset_error() -> None:
    # "$" + "1" * 5000 reached int() and raised ValueError (Exceeds the limit (4300 digits)).
    text = 'userName <- user.login\ntitle <- String.replace(user.title, "(a)", "$' + "1" * 5000 + '")\n'
    ruleset = mapper.loads(text, "r.mapper")  # as Java: group 1, then the digits as text
    assert ruleset.render({"login": "x", "title": "a"})["title"] == "a" + "1" * 4999


@pytest.mark.parametrize("where", ["mapped", "unmapped", "key", "id"])
def test_a_lone_surrogate_fails_its_record_only_in_every_command(tmp_path: Path, where: str) -> None:
    """A lone surrogate is valid JSON but no text: the record holding it fails, with its line,
    and every other record goes on, in every command that reads an export (never exit 70)."""

    from tests.support.fake_app import Behaviour, fake_app

    def user(i: int, **extra: object) -> dict[str, object]:
        profile = {
            "login": f"u{i}@example.com",
            "email": f"u{i}@example.com",
            "firstName": "A",
            "lastName": "B",
        }
        return {"id": f"00u{i}", "status": "ACTIVE", "profile": {**profile, **extra}}

    bad = {"mapped": user(1, title="\ud800"), "unmapped": user(1, nickName2="x\udc00"),
           "key": user(1, **{"\ud800": "x"}), "id": {**user(1), "id": "00u\ud800"}}[where]  # fmt: skip
    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps(u) + "\n" for u in [user(0), user(1), user(2)]))
    export = tmp_path / "bad.jsonl"
    export.write_text("".join(json.dumps(u) + "\n" for u in [user(0), bad, user(2)]))
    assert "\\ud" in export.read_text()  # written as JSON escapes, as any encoder writes them

    def mapper_(*args: str | Path) -> tuple[int, str]:
        ran = mapper_cli(*args, env={"SCIM_TOKEN": "test-token-1"})
        return ran.returncode, ran.stderr

    reason = "invalid JSON: a string holds a lone surrogate"
    for jobs in ("1", "2"):
        code, err = mapper_("render", export, "-o", tmp_path / "out.jsonl", "--jobs", jobs,
                            "--errors", tmp_path / "errors.jsonl")  # fmt: skip
        assert code == 1 and f"{export}:2: {reason}" in err
        assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 2
        assert len((tmp_path / "errors.jsonl").read_text().splitlines()) == 1
    for old, new in ((export, good), (good, export)):
        code, err = mapper_("plan", old, new, "-o", tmp_path / "plan.jsonl")
        assert code == 1 and f"{export}:2: {reason}" in err
    result = mapper_cli(*["review", "okta-default", "okta-default", "--profiles", str(export)])
    assert result.exit_code == 0 and "1 user could not be read (line 2)" in result.stdout
    with fake_app(Behaviour()) as url:
        code, err = mapper_("sync", good, "--to", url, "--state", tmp_path / "state.sqlite")
        assert code == 0, err
        code, err = mapper_("sync", export, "--to", url, "--state", tmp_path / "state.sqlite")
    assert code == 1 and f"{export}:2: ?: {reason}" in err and "1 failed" in err


@pytest.mark.parametrize(
    ("pattern", "value"),
    [("MMMEEEMMMEEEMMMEEEMMMEEEMMMEEE", "a" * 99), ("MMMEEE", "a" * 400), ("dMdMdMdMdMdM", "1" * 99 + "x")],
)
def test_time_patterns_cannot_backtrack(pattern: str, value: str) -> None:
    """Time.fromStringToIso8601 matches on RE2 (linear): side-by-side text fields took 25 s
    for 400 characters on Python's re. A value past 100 characters is no time at all."""
    out = _run_bounded(
        "import mapper\n"
        f"r = mapper.loads('userName <- user.login\\ntitle <- Time.fromStringToIso8601(user.title, ' + {pattern!r}.join('\"\"') + ')\\n', 'r.mapper')\n"
        f"try:\n    print(r.render({{'login': 'a', 'title': {value!r}}}).get('title'))\n"
        "except mapper.ProfileError as e:\n    print('refused')\n",
        seconds=60,
    )
    assert out.strip() in ("refused", "None")


def test_a_time_pattern_has_at_most_twelve_fields() -> None:
    with pytest.raises(mapper.RulesetError, match="more than 12 fields"):
        mapper.loads(
            'userName <- user.login\ntitle <- Time.fromStringToIso8601(user.title, "' + "dM" * 7 + '")\n', "r"
        )


def _format_whole_line_first(d: Diagnostic) -> str:
    """The caret block as it was formatted before: the whole line made terminal-safe, then cut."""
    from mapper.errors import MAX_SHOWN_LINE
    from mapper.markup import terminal_line

    text, start = terminal_line(d.source_line.expandtabs(1)), d.span.col - 1
    width = (
        d.span.end_col - d.span.col if d.span.end_line == d.span.line and d.span.end_col > d.span.col else 1
    )
    if len(text) > MAX_SHOWN_LINE:
        cut = max(0, min(start - MAX_SHOWN_LINE // 3, len(text) - MAX_SHOWN_LINE))
        before, after = "…" if cut > 0 else "", "…" if cut + MAX_SHOWN_LINE < len(text) else ""
        text = before + text[cut : cut + MAX_SHOWN_LINE] + after
        start = start - cut + len(before)
        width = min(width, len(text) - len(after) - start)
    width = max(1, min(width, len(text) - start))
    return f"    {text}\n    {' ' * start}{'^' * width}"


@given(
    line=st.text(st.sampled_from("ab \t\r\x1b\x85\u202e\u2028\ufeff\x00é\u0301…🙂\ud800"), max_size=300),
    col=st.integers(-2, 320),
    length=st.integers(0, 200),
    lines=st.integers(0, 1),
)
def test_a_long_line_is_cut_before_it_is_made_terminal_safe_and_shows_the_same(
    line: str, col: int, length: int, lines: int
) -> None:
    """Only the shown hundred characters are escaped now (a diagnostic on a 1 MB line took a
    third of a second); what a terminal shows is the same, caret included."""
    span = Span("f.mapper", 1, col, 1 + lines, col + length)  # on one line, or running past it
    d = Diagnostic(Severity.ERROR, "m", span, source_line=line or "x")
    assert d.format().split("\n", 1)[1] == _format_whole_line_first(d)
