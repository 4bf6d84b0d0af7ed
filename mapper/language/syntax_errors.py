"""The syntax errors' words: what the parser found, what it expected, and a hint.

Kept apart from :mod:`mapper.language.syntax` so that the parsing itself reads
in one screen; everything here only describes a failure the parser reported.
"""

from __future__ import annotations

from collections.abc import Callable

from lark import Token
from lark.exceptions import UnexpectedInput, UnexpectedToken

from mapper.errors import Span
from mapper.language.parser_table import parser

# report(span, message, hint="")
Reporter = Callable[..., None]


def describe_bad_character(text: str, pos: int) -> tuple[str, str, int]:
    """The message, hint and width for the character at POS that no token starts with."""
    char = text[pos]
    rest = text[pos : pos + 2]
    if char in "\"'":
        return "unterminated string", f"close the string with {char} on the same line", 1
    if rest == "->":
        return "unexpected '->'", "rules point from the value to the target: `target <- expression`", 2
    if char in "&|":
        return f"unexpected {char!r}", "write AND, OR (or &&, ||)", 1
    shown = char if char.isprintable() else f"U+{ord(char):04X}"
    return f"unexpected character {shown!r}", "", 1


def report_syntax_error(exc: UnexpectedInput, group: list[Token], path: str, report: Reporter) -> None:
    """Report the parse error EXC in the statement GROUP: what was found, what was expected, a hint."""
    expected = set(getattr(exc, "expected", ()) or ())
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        tok = exc.token
        line, col = tok.line or 1, tok.column or 1
        span = Span(path, line, col, tok.end_line or line, tok.end_column or col + 1)
        found = _describe_token(tok)
    else:
        last = group[-1]
        line = last.end_line or last.line or 1
        col = last.end_column or 1
        span = Span(path, line, col, line, col + 1)
        found = ""
        tok = None
    wanted = _describe_expected(expected)
    if tok is None:
        message = "incomplete statement" + (f"; expected {wanted}" if wanted else "")
    else:
        message = f"unexpected {found}" + (f"; expected {wanted}" if wanted else "")
    report(span, message, _hint_for(tok, expected, group))


def _first_on_its_line(tok: Token, group: list[Token]) -> bool:
    index = next(i for i, t in enumerate(group) if t is tok)
    return index > 0 and group[index - 1].line != tok.line


_TERMINAL_WORDS = {
    "NAME": "a name",
    "STRING": "a string",
    "NUMBER": "a number",
    "URN": "a schema URN",
    "MULTI": "'[]'",
    "$END": "the end of the statement",
    "_ARROW": "'<-'",
    "APP_PATH": "an app path (appuser.PATH)",
}

_EXPRESSION_STARTERS = {"STRING", "NUMBER", "USER", "LPAR", "BANG", "TRUE", "FALSE", "NULL", "APP_PATH"}


def _terminal_text(name: str) -> str:
    if name in _TERMINAL_WORDS:
        return _TERMINAL_WORDS[name]
    for term in parser().terminals:
        if term.name == name:
            pattern = term.pattern
            if pattern.type == "str":
                return f"'{pattern.value}'"
    return name.lower()


def _describe_token(tok: Token) -> str:
    if tok.type == "NAME":
        return f"name {str(tok)!r}"
    if tok.type == "STRING":
        return f"string {tok!s}"
    if tok.type in ("NUMBER", "URN"):
        return f"{_TERMINAL_WORDS[tok.type][2:]} {str(tok)!r}"
    return f"{str(tok)!r}"


def _describe_expected(expected: set[str]) -> str:
    if not expected:
        return ""
    if expected >= _EXPRESSION_STARTERS:
        rest = sorted(expected - _EXPRESSION_STARTERS - {"NAME"})
        words = ["an expression"] + [_terminal_text(t) for t in rest]
    else:
        words = sorted(_terminal_text(t) for t in expected)
    if len(words) > 6:
        words = [*words[:6], "..."]
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _hint_for(tok: Token | None, expected: set[str], group: list[Token]) -> str:
    first = str(group[0])
    if tok is not None and tok.line != group[0].line and _first_on_its_line(tok, group):
        # The token starts an indented line, which the layout rule joins to the statement above.
        what = {"ruleset": "header", "schema": "schema declaration", "profile": "profile declaration"}
        return (
            f"line {tok.line} is indented, so it continues the {what.get(first, 'rule')} on line "
            f"{group[0].line}; start a new statement in column 1"
        )
    # A bare name in an expression (`title <- firstName`) is a profile attribute without `user.`.
    position = group.index(tok) if tok is not None and tok in group else len(group)
    arrow = next((i for i, t in enumerate(group) if t.type == "_ARROW"), None)
    bare = group[position - 1] if position > 0 else None
    before = str(group[position - 2]) if position > 1 else ""
    after_arrow = arrow is not None and position - 1 > arrow
    if after_arrow and bare is not None and bare.type == "NAME" and before != "." and str(bare) != "user":
        return f"profile attributes are written user.{bare}"
    if tok is not None:
        value = str(tok)
        if value in ("and", "or", "not"):
            return "the operators are AND, OR and ! (as in Okta Expression Language)"
        if value == "primary" and "NAME" in expected:
            return "an entry is made primary with the `primary` option at the end of its rule"
        if value == "=" and "_ARROW" in expected:
            return "a rule is written `target <- expression`"
        if value == "=":
            return "compare with `==`"
        if tok.type == "NAME" and "_ARROW" not in expected:
            return "one rule per line"
    if first in ("ruleset", "schema", "profile"):
        return {
            "ruleset": "the header is `ruleset NAME` or `ruleset NAME extends PARENT`",
            "schema": 'declare a schema as `schema ALIAS = "urn:..." { attr: type }`',
            "profile": "declare custom Okta attributes as `profile { attr: type }`",
        }[first]
    return "a rule is written `target <- expression`, one per line"
