"""Ruleset text to syntax tree: the Lark LALR parser and its error messages.

A statement starts at column 1; indented lines continue it. The whole file is lexed once, the tokens are split into
statements, and each statement is parsed on its own, so every syntax error in
the file is reported, not just the first. Lark trees are turned into
:mod:`mapper.language.ast` nodes here and go no further.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from functools import cache

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from mapper.errors import Diagnostic, Severity, Span, source_lines
from mapper.language import ast
from mapper.language.parser_table import load_parser

_CLOSERS = {")", "]", "}"}

#: The deepest statement tree accepted (a ``+`` chain of n terms is n levels deep).
MAX_DEPTH = 100

# report(span, message, hint="")
_Reporter = Callable[..., None]


@cache
def parser() -> Lark:
    """The LALR parser, loaded once per process from the parse table shipped with
    the package (data, never a pickle: see :mod:`mapper.language.parser_table`)."""
    return load_parser()


def parse(text: str, path: str) -> tuple[ast.RulesetFile, list[Diagnostic]]:
    """Parse a whole file; returns the statements that parsed and every syntax error."""
    lines = source_lines(text)
    diagnostics: list[Diagnostic] = []

    def report(span: Span, message: str, hint: str = "") -> None:
        line = lines[span.line - 1] if 0 < span.line <= len(lines) else ""
        diagnostics.append(Diagnostic(Severity.ERROR, message, span, line, hint))

    tokens, comments, bad_lines = _lex(text, path, report)
    statements: list[ast.Statement] = []
    builder = _AstBuilder(path, report)
    for group in _split_statements(tokens):
        if group[0].line in bad_lines:
            continue  # one lexical error per statement is enough
        tree = _parse_statement(group, path, report)
        if tree is None:
            continue
        node = builder.transform(tree)
        if isinstance(node, ast.Header | ast.SchemaDecl | ast.ProfileDecl | ast.Rule):
            statements.append(node)
    diagnostics.sort(key=lambda d: (d.span.line, d.span.col) if d.span else (0, 0))
    return ast.RulesetFile(path, text, tuple(statements), tuple(comments)), diagnostics


def parse_expression(text: str, path: str) -> tuple[ast.Expr | None, str | None]:
    """TEXT as one expression and nothing else (an Okta expression read by the importer):
    the expression, or None and why not. Rule options (``on create``, ``default``,
    ``primary``), a comment, a second statement or a line break are refused, never taken
    as part of a rule."""
    quote, chars = None, []
    for char in text:  # a line break between tokens is a space; inside a string, refused
        if quote is None and char in "'\"":
            quote = char
        elif char == quote:
            quote = None
        if char == "\n" and quote is not None:  # what no string literal can hold
            return None, "the expression holds a line break inside a string"
        if char in "\r\n\x0b\x0c\x85\u2028\u2029" and quote is None:
            char = " "
        chars.append(char)
    parsed, diagnostics = parse(f"title <- {''.join(chars)}\n", path)
    if diagnostics:
        return None, diagnostics[0].message
    (rule,) = parsed.statements if len(parsed.statements) == 1 else (None,)
    if not isinstance(rule, ast.Rule) or parsed.comments:
        return None, "the text holds more than an expression (a comment, or a second statement)"
    if rule.create_only or rule.primary or rule.default is not None:
        return None, "the text holds more than an expression (a rule option: on create, primary or default)"
    return rule.expr, None


# ---------------------------------------------------------------- lexing


def _lex(text: str, path: str, report: _Reporter) -> tuple[list[Token], list[tuple[int, int, str]], set[int]]:
    """All significant tokens; a bad character is reported and lexing goes on after it."""
    tokens: list[Token] = []
    comments: list[tuple[int, int, str]] = []
    bad_lines: set[int] = set()
    lark = parser()
    work = text
    while True:
        tokens.clear()
        comments.clear()
        try:
            for tok in lark.lex(work, dont_ignore=True):
                if tok.type == "COMMENT":
                    comments.append((tok.line or 0, tok.column or 0, str(tok)))
                elif tok.type not in ("WS", "NEWLINE"):
                    tokens.append(tok)
            return tokens, comments, bad_lines
        except UnexpectedCharacters as exc:
            pos = exc.pos_in_stream
            if pos is None:
                raise
            line, col = exc.line, exc.column
            bad_lines.add(line)
            message, hint, width = _describe_bad_character(work, pos)
            span = Span(path, line, col, line, col + width)
            report(span, message, hint)
            if len(bad_lines) > 100:
                return [], comments, bad_lines
            # Blank out the rest of the offending line and lex again: positions stay put.
            end = work.find("\n", pos)
            end = len(work) if end < 0 else end
            work = work[:pos] + " " * (end - pos) + work[end:]


def _describe_bad_character(text: str, pos: int) -> tuple[str, str, int]:
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


def _split_statements(tokens: list[Token]) -> Iterator[list[Token]]:
    """Group tokens into statements: a token in column 1 starts one, except a closing
    bracket (the `}` that ends a schema block). An unclosed bracket therefore spoils
    one statement, not the rest of the file."""
    group: list[Token] = []
    for tok in tokens:
        if tok.column == 1 and group and str(tok) not in _CLOSERS:
            yield group
            group = []
        group.append(tok)
    if group:
        yield group


# ---------------------------------------------------------------- parsing


def _parse_statement(group: list[Token], path: str, report: _Reporter) -> Tree[Token] | None:
    interactive = parser().parse_interactive(start="statement")
    try:
        for tok in group:
            interactive.feed_token(tok)
        result: Tree[Token] = interactive.feed_eof(group[-1])  # type: ignore[no-untyped-call]
    except UnexpectedInput as exc:
        _report_syntax_error(exc, group, path, report)
        return None
    if _depth(result) > MAX_DEPTH:
        # Everything after the parser walks trees recursively; so does Python's compiler.
        first, last = group[0], group[-1]
        span = Span(path, first.line or 1, first.column or 1, last.end_line or 1, last.end_column or 1)
        report(
            span,
            f"expression nested too deeply (more than {MAX_DEPTH} levels)",
            "split it into simpler rules",
        )
        return None
    return result


def _depth(tree: Tree[Token]) -> int:
    """How deep TREE is, without recursion (the tree may be deeper than Python's stack)."""
    deepest = 0
    stack: list[tuple[Tree[Token], int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return deepest


def _report_syntax_error(exc: UnexpectedInput, group: list[Token], path: str, report: _Reporter) -> None:
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
}

_EXPRESSION_STARTERS = {"STRING", "NUMBER", "USER", "LPAR", "BANG", "TRUE", "FALSE", "NULL"}


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


# ---------------------------------------------------------------- tree to AST

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "\\": "\\", '"': '"', "'": "'", "/": "/"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _span(meta: object, path: str) -> Span:
    return Span(
        path,
        getattr(meta, "line", 1),
        getattr(meta, "column", 1),
        getattr(meta, "end_line", 1),
        getattr(meta, "end_column", 1),
    )


def _tok_span(tok: Token, path: str) -> Span:
    line = tok.line or 1
    col = tok.column or 1
    return Span(path, line, col, tok.end_line or line, tok.end_column or col + len(tok))


@v_args(meta=True)
class _AstBuilder(Transformer[Token, object]):
    """Turns one statement's Lark tree into an AST node; reports bad literals."""

    def __init__(self, path: str, report: _Reporter) -> None:
        super().__init__()
        self.path = path
        self.report = report

    def _s(self, meta: object) -> Span:
        return _span(meta, self.path)

    def _string(self, tok: Token) -> str:
        """A value's string literal, read as Okta (Spring EL) reads it: in single or double
        quotes, the quote doubled stands for itself, and a backslash is an ordinary character
        (Okta's own examples build Windows logon names as "DOMAIN\\" + ...)."""
        text = str(tok)
        quote = text[0]
        return text[1:-1].replace(quote * 2, quote)

    def _json_string(self, tok: Token) -> str:
        """A SCIM filter value (``emails[type eq "work"]``): a JSON string, as RFC 7644 writes it."""
        raw = str(tok)[1:-1]
        if str(tok)[0] != '"':
            self.report(
                _tok_span(tok, self.path), "a SCIM filter value is a JSON string", "write it in double quotes"
            )

        def unescape(m: re.Match[str]) -> str:
            code = m.group(1)
            if code[0] == "u" and len(code) == 5:
                return chr(int(code[1:], 16))
            if code in _ESCAPES:
                return _ESCAPES[code]
            self.report(
                _tok_span(tok, self.path),
                f"unknown escape '\\{code}' in string",
                'write a backslash as "\\\\"',
            )
            return code

        text = _ESCAPE_RE.sub(unescape, raw)
        if _SURROGATE_RE.search(text):
            # \uD83D\uDE42 is one character written as a UTF-16 pair, as in JSON.
            try:
                text = text.encode("utf-16", "surrogatepass").decode("utf-16")
            except UnicodeDecodeError:
                self.report(
                    _tok_span(tok, self.path),
                    "a \\u escape is half of a surrogate pair",
                    "write the character itself",
                )
        return text

    # statements
    def header(self, meta: object, children: list[Token]) -> ast.Header:
        name = children[0]
        parent = children[1] if len(children) > 1 else None
        return ast.Header(
            str(name),
            str(parent) if parent is not None else None,
            self._s(meta),
            _tok_span(parent, self.path) if parent is not None else None,
        )

    def attr_decl(self, meta: object, children: list[Token]) -> ast.AttrDecl:
        name, type_ = children[0], children[1]
        return ast.AttrDecl(
            str(name), str(type_), len(children) > 2, self._s(meta), _tok_span(type_, self.path)
        )

    def schema_decl(self, meta: object, children: list[object]) -> ast.SchemaDecl:
        alias, urn, *body = children
        assert isinstance(alias, Token) and isinstance(urn, Token)
        attributes = body[0] if body else None
        assert attributes is None or isinstance(attributes, tuple)
        return ast.SchemaDecl(
            str(alias), self._string(urn), attributes, self._s(meta), _tok_span(urn, self.path)
        )

    def schema_body(self, meta: object, children: list[ast.AttrDecl]) -> tuple[ast.AttrDecl, ...]:
        return tuple(children)

    def profile_decl(self, meta: object, children: list[ast.AttrDecl]) -> ast.ProfileDecl:
        return ast.ProfileDecl(tuple(children), self._s(meta))

    def rule(self, meta: object, children: list[object]) -> ast.Rule:
        target, expr, *options = children
        assert isinstance(target, ast.Target)
        create_only = primary = False
        default: ast.Literal | None = None
        spans: list[Span] = []
        seen: set[str] = set()
        for opt in options:
            assert isinstance(opt, tuple)
            kind, value, span = opt
            spans.append(span)
            if kind in seen:
                self.report(span, "this option is given twice", "remove one")
            seen.add(kind)
            if kind == "on_create":
                create_only = True
            elif kind == "primary":
                primary = True
            else:
                default = value
        return ast.Rule(target, expr, create_only, primary, default, self._s(meta), tuple(spans))  # type: ignore[arg-type]

    def on_create(self, meta: object, children: list[object]) -> tuple[str, None, Span]:
        return ("on_create", None, self._s(meta))

    def primary(self, meta: object, children: list[object]) -> tuple[str, None, Span]:
        return ("primary", None, self._s(meta))

    def default(self, meta: object, children: list[object]) -> tuple[str, object, Span]:
        return ("default", children[0], self._s(meta))

    # targets
    def target(self, meta: object, children: list[object]) -> ast.Target:
        schema: str | None = None
        schema_span: Span | None = None
        filter_attr = filter_type = sub = None
        filter_span = sub_span = None
        rest = list(children)
        if rest and isinstance(rest[0], tuple) and rest[0][0] == "schema":
            _, schema, schema_span = rest.pop(0)  # type: ignore[misc]
        attr = rest.pop(0)
        assert isinstance(attr, Token)
        for part in rest:
            assert isinstance(part, tuple)
            if part[0] == "filter":
                _, filter_attr, filter_type, filter_span = part
            else:
                _, sub, sub_span = part
        return ast.Target(
            schema,
            str(attr),
            filter_type,
            sub,
            self._s(meta),
            schema_span,
            _tok_span(attr, self.path),
            sub_span,
            filter_attr,
            filter_span,
        )

    def schema_ref(self, meta: object, children: list[Token]) -> tuple[str, str, Span]:
        tok = children[0]
        text = str(tok)
        if tok.type == "URN":
            text = text[:-1]  # the URN terminal includes the colon before the attribute
        return ("schema", text, self._s(meta))

    def filter(self, meta: object, children: list[Token]) -> tuple[str, str, str, Span]:
        return ("filter", str(children[0]), self._json_string(children[1]), self._s(meta))

    def subattr(self, meta: object, children: list[Token]) -> tuple[str, str, Span]:
        return ("sub", str(children[0]), _tok_span(children[0], self.path))

    # expressions
    def string(self, meta: object, children: list[Token]) -> ast.Literal:
        return ast.Literal(self._string(children[0]), self._s(meta))

    def number(self, meta: object, children: list[Token]) -> ast.Literal:
        text = str(children[0])
        value: int | float = 0
        try:
            value = float(text) if any(c in text for c in ".eE") else int(text)
            ok = math.isfinite(value) and (isinstance(value, float) or -(2**63) <= value < 2**63)
        except ValueError:  # more digits than Python converts
            ok = False
        if not ok:
            self.report(_tok_span(children[0], self.path), "number out of range")
        return ast.Literal(value, self._s(meta))

    def other_ref(self, meta: object, children: list[Token]) -> ast.OtherRef:
        return ast.OtherRef(str(children[0]), str(children[1]), self._s(meta))

    def member(self, meta: object, children: list[object]) -> ast.Member:
        return ast.Member(children[0], str(children[1]), self._s(meta))  # type: ignore[arg-type]

    def array(self, meta: object, children: list[object]) -> ast.ArrayLiteral:
        return ast.ArrayLiteral(tuple(c for c in children if c is not None), self._s(meta))  # type: ignore[misc]

    def index(self, meta: object, children: list[object]) -> ast.Index:
        return ast.Index(children[0], children[1], self._s(meta))  # type: ignore[arg-type]

    def matches(self, meta: object, children: list[object]) -> ast.Matches:
        pattern = children[1]
        assert isinstance(pattern, Token)
        return ast.Matches(
            children[0],  # type: ignore[arg-type]
            ast.Literal(self._string(pattern), _tok_span(pattern, self.path)),
            self._s(meta),
        )

    def true(self, meta: object, children: list[Token]) -> ast.Literal:
        return ast.Literal(True, self._s(meta))

    def false(self, meta: object, children: list[Token]) -> ast.Literal:
        return ast.Literal(False, self._s(meta))

    def null(self, meta: object, children: list[Token]) -> ast.Literal:
        return ast.Literal(None, self._s(meta))

    def user_attr(self, meta: object, children: list[Token]) -> ast.UserAttr:
        return ast.UserAttr(str(children[0]), self._s(meta))

    def user_method(self, meta: object, children: list[object]) -> ast.UserMethod:
        return ast.UserMethod(str(children[0]), tuple(children[1:]), self._s(meta))  # type: ignore[arg-type]

    def call(self, meta: object, children: list[object]) -> ast.Call:
        ns, fn, *args = children
        return ast.Call(str(ns), str(fn), tuple(args), self._s(meta))  # type: ignore[arg-type]

    def bare_call(self, meta: object, children: list[object]) -> ast.Call:
        fn, *args = children
        return ast.Call("", str(fn), tuple(args), self._s(meta))  # type: ignore[arg-type]

    def _binary(self, op: str, meta: object, children: list[object]) -> ast.Binary:
        return ast.Binary(op, children[0], children[1], self._s(meta))  # type: ignore[arg-type]

    def plus(self, meta: object, c: list[object]) -> ast.Binary:
        return self._binary("+", meta, c)

    def eq(self, meta: object, c: list[object]) -> ast.Binary:
        return self._binary("==", meta, c)

    def ne(self, meta: object, c: list[object]) -> ast.Binary:
        return self._binary("!=", meta, c)

    def lt(self, meta: object, c: list[object]) -> ast.Binary:
        return self._binary("<", meta, c)

    def le(self, meta: object, c: list[object]) -> ast.Binary:
        return self._binary("<=", meta, c)

    def gt(self, meta: object, c: list[object]) -> ast.Binary:
        return self._binary(">", meta, c)

    def ge(self, meta: object, c: list[object]) -> ast.Binary:
        return self._binary(">=", meta, c)

    def and_(self, meta: object, c: list[object]) -> ast.Binary:
        return self._binary("AND", meta, c)

    def or_(self, meta: object, c: list[object]) -> ast.Binary:
        return self._binary("OR", meta, c)

    def coalesce(self, meta: object, c: list[object]) -> ast.Binary:
        return self._binary("?:", meta, c)

    def legacy_coalesce(self, meta: object, c: list[object]) -> ast.Binary:
        self.report(
            self._s(meta),
            "`??` is not Okta Expression Language",
            "write Okta's Elvis operator `?:`: the left side unless it is null or empty",
        )
        return self._binary("?:", meta, c)

    def not_(self, meta: object, children: list[object]) -> ast.Not:
        return ast.Not(children[0], self._s(meta))  # type: ignore[arg-type]

    def conditional(self, meta: object, children: list[object]) -> ast.Conditional:
        return ast.Conditional(children[0], children[1], children[2], self._s(meta))  # type: ignore[arg-type]
