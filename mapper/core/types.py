"""The static types of ruleset expressions.

Every expression has a type known before anything runs: profile attributes are
typed by Okta's base profile (all strings) or by the ruleset's ``profile``
block, functions have signatures, and literals are what they look like. So the
generated code never needs to guess what a value is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ValueType:
    """The static type of an expression: a BASE type, or an array of it (MULTI)."""

    base: str  # "string" | "boolean" | "integer" | "decimal" | "null"
    multi: bool = False

    def __str__(self) -> str:
        return self.base + ("[]" if self.multi else "")

    @property
    def element(self) -> ValueType:
        """The type of one entry: the same base, single-valued."""
        return ValueType(self.base)

    @property
    def okta_name(self) -> str:
        """The type as a `profile { }` declaration writes it (Okta's names)."""
        base = {"decimal": "number"}.get(self.base, self.base)
        return base + ("[]" if self.multi else "")

    @property
    def is_number(self) -> bool:
        """Whether the type is a single integer or decimal."""
        return not self.multi and self.base in ("integer", "decimal")


STRING = ValueType("string")
BOOLEAN = ValueType("boolean")
INTEGER = ValueType("integer")
DECIMAL = ValueType("decimal")
NULL = ValueType("null")

#: Okta profile types (as a ``profile`` block declares them) to expression types.
OKTA_TO_VALUE = {"string": "string", "boolean": "boolean", "integer": "integer", "number": "decimal"}


def okta_type(name: str, multi: bool) -> ValueType:
    """The expression type of the Okta profile type NAME; an array of it when MULTI."""
    return ValueType(OKTA_TO_VALUE[name], multi)


def scim_accepts(target: str, value: ValueType) -> bool:
    """Whether an expression of type VALUE may feed a single-valued SCIM attribute of type TARGET.

    Integers go into strings (Okta custom integers often feed SCIM string
    attributes such as employeeNumber) and into decimals; nothing else converts
    implicitly.
    """
    if value.multi:
        return False
    if value.base == "null":
        return True
    if target in ("string", "reference", "binary", "dateTime"):
        return value.base == "string" or (target == "string" and value.base == "integer")
    if target == "decimal":
        return value.base in ("integer", "decimal")
    return target == value.base


def default_fits(target: str, value: ValueType) -> bool:
    """Whether a default of type VALUE may stand in for a single value of type TARGET (a SCIM
    type, or a base type): exactly its type, an integer for a decimal. Unlike expression values,
    an integer default never goes into a string: it would be written as a number."""
    if value.multi or value.base == "null":
        return False
    if target in ("string", "reference", "binary", "dateTime"):
        return value.base == "string"
    if target == "decimal":
        return value.base in ("integer", "decimal")
    return target == value.base
