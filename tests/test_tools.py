"""The review tools: check formats, explain, test (examples), review, the lexer, the hooks."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

import mapper
from mapper.cli.main import main
from mapper.tools.examples import run_file
from tests.conftest import ROOT


def run(*args: str, cwd: Path | None = None) -> Result:
    if cwd is not None:
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(cwd)
            result = CliRunner().invoke(main, list(args))
    else:
        result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output + result.stderr, result.output + result.stderr
    return result


@pytest.fixture
def warned(tmp_path: Path) -> Path:
    path = tmp_path / "warned.mapper"
    path.write_text("ruleset warned\nuserName <- user.login\ntitle <- user.titel\n")
    return path


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    path = tmp_path / "broken.mapper"
    path.write_text("ruleset broken\nuserName <- user.login\ntitel <- user.title\n")
    return path


# ---------------------------------------------------------------- check


def test_check_json(warned: Path, broken: Path) -> None:
    result = run("check", "--format", "json", str(warned), str(broken))
    assert result.exit_code == 2
    assert json.loads(result.stdout) == [
        {"file": str(warned), "line": 3, "column": 10, "end_line": 3, "end_column": 20, "severity": "warning",
         "message": "user.titel is not an Okta base profile attribute",
         "hint": "did you mean `title`? if it is a custom attribute, declare it: `profile { titel: string }`"},
        {"file": str(broken), "line": 3, "column": 1, "end_line": 3, "end_column": 6, "severity": "error",
         "message": "unknown attribute 'titel' in User", "hint": "did you mean `title`?"},
    ]  # fmt: skip


def test_check_github_annotations(warned: Path, broken: Path) -> None:
    result = run("check", "--format", "github", str(warned), str(broken))
    assert result.stdout.splitlines() == [
        f"::warning file={warned},line=3,col=10,endLine=3,endColumn=20,title=mapper check::"
        "user.titel is not an Okta base profile attribute (did you mean `title`? if it is a custom attribute, "
        "declare it: `profile { titel: string }`)",
        f"::error file={broken},line=3,col=1,endLine=3,endColumn=6,title=mapper check::"
        "unknown attribute 'titel' in User (did you mean `title`?)",
    ]


def test_check_strict_turns_warnings_into_errors(warned: Path) -> None:
    assert run("check", str(warned)).exit_code == 0
    strict = run("check", "--strict", str(warned))
    assert strict.exit_code == 2
    assert f"{warned}:3:10: error: user.titel is not an Okta base profile attribute" in strict.stdout
    assert strict.stdout.splitlines()[-1] == f"{warned}: 1 error"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("missing", "mapper: {path}: no such file"),
     ("directory", "mapper: {path}: no ruleset files (.mapper) in this folder"),
     ("latin1", "mapper: {path}: is not UTF-8 text (byte 16)")],
)  # fmt: skip
def test_check_unreadable(tmp_path: Path, kind: str, expected: str) -> None:
    path = tmp_path / "r.mapper"
    if kind == "directory":
        path.mkdir()
    elif kind == "latin1":
        path.write_bytes("userName <- 'caf\xe9'".encode("latin-1"))
    result = run("check", "--format", "github", str(path))
    assert result.exit_code == 2
    assert result.stdout.strip() == "::error title=mapper check::" + expected.format(path=path).removeprefix(
        "mapper: "
    )
    text = run("check", str(path))
    assert text.stdout.splitlines()[0] == expected.format(path=path)


# ---------------------------------------------------------------- explain


def test_explain_markdown_has_a_row_per_rule() -> None:
    result = run("explain", "appspace")
    assert result.exit_code == 0
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    appspace = mapper.load("appspace", cache=False)
    assert len(rows) == 1 + len(appspace.rules) + len(appspace.plan.inbound)
    assert rows[0] == (
        "| Direction | Okta | Transform | SCIM | Schema | Applies on | Default | Defined in | Inbound |"
    )
    assert (
        "| Okta → app | `user.costCenter` | direct | `costCenter` | appspace | create and update |  | appspace "
        "| derived |"
    ) in rows
    assert (
        '| Okta → app | `user.getInternalProperty("status")` | `user.getInternalProperty("status") != '
        '"DEPROVISIONED"` | `active` | core User | create and update |  | okta-default (inherited) | '
        "not invertible: it reads Okta's user fields (getInternalProperty), which an import does not set |"
    ) in rows
    assert (
        "| app → Okta | `user.costCenter` | direct | `appuser.appspace:costCenter` | appspace | "
        "create and update (PUSH) |  | derived from appspace line 12 |  |"
    ) in rows


def test_explain_text_and_mermaid(tmp_path: Path) -> None:
    ruleset = tmp_path / "r.mapper"
    ruleset.write_text('ruleset r\nuserName <- user.login\nnickName <- "A|B" on create default "x"\n')
    text = run("explain", "--format", "text", str(ruleset))
    assert text.exit_code == 0
    assert text.stdout.splitlines()[0] == "ruleset r: 2 rules, 1 inbound rule"
    assert "create only" in text.stdout
    mermaid = run("explain", "--format", "mermaid", str(ruleset))
    assert mermaid.stdout.splitlines() == [
        "flowchart LR",
        '  subgraph okta["Okta user"]',
        '    s1["user.login"]',
        "  end",
        '  subgraph schema1["core User"]',
        '    t1["userName"]',
        '    t2["nickName · create only"]',
        "  end",
        "  s1 --> t1",
        '  const2(["constant #quot;A#124;B#quot;"]) --> t2',
        "  t1 -.-> s1",  # the inbound rule derived from userName <- user.login
    ]


def test_explain_bad_ruleset(broken: Path) -> None:
    result = run("explain", str(broken))
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines()[0] == f"{broken}:3:1: error: unknown attribute 'titel' in User"


# ---------------------------------------------------------------- test


def test_shipped_examples_pass_and_cover_every_rule() -> None:
    for path in sorted((ROOT / "rulesets").glob("*.examples.json")):
        report = run_file(path)
        assert report.failed == [] and report.uncovered == [], path
    result = run("test", "--strict", cwd=ROOT)
    assert result.exit_code == 0
    assert result.stdout.splitlines()[-1] == "13 examples: 13 passed, 0 failed"


def test_failing_example_shows_a_readable_difference(tmp_path: Path) -> None:
    shutil.copy(ROOT / "rulesets" / "okta-default.mapper", tmp_path)
    (tmp_path / "okta-default.examples.json").write_text(
        json.dumps(
            {
                "examples": [
                    {"name": "wrong title", "user": {"login": "a@example.com", "title": "A"},
                     "resource": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                  "userName": "a@example.com", "title": "B", "nickName": "n"}},
                    {"name": "expected an error", "user": {"login": "a@example.com"}, "error": "boom"},
                ]
            }
        )
    )  # fmt: skip
    result = run("test", str(tmp_path))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"FAILED {tmp_path / 'okta-default.examples.json'}: wrong title"
    assert sorted(lines[1:4]) == [
        "    + /active: true (not expected)",
        '    - /nickName: "n" (expected, missing)',
        '    ~ /title: expected "B", got "A"',
    ]
    assert lines[4:6] == [
        f"FAILED {tmp_path / 'okta-default.examples.json'}: expected an error",
        "    expected error: boom",
    ]
    assert lines[-1] == "2 examples: 0 passed, 2 failed; 9 rules without an example"
    assert any(line.startswith("warning: ") and "no example covers externalId" in line for line in lines)
    strict = run("test", "--strict", str(tmp_path))
    assert strict.exit_code == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "{path}:1:2: invalid JSON: Expecting property name enclosed in double quotes"),
        ("[]", '{path}: expected an object with an "examples" array'),
        (
            '{"examples": [{"name": "x"}]}',
            "{path}: example 'x': give a \"user\" (Okta to the app) or an \"app_user\" (the app to Okta)",
        ),
        ('{"examples": [{"name": "x", "user": {}, "resource": {}, "error": "e"}]}',
         '{path}: example \'x\': give exactly one of "resource", "operations", "error"'),
        ('{"examples": [{"name": "x", "user": {}, "operations": []}]}', "{path}: example 'x': \"operations\" needs an \"old\" user"),
    ],
)  # fmt: skip
def test_bad_examples_files(tmp_path: Path, content: str, message: str) -> None:
    shutil.copy(ROOT / "rulesets" / "okta-default.mapper", tmp_path)
    path = tmp_path / "okta-default.examples.json"
    path.write_text(content)
    result = run("test", str(path))
    assert result.exit_code == 2
    assert result.stdout.splitlines()[0] == "mapper: " + message.format(path=path)


def test_test_without_examples(tmp_path: Path) -> None:
    result = run("test", cwd=tmp_path)
    assert result.exit_code == 2
    assert result.stdout.startswith("mapper: no rulesets and no examples files (*.examples.json) in .: ")
    assert "mapper test PATH" in result.stdout and len(result.stdout.splitlines()) == 1
    # Hidden folders and virtual environments are not the project's: never searched.
    for hidden in (
        ".venv/lib/python3/site-packages/mapper/_data/rulesets",
        ".git/x",
        "env/lib/site-packages",
    ):
        (tmp_path / hidden).mkdir(parents=True)
        (tmp_path / hidden / "okta-default.mapper").write_text("userName <- user.login\n")
    assert run("test", cwd=tmp_path).stdout == result.stdout
    ruleset = tmp_path / "lonely.mapper"
    ruleset.write_text("userName <- user.login\n")
    alone = run("test", str(ruleset))
    assert alone.exit_code == 2 and "no examples file lonely.examples.json beside it" in alone.stdout


# ---------------------------------------------------------------- review


def test_review_lists_rule_changes_and_profile_effects(tmp_path: Path) -> None:
    old = tmp_path / "old.mapper"
    new = tmp_path / "new.mapper"
    old.write_text("ruleset r extends okta-default\ntitle <- user.title\nnickName <- user.nickName\n")
    new.write_text(
        'ruleset r extends okta-default\ntitle <- user.title ?: "Staff"\npreferredLanguage <- user.preferredLanguage on create\n'
    )
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "ada.json").write_text('{"login": "ada@example.com", "nickName": "A"}')
    (profiles / "bob.json").write_text('{"login": "bob@example.com", "title": "Boss"}')
    result = run("review", str(old), str(new), "--profiles", str(profiles))
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert (
        "1 rule added, 1 rule removed, 1 rule changed; inbound: 1 added, 2 removed; 12 rules in all." in text
    )
    assert (
        "| removed | `user.title` | `appuser.title` |  | inherited from r |" not in text
    )  # derived, not declared
    assert "| removed | `user.title` | `appuser.title` |  | derived from title |" in text
    assert (
        "| added | `user.preferredLanguage` |  | `appuser.preferredLanguage on create` | derived from preferredLanguage |"
        in text
    )
    assert '| changed | `title` | `user.title` | `user.title ?: "Staff"` |  |' in text
    assert "| added | `preferredLanguage` |  | `user.preferredLanguage on create` |  |" in text
    assert "| removed | `nickName` | `user.nickName` |  |  |" in text
    assert "### Sample users (1 of 2 change)" in text
    assert '- `/title` added: `"Staff"`' in text and '- `/nickName` removed (was `"A"`)' in text


def test_review_marks_inherited_changes(tmp_path: Path) -> None:
    child = tmp_path / "child.mapper"
    child.write_text("ruleset child extends okta-default\ntitle <- user.nickName\n")
    result = run("review", "okta-default", str(child))
    assert "now from child (was okta-default)" in result.stdout


@pytest.fixture
def committed(tmp_path: Path) -> Path:
    """A git repository in TMP_PATH with r.mapper committed."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "r.mapper").write_text("ruleset r\nuserName <- user.login\n")
    subprocess.run([*git, "add", "r.mapper"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "first"], cwd=tmp_path, check=True)
    return tmp_path


def test_review_of_a_git_revision(committed: Path) -> None:
    tmp_path = committed
    (tmp_path / "r.mapper").write_text("ruleset r\nuserName <- user.email\n")
    result = run("review", "HEAD:r.mapper", "r.mapper", cwd=tmp_path)
    assert result.exit_code == 0, result.stderr
    assert "| changed | `userName` | `user.login` | `user.email` |  |" in result.stdout
    missing = run("review", "HEAD:nope.mapper", "r.mapper", cwd=tmp_path)
    assert missing.exit_code == 2
    assert missing.stderr.startswith(
        "mapper: HEAD:nope.mapper: fatal: path 'nope.mapper' does not exist in 'HEAD'"
    )


@pytest.mark.parametrize("revision", ["--output={out}:x", "-o{out}:x", "--output={out}"])
def test_review_revisions_never_reach_git_as_options(committed: Path, revision: str) -> None:
    tmp_path = committed
    written = tmp_path / "planted"
    result = run("review", "--", revision.format(out=written), "okta-default", cwd=tmp_path)
    assert result.exit_code == 2
    assert not written.exists()


def test_review_bad_input(tmp_path: Path, broken: Path) -> None:
    assert run("review", str(tmp_path / "nope.mapper"), "okta-default").stderr.strip() == (
        f"mapper: {tmp_path / 'nope.mapper'}: no such file"
    )
    result = run("review", str(broken), "okta-default")
    assert result.exit_code == 2 and "unknown attribute 'titel'" in result.stderr
    not_a_folder = run("review", "okta-default", "okta-default", "--profiles", str(tmp_path / "none"))
    assert not_a_folder.exit_code == 2 and "not a folder of profiles" in not_a_folder.stderr


# ---------------------------------------------------------------- ecosystem


def test_pygments_lexer_is_registered() -> None:
    from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
    from pygments.token import Comment, Keyword, Name, Operator, String

    lexer = get_lexer_by_name("mapper")
    assert type(get_lexer_for_filename("appspace.mapper")) is type(lexer)
    tokens = list(
        lexer.get_tokens('ruleset a extends b\ntitle <- String.toLowerCase(user.title) ?: "x"  # c\n')
    )
    kinds = {value: kind for kind, value in tokens}
    assert kinds["ruleset"] in Keyword and kinds["<-"] in Operator and kinds['"x"'] in String
    assert kinds["String.toLowerCase"] in Name.Function and kinds["# c"] in Comment
    assert (
        "".join(value for _, value in tokens)
        == 'ruleset a extends b\ntitle <- String.toLowerCase(user.title) ?: "x"  # c\n'
    )


def test_pre_commit_hooks_name_real_commands() -> None:
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    for hook, command in [
        ("mapper-fmt", "mapper fmt"),
        ("mapper-check", "mapper check"),
        ("mapper-test", "mapper test"),
    ]:
        assert f"- id: {hook}" in text and f"entry: {command}" in text


@pytest.mark.parametrize("kind", ["missing", "directory", "latin1", "errors"])
@pytest.mark.parametrize(
    "command",
    [["explain"], ["review", "okta-default"], ["compile"], ["render", "-r"]],
    ids=["explain", "review", "compile", "render"],
)
def test_every_command_gives_one_clear_line_for_a_bad_ruleset(
    tmp_path: Path, kind: str, command: list[str]
) -> None:
    path = tmp_path / "r.mapper"
    expected = {
        "missing": f"mapper: {path}: no such file",
        "directory": f"mapper: {path}: is a directory",
        "latin1": f"mapper: {path}: is not UTF-8 text (byte 16)",
        "errors": f"{path}:2:1: error: unknown attribute 'titel' in User",
    }[kind]
    if kind == "directory":
        path.mkdir()
    elif kind == "latin1":
        path.write_bytes("userName <- 'caf\xe9'".encode("latin-1"))
    elif kind == "errors":
        path.write_text("userName <- user.login\ntitel <- user.title\n")
    args = [*command, str(path)]
    if command[0] == "render":
        args.append(str(ROOT / "examples" / "ada.json"))
    result = run(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    first = result.stderr.splitlines()[0]
    assert first == expected or first == f"mapper: {expected}"


def test_examples_of_a_broken_ruleset(tmp_path: Path) -> None:
    (tmp_path / "r.mapper").write_text("userName <- user.login\ntitel <- user.title\n")
    (tmp_path / "r.examples.json").write_text('{"examples": []}')
    result = run("test", str(tmp_path))
    assert result.exit_code == 2
    assert (
        result.stdout.splitlines()[0]
        == f"{tmp_path / 'r.mapper'}:2:1: error: unknown attribute 'titel' in User"
    )
    (tmp_path / "r.examples.json").write_bytes(b'{"examples": "\xff"}')
    assert run("test", str(tmp_path)).stdout.splitlines()[0] == (
        f"mapper: {tmp_path / 'r.examples.json'}: not UTF-8 text (byte 14)"
    )


def test_coverage_counts_only_the_entries_an_operation_touches(tmp_path: Path) -> None:
    (tmp_path / "r.mapper").write_text(
        'userName <- user.login\nemails[type eq "work"].value <- user.email\n'
        'emails[type eq "home"].value <- user.secondEmail\n'
    )
    (tmp_path / "r.examples.json").write_text(
        json.dumps(
            {
                "examples": [
                    {"name": "work email", "old": {"login": "a@example.com"},
                     "user": {"login": "a@example.com", "email": "w@example.com"},
                     "operations": [{"op": "add", "path": "emails",
                                     "value": [{"value": "w@example.com", "type": "work"}]}]},
                ]
            }
        )
    )  # fmt: skip
    report = run_file(tmp_path / "r.examples.json")
    assert report.failed == []
    assert report.uncovered == ["userName", 'emails[type eq "home"].value']


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"examples": [' + "[" * 3000 + "]" * 3000 + "]}", "invalid JSON: nested more than 100 levels deep"),
        ('{"examples": [{"name": "n", "user": {"login": ' + "9" * 5000 + "}}]}",
         "invalid JSON: an integer with more than 4,300 digits"),
        ('{"examples": [' + '{"a": ' * 150 + "1" + "}" * 150 + "]}",
         "invalid JSON: nested more than 100 levels deep"),
    ],
)  # fmt: skip
def test_examples_files_that_cannot_be_read_are_one_line(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "r.mapper").write_text("ruleset r\nuserName <- user.login\n")
    examples = tmp_path / "r.examples.json"
    examples.write_text(content)
    result = run("test", str(tmp_path))
    assert result.exit_code == 2
    assert f"mapper: {examples}: {message}" in result.stdout + result.stderr


_HOSTILE = (
    "ruleset hostile\nuserName <- user.login\n"
    'emails[type eq "x\\n# Heading | `tick` \\u001b[31m"].value <- user.email\n'
    'title <- "a | b ` c\\n## d"\n'
)


def test_explain_keeps_ruleset_text_inside_its_cells(tmp_path: Path) -> None:
    path = tmp_path / "hostile.mapper"
    path.write_text(_HOSTILE)
    markdown = run("explain", str(path)).stdout
    table = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 3 + 2  # heading, rule, one row per rule and per inbound rule: none broken
    assert all(len(re.findall(r"(?<!\\)\|", line)) == 10 for line in table)  # 9 cells in every row
    assert "\x1b" not in markdown and "\n# Heading" not in markdown
    assert '``emails[type eq "x\\n# Heading \\| `tick` \\u001b[31m"].value``' in markdown
    text = run("explain", str(path), "--format", "text").stdout
    # A heading; three lines a rule (the inbound line too); a heading and two lines an inbound rule.
    assert "\x1b" not in text and len(text.splitlines()) == 2 + 3 * 3 + 2 + 2 * 2
    assert max(len(line) for line in text.splitlines()) <= 100
    mermaid = run("explain", str(path), "--format", "mermaid").stdout
    assert "\x1b" not in mermaid and "`" not in mermaid and "#96;tick#96;" in mermaid


@pytest.mark.parametrize("char", ['"', "\x00", "\r", "`", " "])
def test_urns_outside_rfc_8141_are_refused(char: str) -> None:
    urn = '"' + f"urn:example:bad{char}name:2.0:User".replace('"', '""') + '"'
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads(
            f"userName <- user.login\nschema x = {urn} {{ a: string }}\nx:a <- user.title\n", "u.mapper"
        )
    assert "is not a schema URN (RFC 8141 does not allow" in caught.value.errors[0].message


def test_diagnostics_never_send_control_characters_to_a_terminal() -> None:
    with pytest.raises(mapper.RulesetError) as caught:
        mapper.loads('userName <- user.login\ntitel <- "\x1b[2J\x1b]0;pwned\x07"\n', "t.mapper")
    report = str(caught.value)
    assert "\x1b" not in report and "\x07" not in report
    source, caret = report.splitlines()[1:3]
    assert caret.index("^") == source.index("titel")


@pytest.mark.parametrize("text", ["a`b", "``", "`start", "end`", "x``y`z", "|", " ", ""])
def test_markdown_code_spans_hold_any_text(text: str) -> None:
    from mapper.markup import md_code

    span = md_code(text)
    fence = re.match(r"`+", span)
    assert fence is not None
    # The closing fence is the first run of exactly that many backticks after the opening one.
    inner = span[len(fence.group()) : -len(fence.group())]
    assert span.endswith(fence.group()) and fence.group() not in re.findall(r"`+", inner)
    assert inner.strip(" ") == text.strip(" ") or not text.strip()


# ---------------------------------------------------------------- mapper test, as a new user met it


def _examples(folder: Path, name: str, examples: list[dict[str, object]]) -> Path:
    path = folder / f"{name}.examples.json"
    path.write_text(json.dumps({"examples": examples}, indent=2))
    return path


def test_test_counts_agree(tmp_path: Path) -> None:
    (tmp_path / "r.mapper").write_text("ruleset r\nuserName <- user.login\n")
    path = _examples(
        tmp_path,
        "r",
        [
            {"name": "one", "user": {"login": "a"}, "error": "nope"},
            {"name": "two", "user": {"email": "a"}, "error": str(_missing_login())},
            {
                "name": "three",
                "user": {"login": "b"},
                "resource": {"schemas": [CORE], "userName": "b"},
            },
        ],
    )
    (tmp_path / "broken.examples.json").write_text("{")
    lines = run("test", str(tmp_path)).stdout.splitlines()
    assert f"{path}: 3 examples, 1 failed" in lines
    assert lines[-1] == "3 examples: 2 passed, 1 failed; 1 file could not run"


def _missing_login() -> mapper.ProfileError:
    try:
        mapper.loads("ruleset r\nuserName <- user.login\n", "r.mapper").render({"email": "a"})
    except mapper.ProfileError as exc:
        return exc
    raise AssertionError


CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


def test_strict_fails_a_ruleset_without_examples(tmp_path: Path) -> None:
    (tmp_path / "lonely.mapper").write_text("ruleset lonely\nuserName <- user.login\n")
    (tmp_path / "r.mapper").write_text("ruleset r\nuserName <- user.login\n")
    _examples(
        tmp_path,
        "r",
        [
            {
                "name": "a",
                "user": {"login": "a"},
                "resource": {"schemas": [CORE], "userName": "a"},
            }
        ],
    )
    lenient = run("test", str(tmp_path))
    assert lenient.exit_code == 0
    assert f"warning: {tmp_path / 'lonely.mapper'}: no examples file (lonely.examples.json)" in lenient.stdout
    strict = run("test", "--strict", str(tmp_path))
    assert strict.exit_code == 1
    assert f"FAILED {tmp_path / 'lonely.mapper'}: no examples file (lonely.examples.json)" in strict.stdout
    assert strict.stdout.splitlines()[-1] == "1 example: 1 passed, 0 failed; 1 ruleset without examples"


def test_a_child_covers_only_the_rules_it_writes(tmp_path: Path) -> None:
    (tmp_path / "child.mapper").write_text(
        "ruleset child extends okta-default\ntitle <- String.toUpperCase(user.title)\n"
    )
    _examples(
        tmp_path,
        "child",
        [{"name": "title", "old": {"login": "a", "title": "x"}, "user": {"login": "a", "title": "y"},
          "operations": [{"op": "replace", "path": "title", "value": "Y"}]}],
    )  # fmt: skip
    result = run("test", "--strict", str(tmp_path))
    assert result.exit_code == 0, result.stdout
    assert "no example covers" not in result.stdout


def test_update_writes_missing_expectations_and_refresh_rewrites(tmp_path: Path) -> None:
    (tmp_path / "r.mapper").write_text("ruleset r\nuserName <- user.login\ntitle <- user.title\n")
    path = _examples(
        tmp_path,
        "r",
        [{"name": "new user", "user": {"login": "a", "title": "T"}},
         {"name": "title moves", "old": {"login": "a", "title": "T"}, "user": {"login": "a", "title": "U"}},
         {"name": "stale", "user": {"login": "b"}, "resource": {"userName": "old"}}],
    )  # fmt: skip
    without = run("test", str(tmp_path))
    assert without.exit_code == 2 and "run `mapper test --update`" in without.stdout
    updated = run("test", "--update", str(tmp_path))
    assert f"updated {path}: 'new user': resource written" in updated.stdout
    assert f"updated {path}: 'title moves': operations written" in updated.stdout
    assert updated.exit_code == 1  # "stale" still fails until it is refreshed
    written = json.loads(path.read_text())["examples"]
    assert written[0]["resource"] == {"schemas": [CORE], "userName": "a", "title": "T"}
    assert written[1]["operations"] == [{"op": "replace", "path": "title", "value": "U"}]
    refreshed = run("test", "--refresh", "stale", str(tmp_path))
    assert refreshed.exit_code == 0, refreshed.stdout
    assert f"updated {path}: 'stale': resource refreshed" in refreshed.stdout
    assert '    ~ /userName: expected "old", got "b"' in refreshed.stdout
    assert run("test", "--strict", str(tmp_path)).exit_code == 0


@pytest.mark.parametrize("name", ["okta-default", "appspace", "enterprise"])
def test_explain_text_fits_100_columns(name: str) -> None:
    text = run("explain", name, "--format", "text").stdout
    assert max(len(line) for line in text.splitlines()) <= 100
    assert 'user.getInternalProperty("status")' in run("explain", "okta-default").stdout


def test_rule_holds_the_expression_alone_and_the_line() -> None:
    (phone,) = [r for r in mapper.load("okta-default").rules if r.target.startswith("phoneNumbers")]
    assert phone.expression == "user.primaryPhone"
    assert phone.text.startswith('phoneNumbers[type eq "work"].value') and phone.text.endswith("primary")


def test_review_counts_the_impact_on_a_whole_export(tmp_path: Path) -> None:
    old = tmp_path / "old.mapper"
    new = tmp_path / "new.mapper"
    old.write_text("ruleset r extends okta-default\n")
    new.write_text(
        'ruleset r extends okta-default\ntitle <- user.title ?: "Staff"\nenterprise:department <- user.costCenter\n'
    )
    export = tmp_path / "users.jsonl"
    lines = [
        json.dumps({"id": f"00u{i}", "status": "ACTIVE",
                    "profile": {"login": f"u{i}@x.io", **({"title": "Boss"} if i % 2 else {}), "costCenter": "C"}})
        for i in range(1000)
    ]  # fmt: skip
    export.write_text("\n".join(lines) + "\n")
    result = run("review", str(old), str(new), "--profiles", str(export))
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert "### Impact on `users.jsonl` (1,000 of 1,000 users change)" in text
    assert "| `title` | 500 | `00u0`, `00u2`, `00u4` |" in text
    assert "| `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department` | 1,000 |" in text


def test_review_of_an_export_is_the_same_in_any_number_of_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--jobs reads the export in spans, each in a process of its own: the counts, the examples
    (in input order) and the line numbers of users without an id are those of one process."""
    from mapper.tools import impact

    monkeypatch.setattr(impact, "SPAN_BYTES", 700)  # many spans for a few hundred lines
    old, new = tmp_path / "old.mapper", tmp_path / "new.mapper"
    old.write_text("ruleset r extends okta-default\nenterprise:costCenter <- user.costCenter\n")
    new.write_text(
        'ruleset r extends okta-default\ntitle <- user.title ?: "Staff"\nenterprise:department <- user.costCenter\n'
        "nickName <- user.nickName\n"
    )
    lines = []
    for i in range(300):
        profile: dict[str, object] = {"login": f"u{i}@x.io", "costCenter": 5 if i % 37 == 0 else "C"}
        if i % 3:
            profile["title"] = "Boss"
        if i % 29 == 4:
            profile["nickName"] = 7  # refused by the new version
        user = (
            {"id": f"00u{i}", "profile": profile} if i % 11 != 1 else {"profile": profile}
        )  # some without an id
        lines.append("{not json" if i % 53 == 7 else json.dumps(user))
    export = tmp_path / "users.jsonl"
    export.write_text("\n".join(lines) + "\n\n")
    one = run("review", str(old), str(new), "--profiles", str(export))
    three = run("review", str(old), str(new), "--profiles", str(export), "--jobs", "3")
    assert one.exit_code == three.exit_code == 0, one.stderr + three.stderr
    assert one.stdout == three.stdout
    assert "`line 2`, `00u2`, `00u3` |" in one.stdout
    assert "users are refused by the new version (for example `00u4`, `00u33`, `00u62`, ...)" in one.stdout
    assert "6 users could not be read (line 8, 61, 114, ...)" in one.stdout


def test_review_names_users_a_version_refuses(tmp_path: Path) -> None:
    """Review says "1 user is refused", in the right number, with ids to act on."""
    old, new = tmp_path / "old.mapper", tmp_path / "new.mapper"
    old.write_text("ruleset r extends okta-default\n")
    new.write_text("ruleset r extends okta-default\nenterprise:department <- user.costCenter\n")
    export = tmp_path / "users.jsonl"
    users = [{"id": "00u1", "profile": {"login": "a@x.io", "costCenter": 5}},
             {"id": "00u2", "profile": {"login": "b@x.io", "costCenter": "C"}}]  # fmt: skip
    export.write_text("".join(json.dumps(u) + "\n" for u in users))
    result = run("review", str(old), str(new), "--profiles", str(export))
    assert result.exit_code == 0, result.stderr
    assert (
        "1 user is refused by the new version (for example `00u1`); `mapper render` with that version "
        "on the export says why." in result.stdout
    )


def _changed_by_json_patch(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """What review named before it compared attribute by attribute: the attributes a JSON patch touches."""
    import jsonpatch

    touched: set[str] = set()
    for op in jsonpatch.make_patch(before, after).patch:
        touched.update(_touched(op["path"], before, after))
        if op["op"] == "move":
            touched.update(_touched(op["from"], before, after))
    touched.discard("schemas")
    return touched


def _touched(pointer: str, before: dict[str, Any], after: dict[str, Any]) -> Iterator[str]:
    """The attributes that differ at a JSON patch operation's POINTER, as review named them then:
    an extension or a complex attribute that changes whole counts as each attribute in it that
    differs."""
    import jsonpointer

    from mapper.core.schema import CORE_USER
    from mapper.core.scim_path import AttrPath
    from mapper.tools.impact import _differing, _member, _whole

    path = AttrPath.from_pointer(pointer)
    was = jsonpointer.resolve_pointer(before, pointer, None)
    now = jsonpointer.resolve_pointer(after, pointer, None)
    if path is None:  # a whole extension
        urn = pointer[1:].replace("~1", "/").replace("~0", "~")
        for attr in _differing(was, now):
            yield from _whole(AttrPath(urn, attr), _member(was, attr), _member(now, attr))
    elif pointer.count("/") == (1 if path.urn == CORE_USER else 2):  # the attribute itself
        yield from _whole(path, was, now)
    else:
        yield path.summary


_ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
_small = st.one_of(  # a rendered resource holds no null; True and 1, 5 and 5.0 are not the same JSON
    st.sampled_from(["a", "b", "Ada"]), st.booleans(), st.sampled_from([0, 1, 5, 5.0, 1.0])
)
_resources = st.fixed_dictionaries(
    {},
    optional={
        "schemas": st.lists(
            st.sampled_from(["urn:ietf:params:scim:schemas:core:2.0:User", _ENTERPRISE]), max_size=2
        ),
        "title": _small,
        "nickName": _small,
        "name": st.dictionaries(st.sampled_from(["givenName", "familyName"]), _small, max_size=2),
        "emails": st.lists(
            st.fixed_dictionaries({"value": _small}, optional={"type": st.sampled_from(["work", "home"])}),
            max_size=2,
        ),
        _ENTERPRISE: st.dictionaries(
            st.sampled_from(["department", "costCenter", "manager"]),
            st.one_of(_small, st.fixed_dictionaries({}, optional={"value": _small})),
            max_size=3,
        ),
    },
)


@given(_resources, _resources)
@settings(max_examples=300)
def test_review_names_the_attributes_a_json_patch_touches(
    before: dict[str, Any], after: dict[str, Any]
) -> None:
    from mapper.tools.impact import changed_attributes

    assert changed_attributes(before, after) == _changed_by_json_patch(before, after)


_values = st.one_of(
    st.none(), _small, st.lists(_small, max_size=2), st.dictionaries(st.sampled_from("xy"), _small)
)


@given(
    st.one_of(st.none(), st.dictionaries(st.sampled_from("abcd"), _values)),
    st.one_of(st.none(), st.dictionaries(st.sampled_from("abcd"), _values)),
)
def test_the_differing_keys_are_those_whose_json_differs(was: Any, now: Any) -> None:
    """review's key comparison (strings compared inline) against its plain definition: a
    missing object has no keys, a missing key reads as null."""
    from mapper.tools.impact import _differing, _member, same_json

    keys = [*(was if isinstance(was, dict) else ()), *(now if isinstance(now, dict) else ())]
    expected = [k for k in dict.fromkeys(keys) if not same_json(_member(was, k), _member(now, k))]
    assert _differing(was, now) == expected
