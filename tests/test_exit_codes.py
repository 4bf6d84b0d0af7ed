"""Every command, given input it cannot use, ends with a documented exit code (README: Exit
codes) and one line per problem: never exit 70 or a traceback (issue 20)."""

from __future__ import annotations

from pathlib import Path

import pytest

import mapper
from tests.support.cli import mapper_cli

DOCUMENTED = {1, 2, 3, 4, 5}


def _bad_inputs(tmp: Path) -> dict[str, list[str]]:
    missing = str(tmp / "missing.json")
    garbage = tmp / "garbage.json"
    garbage.write_text("{not json")
    empty = tmp / "empty"
    empty.mkdir()
    bad_ruleset = tmp / "bad.mapper"
    bad_ruleset.write_text("userName <- user.\n")
    return {
        "render missing": ["render", missing],
        "render garbage": ["render", str(garbage)],
        "render empty folder": ["render", str(empty), "-o", str(tmp / "o.jsonl")],
        "render bad ruleset": ["render", str(garbage), "-r", str(bad_ruleset)],
        "check missing": ["check", missing],
        "check bad": ["check", str(bad_ruleset)],
        "fmt missing": ["fmt", missing],
        "explain missing": ["explain", missing],
        "test missing": ["test", missing],
        "review missing": ["review", missing, "okta-default"],
        "diff missing": ["diff", missing, missing],
        "plan missing": ["plan", missing, missing],
        "compile bad": ["compile", str(bad_ruleset)],
        "import garbage": ["import", "okta", "--schema", str(garbage), "--mapping", str(garbage)],
        "export bad schema": ["export", "okta", "okta-default", "--schema", str(garbage)],
        "sync missing": ["sync", missing, "--to", "http://127.0.0.1:9"],
        "sync apply missing": ["sync", "--apply", missing, "--to", "http://127.0.0.1:9"],
        "unknown option": ["render", "--no-such-option"],
    }


CASES = ["render missing", "render garbage", "render empty folder", "render bad ruleset", "check missing",
         "check bad", "fmt missing", "explain missing", "test missing", "review missing", "diff missing",
         "plan missing", "compile bad", "import garbage", "export bad schema", "sync missing",
         "sync apply missing", "unknown option"]  # fmt: skip


def test_every_case_is_listed(tmp_path: Path) -> None:
    assert sorted(_bad_inputs(tmp_path)) == sorted(CASES)


@pytest.mark.parametrize("case", CASES)
def test_bad_input_has_a_documented_exit_code(tmp_path: Path, case: str) -> None:
    ran = mapper_cli(*_bad_inputs(tmp_path)[case], env={"SCIM_TOKEN": "test-token-1"})
    assert ran.returncode in DOCUMENTED, (case, ran.returncode, ran.stderr)
    assert "Traceback" not in ran.stderr and "internal error" not in ran.stderr
    assert (ran.stderr + ran.stdout).strip(), case  # check and test report on standard output


def test_a_saved_plan_nested_without_end_is_a_usage_error(tmp_path: Path) -> None:
    """A saved plan is read by the one JSON reader: a nesting bomb is one line, exit 2, never
    a RecursionError."""
    plan = tmp_path / "plan.json"
    plan.write_text("[" * 200_000 + "]" * 200_000)
    ran = mapper_cli(
        "sync", "--apply", str(plan), "--to", "http://127.0.0.1:9/scim/v2", env={"SCIM_TOKEN": "t"}
    )
    assert ran.returncode == 2, ran.stderr
    assert "nested more than" in ran.stderr and len(ran.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["render", "{missing}"],
        ["render", "{missing}l"],  # missing.jsonl: the JSON Lines path
        ["render", "{missing}", "{missing}l"],
        ["diff", "{missing}", "{missing}"],
        ["plan", "{missing}l", "{missing}l"],
        ["check", "{missing}"],
        ["fmt", "{missing}"],
        ["explain", "{missing}"],
        ["test", "{missing}"],
        ["review", "{missing}", "okta-default"],
        ["import", "okta", "--schema", "{missing}", "--mapping", "{missing}"],
        ["export", "okta", "okta-default", "--schema", "{missing}"],
        ["sync", "{missing}l", "--to", "http://127.0.0.1:9"],
        ["render", "{missing}l", "-o", "{folder}/out.jsonl"],
        ["render", "{missing}l", "--errors", "{folder}/errors.jsonl"],
        ["plan", "{missing}l", "{missing}l", "-o", "{folder}/plan.jsonl"],
    ],
    ids=lambda args: " ".join(
        a.replace("{missing}", "MISSING").replace("{folder}", "NOFOLDER") for a in args
    ),
)
def test_every_bad_path_is_exit_2_in_one_line_naming_it(tmp_path: Path, args: list[str]) -> None:
    """The README's rule: an input that cannot be opened, or an output into a folder that does
    not exist, is exit 2 with one line that names the path (never 1, never 70)."""
    missing, folder = str(tmp_path / "missing.json"), str(tmp_path / "no-such-folder")
    given = [a.replace("{missing}", missing).replace("{folder}", folder) for a in args]
    ran = mapper_cli(*given, env={"SCIM_TOKEN": "test-token-1"})
    said = (ran.stderr + ran.stdout).strip().splitlines()
    assert ran.returncode == 2, (args, ran.returncode, said)
    assert any("missing.json" in line or "no-such-folder" in line for line in said[:1]), said


def test_errors_a_worker_process_raises_reach_the_parent_whole() -> None:
    """Whole-export tools read and plan in worker processes; what a worker raises is pickled
    back to the parent, which reports it: message and exit code must survive (an error that
    cannot be rebuilt there left the pool waiting for ever)."""
    import pickle

    from mapper.cli.common import CommandFailure
    from mapper.core.jsonio import JsonInputError, RecordTooLarge
    from mapper.errors import ExitCode

    try:  # a render worker loads the ruleset again where it cannot be forked
        mapper.loads("ruleset t\nuserName <- user.nope(\n", "t.mapper")
    except mapper.RulesetError as exc:
        ruleset_error = exc
    for error in (
        CommandFailure(["mapper: old.jsonl: Input/output error"], ExitCode.USAGE),
        JsonInputError("new.jsonl:3:1", "invalid JSON: no value"),
        RecordTooLarge("new.jsonl:4", "the record is 17 MB"),
        ruleset_error,
    ):
        back = pickle.loads(pickle.dumps(error))
        assert (type(back), str(back), back.exit_code) == (type(error), str(error), error.exit_code)
    assert pickle.loads(pickle.dumps(ruleset_error)).diagnostics == ruleset_error.diagnostics
