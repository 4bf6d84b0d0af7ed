"""``mapper fmt``: ruleset files rewritten in the canonical layout (the layout itself is
:mod:`mapper.language.unparse`), or checked and diffed without writing."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

from mapper.errors import ExitCode, RulesetError
from mapper.language.resources import read_ruleset_file, rulesets_in
from mapper.language.unparse import format_text
from mapper.tools.files import write_atomically

# ---------------------------------------------------------------- files on disk


@dataclass
class RunOutcome:
    """What ``mapper fmt`` prints (diffs on standard output, messages on standard error) and the exit
    code it ends with."""

    output: str = ""  # diffs, for standard output
    messages: list[str] = field(default_factory=list)  # one line each, for standard error
    exit_code: ExitCode = ExitCode.OK


def ruleset_files(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The .mapper files PATHS name (folders searched recursively), and problems with PATHS."""
    files: list[Path] = []
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            files.extend(rulesets_in(path))
        elif path.is_file():
            files.append(path)
        else:
            problems.append(f"mapper: {path}: no such file or folder")
    return files, problems


def run(paths: list[Path], write: bool, diff: bool) -> RunOutcome:
    """Format files: write them (WRITE), or report (and with DIFF show) what would change."""
    outcome = RunOutcome()
    files, outcome.messages = ruleset_files(paths)
    failed = bool(outcome.messages)
    changed = unchanged = 0
    for path in files:
        try:
            text = read_ruleset_file(path)
        except RulesetError as exc:
            outcome.messages.append(f"mapper: {exc.diagnostics[0].message}")
            failed = True
            continue
        formatted, errors = format_text(text, str(path))
        if formatted is None:
            outcome.messages.extend(d.format() for d in errors)
            failed = True
            continue
        if formatted == text:
            unchanged += 1
            continue
        changed += 1
        if diff:
            outcome.output += "".join(
                difflib.unified_diff(
                    text.splitlines(keepends=True),
                    formatted.splitlines(keepends=True),
                    str(path),
                    f"{path} (formatted)",
                )
            )
        if write:
            try:
                write_atomically(path, formatted)
            except OSError as exc:
                reason = exc.strerror.lower() if exc.strerror else str(exc)
                outcome.messages.append(f"mapper: {path}: not reformatted: {reason}")
                failed = True
                continue
            outcome.messages.append(f"reformatted {path}")
        elif not diff:
            outcome.messages.append(f"would reformat {path}")
    verb = "reformatted" if write else "would be reformatted"
    outcome.messages.append(
        f"{changed} file{'s' if changed != 1 else ''} {verb}, {unchanged} file{'s' if unchanged != 1 else ''} left unchanged"
    )
    outcome.exit_code = (
        ExitCode.USAGE if failed else ExitCode.FAILED if changed and not write else ExitCode.OK
    )
    return outcome
