"""Regular expressions for String.replace and String.replaceFirst, on RE2.

RE2 (google-re2) matches in time linear in the input, so no pattern an admin
writes and no profile value can make a render hang on catastrophic
backtracking, as Python's ``re`` (and Java's, which Okta uses) can. RE2 has no
backreferences and no lookaround; a pattern that uses them is a ruleset error.
"""

from __future__ import annotations

import re
from typing import Any

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # errors are reported as ruleset diagnostics, not logged
_GROUP_REFERENCE = re.compile(r"\\g<(\d+)>")


class PatternError(ValueError):
    """A pattern or replacement RE2 cannot use; the message says why."""


def compile_pattern(pattern: str) -> Any:
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        detail = (
            exc.args[0].decode("utf-8", "replace")
            if exc.args and isinstance(exc.args[0], bytes)
            else str(exc)
        )
        raise PatternError(f"invalid regular expression: {detail}") from None


def check_replacement(compiled: Any, replacement: str) -> None:
    """Every group the replacement names (``$1`` in Okta's syntax) exists in the pattern."""
    for match in _GROUP_REFERENCE.finditer(replacement):
        group = int(match.group(1))
        if group > compiled.groups:
            raise PatternError(
                f"the replacement refers to group {group}, but the pattern has {compiled.groups}"
            )
