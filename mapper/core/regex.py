"""Regular expressions for String.replace and String.replaceFirst, on RE2.

RE2 (google-re2) matches in time linear in the input, so no pattern an admin
writes and no profile value can make a render hang on catastrophic
backtracking, as Python's ``re`` (and Java's, which Okta uses) can. RE2 has no
backreferences and no lookaround; a pattern that uses them is a ruleset error.

Linear in the input is not yet bounded: a pattern's matching program grows
with its repetition counts (``(a|aa){1,1000}`` is 10,000 instructions, and
past RE2's DFA budget matching falls back to a slower automaton), and a
replacement such as ``$0$0$0$0`` multiplies the output. So a pattern's program
is limited to :data:`MAX_PROGRAM_SIZE` instructions, and :meth:`Substitution.apply`
stops as soon as its output passes a limit. Finding every match of a replacement
can be quadratic whatever the engine (after each match the next search may scan to
the end), so a replacement has a budget of :data:`SEARCH_BUDGET` steps, counted
before each search as the program's size times the bytes left to search: a bound
on what the search may cost, computed from the input and the pattern alone, so a
value renders the same on any machine under any load (never a clock).

It replaces in one pass over the UTF-8 bytes, where google-re2's own ``sub``
re-parses the template and re-decodes offsets for every match (five times slower):
that takes google-re2's ``_regexp.Match`` and ``_Anchor``, which are not public, so
the dependency is pinned to one minor version (1.1) and tests/test_hardening.py
checks that contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# google-re2, imported by the first compile_pattern: most rulesets have no pattern, and the
# import is 3 ms of every start-up. A Substitution exists only after a compile, so apply()
# finds it set.
re2: Any = None
_OPTIONS: Any = None


def _engine() -> Any:
    global re2, _OPTIONS
    if re2 is None:
        import re2 as engine

        options = engine.Options()
        options.log_errors = False  # errors are reported as ruleset diagnostics, not logged
        _OPTIONS, re2 = options, engine
    return re2


#: The largest RE2 program a pattern may compile to. ``(a|aa|aaa|aaaa){1,100}`` is about
#: 1,000; the README gives the worst matching times measured at this size.
MAX_PROGRAM_SIZE = 1_200


class PatternError(ValueError):
    """A pattern or replacement RE2 cannot use; the message says why."""


class OutputTooLong(Exception):
    """A substitution's output passed the limit it was given."""


class TooCostly(Exception):
    """A substitution's searches would pass SEARCH_BUDGET."""


#: The most a single String.replace may search, in RE2 steps: the sum, over its searches,
#: of the pattern's program size times the UTF-8 bytes left to search. One search of the
#: longest value (10,000 characters, at most 40,000 bytes) with the largest pattern (1,200
#: instructions) is 48,000,000, so replaceFirst and matches always fit; ordinary
#: replacements use a few thousand. It refuses quadratic work: 10,000 characters of
#: ``a(?:[ab]*a[ab]{200}c)?`` (27 s on RE2's NFA), and a match at every other character
#: of a value longer than about 5,700 characters for `` +`` (README: Guarantees).
SEARCH_BUDGET = 50_000_000


def compile_pattern(pattern: str) -> Any:
    """PATTERN compiled by RE2; a PatternError when RE2 refuses it or its program passes
    MAX_PROGRAM_SIZE."""
    engine = _engine()
    try:
        compiled = engine.compile(pattern, _OPTIONS)
    except UnicodeEncodeError:
        raise PatternError("invalid regular expression: it holds a lone surrogate") from None
    except engine.error as exc:
        detail = (
            exc.args[0].decode("utf-8", "replace")
            if exc.args and isinstance(exc.args[0], bytes)
            else str(exc)
        )
        raise PatternError(f"invalid regular expression: {detail}") from None
    size = compiled.programsize
    if size > MAX_PROGRAM_SIZE:
        raise PatternError(
            f"regular expression too large: {size:,} RE2 instructions, at most {MAX_PROGRAM_SIZE:,}"
        )
    return compiled


def replacement_parts(compiled: Any, replacement: str) -> tuple[bytes | int, ...]:
    """A Java replacement string (Okta's), as literal UTF-8 pieces and group numbers.

    As in Java's ``Matcher.appendReplacement``: ``\\x`` is the character x; ``$n``
    is group n, where the first digit always belongs to the reference and each
    further digit only while the number stays a group of the pattern (``$10``
    with one group is group 1, then "0"); ``${name}`` is a named group; any
    other ``$`` is an error.
    """
    groups: int = compiled.groups
    names: dict[str, int] = dict(compiled.groupindex)
    parts: list[bytes | int] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            parts.append(_utf8("".join(literal)))
            literal.clear()

    i = 0
    while i < len(replacement):
        char = replacement[i]
        if char == "\\":
            if i + 1 == len(replacement):
                raise PatternError("the replacement ends in a lone backslash")
            literal.append(replacement[i + 1])
            i += 2
            continue
        if char != "$":
            literal.append(char)
            i += 1
            continue
        rest = replacement[i + 1 : i + 2]
        if rest == "{":
            end = replacement.find("}", i + 2)
            name = replacement[i + 2 : end] if end > 0 else ""
            if name not in names:
                raise PatternError(
                    f"the replacement refers to a group named {name!r}, which the pattern lacks"
                )
            flush()
            parts.append(names[name])
            i = end + 1
            continue
        if not rest.isascii() or not rest.isdigit():
            raise PatternError("a `$` in the replacement must name a group, as in $1")
        group = int(rest)
        if group > groups:
            raise PatternError(f"the replacement refers to group {group}, but the pattern has {groups}")
        i += 2
        while i < len(replacement) and replacement[i].isascii() and replacement[i].isdigit():
            longer = group * 10 + int(replacement[i])
            if longer > groups:
                break
            group = longer
            i += 1
        flush()
        parts.append(group)
    flush()
    return tuple(parts)


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise PatternError("the replacement holds a lone surrogate") from None


@dataclass(frozen=True, slots=True)
class Substitution:
    """A checked pattern and replacement, as the ruleset wrote them, ready to apply."""

    pattern: str
    replacement: str
    compiled: Any = field(compare=False, repr=False)
    parts: tuple[bytes | int, ...] = field(compare=False, repr=False)

    @classmethod
    def build(cls, pattern: str, replacement: str) -> Substitution:
        """The Substitution of PATTERN by REPLACEMENT, both checked (a PatternError otherwise)."""
        compiled = compile_pattern(pattern)
        return cls(pattern, replacement, compiled, replacement_parts(compiled, replacement))

    def apply(self, text: str, count: int, limit: int) -> str:
        """TEXT with the first COUNT matches (all, for 0) replaced, matches found as Java's
        replaceAll finds them (an empty match right after a match counts). Raises
        UnicodeEncodeError for text that is not valid Unicode, OutputTooLong once the
        output passes LIMIT bytes, and TooCostly before a search that would take the
        searches past SEARCH_BUDGET steps (the same input always gets the same answer)."""
        data = text.encode("utf-8")
        match = self.compiled._regexp.Match
        unanchored = re2._Anchor.UNANCHORED
        parts = self.parts
        end = len(data)
        out: list[bytes] = []
        size = pos = last = found = 0
        steps, program = 0, self.compiled.programsize
        while True:
            steps += program * (end - pos)
            if steps > SEARCH_BUDGET:
                raise TooCostly
            spans = match(unanchored, data, pos, end)
            start, stop = spans[0]
            if start < 0:
                break
            out.append(data[last:start])
            size += start - last
            for part in parts:
                if part.__class__ is int:
                    group_start, group_stop = spans[part]
                    if group_start >= 0:
                        out.append(data[group_start:group_stop])
                        size += group_stop - group_start
                else:
                    out.append(part)  # type: ignore[arg-type]
                    size += len(part)  # type: ignore[arg-type]
            if size > limit:
                raise OutputTooLong
            last = stop
            found += 1
            if found == count:
                break
            if start == stop:
                # An empty match: the next search starts one character on (a UTF-8 lead
                # byte and its continuation bytes), so "$" matches once and "x*" between letters.
                if stop >= end:
                    break
                pos = stop + 1
                while pos < end and data[pos] & 0xC0 == 0x80:
                    pos += 1
            else:
                pos = stop
        if not found:
            return text
        out.append(data[last:])
        return b"".join(out).decode("utf-8")
