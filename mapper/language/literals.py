"""Writing the language's literals, which are Okta Expression Language's: the one function
every writer of Okta EL text uses (the formatter, ``mapper export okta``), the inverse of
how :mod:`mapper.language.syntax` reads them.

Okta's strings are Spring EL's: in single or double quotes, the quote doubled stands for
itself, and there is no other escape (a backslash is an ordinary character). A newline
cannot be written at all (it ends a rule, and Okta has no escape for it), so text that
holds one is refused, never written another way.
"""

from __future__ import annotations

import json

from mapper.language.ast import LiteralValue

#: The character no string literal can carry (the lexer ends a rule there; see grammar/mapper.lark).
LINE_BREAKS = "\n"


class UnwritableLiteral(ValueError):
    """Text that no Okta EL string literal can hold."""


def literal(value: LiteralValue) -> str:
    """VALUE as a literal of the language (and of Okta EL) that reads back as exactly VALUE."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return string_literal(value)
    return repr(value)


def string_literal(text: str, quote: str = '"') -> str:
    """TEXT as a string literal in QUOTE (``"``, or ``'`` as Okta's own templates write);
    UnwritableLiteral for a line break."""
    if any(char in LINE_BREAKS for char in text):
        raise UnwritableLiteral("a string holds a line break, which an Okta expression cannot carry")
    return quote + text.replace(quote, quote + quote) + quote


def filter_value(value: str) -> str:
    """A SCIM filter value (``emails[type eq "work"]``): a JSON string (RFC 7644), with a quote
    written \\u0022 so that the ruleset lexer, which reads strings as Okta writes them, sees
    one token. Any text can be written."""
    if '"' not in value:
        return json.dumps(value, ensure_ascii=False)
    return '"' + "\\u0022".join(json.dumps(part, ensure_ascii=False)[1:-1] for part in value.split('"')) + '"'
