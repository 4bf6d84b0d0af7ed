"""Error types and the rendering of diagnostics.

A ruleset problem is a :class:`Diagnostic` with a position; every problem found
in a load is collected and raised together as one :class:`RulesetError`. A
problem with a profile at render time is a :class:`ProfileError`, which names
the profile attribute (and the SCIM target) but never prints the value:
profiles are personal data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, IntEnum

from mapper.markup import terminal_line, visible

#: The most errors, and the most warnings, reported for one file; a count says how many more.
MAX_DIAGNOSTICS_PER_FILE = 100

#: Source lines longer than this are shown cut around the caret.
MAX_SHOWN_LINE = 100


class Severity(Enum):
    """How grave a diagnostic is: an error keeps the ruleset from loading, a warning does not."""

    ERROR = "error"
    WARNING = "warning"


def source_lines(text: str) -> list[str]:
    """TEXT's lines as the lexer counts them: only \\n ends a line (\\r before it is dropped),
    unlike str.splitlines, which also splits at form feeds and Unicode separators."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


@dataclass(frozen=True, slots=True)
class Span:
    """Where a construct sits in a ruleset file; lines and columns count from 1."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A problem found in a ruleset: severity, message and position, with the source line and a hint."""

    severity: Severity
    message: str
    span: Span | None
    source_line: str = ""
    hint: str = ""

    @property
    def is_error(self) -> bool:
        """Whether the diagnostic is an error (not a warning)."""
        return self.severity is Severity.ERROR

    def format(self) -> str:
        """``file:line:col: error: message``, the source line, a caret, a hint."""
        message = visible(self.message)  # names and strings from the file, on one line
        if self.span is None:  # a problem with a file as a whole, as the CLI's other problems read
            head = f"mapper: {message}" if self.is_error else f"mapper: warning: {message}"
        else:
            s = self.span
            head = f"{visible(s.file)}:{s.line}:{s.col}: {self.severity.value}: {message}"
        lines = [head]
        if self.span is not None and self.source_line:
            # expandtabs(1) and terminal_line both map one character to one, so the line is
            # cut first: a diagnostic on a 1 MB line costs its 100 shown characters, not 1 MB.
            text = self.source_line.expandtabs(1)
            start = self.span.col - 1
            if self.span.end_line == self.span.line and self.span.end_col > self.span.col:
                width = self.span.end_col - self.span.col
            else:
                width = 1
            if len(text) > MAX_SHOWN_LINE:
                # A long line is shown around the caret, so a report stays readable (and small).
                cut = max(0, min(start - MAX_SHOWN_LINE // 3, len(text) - MAX_SHOWN_LINE))
                before = "…" if cut > 0 else ""
                after = "…" if cut + MAX_SHOWN_LINE < len(text) else ""
                text = before + text[cut : cut + MAX_SHOWN_LINE] + after
                start = start - cut + len(before)
                width = min(width, len(text) - len(after) - start)
            width = max(1, min(width, len(text) - start))
            lines.append(f"    {terminal_line(text)}")
            lines.append("    " + " " * start + "^" * width)
        if self.hint:
            lines.append(f"    hint: {visible(self.hint)}")
        return "\n".join(lines)

    def one_line(self) -> str:
        """The head line only, for machine-readable listings."""
        return self.format().split("\n")[0]


def capped(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """The first MAX_DIAGNOSTICS_PER_FILE errors and warnings of each file, in order, each kind
    followed by one diagnostic that counts the rest: a file with 60,000 problems gives a
    readable report, not gigabytes."""
    kept: list[Diagnostic] = []
    seen: dict[tuple[str, Severity], int] = {}
    first_dropped: dict[tuple[str, Severity], Diagnostic] = {}
    for d in diagnostics:
        key = (d.span.file if d.span else "", d.severity)
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= MAX_DIAGNOSTICS_PER_FILE:
            kept.append(d)
        else:
            first_dropped.setdefault(key, d)
    for key, d in first_dropped.items():
        more = seen[key] - MAX_DIAGNOSTICS_PER_FILE
        kind = "error" if key[1] is Severity.ERROR else "warning"
        kept.append(
            Diagnostic(
                key[1],
                f"{more:,} more {kind}{'s' if more > 1 else ''} in this file not shown"
                f" (the first {MAX_DIAGNOSTICS_PER_FILE} are)",
                d.span,
                "",
                "fix these and check again",
            )
        )
    return kept


class ExitCode(IntEnum):
    """The command line's exit codes, as the README documents them."""

    OK = 0
    FAILED = 1  # bad data: a record, a user or an example failed; files fmt would change
    USAGE = 2  # a bad ruleset, an unreadable file, bad usage, an unusable output path
    OUTPUT = 3  # an output could not be written
    GUARD = 4  # held by a guard (sync): deactivations past the limit, a stale plan, a state in use
    APP = 5  # the app refused or stopped answering (sync)
    INTERNAL = 70  # a bug, reported in one line
    INTERRUPTED = 130


class MapperError(Exception):
    """Base class of every error mapper raises on purpose. EXIT_CODE is the command line's
    exit code for it (see the README's exit codes); its message is one line, no personal data."""

    exit_code: ExitCode = ExitCode.FAILED


class RulesetError(MapperError):
    """A ruleset could not be loaded; carries every diagnostic found, warnings included."""

    exit_code = ExitCode.USAGE

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diagnostics)
        errors = [d for d in self.diagnostics if d.is_error]
        super().__init__("\n".join(d.format() for d in errors) or "invalid ruleset")

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        """The diagnostics that are errors, in order."""
        return tuple(d for d in self.diagnostics if d.is_error)

    def __reduce__(self) -> tuple[type[RulesetError], tuple[tuple[Diagnostic, ...]]]:
        # Pickled back from a worker process whole (the default passes the message alone,
        # which the parent could not unpickle: its pool would wait for ever).
        return type(self), (self.diagnostics,)


#: ProfileError.value when the error concerns no single value.
class _NoValue:
    """The one value of ProfileError.value when no single value is at fault."""

    def __repr__(self) -> str:
        return "NO_VALUE"

    def __reduce__(self) -> str:
        return "NO_VALUE"  # pickles as a reference to this module's NO_VALUE (worker processes)


NO_VALUE: object = _NoValue()


def shown_value(value: object) -> str:
    """A profile value for --show-values: JSON, ASCII, at most 80 characters."""
    import json

    try:
        shown = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError):
        shown = ascii(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


class ProfileError(MapperError):
    """A profile cannot be mapped: not an object, or an attribute of the wrong type.

    ``attribute`` is the Okta profile attribute (``None`` when the input as a
    whole is wrong); ``target`` the SCIM path being computed, when known. The
    message never shows the value (profiles are personal data); ``value``
    holds it for callers who choose to show it (``mapper render --show-values``).
    """

    #: How the message names the attribute read and the one computed.
    attribute_words, target_words = "profile attribute", "for SCIM attribute"

    def __init__(
        self, problem: str, attribute: str | None = None, target: str | None = None, value: object = NO_VALUE
    ):
        self.problem = problem
        self.attribute = attribute
        self.target = target
        self.value = value
        where = []
        if attribute is not None:
            where.append(f"{self.attribute_words} {attribute!r}")
        if target is not None:
            where.append(f"{self.target_words} {target!r}")
        prefix = " ".join(where)
        super().__init__(f"{prefix}: {problem}" if prefix else problem)


class ResourceError(ProfileError):
    """An app's SCIM resource cannot be mapped to an Okta profile (the inbound direction): not
    an object, or an attribute of the wrong type.

    ``attribute`` is the SCIM path read (``name.givenName``); ``target`` the Okta profile
    attribute being computed, when known. As for :class:`ProfileError`, the message never
    shows the value and ``value`` holds it.
    """

    attribute_words, target_words = "SCIM attribute", "for Okta attribute"


class UsageError(MapperError):
    """Bad usage or configuration, found before anything was sent or written (exit 2)."""

    exit_code = ExitCode.USAGE
