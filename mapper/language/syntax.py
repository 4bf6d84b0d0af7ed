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

from lark import Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput

from mapper.errors import Diagnostic, Severity, Span, source_lines
from mapper.language import ast
from mapper.language.parser_table import parser
from mapper.language.syntax_errors import describe_bad_character, report_syntax_error

_CLOSERS = {")", "]", "}"}

#: The deepest statement tree accepted (a ``+`` chain of n terms is n levels deep).
MAX_DEPTH = 100

# report(span, message, hint="")
_Reporter = Callable[..., None]


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
        if isinstance(
            node, ast.Header | ast.SchemaDecl | ast.ProfileDecl | ast.Rule | ast.InboundRule | ast.InboundMode
        ):
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
            message, hint, width = describe_bad_character(work, pos)
            span = Span(path, line, col, line, col + width)
            report(span, message, hint)
            if len(bad_lines) > 100:
                return [], comments, bad_lines
            # Blank out the rest of the offending line and lex again: positions stay put.
            end = work.find("\n", pos)
            end = len(work) if end < 0 else end
            work = work[:pos] + " " * (end - pos) + work[end:]


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
        report_syntax_error(exc, group, path, report)
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


# ---------------------------------------------------------------- tree to AST

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "\\": "\\", '"': '"', "'": "'", "/": "/"}
_ESCAPE_RE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


_NAME = r"\$?[A-Za-z_][A-Za-z0-9_\-]*"
#: The pieces of an APP_PATH token (the grammar's pattern, with names for its parts).
_APP_PATH = re.compile(
    rf"""appuser\.(?P<path>(?:(?P<urn>urn:[A-Za-z0-9][A-Za-z0-9.\-]*(?::[A-Za-z0-9.\-]+)+):|(?P<alias>{_NAME}):(?!(?:app)?user\.|[A-Z][A-Za-z0-9]*\.[A-Za-z0-9_]+\())?
    (?P<attr>{_NAME})(?P<filter>\[[ \t]*(?P<on>{_NAME})[ \t]+eq[ \t]+(?P<value>"(?:[^"\n]|"")*"|'(?:[^'\n]|'')*')[ \t]*\])?
    (?:\.(?P<sub>{_NAME}))?)""",
    re.VERBOSE,
)


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

    def inbound_mode(self, meta: object, children: list[object]) -> ast.InboundMode:
        return ast.InboundMode(self._s(meta))

    def profile_decl(self, meta: object, children: list[ast.AttrDecl]) -> ast.ProfileDecl:
        return ast.ProfileDecl(tuple(children), self._s(meta))

    def rule(self, meta: object, children: list[object]) -> ast.Rule:
        target, expr, *options = children
        assert isinstance(target, ast.Target)
        create_only, primary, default, spans = self._options(options)
        return ast.Rule(target, expr, create_only, primary is not None, default, self._s(meta), spans)  # type: ignore[arg-type]

    def inbound_rule(self, meta: object, children: list[object]) -> ast.InboundRule:
        name, expr, *options = children
        assert isinstance(name, Token)
        create_only, primary, default, spans = self._options(options)
        return ast.InboundRule(
            str(name),
            expr,  # type: ignore[arg-type]
            create_only,
            default,
            self._s(meta),
            _tok_span(name, self.path),
            spans,
            primary,
        )

    def _options(
        self, options: list[object]
    ) -> tuple[bool, Span | None, ast.Literal | None, tuple[Span, ...]]:
        """(on create, where `primary` is (None without it), default, the options' spans); an
        option given twice is reported."""
        create_only = False
        primary: Span | None = None
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
                primary = span
            else:
                default = value
        return create_only, primary, default, tuple(spans)

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

    def app_attr(self, meta: object, children: list[Token]) -> ast.AppAttr:
        tok = children[0]
        found = _APP_PATH.fullmatch(str(tok))
        assert found is not None  # the grammar's APP_PATH token is this pattern's language
        line, col = tok.line or 1, tok.column or 1  # the token never spans lines

        def at(group: str) -> Span:
            return Span(self.path, line, col + found.start(group), line, col + found.end(group))

        schema = found["urn"] or found["alias"]
        filter_type = None
        if found["filter"] is not None:  # a token of its own, where it stands, for its errors
            start, end = col + found.start("value"), col + found.end("value")
            value = Token("STRING", found["value"], line=line, column=start, end_line=line, end_column=end)
            filter_type = self._json_string(value)
        path = ast.Target(
            schema,
            found["attr"],
            filter_type,
            found["sub"],
            at("path"),
            at("urn" if found["urn"] else "alias") if schema else None,
            at("attr"),
            at("sub") if found["sub"] else None,
            found["on"],
            at("filter") if found["filter"] else None,
        )
        return ast.AppAttr(path, _tok_span(tok, self.path))

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
