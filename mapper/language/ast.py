"""The ruleset syntax tree: frozen dataclasses with positions.

Lark trees stop at the parser module; everything after it sees only these
nodes. Names are kept as written; canonical spelling is the checker's job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace

from mapper.errors import Span

LiteralValue = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Header:
    """``ruleset NAME [extends PARENT]``"""

    name: str
    extends: str | None
    span: Span
    extends_span: Span | None


@dataclass(frozen=True, slots=True)
class AttrDecl:
    """``name: type`` or ``name: type[]`` inside a schema or profile block."""

    name: str
    type: str
    multi: bool
    span: Span
    type_span: Span


@dataclass(frozen=True, slots=True)
class SchemaDecl:
    """``schema ALIAS = "URN" { ... }``; without a body it only names a built-in schema."""

    alias: str
    urn: str
    attributes: tuple[AttrDecl, ...] | None
    span: Span
    urn_span: Span


@dataclass(frozen=True, slots=True)
class ProfileDecl:
    """``profile { ... }``: custom Okta profile attributes and their Okta types."""

    attributes: tuple[AttrDecl, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class InboundMode:
    """``inbound declared``: the ruleset's inbound rules are those it declares; none is
    derived from its plain copies (what an Okta app-to-Okta mapping imported says)."""

    span: Span


@dataclass(frozen=True, slots=True)
class Target:
    """A SCIM path: ``[schema:]attr[type eq "x"][.sub]``.

    ``schema`` is an alias (``enterprise``) or a full URN without its final colon.
    """

    schema: str | None
    attr: str
    filter_type: str | None
    sub: str | None
    span: Span
    schema_span: Span | None
    attr_span: Span
    sub_span: Span | None
    filter_attr: str | None = None
    filter_span: Span | None = None


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Literal:
    """A literal: a string, number, boolean or null."""

    value: LiteralValue
    span: Span


@dataclass(frozen=True, slots=True)
class UserAttr:
    """``user.NAME``: an Okta profile attribute."""

    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class UserMethod:
    """``user.NAME(args)``; only ``getInternalProperty("id")`` and friends exist."""

    name: str
    args: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    """``Namespace.function(args)``, e.g. ``String.toLowerCase(user.email)``; an empty
    namespace for Okta's deprecated bare forms (``toLowerCase(user.email)``)."""

    namespace: str
    function: str
    args: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Binary:
    """``left OP right`` with OP one of + == != < <= > >= AND OR ?:."""

    op: str
    left: Expr
    right: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Not:
    """``!operand``"""

    operand: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Conditional:
    """``condition ? then : otherwise``"""

    condition: Expr
    then: Expr
    otherwise: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class ArrayLiteral:
    """``{a, b, c}``: an array, as Okta writes one."""

    items: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Index:
    """``array[position]``"""

    array: Expr
    position: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Matches:
    """``subject matches "regex"``: the whole string matches (Okta's deprecated operator)."""

    subject: Expr
    pattern: Literal
    span: Span


@dataclass(frozen=True, slots=True)
class AppAttr:
    """``appuser.PATH``: an attribute of the app's SCIM resource, read by an inbound rule.
    PATH is written as outbound targets are (``appuser.emails[type eq "work"].value``)."""

    path: Target
    span: Span


@dataclass(frozen=True, slots=True)
class OtherRef:
    """``appuser.x``, ``org.x``, ``zendesk.x``: another profile than the Okta user's, which
    mapper does not have; parsed so that the checker can say so."""

    scope: str
    name: str
    span: Span


@dataclass(frozen=True, slots=True)
class Member:
    """``getManagerUser("active_directory").firstName``: an attribute of another user or
    app user, which a profile does not carry; parsed so that the checker can say so."""

    base: Expr
    name: str
    span: Span


Expr = (
    Literal
    | UserAttr
    | UserMethod
    | Call
    | Binary
    | Not
    | Conditional
    | ArrayLiteral
    | Index
    | Matches
    | AppAttr
    | OtherRef
    | Member
)


@dataclass(frozen=True, slots=True)
class Rule:
    """``target <- expression [on create] [primary] [default LITERAL]``"""

    target: Target
    expr: Expr
    create_only: bool
    primary: bool
    default: Literal | None
    span: Span
    option_spans: tuple[Span, ...] = ()


@dataclass(frozen=True, slots=True)
class InboundRule:
    """``user.NAME <- expression [on create] [default LITERAL]``: the app-to-Okta direction.
    ``on create`` is Okta's DONT_PUSH (set when Okta creates the user from the app's, never
    updated by an import); without it the rule is PUSH."""

    attr: str
    expr: Expr
    create_only: bool
    default: Literal | None
    span: Span
    attr_span: Span
    option_spans: tuple[Span, ...] = ()
    primary: Span | None = None  # where a `primary` option stands: parsed so that the checker can refuse it


Statement = Header | SchemaDecl | ProfileDecl | Rule | InboundRule | InboundMode


@dataclass(frozen=True, slots=True)
class RulesetFile:
    """One parsed file: its statements in order, and the comments for the formatter."""

    path: str
    text: str
    statements: tuple[Statement, ...]
    comments: tuple[tuple[int, int, str], ...] = ()  # (line, col, text)

    @property
    def header(self) -> Header | None:
        """The file's first ``ruleset`` header, or None when it has none."""
        for s in self.statements:
            if isinstance(s, Header):
                return s
        return None


def with_app_attrs(expr: Expr, change: Callable[[AppAttr], Expr]) -> Expr:
    """EXPR with every ``appuser.`` reference replaced by what CHANGE makes of it (the Okta
    import and export translate between SCIM paths and Okta's app user variables so)."""
    if isinstance(expr, AppAttr):
        return change(expr)
    updates: dict[str, object] = {}
    for item in fields(expr):
        value = getattr(expr, item.name)
        if isinstance(value, tuple) and value and all(isinstance(v, _EXPR_TYPES) for v in value):
            updates[item.name] = tuple(with_app_attrs(v, change) for v in value)
        elif isinstance(value, _EXPR_TYPES):
            updates[item.name] = with_app_attrs(value, change)
    return replace(expr, **updates) if updates else expr  # type: ignore[arg-type]


_EXPR_TYPES = (Literal, UserAttr, UserMethod, Call, Binary, Not, Conditional, ArrayLiteral, Index, Matches,
               AppAttr, OtherRef, Member)  # fmt: skip
