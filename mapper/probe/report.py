"""A probe's report for people (one line per check, then the verdict) and as JSON."""

from __future__ import annotations

import json

from mapper.markup import visible
from mapper.probe.checks import Check, Report

_MARKS = {True: "ok  ", False: "FAIL", None: "skip"}


def check_line(check: Check) -> str:
    """One check as the text report prints it: its mark, its name and its detail."""
    return f"{_MARKS[check.ok]}  {check.name:<34} {visible(check.detail)}".rstrip()


def verdict(report: Report, sync_command: str = "mapper sync") -> list[str]:
    """The lines that end the text report: the style to use, or why there is none."""
    if not report.connected:
        return ["verdict: no connection to the app; nothing else was tried"]
    failed = [c for c in report.checks if c.ok is False and not c.name.startswith("crud.")]
    lines = []
    if report.style is None and not report.tried:
        lines.append("verdict: no update style could be tried (see the failed checks above)")
    elif report.style is None:
        tried = ", ".join(str(s) for s in report.tried)
        lines.append(f"verdict: no update style works on this app ({tried} tried): a sync would lose updates")
    else:
        lines.append(
            f"verdict: use {sync_command} --style {report.style} (the first style the app applied exactly)"
        )
    if failed:
        lines.append(f"also: {len(failed)} other check{'s' if len(failed) != 1 else ''} failed: "
                     + ", ".join(c.name for c in failed))  # fmt: skip
    if report.left_in_app and report.user_id is not None:
        lines.append(f"the probe's user {visible(report.user_id)} ({report.user_name}) is still in the app")
    return lines


def as_json(report: Report) -> str:
    """The report as ``--format json`` prints it, one document."""
    return json.dumps(report.as_json(), ensure_ascii=False, indent=2) + "\n"
