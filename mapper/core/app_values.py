"""Reading an app's SCIM resource, for the inbound functions the generator writes.

The generated code reads each attribute an inbound rule names and checks its
type inline; what is too long to write inline lives here: attribute names
matched without regard to case (RFC 7643 section 2.1) when an app spells them
its own way, the entry of a multi-valued attribute with a given type, arrays,
numbers, and the :class:`~mapper.errors.ResourceError` messages, which name the
SCIM path and never show the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from mapper.core.helpers import (
    DECIMAL_MAX,
    INT_MAX,
    INT_MIN,
    MAX_ARRAY_ITEMS,
    MAX_VALUE_CHARS,
    ValueProblem,
    describe,
)
from mapper.errors import ResourceError

#: What an absent complex attribute or entry reads as: every sub-attribute is null.
EMPTY: Mapping[str, Any] = MappingProxyType({})


def not_resource(value: object) -> ResourceError:
    """The error for an input that is no SCIM resource at all."""
    return ResourceError(f"expected a SCIM resource (a JSON object), got {describe(value)}")


def bad_value(path: str, expected: str, value: object) -> ResourceError:
    """The error for the app's attribute PATH holding VALUE where EXPECTED belongs (its type only)."""
    return ResourceError(f"expected {expected}, got {describe(value)}", attribute=path, value=value)


def too_long(path: str, value: object) -> ResourceError:
    """The error for the app's attribute PATH holding a string longer than MAX_VALUE_CHARS."""
    return ResourceError(f"longer than {MAX_VALUE_CHARS:,} characters", attribute=path, value=value)


def rule_error(problem: ValueProblem, paths: tuple[str, ...], target: str) -> ResourceError:
    """The error for PROBLEM in the inbound rule that reads PATHS to set Okta attribute TARGET."""
    return ResourceError(str(problem), attribute=", ".join(paths) or None, target=target, value=problem.value)


def canonical(obj: dict[str, Any], names: Mapping[str, str], where: str) -> dict[str, Any]:
    """OBJ with each key that NAMES knows (lower case to canonical spelling) spelt canonically;
    other keys kept. SCIM attribute names are case-insensitive, so ``Title`` is ``title``; two
    spellings of one attribute are an error, not a guess. WHERE names OBJ for that error."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = names.get(key.lower(), key) if key.__class__ is str else key
        if name in out:
            inside = f" in {where}" if where else ""
            raise ResourceError(f"spelt two ways{inside} (SCIM names ignore case)", attribute=name)
        out[name] = value
    return out


def complex_value(
    value: object, path: str, known: frozenset[str], names: Mapping[str, str]
) -> Mapping[str, Any]:
    """The complex attribute (or extension object) at PATH, its keys canonical; EMPTY when absent."""
    if value.__class__ is dict:
        assert isinstance(value, dict)
        return value if known.issuperset(value) else canonical(value, names, path)
    if value is None:
        return EMPTY
    raise bad_value(path, "an object", value)


def entry(
    items: object, wanted: str, path: str, known: frozenset[str], names: Mapping[str, str]
) -> Mapping[str, Any]:
    """The entry of the multi-valued attribute at PATH whose ``type`` is WANTED (compared without
    regard to case, as RFC 7643 defines ``type``): the primary one where several match, else
    the first; EMPTY when none does."""
    if items is None:
        return EMPTY
    if items.__class__ is not list:
        raise bad_value(path, "an array of objects", items)
    assert isinstance(items, list)
    if len(items) > MAX_ARRAY_ITEMS:
        raise ResourceError(f"has more than {MAX_ARRAY_ITEMS:,} entries", attribute=path)
    lowered = wanted.lower()
    found: Mapping[str, Any] = EMPTY
    for item in items:
        if item.__class__ is not dict:
            raise bad_value(path, "an array of objects", item)
        if not known.issuperset(item):
            item = canonical(item, names, path)
        kind, primary = item.get("type"), item.get("primary")
        if kind is not None and kind.__class__ is not str:
            raise bad_value(f"{path}[].type", "a string", kind)
        if primary is not None and primary.__class__ is not bool:
            raise bad_value(f"{path}[].primary", "a boolean", primary)
        if kind is not None and (kind == wanted or kind.lower() == lowered):
            if primary is True:
                return item  # type: ignore[no-any-return]
            if found is EMPTY:
                found = item
    return found


def array(path: str, value: object, element: type, expected: str) -> list[Any] | None:
    """A multi-valued simple attribute's values, each checked as a single value of its type is;
    nulls and empty strings dropped; None when there are none."""
    if value is None:
        return None
    if value.__class__ is not list:
        raise bad_value(path, f"an array of {expected}", value)
    assert isinstance(value, list)
    if len(value) > MAX_ARRAY_ITEMS:
        raise ResourceError(f"has more than {MAX_ARRAY_ITEMS:,} entries", attribute=path)
    out = []
    for item in value:
        if item is None or item == "":
            continue
        if element is float:
            item = decimal(path, item)
        elif item.__class__ is not element:
            raise bad_value(path, f"an array of {expected}", item)
        elif isinstance(item, str) and len(item) > MAX_VALUE_CHARS:
            raise too_long(path, item)
        elif isinstance(item, int) and not INT_MIN <= item <= INT_MAX:
            raise bad_value(path, "a 64-bit integer", item)
        out.append(item)
    return out or None


def decimal(path: str, value: object) -> float | int | None:
    """A SCIM decimal: a finite number (an integer is one too)."""
    if value is None:
        return None
    if (
        not isinstance(value, float | int)
        or isinstance(value, bool)
        or not -DECIMAL_MAX <= value <= DECIMAL_MAX
    ):
        raise bad_value(path, "a finite number", value)  # NaN and infinities fail the range test
    return value
