"""Functions the generated code calls: the Okta EL library and value conversions.

Everything here receives values whose types the checker already knows; a value
that still cannot be used (a string that is no number, say) raises
:class:`ValueProblem`, which the generated code turns into a ProfileError that
names the rule's source attributes and target.
"""

from __future__ import annotations

import math
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from mapper.errors import NO_VALUE, ProfileError


class ValueProblem(Exception):
    """A value of the right type that still cannot be used; the message says why."""

    def __init__(self, problem: str, value: object = NO_VALUE) -> None:
        super().__init__(problem)
        self.value = value


_JSON_TYPES = {
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    list: "an array",
    dict: "an object",
}


def describe(value: object) -> str:
    """The JSON type of a value, for messages; never the value itself (personal data)."""
    if value is None:
        return "null"
    return _JSON_TYPES.get(type(value), type(value).__name__)


def bad_source(name: str, expected: str, value: object) -> ProfileError:
    return ProfileError(f"expected {expected}, got {describe(value)}", attribute=name, value=value)


def rule_error(problem: ValueProblem, sources: tuple[str, ...], target: str) -> ProfileError:
    return ProfileError(
        str(problem), attribute=", ".join(sources) or None, target=target, value=problem.value
    )


def missing_required(sources: tuple[str, ...], target: str) -> ProfileError:
    return ProfileError(
        "has no value, but RFC 7643 requires one", attribute=", ".join(sources) or None, target=target
    )


def read_array(name: str, value: object, element: type, expected: str) -> list[Any] | None:
    """Validate an array-typed profile attribute; nulls and empty strings inside are dropped."""
    if value is None:
        return None
    if value.__class__ is not list:
        raise bad_source(name, f"an array of {expected}", value)
    out = []
    assert isinstance(value, list)
    for item in value:
        if item is None or item == "":
            continue
        if not _is(item, element):
            raise bad_source(name, f"an array of {expected}", item)
        out.append(item)
    return out or None


def _is(value: object, kind: type) -> bool:
    if kind is float:
        return value.__class__ is float or value.__class__ is int
    return value.__class__ is kind


# ---------------------------------------------------------------- operators


def concat(*parts: object) -> str | None:
    """``a + b + ...`` on strings: null operands count as empty; all null gives null."""
    out = [p if isinstance(p, str) else _text(p) for p in parts if p is not None]
    return "".join(out) if out else None


def _text(value: object) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    return str(value)


#: SCIM servers store integers in 64 bits; larger ones are refused, not truncated.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def add(a: float | None, b: float | None) -> float | None:
    """Numeric +: null if either side is; a sum outside what SCIM can carry is a ValueProblem."""
    if a is None or b is None:
        return None
    total = a + b
    if isinstance(total, int):
        if not INT_MIN <= total <= INT_MAX:
            raise ValueProblem("the sum is out of the range of a SCIM integer (64 bits)", total)
    elif not math.isfinite(total):
        raise ValueProblem("the sum is not a finite number", total)
    return total


def lt(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a < b


def le(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a <= b


def gt(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a > b


def ge(a: Any, b: Any) -> bool:
    return a is not None and b is not None and a >= b


def not_(a: bool | None) -> bool | None:
    return None if a is None else not a


# ---------------------------------------------------------------- String.*


def to_upper(s: str | None) -> str | None:
    return None if s is None else s.upper()


def to_lower(s: str | None) -> str | None:
    return None if s is None else s.lower()


def substring_before(s: str | None, sep: str | None) -> str | None:
    """Apache Commons semantics, as Okta: the whole string when SEP does not occur."""
    if s is None or sep is None:
        return s
    if sep == "":
        return ""
    i = s.find(sep)
    return s if i < 0 else s[:i]


def substring_after(s: str | None, sep: str | None) -> str | None:
    """Apache Commons semantics, as Okta: empty when SEP does not occur."""
    if s is None:
        return None
    if sep is None:
        return ""
    i = s.find(sep)
    return "" if i < 0 else s[i + len(sep) :]


def substring(s: str | None, start: int | None, end: int | None) -> str | None:
    """Characters START (inclusive) to END (exclusive), clamped to the string."""
    if s is None or start is None or end is None:
        return None
    start = max(0, start)
    return s[start:end] if end > start else ""


def replace(s: str | None, pattern: Any, replacement: str) -> str | None:
    return None if s is None else pattern.sub(replacement, s)


def replace_first(s: str | None, pattern: Any, replacement: str) -> str | None:
    return None if s is None else pattern.sub(replacement, s, count=1)


def join(separator: str | None, *parts: str | None) -> str | None:
    """Joins the non-null, non-empty parts; null when there are none."""
    kept = [p for p in parts if p]
    return (separator or "").join(kept) if kept else None


def length(s: str | None) -> int | None:
    return None if s is None else len(s)


def remove_spaces(s: str | None) -> str | None:
    return None if s is None else s.replace(" ", "")


def contains(s: str | None, part: str | None) -> bool:
    return s is not None and part is not None and part in s


def string_switch(value: str | None, default: str | None, *pairs: str | None) -> str | None:
    """The value of the first KEY that VALUE contains, else DEFAULT (Okta's stringSwitch)."""
    if value is not None:
        for i in range(0, len(pairs) - 1, 2):
            key = pairs[i]
            if key is not None and key in value:
                return pairs[i + 1]
    return default


# ---------------------------------------------------------------- Convert.*


def to_int(value: str | int | float | None) -> int | None:
    """Integers as they are; decimals and numeric strings rounded half away from zero."""
    if value is None or isinstance(value, int):
        return value
    try:
        number = Decimal(value.strip() if isinstance(value, str) else repr(value))
        if not number.is_finite():
            raise InvalidOperation
        result = int(number.to_integral_value(ROUND_HALF_UP))
    except (InvalidOperation, ValueError):
        raise ValueProblem("cannot convert to an integer", value) from None
    if not INT_MIN <= result <= INT_MAX:
        raise ValueProblem("out of the range of a SCIM integer (64 bits)", value)
    return result


def to_num(value: str | int | float | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except ValueError:
        raise ValueProblem("cannot convert to a number", value) from None
    if not math.isfinite(number):
        raise ValueProblem("cannot convert to a finite number", value)
    return number


# ---------------------------------------------------------------- Arrays.*


def array_contains(values: list[Any] | None, item: object) -> bool:
    return values is not None and item in values


def array_size(values: list[Any] | None) -> int:
    return 0 if values is None else len(values)


def array_is_empty(values: list[Any] | None) -> bool:
    return not values


def array_to_csv(values: list[Any] | None) -> str | None:
    if not values:
        return None
    return ",".join(_text(v) for v in values)


# ---------------------------------------------------------------- SCIM conversions


def to_datetime(value: str | None) -> str | None:
    """A SCIM dateTime (xsd:dateTime): kept as written when it parses, else a ValueProblem."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueProblem("not an ISO 8601 date and time", value) from None
    if "T" not in value or parsed.tzinfo is None:
        raise ValueProblem("a SCIM dateTime needs a date, a time and a time zone", value)
    return value


# ---------------------------------------------------------------- reads for patch


def norm_string(name: str, value: object) -> str | None:
    """A string profile attribute, validated; an empty string is None."""
    if value.__class__ is str:
        return value or None
    if value is None:
        return None
    raise bad_source(name, "a string", value)


def norm_boolean(name: str, value: object) -> bool | None:
    if value is None or value.__class__ is bool:
        return value
    raise bad_source(name, "a boolean", value)


def norm_integer(name: str, value: object) -> int | None:
    if value is None or (value.__class__ is int and INT_MIN <= value <= INT_MAX):
        return value
    raise bad_integer(name, value)


def bad_integer(name: str, value: object) -> ProfileError:
    if value.__class__ is int:
        return ProfileError("out of the range of a SCIM integer (64 bits)", attribute=name, value=value)
    return bad_source(name, "an integer", value)


def norm_decimal(name: str, value: object) -> float | int | None:
    if value is None:
        return None
    if type(value) is not float and type(value) is not int:
        raise bad_source(name, "a number", value)
    assert isinstance(value, (int, float))
    if not math.isfinite(value):
        raise bad_source(name, "a finite number", value)
    return value
