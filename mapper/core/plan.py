"""The checked, typed form of a ruleset that the code generator (and the PATCH
back end) work from. Nothing here refers to syntax: names are canonical, types
are known, and each rule knows which profile attributes it reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from mapper.core.functions import Function
from mapper.core.regex import Substitution
from mapper.core.schema import Schema
from mapper.core.scim_path import AttrPath
from mapper.core.types import ValueType
from mapper.errors import Span

if TYPE_CHECKING:
    from mapper.language import ast

Constant = str | int | float | bool | None

#: The operators of PBinary.
BINARY_OPS = frozenset({"+", "==", "!=", "<", "<=", ">", ">=", "AND", "OR", "?:"})


@dataclass(frozen=True, slots=True)
class PExpr:
    """A checked expression: its TYPE, and whether it may be null (NULLABLE)."""

    type: ValueType
    nullable: bool


@dataclass(frozen=True, slots=True)
class PLiteral(PExpr):
    """A literal: a string, number, boolean or null."""

    value: Constant


@dataclass(frozen=True, slots=True)
class PSource(PExpr):
    """An Okta profile attribute."""

    name: str


@dataclass(frozen=True, slots=True)
class PAppSource(PExpr):
    """An attribute of the app's SCIM resource, read by an inbound rule; SCIM_TYPE is its
    type in the schema (``string``, ``reference``, ``dateTime``, ``boolean``...)."""

    path: AttrPath
    scim_type: str


@dataclass(frozen=True, slots=True)
class PInternal(PExpr):
    """A field of the Okta Users API object (``user.getInternalProperty("status")``)."""

    name: str


@dataclass(frozen=True, slots=True)
class PCall(PExpr):
    """A call of a supported Okta function, with its checked arguments."""

    function: Function
    args: tuple[PExpr, ...]
    # The checked pattern and replacement of String.replace*.
    substitution: Substitution | None = None


@dataclass(frozen=True, slots=True)
class PConcat(PExpr):
    """String ``+`` of its parts, flattened: null parts count as empty; all null gives null."""

    parts: tuple[PExpr, ...]


@dataclass(frozen=True, slots=True)
class PBinary(PExpr):
    """Arithmetic +, comparisons, AND, OR and ?: (op as written, + for numbers)."""

    # The code generator writes == and != as they are, so it accepts only BINARY_OPS.

    op: str
    left: PExpr
    right: PExpr


@dataclass(frozen=True, slots=True)
class PNot(PExpr):
    """``!operand``: the negation of a boolean."""

    operand: PExpr


@dataclass(frozen=True, slots=True)
class PArray(PExpr):
    """An array literal; null items are dropped, as from array attributes."""

    items: tuple[PExpr, ...]


@dataclass(frozen=True, slots=True)
class PIndex(PExpr):
    """An array's item at a position (null past either end)."""

    array: PExpr
    position: PExpr


@dataclass(frozen=True, slots=True)
class PMatches(PExpr):
    """Whether the whole string matches a literal pattern (RE2)."""

    subject: PExpr
    pattern: str
    compiled: Any = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class PCond(PExpr):
    """``condition ? then : otherwise``; a null condition counts as false."""

    condition: PExpr
    then: PExpr
    otherwise: PExpr


@dataclass(frozen=True, slots=True)
class TargetSlot:
    """Where a rule writes, in canonical SCIM spelling.

    ``urn`` is the schema (CORE_USER for the core); ``attr`` the top-level
    attribute; ``entry_type`` the ``type`` value selecting a multi-valued entry;
    ``sub`` the sub-attribute. ``scim_type`` is the type of the written value.
    """

    urn: str
    attr: str
    entry_type: str | None
    sub: str | None
    scim_type: str
    multi_simple: bool = False

    @property
    def attr_path(self) -> AttrPath:
        """Where the rule writes, as a SCIM attribute path."""
        return AttrPath(self.urn, self.attr, self.entry_type, self.sub)

    @property
    def path(self) -> str:
        """The RFC 7644 path: ``emails[type eq "work"].value``, URN-qualified for extensions."""
        return self.attr_path.text()

    @property
    def key(self) -> tuple[str, str, str | None, str | None]:
        """Identity of the slot for overrides and duplicates (names are case-insensitive)."""
        return (self.urn.lower(), self.attr.lower(), self.entry_type, (self.sub or "").lower() or None)


@dataclass(frozen=True, slots=True)
class PlannedRule:
    """A checked rule: where it writes, the expression that computes the value, and what it reads."""

    target: TargetSlot
    expr: PExpr
    create_only: bool
    primary: bool
    default: Constant
    sources: tuple[str, ...]  # Okta profile attributes read
    internal_sources: tuple[str, ...]  # Users API fields read (id, status, ...)
    origin: str  # the ruleset that wrote the rule
    span: Span
    text: str  # the rule as written, for comments in generated code
    # The rule's syntax, for the explain and review tools; None in a plan read from the
    # compile cache (see mapper.compiler.plan_codec), which those tools do not use.
    node: ast.Rule | None
    source_types: tuple[ValueType, ...] = ()  # the type each source is read as (declared or needed)
    expression: str = ""  # the expression in the formatter's canonical form


@dataclass(frozen=True, slots=True)
class InboundRule:
    """A checked inbound rule (app to Okta): the Okta profile attribute ATTR of TYPE, computed
    by EXPR from the app's resource. ``create_only`` is Okta's DONT_PUSH: set when Okta creates
    the user from the app's, never changed by an import."""

    attr: str
    type: ValueType
    expr: PExpr
    create_only: bool
    default: Constant
    app_sources: tuple[AttrPath, ...]  # the app's attributes read
    origin: str  # the ruleset that wrote the rule (or whose outbound rule it was derived from)
    span: Span
    text: str  # the rule as written, or as derived
    node: ast.InboundRule | None  # None for a derived rule, and in a plan from the compile cache
    expression: str = ""  # the expression in the formatter's canonical form
    derived_from: int | None = None  # the index in Plan.rules of the plain copy it inverts


class Inverse(StrEnum):
    """What the inbound direction does with an outbound rule's Okta attribute."""

    DERIVED = "derived"  # a plain copy: the inbound rule is the same copy back
    DECLARED = "declared"  # an inbound rule written in the ruleset sets the attribute
    SHADOWED = "shadowed"  # a plain copy of an attribute another rule already gives back
    OFF = "not derived"  # a plain copy in a ruleset that says `inbound declared`
    NOT_INVERTIBLE = "not invertible"  # a constant, a function, several attributes...


@dataclass(frozen=True, slots=True)
class Inversion:
    """How one outbound rule stands in the inbound direction, and why (for review tools)."""

    kind: Inverse
    detail: str  # why it cannot be inverted, or which rule covers it


@dataclass(frozen=True, slots=True)
class Plan:
    """A checked ruleset: its rules in order, the extension schemas they write, and the profile types
    they read; its inbound rules (declared and derived) and how each outbound rule inverts."""

    name: str
    rules: tuple[PlannedRule, ...]
    extensions: tuple[str, ...]  # URNs of the extension schemas the rules write, in order
    profile_types: Mapping[str, ValueType]  # every profile attribute read, with its type
    schemas: Mapping[str, Schema]  # the extension schemas written or read, by URN
    inbound: tuple[InboundRule, ...] = ()
    inversions: tuple[Inversion, ...] = ()  # one per rule, in order
