"""Collecting diagnostics while checking, and "did you mean" suggestions."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from mapper.errors import Diagnostic, Severity, Span, source_lines


class Reporter:
    """Collects every diagnostic of a load, with the source line of each."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self._lines: dict[str, list[str]] = {}

    def add_source(self, path: str, text: str) -> None:
        self._lines[path] = source_lines(text)

    def _line(self, span: Span | None) -> str:
        if span is None:
            return ""
        lines = self._lines.get(span.file, [])
        return lines[span.line - 1] if 0 < span.line <= len(lines) else ""

    def error(self, span: Span | None, message: str, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic(Severity.ERROR, message, span, self._line(span), hint))

    def warning(self, span: Span | None, message: str, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic(Severity.WARNING, message, span, self._line(span), hint))

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics.extend(diagnostics)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.diagnostics)


def same_but_case(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate that differs from NAME only in capitalisation, if any."""
    lowered = name.lower()
    for candidate in candidates:
        if candidate != name and candidate.lower() == lowered:
            return candidate
    return None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A hint naming the closest candidate, or an empty string."""
    pool = list(candidates)
    exact_case = same_but_case(name, pool)
    if exact_case:
        return f"did you mean `{exact_case}`?"
    by_lower = {c.lower(): c for c in pool}
    close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
    return f"did you mean `{by_lower[close[0]]}`?" if close else ""
