"""Collecting diagnostics while checking, and "did you mean" suggestions."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable

from mapper.errors import MAX_DIAGNOSTICS_PER_FILE, Diagnostic, Severity, Span, source_lines

#: A hint, or a function that computes one: suggestions cost a fuzzy search, made only
#: for the diagnostics a report will show.
Hint = str | Callable[[], str]


class Reporter:
    """Collects every diagnostic of a load, with the source line of each."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self._lines: dict[str, list[str]] = {}
        self._counts: dict[tuple[str, Severity], int] = {}

    def add_source(self, path: str, text: str) -> None:
        """Keep the lines of the file PATH, so that its diagnostics show their source line."""
        self._lines[path] = source_lines(text)

    def _line(self, span: Span | None) -> str:
        if span is None:
            return ""
        lines = self._lines.get(span.file, [])
        return lines[span.line - 1] if 0 < span.line <= len(lines) else ""

    def _add(self, severity: Severity, span: Span | None, message: str, hint: Hint) -> None:
        key = (span.file if span else "", severity)
        count = self._counts[key] = self._counts.get(key, 0) + 1
        if not isinstance(hint, str):
            # Past the number a report shows (errors.capped), nobody reads the hint.
            hint = hint() if count <= MAX_DIAGNOSTICS_PER_FILE else ""
        self.diagnostics.append(Diagnostic(severity, message, span, self._line(span), hint))

    def error(self, span: Span | None, message: str, hint: Hint = "") -> None:
        """Report an error at SPAN; HINT may be a function, called only for a diagnostic that is shown."""
        self._add(Severity.ERROR, span, message, hint)

    def warning(self, span: Span | None, message: str, hint: Hint = "") -> None:
        """Report a warning at SPAN; HINT may be a function, called only for a diagnostic that is shown."""
        self._add(Severity.WARNING, span, message, hint)

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        """Add DIAGNOSTICS found elsewhere, as they are."""
        self.diagnostics.extend(diagnostics)

    @property
    def has_errors(self) -> bool:
        """Whether any diagnostic so far is an error."""
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
