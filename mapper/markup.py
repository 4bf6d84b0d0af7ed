"""Ruleset text made safe for each output format the review tools write.

Names, URNs, filter values, file names and profile values come from files a
reviewer does not control. Inside a Markdown table, a Mermaid label or a
terminal they must stay text: a newline must not end a table row, a backtick
must not close a code span, a ``|`` must not start a cell, and an escape
character must not reach a terminal.
"""

from __future__ import annotations

import re
import unicodedata

# Control characters, format characters (bidirectional overrides among them) and the
# Unicode line and paragraph separators: none may reach the output as it is.
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]|[^\x00-\x7f]")


def visible(text: str) -> str:
    """TEXT on one line, with every control or format character written as an escape (``\\n``, ``\\u202e``)."""

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        if ord(char) > 0x9F and unicodedata.category(char) not in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            return char  # printable non-ASCII text stays as it is
        named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char)
        return named or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")

    return _INVISIBLE.sub(escape, text)


def md_code(text: str, in_table: bool = False) -> str:
    """A Markdown code span holding TEXT: the fence is longer than any run of backticks
    inside, so no backtick can close it early (CommonMark 6.1)."""
    shown = visible(text)
    longest = max((len(run) for run in re.findall(r"`+", shown)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") or not shown.strip() else ""
    span = f"{fence}{pad}{shown}{pad}{fence}"
    return span.replace("|", "\\|") if in_table else span


def md_text(text: str) -> str:
    """TEXT as plain Markdown: one line, markup characters escaped."""
    return re.sub(r"([\\`*_{}\[\]<>#|!~])", r"\\\1", visible(text))


def mermaid_label(text: str) -> str:
    """Text for a quoted Mermaid label: quotes and markup characters as entities."""
    replacements = {"&": "#amp;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "|": "#124;", "`": "#96;"}
    return "".join(replacements.get(c, c) for c in visible(text))


def terminal_line(text: str) -> str:
    """A source line for a terminal, one character for one: control characters become U+FFFD,
    so the caret under it still points at the right column."""
    return "".join(
        "\ufffd" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") and c != "\t" else c for c in text
    )
