"""The command line: output, exit codes (0 ok, 1 bad data, 2 bad ruleset or
usage), and one clear line per problem, never a traceback or half a document."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mapper.cli.main import main
from tests.conftest import ROOT

EXAMPLE = str(ROOT / "examples" / "ada.json")


def run(*args: str, input: str | bytes | None = None) -> Result:
    result = CliRunner().invoke(main, list(args), input=input)
    assert "Traceback" not in result.output + result.stderr
    return result


def test_render_example_with_the_default_ruleset() -> None:
    result = run("render", EXAMPLE)
    assert result.exit_code == 0, result.stderr
    resource = json.loads(result.stdout)
    assert resource["userName"] == "ada.lovelace@example.com"
    assert resource["externalId"] == "00u1a2b3c4d5e6f7g8h9"
    assert result.stdout.startswith('{\n  "schemas"')


def test_render_compact_validate_and_named_ruleset() -> None:
    result = run("render", "--compact", "--validate", "-r", "appspace", EXAMPLE)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("\n") == 1
    assert json.loads(result.stdout)["urn:ietf:params:scim:schemas:extension:appspace:2.0:User"] == {
        "costCenter": "CC-1815",
        "employeeNumber": "1815",
    }


def test_render_several_profiles_prints_an_array_in_order(tmp_path: Path) -> None:
    other = tmp_path / "b.json"
    other.write_text('{"login": "b@example.com"}')
    result = run("render", EXAMPLE, str(other))
    assert result.exit_code == 0
    assert [r["userName"] for r in json.loads(result.stdout)] == ["ada.lovelace@example.com", "b@example.com"]


def test_render_reads_stdin() -> None:
    result = run("render", "-", input='{"login": "s@example.com"}')
    assert result.exit_code == 0
    assert json.loads(result.stdout)["userName"] == "s@example.com"


def test_render_with_a_ruleset_file(tmp_path: Path) -> None:
    ruleset = tmp_path / "mine.mapper"
    ruleset.write_text('ruleset mine extends okta-default\ntitle <- user.title ?: "Staff"\n')
    result = run("render", "-r", str(ruleset), EXAMPLE)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["title"] == "Analyst"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{", "mapper: {name}:1:2: invalid JSON: Expecting property name enclosed in double quotes"),
        (b"", "mapper: {name}: empty input, expected a JSON object"),
        (b"\xff\xfe{}", "mapper: {name}: not UTF-8 text (byte 0)"),
        (b"[1]", "mapper: {name}: expected a JSON object (an Okta profile or Users API user), got an array"),
        (b'{"login": NaN}', "mapper: {name}: invalid JSON: NaN is not a JSON number"),
        (b'{"login": 1}', "mapper: {name}: profile attribute 'login': expected a string, got a number"),
        (
            b'{"title": "x"}',
            "mapper: {name}: profile attribute 'login' for SCIM attribute 'userName': has no value, but RFC 7643 requires one",
        ),
    ],
)
def test_bad_profiles_exit_1_with_one_line_and_no_output(
    tmp_path: Path, content: bytes, message: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    result = run("render", EXAMPLE, str(bad))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [message.format(name=bad)]


@pytest.mark.parametrize(
    ("path", "why", "code"),
    [
        ("missing.json", "no such file", 2),
        (".", "no profile files (.json, .jsonl, .ndjson) in this folder", 1),
    ],
)
def test_unreadable_profile_files(tmp_path: Path, path: str, why: str, code: int) -> None:
    target = str(tmp_path / path) if path != "." else str(tmp_path)
    result = run("render", target)
    assert result.exit_code == code  # a file that cannot be opened is 2; a folder without profiles, data
    assert result.stderr.strip() == f"mapper: {target}: {why}"


def test_every_bad_profile_is_reported(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.json").write_text('{"login": 3}')
    result = run("render", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 2


def test_validate_failure_exits_1(tmp_path: Path) -> None:
    ruleset = tmp_path / "bad.mapper"
    ruleset.write_text('ruleset bad\nuserName <- user.login\nemails[type eq "work"].value <- user.title\n')
    profile = tmp_path / "p.json"
    profile.write_text('{"login": "a", "title": "not an email"}')
    result = run("render", "--validate", "-r", str(ruleset), str(profile))
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(
        f"mapper: {profile}: invalid SCIM: emails.0.value: value is not a valid email address"
    )


def test_ruleset_errors_exit_2_with_positions(tmp_path: Path) -> None:
    ruleset = tmp_path / "bad.mapper"
    ruleset.write_text("ruleset bad\nuserName <- user.login\ntitel <- user.title\n")
    result = run("render", "-r", str(ruleset), EXAMPLE)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines()[0] == f"{ruleset}:3:1: error: unknown attribute 'titel' in User"


def test_unknown_ruleset_name_exits_2() -> None:
    result = run("render", "-r", "nope", EXAMPLE)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "mapper: no ruleset file or built-in ruleset named 'nope' (built-ins: appspace, enterprise, okta-default)"
    ]


def test_check_reports_warnings_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.mapper"
    good.write_text("ruleset good\nuserName <- user.login\ntitle <- user.titel\n")
    bad = tmp_path / "bad.mapper"
    bad.write_text("ruleset bad\ntitle <- user.title\n")
    ok = run("check", str(good), "okta-default")
    assert ok.exit_code == 0
    assert f"{good}:3:10: warning: user.titel is not an Okta base profile attribute" in ok.stdout
    summaries = [line for line in ok.stdout.splitlines() if not line.startswith(" ")]
    assert summaries[-2:] == [f"{good}: ok, 2 rules, 1 warning", "okta-default: ok, 11 rules"]
    failed = run("check", str(good), str(bad))
    assert failed.exit_code == 2
    assert failed.stdout.splitlines()[-1] == f"{bad}: 1 error"


@pytest.mark.parametrize(
    ("content", "why"),
    [(None, "no such file"), (b"\xff", "is not UTF-8 text (byte 0)")],
)
def test_check_unreadable_ruleset(tmp_path: Path, content: bytes | None, why: str) -> None:
    path = tmp_path / "r.mapper"
    if content is not None:
        path.write_bytes(content)
    result = run("check", str(path))
    assert result.exit_code == 2
    assert result.stdout.splitlines()[0] == f"mapper: {path}: {why}"


def test_compile_prints_the_generated_source() -> None:
    result = run("compile", "okta-default")
    assert result.exit_code == 0
    assert result.stdout.startswith("# Generated by mapper from ruleset okta-default: render")
    compile(result.stdout, "<test>", "exec")


@pytest.mark.parametrize("command", [[], ["render"], ["check"], ["compile"], ["diff"]])
def test_help_is_there_for_everything(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0 and "Usage: " in result.stdout


def test_usage_errors_exit_2() -> None:
    assert run("render").exit_code == 2
    assert run("render", "--bogus", EXAMPLE).exit_code == 2


def test_real_process_exit_codes_and_broken_pipe() -> None:
    command = [sys.executable, "-m", "mapper.cli"]
    ok = subprocess.run([*command, "render", EXAMPLE], capture_output=True, text=True, check=False)
    assert ok.returncode == 0 and json.loads(ok.stdout)["userName"]
    bad = subprocess.run([*command, "render", "-"], input="{", capture_output=True, text=True, check=False)
    assert bad.returncode == 1 and bad.stdout == "" and "Traceback" not in bad.stderr
    # A reader that goes away early: at most one line on stderr, never a traceback.
    # (Whether the kernel reports the closed pipe depends on its buffering.)
    piped = subprocess.run(
        f"{sys.executable} -m mapper.cli render {' '.join([EXAMPLE] * 3000)} | head -c 10; exit ${{PIPESTATUS[0]}}",
        shell=True, executable="/bin/bash", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert piped.returncode in (0, 3) and "Traceback" not in piped.stderr
    if piped.returncode == 3:
        assert piped.stderr.splitlines() == [
            "mapper: the output was closed before all of it was written (broken pipe)"
        ]


def test_broken_pipe_is_one_line_and_exit_code_3(monkeypatch: pytest.MonkeyPatch) -> None:
    from mapper.cli import common as cli

    class ClosedPipe:
        def write(self, data: bytes) -> int:
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    class Stdout:
        buffer = ClosedPipe()

        def fileno(self) -> int:
            raise ValueError("no descriptor in this test")

        def flush(self) -> None:
            pass

    monkeypatch.setattr(sys, "stdout", Stdout())
    with pytest.raises(cli.CommandFailure) as caught:
        cli.write_stdout("{}")
    assert caught.value.code == 3
    assert caught.value.lines == ["mapper: the output was closed before all of it was written (broken pipe)"]


def _mapper(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    script = [sys.executable, "-c", "from mapper.cli.main import main; main()"]
    return subprocess.run([*script, *args], capture_output=True, timeout=120, check=False, **kwargs)


def test_a_reader_that_leaves_early_is_exit_code_3(tmp_path: Path) -> None:
    # 3,000 profiles into `| head -c1`: a short write, then the pipe refuses the rest.
    profiles = []
    for i in range(3000):
        path = tmp_path / f"p{i}.json"
        path.write_text(json.dumps({"login": f"u{i}@example.com", "title": "T" * 100}))
        profiles.append(str(path))
    script = [sys.executable, "-c", "from mapper.cli.main import main; main()", "render", *profiles]
    with subprocess.Popen(script, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        process.stdout.read(1)
        process.stdout.close()
        errors = process.stderr.read().decode()
        code = process.wait(timeout=120)
    assert code == 3, errors
    assert errors == "mapper: the output was closed before all of it was written (broken pipe)\n"


def test_closed_standard_streams_are_one_line(tmp_path: Path) -> None:
    import os

    profile = tmp_path / "p.json"
    profile.write_text('{"login": "a@example.com"}')
    closed_in = _mapper("render", "-", stdin=None, preexec_fn=lambda: os.close(0))
    assert closed_in.returncode == 2
    assert closed_in.stderr.decode() == "mapper: <stdin>: standard input is closed\n"
    closed_out = _mapper("render", str(profile), preexec_fn=lambda: os.close(1))
    assert closed_out.returncode == 3
    assert closed_out.stderr.decode() == "mapper: the output is closed (standard output is not open)\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"login": "a@example.com", "title": "A", "title": "B"}',
         "mapper: {name}: invalid JSON: the key 'title' appears twice in one object"),
        (b'{"login": "a@example.com", "title": "\\ud800"}',
         "mapper: {name}: invalid JSON: a string holds a lone surrogate (such as \\ud800), not Unicode text"),
    ],
)  # fmt: skip
def test_ambiguous_or_unencodable_input(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "p.json"
    path.write_bytes(content)
    result = run("render", str(path))
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [message.format(name=path)]


def test_show_values(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"login": "a@example.com", "title": 42}')
    hidden = run("render", str(path))
    assert (
        hidden.stderr.strip() == f"mapper: {path}: profile attribute 'title': expected a string, got a number"
    )
    shown = run("render", "--show-values", str(path))
    assert (
        shown.stderr.strip()
        == f"mapper: {path}: profile attribute 'title': expected a string, got a number (value: 42)"
    )
    old = tmp_path / "old.json"
    old.write_text('{"login": "a@example.com"}')
    long_value = tmp_path / "long.json"
    long_value.write_text(json.dumps({"login": "a@example.com", "title": ["x" * 200]}))
    diffed = run("diff", "--show-values", str(old), str(long_value))
    assert diffed.exit_code == 1
    assert diffed.stderr.strip().endswith('(value: ["' + "x" * 75 + "...)")


def test_diff_prints_the_patch_request(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    old.write_text('{"id": "00u1", "status": "ACTIVE", "profile": {"login": "a@example.com", "title": "T"}}')
    result = run(
        "diff",
        str(old),
        "-",
        input='{"id": "00u1", "status": "DEPROVISIONED", "profile": {"login": "a@example.com"}}',
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "remove", "path": "title"},
            {"op": "replace", "path": "active", "value": False},
        ],
    }
    for style in ("rfc", "no-path"):
        unchanged = run("diff", "--style", style, "--compact", str(old), str(old))
        assert unchanged.exit_code == 0
        assert unchanged.stdout == ""  # no request: RFC 7644 wants one or more operations
        assert (
            unchanged.stderr
            == "mapper: no change: nothing the ruleset maps differs, so there is no request\n"
        )


def test_diff_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    good.write_text('{"login": "a@example.com"}')
    bad = tmp_path / "bad.json"
    bad.write_text('{"login": 1}')
    result = run("diff", str(good), str(bad))
    assert result.exit_code == 1 and result.stdout == ""
    assert (
        result.stderr.strip()
        == f"mapper: {good} -> {bad}: profile attribute 'login': expected a string, got a number"
    )
    missing = run("diff", str(tmp_path / "nope.json"), str(tmp_path / "nope2.json"))
    assert missing.exit_code == 2 and len(missing.stderr.splitlines()) == 2
    assert run("diff", "--style", "json", str(good), str(good)).exit_code == 2


def test_an_internal_error_is_one_line_and_exit_code_70(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(ruleset: str, cache: bool = True) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("mapper.runtime.ruleset.load", broken)
    result = run("compile", "okta-default")
    assert result.exit_code == 70
    assert result.stderr.splitlines() == ["mapper: internal error (RuntimeError: boom); please report it"]


# ---------------------------------------------------------------- issue 8: what a new user hit


@pytest.fixture
def nickname_typo(tmp_path: Path) -> Path:
    path = tmp_path / "typo.mapper"
    path.write_text("ruleset typo extends okta-default\nnickName <- user.nickname\n")
    return path


@pytest.mark.parametrize(
    "command",
    [["render", "-r", "{r}", "{p}"], ["diff", "-r", "{r}", "{p}", "{p}"], ["explain", "{r}"], ["compile", "{r}"],
     ["review", "okta-default", "{r}"]],
    ids=["render", "diff", "explain", "compile", "review"],
)  # fmt: skip
def test_commands_that_load_a_ruleset_print_its_warnings(
    nickname_typo: Path, tmp_path: Path, command: list[str]
) -> None:
    profile = tmp_path / "p.json"
    profile.write_text('{"login": "a@example.com", "nickName": "Ada"}')
    args = [a.format(r=nickname_typo, p=profile) for a in command]
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if ": warning: " in line]
    assert warnings == [
        f"{nickname_typo}:2:13: warning: user.nickname differs only in case from user.nickName"
    ]
    quiet = run(*args, "--quiet")
    assert quiet.exit_code == 0 and "warning" not in quiet.stderr


def test_test_prints_the_warnings_of_the_rulesets_it_runs(nickname_typo: Path) -> None:
    nickname_typo.with_name("typo.examples.json").write_text(
        '{"examples": [{"name": "a", "user": {"login": "a@example.com"}, "error": "x"}]}'
    )
    result = run("test", str(nickname_typo.parent))
    assert "warning: user.nickname differs only in case from user.nickName" in result.stderr
    assert "warning" not in run("test", "--quiet", str(nickname_typo.parent)).stderr


SENTINEL = "SENTINEL-123-45-6789"


def _sentinel_cases(tmp_path: Path) -> list[tuple[list[str], str]]:
    """Every way a profile can fail in render, render --validate and diff, each with the sentinel
    as the offending value."""
    ruleset = tmp_path / "s.mapper"
    ruleset.write_text(
        "ruleset s\nuserName <- user.login\nprofileUrl <- user.title\n"
        "profile {\n  n: integer\n  tags: integer[]\n}\n"
        'schema x = "urn:example:s:2.0:User" {\n  i: integer\n  t: integer[]\n}\n'
        "x:i <- Convert.toInt(user.nickName) + user.n\nx:t <- user.tags\n"
    )
    cases = {
        "wrong-type": {"login": "a@example.com", "n": SENTINEL},
        "array-entry": {"login": "a@example.com", "tags": [SENTINEL]},
        "conversion": {"login": "a@example.com", "nickName": SENTINEL},
        "too-long": {"login": "a@example.com", "nickName": SENTINEL * 600},
        "invalid-uri": {"login": "a@example.com", "title": f"ssn {SENTINEL}"},
        "login-type": {"login": [SENTINEL]},
    }
    good = tmp_path / "good.json"
    good.write_text('{"login": "a@example.com"}')
    commands = []
    for name, profile in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(profile))
        commands.append((["render", "-r", str(ruleset), "--validate", str(path)], name))
        if name != "invalid-uri":  # diff does not validate
            commands.append((["diff", "-r", str(ruleset), str(good), str(path)], name))
    return commands


def test_no_error_prints_a_profile_value_unless_asked(tmp_path: Path) -> None:
    for args, name in _sentinel_cases(tmp_path):
        result = run(*args)
        assert result.exit_code == 1, (name, result.stdout, result.stderr)
        assert SENTINEL not in result.stdout + result.stderr, (name, result.stderr)
        shown = run(*args, "--show-values")
        assert shown.exit_code == 1
        if name != "too-long":
            assert SENTINEL in shown.stderr, (name, shown.stderr)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"Profile": {"login": "a@example.com"}}, "one object-valued member 'Profile'"),
        ({"data": {"login": "a@example.com"}, "count": 1}, "one object-valued member 'data'"),
        ({"profile": "x"}, "its 'profile' is a string"),
        ({"profile": ["x"], "id": "00u1"}, "its 'profile' is an array"),
    ],
)
def test_an_unrecognised_wrapper_says_what_was_expected(
    tmp_path: Path, document: object, message: str
) -> None:
    path = tmp_path / "w.json"
    path.write_text(json.dumps(document))
    result = run("render", str(path))
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"mapper: {path}: expected an Okta") and message in line


def test_check_takes_folders(tmp_path: Path) -> None:
    (tmp_path / "a.mapper").write_text("ruleset a\nuserName <- user.login\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.mapper").write_text("ruleset b extends okta-default\n")
    result = run("check", str(tmp_path), "okta-default")
    assert result.exit_code == 0, result.stdout
    assert result.stdout.splitlines() == [
        f"{tmp_path / 'a.mapper'}: ok, 1 rule",
        "  inbound: 1 rule (1 derived, 0 declared); 0 outbound not invertible",
        f"{tmp_path / 'sub' / 'b.mapper'}: ok, 11 rules",
        "  inbound: 9 rules (9 derived, 0 declared); 2 outbound not invertible",
        "okta-default: ok, 11 rules",
        "  inbound: 9 rules (9 derived, 0 declared); 2 outbound not invertible",
    ]


def test_compact_output_is_json_lines(tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        path = tmp_path / f"p{i}.json"
        path.write_text(json.dumps({"login": f"u{i}@example.com"}))
        paths.append(str(path))
    result = run("render", "--compact", *paths)
    lines = result.stdout.splitlines()
    assert [json.loads(line)["userName"] for line in lines] == [
        "u0@example.com",
        "u1@example.com",
        "u2@example.com",
    ]
    one = run("render", "--compact", paths[0])
    assert len(one.stdout.splitlines()) == 1


def test_help_lists_every_exit_code() -> None:
    text = " ".join(run("--help").stdout.split())
    for code in (
        "0 success",
        "1 bad data",
        "2 a bad ruleset",
        "3 the output",
        "70 an internal error",
        "130 interrupted",
    ):
        assert code in text


def test_cli_constants_match_the_modules() -> None:
    from mapper.cli import common as cli
    from mapper.sync.decide import Match
    from mapper.tools import explain

    assert cli.STYLES == ("rfc", "no-path", "whole-multivalued", "put")
    assert cli.EXPLAIN_FORMATS == explain.FORMATS
    assert tuple(sorted(m.value for m in Match)) == cli.MATCHES


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["render", "--help"]])
def test_help_and_version_import_nothing_heavy(args: list[str]) -> None:
    code = (
        "import sys\nfrom mapper.cli.main import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('lark', 're2', 'pydantic', 'scim2_models', 'jsonpatch') or m in "
        "('mapper.runtime.ruleset', 'mapper.language.syntax', 'mapper.compiler.codegen', 'mapper.language.check'))\n"
        "print(heavy, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.stderr.strip().splitlines()[-1] == "[]"


def test_diff_put_starts_from_the_current_resource(tmp_path: Path) -> None:
    old, new, current = tmp_path / "old.json", tmp_path / "new.json", tmp_path / "current.json"
    old.write_text('{"login": "a@example.com", "title": "T"}')
    new.write_text('{"login": "a@example.com", "title": "U"}')
    current.write_text(
        json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "42", "userName": "a@example.com",
                    "title": "T", "nickName": "kept", "groups": [{"value": "g"}], "active": True})
    )  # fmt: skip
    result = run("diff", "--style", "put", "--current", str(current), str(old), str(new))
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["title"] == "U" and body["nickName"] == "kept" and body["id"] == "42" and body["groups"]
    unchanged = run("diff", "--style", "put", "--current", str(current), str(old), str(old))
    assert unchanged.stdout == "" and "no change" in unchanged.stderr
    without = run("diff", "--style", "put", str(old), str(new))
    assert without.exit_code == 2
    assert without.stderr.startswith("mapper: --style put needs --current RESOURCE")
