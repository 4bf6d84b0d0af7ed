"""Functions the generated code calls: the Okta EL library and value conversions.

Everything here receives values whose types the checker already knows; a value
that still cannot be used (a string that is no number, say) raises
:class:`ValueProblem`, which the generated code turns into a ProfileError that
names the rule's source attributes and target.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

from mapper.core import timefmt
from mapper.core.regex import SEARCH_BUDGET, OutputTooLong, Substitution, TooCostly
from mapper.core.schema import OKTA_BASE_PROFILE
from mapper.errors import NO_VALUE, ProfileError

#: The longest string a profile value or a function result may be, in characters. Far above
#: what Okta's attributes hold; it bounds the time any function can take (see the README).
MAX_VALUE_CHARS = 10_000

#: The most entries an array-valued profile attribute may have.
MAX_ARRAY_ITEMS = 10_000

#: The largest magnitude a decimal (an IEEE double, as in Okta and JSON) can hold.
DECIMAL_MAX = 1.7976931348623157e308

#: SCIM servers store integers in 64 bits; larger ones are refused, not truncated.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


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
    """The ProfileError for attribute NAME holding VALUE where EXPECTED belongs (naming its type only)."""
    return ProfileError(f"expected {expected}, got {describe(value)}", attribute=name, value=value)


def rule_error(problem: ValueProblem, sources: tuple[str, ...], target: str) -> ProfileError:
    """The ProfileError for PROBLEM in the rule that maps SOURCES to TARGET."""
    return ProfileError(
        str(problem), attribute=", ".join(sources) or None, target=target, value=problem.value
    )


def missing_required(sources: tuple[str, ...], target: str) -> ProfileError:
    """The ProfileError for a required TARGET that the rule from SOURCES leaves without a value."""
    return ProfileError(
        "has no value, but RFC 7643 requires one", attribute=", ".join(sources) or None, target=target
    )


def too_long(name: str, value: object) -> ProfileError:
    """The ProfileError for attribute NAME holding a VALUE longer than MAX_VALUE_CHARS."""
    return ProfileError(f"longer than {MAX_VALUE_CHARS:,} characters", attribute=name, value=value)


def read_array(name: str, value: object, element: type, expected: str) -> list[Any] | None:
    """Validate an array-typed profile attribute; nulls and empty strings inside are dropped.
    Entries get the checks a single value of their type gets."""
    if value is None:
        return None
    if value.__class__ is not list:
        raise bad_source(name, f"an array of {expected}", value)
    assert isinstance(value, list)
    if len(value) > MAX_ARRAY_ITEMS:
        raise ProfileError(f"has more than {MAX_ARRAY_ITEMS:,} entries", attribute=name, value=value)
    out = []
    for item in value:
        if item is None or item == "":
            continue
        if element is str:
            if item.__class__ is not str:
                raise bad_source(name, f"an array of {expected}", item)
            if len(item) > MAX_VALUE_CHARS:
                raise too_long(name, item)
        elif element is int:
            if item.__class__ is not int:
                raise bad_source(name, f"an array of {expected}", item)
            if not INT_MIN <= item <= INT_MAX:
                raise ProfileError(
                    "an entry is out of the range of a SCIM integer (64 bits)", name, value=item
                )
        elif element is float:
            norm_decimal(name, item, f"an array of {expected}")
        elif item.__class__ is not element:
            raise bad_source(name, f"an array of {expected}", item)
        out.append(item)
    return out or None


def bounded(value: str | None) -> str | None:
    """A function's string result, refused when longer than any input may be: no rule can
    build a value that outgrows the limit (String.replace with $0$0$0..., say)."""
    if value is not None and len(value) > MAX_VALUE_CHARS:
        raise ValueProblem(f"the result is longer than {MAX_VALUE_CHARS:,} characters")
    return value


# ---------------------------------------------------------------- operators


def concat(*parts: object) -> str | None:
    """``a + b + ...`` on strings: null operands count as empty; all null gives null."""
    out = [p if isinstance(p, str) else _text(p) for p in parts if p is not None]
    return bounded("".join(out)) if out else None


def _text(value: object) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)
    return str(value)


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
    """``a < b``: false when either side is null."""
    return a is not None and b is not None and a < b


def le(a: Any, b: Any) -> bool:
    """``a <= b``: false when either side is null."""
    return a is not None and b is not None and a <= b


def gt(a: Any, b: Any) -> bool:
    """``a > b``: false when either side is null."""
    return a is not None and b is not None and a > b


def ge(a: Any, b: Any) -> bool:
    """``a >= b``: false when either side is null."""
    return a is not None and b is not None and a >= b


def not_(a: bool | None) -> bool | None:
    """``!a``: null stays null."""
    return None if a is None else not a


# ---------------------------------------------------------------- String.*


# Functions whose result can outgrow their input (case mapping can: "ß" upper-cases to "SS")
# pass it through bounded(); the others return their input or a part of it.


def to_upper(s: str | None) -> str | None:
    """S upper-cased (String.toUpperCase); refused when the result outgrows the limit."""
    return None if s is None else bounded(s.upper())


def to_lower(s: str | None) -> str | None:
    """S lower-cased (String.toLowerCase); refused when the result outgrows the limit."""
    return None if s is None else bounded(s.lower())


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


def replace(s: str | None, substitution: Substitution) -> str | None:
    """Every match replaced (Java's replaceAll); the result is bounded as it grows."""
    return None if s is None else _substitute(s, substitution, 0)


def replace_first(s: str | None, substitution: Substitution) -> str | None:
    """The first match replaced (Java's replaceFirst); the result is bounded as it grows."""
    return None if s is None else _substitute(s, substitution, 1)


def _substitute(text: str, substitution: Substitution, count: int) -> str:
    try:
        return substitution.apply(text, count, 4 * MAX_VALUE_CHARS)
    except UnicodeEncodeError:
        raise ValueProblem("is not valid Unicode (it holds a lone surrogate)") from None
    except OutputTooLong:
        raise ValueProblem(f"the result is longer than {MAX_VALUE_CHARS:,} characters") from None
    except TooCostly:
        raise ValueProblem(
            f"the regular expression would search this value too long (over {SEARCH_BUDGET:,} RE2 steps)"
        ) from None


def join(separator: str | None, *parts: str | None) -> str | None:
    """Joins the non-null, non-empty parts; null when there are none."""
    kept = [p for p in parts if p]
    return bounded((separator or "").join(kept)) if kept else None


def length(s: str | None) -> int | None:
    """The number of characters (code points) in S; null for null (String.len)."""
    return None if s is None else len(s)


def remove_spaces(s: str | None) -> str | None:
    """S without its space characters (U+0020 only; tabs and other white space stay)."""
    return None if s is None else s.replace(" ", "")


def contains(s: str | None, part: str | None) -> bool:
    """Whether S contains PART; false when either is null."""
    return s is not None and part is not None and part in s


def starts_with(s: str | None, prefix: str | None) -> bool:
    """Whether S starts with PREFIX; false when either is null."""
    return s is not None and prefix is not None and s.startswith(prefix)


def string_switch(value: str | None, default: str | None, *pairs: str | None) -> str | None:
    """The value of the first KEY that VALUE contains, else DEFAULT (Okta's stringSwitch)."""
    if value is not None:
        for i in range(0, len(pairs) - 1, 2):
            key = pairs[i]
            if key is not None and key in value:
                return pairs[i + 1]
    return default


# ---------------------------------------------------------------- Convert.*


#: A number written as text, as Java's parsers take it: sign, digits, fraction, exponent.
#: (Python's own parsers also take "_", "inf", "nan" and non-ASCII digits; Okta's do not.)
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


def _parse_number(value: str, what: str) -> Decimal:
    """A numeric string as a Decimal, in time linear in its length (which the value limit
    bounds); the range is checked by the caller, before anything of that size is built."""
    text = value.strip()
    if not _NUMBER.fullmatch(text):
        if what == "a number" and text.lstrip("+-").lower() in ("nan", "inf", "infinity"):
            what = "a finite number"
        raise ValueProblem(f"cannot convert to {what}", value)
    return Decimal(text)


def to_int(value: str | int | float | None) -> int | None:
    """Integers as they are; decimals and numeric strings rounded half away from zero."""
    if value is None or value.__class__ is int:
        return value
    if value.__class__ is str and not value.strip():
        return None  # a cleared attribute converts to no value, not an error
    number = _parse_number(value, "an integer") if isinstance(value, str) else Decimal(repr(value))
    # adjusted() is the exponent of the leading digit: refuse 1e999999999 before rounding
    # builds an integer of a billion digits.
    if not number.is_finite() or number.adjusted() > 18:
        raise ValueProblem("out of the range of a SCIM integer (64 bits)", value)
    result = int(number.to_integral_value(ROUND_HALF_UP))
    if not INT_MIN <= result <= INT_MAX:
        raise ValueProblem("out of the range of a SCIM integer (64 bits)", value)
    return result


def to_num(value: str | int | float | None) -> float | None:
    """A number or numeric string as a finite float; null and blank strings give null."""
    if value is None or (value.__class__ is str and not value.strip()):
        return None
    if isinstance(value, str):
        number = float(_parse_number(value, "a number"))
    else:
        try:
            number = float(value)
        except OverflowError:  # an int beyond a double
            raise ValueProblem("cannot convert to a finite number", value) from None
    if not math.isfinite(number):
        raise ValueProblem("cannot convert to a finite number", value)
    return number


# ---------------------------------------------------------------- Time.*


def clock() -> datetime:
    """Now, for Time.now(); tests replace it (``monkeypatch.setattr(runtime, "clock", ...)``)."""
    return datetime.now(UTC)


def _time(convert: Callable[..., str], *args: str | None) -> str | None:
    if any(a is None or a == "" for a in args):
        return None
    try:
        return convert(*args)
    except timefmt.TimeValueError as exc:
        raise ValueProblem(str(exc), args[0]) from None


@cache
def _zone(name: str) -> tzinfo:
    from zoneinfo import ZoneInfo  # only rulesets with Time.now(zone): 2 ms of start-up

    return ZoneInfo(name)


def time_now(zone: str | None = None, pattern: str | None = None) -> str:
    """The time now: ISO 8601 with milliseconds in UTC or in ZONE, or written with PATTERN in ZONE."""
    moment = clock()
    if zone is None:
        return timefmt.iso(moment)
    local = moment.astimezone(_zone(timefmt.zone_name(zone)))
    if pattern is None:
        return local.isoformat(timespec="milliseconds")
    return timefmt.format_with(local, pattern)


def time_from_windows(text: str | None) -> str | None:
    """A Windows (LDAP) timestamp as ISO 8601 in UTC; null or empty gives null."""
    return _time(timefmt.from_windows, text)


def time_from_unix(text: str | None) -> str | None:
    """A Unix timestamp (seconds) as ISO 8601 in UTC; null or empty gives null."""
    return _time(timefmt.from_unix, text)


def time_from_string(text: str | None, pattern: str | None) -> str | None:
    """TEXT read with the Joda PATTERN, as ISO 8601 in UTC; null or empty gives null."""
    return _time(lambda t, p: timefmt.iso(timefmt.parse_with(t, p)), text, pattern)


def time_to_windows(text: str | None) -> str | None:
    """An ISO 8601 time as a Windows (LDAP) timestamp; null or empty gives null."""
    return _time(timefmt.to_windows, text)


def time_to_unix(text: str | None) -> str | None:
    """An ISO 8601 time as a Unix timestamp (seconds); null or empty gives null."""
    return _time(timefmt.to_unix, text)


def time_to_string(text: str | None, pattern: str | None) -> str | None:
    """An ISO 8601 time in UTC, written with the Joda PATTERN; null or empty gives null."""
    return _time(lambda t, p: timefmt.format_with(timefmt.parse_iso(t).astimezone(UTC), p), text, pattern)


# ---------------------------------------------------------------- Iso3166Convert.*


@cache
def _country(code: str) -> Any:
    """The ISO 3166-1 country a code names, whatever its form (as Okta's functions take
    alpha-2, alpha-3 and numeric codes alike); from pycountry's copy of the ISO tables."""
    import pycountry  # its tables load on first use, not with mapper

    text = code.strip()
    if text.isascii() and text.isdigit() and len(text) <= 3:
        found = pycountry.countries.get(numeric=text.zfill(3))
    elif text.isascii() and text.isalpha() and len(text) in (2, 3):
        upper = text.upper()
        found = (
            pycountry.countries.get(alpha_2=upper)
            if len(text) == 2
            else pycountry.countries.get(alpha_3=upper)
        )
    else:
        found = None
    if found is None:
        raise ValueProblem("not an ISO 3166-1 country code", code)
    return found


def _iso(code: str | None, field: str) -> str | None:
    if code is None or code == "":
        return None
    if len(code) > 8:  # no code is longer; keeps the cache small whatever profiles hold
        raise ValueProblem("not an ISO 3166-1 country code", code)
    return str(getattr(_country(code), field))


def iso_alpha2(code: str | None) -> str | None:
    """The ISO 3166-1 alpha-2 code of the country CODE names; null or empty gives null."""
    return _iso(code, "alpha_2")


def iso_alpha3(code: str | None) -> str | None:
    """The ISO 3166-1 alpha-3 code of the country CODE names; null or empty gives null."""
    return _iso(code, "alpha_3")


def iso_numeric(code: str | None) -> str | None:
    """The ISO 3166-1 three-digit number of the country CODE names; null or empty gives null."""
    return _iso(code, "numeric")


def iso_name(code: str | None) -> str | None:
    """The name of the country CODE names (ISO 3166-1); null or empty gives null."""
    return _iso(code, "name")


# ---------------------------------------------------------------- Arrays.*


def array_of(*items: object) -> list[Any]:
    """An array literal: null items dropped, as from array attributes."""
    return [item for item in items if item is not None]


def array_add(values: list[Any] | None, item: object) -> list[Any]:
    """VALUES (none counts as empty) with ITEM added at the end, unless ITEM is null."""
    added = [*(values or ()), *(() if item is None else (item,))]
    if len(added) > MAX_ARRAY_ITEMS:
        raise ValueProblem(f"the result has more than {MAX_ARRAY_ITEMS:,} entries")
    return added


def array_remove(values: list[Any] | None, item: object) -> list[Any] | None:
    """Without the first occurrence of ITEM, as Java's List.remove(Object)."""
    if values is None:
        return None
    out = list(values)
    if item in out:
        out.remove(item)
    return out


def array_clear(values: list[Any] | None) -> list[Any]:
    """An empty array, whatever VALUES holds (null too): as in Okta, never null, so an Elvis
    after it keeps the empty array (sent as no value)."""
    return []


def array_get(values: list[Any] | None, position: int | None) -> Any:
    """The entry at POSITION (from 0); null past either end."""
    if values is None or position is None or not 0 <= position < len(values):
        return None
    return values[position]


def array_flatten(*items: object) -> list[Any]:
    """ITEMS as one array: arrays' entries spliced in, null items dropped."""
    out: list[Any] = []
    for item in items:
        if isinstance(item, list):
            out.extend(item)
        elif item is not None:
            out.append(item)
    if len(out) > MAX_ARRAY_ITEMS:
        raise ValueProblem(f"the result has more than {MAX_ARRAY_ITEMS:,} entries")
    return out


def matches(s: str | None, compiled: Any) -> bool:
    """Okta's `matches`: the whole string matches the pattern (RE2, linear time)."""
    if s is None:
        return False
    try:
        return compiled.fullmatch(s) is not None
    except UnicodeEncodeError:
        raise ValueProblem("is not valid Unicode (it holds a lone surrogate)") from None


def array_contains(values: list[Any] | None, item: object) -> bool:
    """Whether VALUES holds ITEM; false when VALUES is null."""
    return values is not None and item in values


def array_size(values: list[Any] | None) -> int:
    """The number of entries in VALUES; 0 when it is null."""
    return 0 if values is None else len(values)


def array_is_empty(values: list[Any] | None) -> bool:
    """Whether VALUES is null or empty."""
    return not values


def array_to_csv(values: list[Any] | None) -> str | None:
    """The entries of VALUES joined with commas; null when there are none."""
    if not values:
        return None
    return bounded(",".join(_text(v) for v in values))


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
    """A string profile attribute, validated (an empty string stays one, as in Okta)."""
    if value.__class__ is str:
        assert isinstance(value, str)
        if len(value) > MAX_VALUE_CHARS:
            raise too_long(name, value)
        return value
    if value is None:
        return None
    raise bad_source(name, "a string", value)


def norm_boolean(name: str, value: object) -> bool | None:
    """A boolean profile attribute, validated."""
    if value is None or value.__class__ is bool:
        return value
    raise bad_source(name, "a boolean", value)


def norm_integer(name: str, value: object) -> int | None:
    """An integer profile attribute, validated: a JSON integer within 64 bits."""
    if value is None or (value.__class__ is int and INT_MIN <= value <= INT_MAX):
        return value
    raise bad_integer(name, value)


def bad_integer(name: str, value: object) -> ProfileError:
    """The ProfileError for attribute NAME holding VALUE where an integer was expected."""
    if value.__class__ is int:
        return ProfileError("out of the range of a SCIM integer (64 bits)", attribute=name, value=value)
    return bad_source(name, "an integer", value)


def norm_decimal(name: str, value: object, expected: str = "a number") -> float | int | None:
    """A number profile attribute: a finite double (an int beyond 1.8e308 is none)."""
    if value is None:
        return None
    if type(value) is not float and type(value) is not int:
        raise bad_source(name, expected, value)
    assert isinstance(value, (int, float))
    if not -DECIMAL_MAX <= value <= DECIMAL_MAX:  # also false for NaN
        raise bad_source(name, "a finite number", value)
    return value


# ---------------------------------------------------------------- the input's two shapes

_NO_FIELDS: dict[str, Any] = {}


def split_user(user: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """(profile, Users API fields) from either input shape.

    A Users API object is recognised by its ``profile`` member being an object;
    anything else that is an object is taken as a bare profile.
    """
    if not isinstance(user, dict):
        raise ProfileError(
            f"expected a JSON object (an Okta profile or Users API user), got {describe(user)}"
        )
    inner = user.get("profile")
    if inner.__class__ is dict:
        return inner, user
    if inner is not None:
        raise ProfileError(
            f"expected an Okta Users API user, whose 'profile' is an object; its 'profile' is {describe(inner)}"
        )
    if "login" not in user and _looks_wrapped(user):
        (key,) = [k for k, v in user.items() if isinstance(v, dict)]
        raise ProfileError(
            'expected an Okta profile or an Okta Users API user ({"id", "status", "profile": {...}}); '
            f"found an object with no Okta profile attribute and one object-valued member {ascii(key)[:40]}"
        )
    return user, _NO_FIELDS


def _looks_wrapped(user: dict[str, Any]) -> bool:
    """An object that is neither shape: a wrapper ({"data": {...}}, {"Profile": {...}}) around one."""
    return (
        not any(key in OKTA_BASE_PROFILE for key in user)
        and sum(isinstance(v, dict) for v in user.values()) == 1
    )
