"""``mapper check``: the diagnostics of many rulesets, for people, for tools, for GitHub."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from mapper.core.plan import Inverse
from mapper.errors import Diagnostic, RulesetError, Severity
from mapper.language.resources import RULESET_SUFFIX, rulesets_in
from mapper.markup import visible
from mapper.runtime.ruleset import Ruleset, load

if TYPE_CHECKING:
    from mapper.runtime.app_schema import AppSchemas


@dataclass(frozen=True)
class CheckResult:
    """One ruleset's check: its diagnostics, and its number of rules (None when it did not load or
    the app would refuse it)."""

    name: str
    diagnostics: tuple[Diagnostic, ...]
    rules: int | None  # None when the ruleset did not load
    inbound: tuple[str, ...] = ()  # how the rules stand in the inbound direction: a summary, then details

    def failed(self, strict: bool) -> bool:
        """Whether the check fails: the ruleset did not load (or the app would refuse it) or, when STRICT,
        it has any diagnostic."""
        return self.rules is None or (strict and bool(self.diagnostics))


def expand(references: list[str]) -> list[str]:
    """Rulesets to check: files and built-in names as given, folders as the .mapper files in
    them (sorted); a folder that holds none stays, for check_one to report."""
    names: list[str] = []
    for reference in references:
        path = Path(reference)
        found = [str(p) for p in rulesets_in(path)] if path.is_dir() else []
        names.extend(found or [reference])
    return names


def check_one(name: str, app: AppSchemas | None = None) -> CheckResult:
    """NAME's diagnostics; with APP (the app's SCIM discovery), also what the app would refuse."""
    if Path(name).is_dir():
        problem = f"{name}: no ruleset files ({RULESET_SUFFIX}) in this folder"
        return CheckResult(name, (Diagnostic(Severity.ERROR, problem, None),), None)
    try:
        ruleset = load(name, cache=False)  # a check runs the checker, always
    except RulesetError as exc:
        return CheckResult(name, exc.diagnostics, None)
    inbound = inbound_summary(ruleset)
    if app is None:
        return CheckResult(name, ruleset.warnings, len(ruleset.rules), inbound)
    from mapper.runtime.app_schema import check_app_schema

    found = check_app_schema(ruleset, app)
    diagnostics = sorted(
        (*ruleset.warnings, *found), key=lambda d: (d.span.line, d.span.col) if d.span else (0, 0)
    )
    if any(d.is_error for d in found):
        return CheckResult(name, tuple(diagnostics), None)
    return CheckResult(name, tuple(diagnostics), len(ruleset.rules), inbound)


def inbound_summary(ruleset: Ruleset) -> tuple[str, ...]:
    """How RULESET's rules stand in the inbound direction: a line of counts, then a line per rule
    (``file:line: derived user.title <- appuser.title``, ``... not invertible: a constant``)."""
    plan = ruleset.plan
    counts = Counter(i.kind for i in plan.inversions)
    declared = sum(1 for r in plan.inbound if r.derived_from is None)
    summary = (
        f"inbound: {len(plan.inbound)} rule{'' if len(plan.inbound) == 1 else 's'} "
        f"({counts[Inverse.DERIVED]} derived, {declared} declared); "
        f"{counts[Inverse.NOT_INVERTIBLE]} outbound not invertible"
    )
    lines = [summary]
    for rule, inversion in zip(plan.rules, plan.inversions, strict=True):
        where = f"{rule.span.file}:{rule.span.line}"
        lines.append(f"{where}: {rule.target.path}: {inversion.kind.value}: {inversion.detail}")
    for inbound in plan.inbound:
        if inbound.derived_from is None:
            lines.append(f"{inbound.span.file}:{inbound.span.line}: user.{inbound.attr}: declared")
    return tuple(lines)


def render(results: list[CheckResult], output_format: str, strict: bool, inbound: bool = False) -> str:
    """RESULTS in OUTPUT_FORMAT: text (the diagnostics, then a line per ruleset; with INBOUND, how
    each rule stands in the inbound direction), json, or GitHub workflow commands (github);
    STRICT reports warnings as errors."""
    diagnostics = [_strict(d, strict) for r in results for d in r.diagnostics]
    if output_format == "json":
        return json.dumps([_as_json(d) for d in diagnostics], indent=2, ensure_ascii=False) + "\n"
    if output_format == "github":
        return "".join(_annotation(d) + "\n" for d in diagnostics)
    lines: list[str] = []
    for result in results:
        shown = [_strict(d, strict) for d in result.diagnostics]
        lines.extend(d.format() for d in shown)
        errors = sum(1 for d in shown if d.is_error)
        warnings = len(shown) - errors
        if result.rules is None or errors:
            lines.append(f"{result.name}: {errors} error{'s' if errors != 1 else ''}")
        else:
            note = f", {warnings} warning{'s' if warnings != 1 else ''}" if warnings else ""
            lines.append(f"{result.name}: ok, {result.rules} rule{'' if result.rules == 1 else 's'}{note}")
            if result.inbound:
                lines.append(f"  {result.inbound[0]}")
                if inbound:
                    lines.extend(f"    {visible(line)}" for line in result.inbound[1:])
    return "\n".join(lines) + "\n"


def _strict(diagnostic: Diagnostic, strict: bool) -> Diagnostic:
    return replace(diagnostic, severity=Severity.ERROR) if strict else diagnostic


def _as_json(d: Diagnostic) -> dict[str, object]:
    span = d.span
    return {
        "file": span.file if span else None,
        "line": span.line if span else None,
        "column": span.col if span else None,
        "end_line": span.end_line if span else None,
        "end_column": span.end_col if span else None,
        "severity": d.severity.value,
        "message": d.message,
        "hint": d.hint or None,
    }


def _escape_data(text: str) -> str:
    """TEXT for a workflow command: GitHub's escapes, and every other control character (an
    app's schema id may hold ESC or BEL) written as visible text, never sent to a terminal."""
    return visible(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotation(d: Diagnostic) -> str:
    """A GitHub Actions workflow command, so the problem shows on the pull request's line."""
    level = "error" if d.is_error else "warning"
    message = d.message + (f" ({d.hint})" if d.hint else "")
    if d.span is None:
        return f"::{level} title=mapper check::{_escape_data(message)}"
    s = d.span
    properties = f"file={_escape_property(s.file)},line={s.line},col={s.col}"
    if s.end_line == s.line:
        properties += f",endLine={s.end_line},endColumn={s.end_col}"
    return f"::{level} {properties},title=mapper check::{_escape_data(message)}"
