"""Hypothesis strategies: Okta profiles as Okta sends them, and hostile JSON."""

from __future__ import annotations

import functools
import string
from typing import Any

from hypothesis import strategies as st

from mapper.core.schema import OKTA_BASE_PROFILE, OKTA_STATUSES

_EMAIL_ATTRIBUTES = ("login", "email", "secondEmail")

# Text as profiles carry it: any Unicode, including empty strings and whitespace.
profile_text = st.text(max_size=30)

emails = st.builds(
    "{}@{}.{}".format,
    st.text(string.ascii_lowercase + string.digits + "._", min_size=1, max_size=12).filter(
        lambda s: s[0] not in "._" and s[-1] not in "._" and ".." not in s
    ),
    st.text(string.ascii_lowercase, min_size=1, max_size=10),
    st.sampled_from(["com", "org", "io", "example"]),
)


#: Extra profile attributes and their strategies, as a key of the caches below.
_Extra = tuple[tuple[str, st.SearchStrategy[Any]], ...]


def okta_profiles(
    extra: dict[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Okta base profiles: strings everywhere, real email addresses where Okta enforces them,
    any attribute possibly missing, null or empty."""
    return _okta_profiles(tuple((extra or {}).items()))


def okta_users(extra: dict[str, st.SearchStrategy[Any]] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Either input shape: a bare profile or a Users API object."""
    return _okta_users(tuple((extra or {}).items()))


# Built once for each EXTRA: tests draw users inside composites and with data.draw, and a
# strategy built anew at each draw is validated anew, which took half of those tests' time.
@functools.cache
def _okta_profiles(extra: _Extra) -> st.SearchStrategy[dict[str, Any]]:
    strategies: dict[str, st.SearchStrategy[Any]] = {}
    for name in OKTA_BASE_PROFILE:
        value = emails if name in _EMAIL_ATTRIBUTES else profile_text
        strategies[name] = st.one_of(st.none(), st.just(""), value)
    for name, value in extra:
        strategies[name] = st.one_of(st.none(), value)
    required = {"login": emails}
    optional = {k: v for k, v in strategies.items() if k != "login"}
    return st.fixed_dictionaries(required, optional=optional)


@functools.cache
def _okta_users(extra: _Extra) -> st.SearchStrategy[dict[str, Any]]:
    api = st.fixed_dictionaries(
        {"profile": _okta_profiles(extra)},
        optional={
            "id": st.text(string.ascii_letters + string.digits, min_size=1, max_size=20).map("00u{}".format),
            "status": st.sampled_from(OKTA_STATUSES),
        },
    )
    return st.one_of(_okta_profiles(extra), api)


def _long_string() -> str:
    return "x" * 1_000_000


def _deep(depth: int) -> Any:
    value: Any = "x"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


_plain_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    # Lone surrogates (JSON allows "\ud800"), line separators, NUL, and one very long string.
    st.text(st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010), max_size=5),
    st.sampled_from(["\u2028", "\x00", "\r\n"]),
    st.builds(_long_string),  # built when drawn: a repr of the strategy stays short
    st.builds(_deep, st.just(2_000)),
)


def _values(scalars: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=12,
    )


json_values = _values(json_scalars)
plain_json_values = _values(_plain_scalars)  # what json.dumps can write back


def hostile_users(values: st.SearchStrategy[Any] = json_values) -> st.SearchStrategy[Any]:
    """Anything JSON can hold, shaped loosely like a profile or a Users API object."""
    keys = st.sampled_from([*OKTA_BASE_PROFILE, "costCenter", "tags", "id", "status", "profile"]) | st.text(
        max_size=8
    )
    profile = st.dictionaries(keys, values, max_size=12)
    api = st.fixed_dictionaries({"profile": profile}, optional={"id": values, "status": values})
    return st.one_of(profile, api, values)


def _numeric_text() -> st.SearchStrategy[str]:
    """Strings Convert.toInt and Convert.toNum must survive: huge exponents, long digit runs,
    forms Java refuses and Python accepts, and ordinary numbers."""
    return st.one_of(
        st.sampled_from(["1e999999999", "-1E+999999999", "0.5e-999999999", "1e308", "1e309", "NaN",
                         "Infinity", "-0", " 42 ", "12_000", "0x10", "١٢", "2.5", "-2.5", ".5", "5.", ""]),
        st.integers(1, 6000).map(lambda n: "9" * n),
        st.builds("{}e{}".format, st.integers(-10, 10), st.integers(-(10**12), 10**12)),
        st.from_regex(r"\A[+-]?[0-9]{0,25}(\.[0-9]{0,25})?([eE][+-]?[0-9]{1,12})?\Z"),
    )  # fmt: skip


def _limit_text() -> st.SearchStrategy[str]:
    """Strings at the value limit and past it, in characters that grow when upper-cased."""
    return st.sampled_from(["a", "ß", " ", "a ", "\ud800"]).flatmap(
        lambda unit: st.sampled_from([9_999, 10_000, 10_001]).map(lambda n: (unit * n)[:n])
    )


_hostile_strings = st.one_of(
    _numeric_text(),
    _limit_text(),
    st.text(st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010), max_size=5),  # lone surrogates
    st.text(max_size=20),
)
_hostile_integers = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**70, 10**400, -(10**400)]),
)
_hostile_numbers = st.one_of(
    _hostile_integers,
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1.7976931348623157e308, -1.7976931348623157e308, 5e-324, -0.0]),
)
typed_scalars = st.one_of(st.none(), st.booleans(), _hostile_integers, _hostile_numbers, _hostile_strings)
_HOSTILE_BY_TYPE = {"string": _hostile_strings, "integer": _hostile_integers, "decimal": _hostile_numbers,
                    "boolean": st.booleans()}  # fmt: skip


def typed_hostile_users(types: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Profiles for a typed ruleset: TYPES maps each source attribute to its ValueType. Most
    profiles are well typed but hostile within each type (huge and boundary numbers, NaN,
    strings at and past the length limit, lone surrogates, numeric text Java refuses), so
    that renders get past the typed reads into every function; the rest put any JSON value
    anywhere."""
    right: dict[str, st.SearchStrategy[Any]] = {}
    anything: dict[str, st.SearchStrategy[Any]] = {}
    for name, type_ in types.items():
        value = _HOSTILE_BY_TYPE[type_.base]
        if type_.multi:
            value = st.lists(st.one_of(st.none(), st.just(""), value), max_size=4)
        right[name] = st.one_of(st.none(), value)
        anything[name] = st.one_of(right[name], typed_scalars, st.lists(typed_scalars, max_size=3))
    profiles = st.one_of(
        st.fixed_dictionaries({"login": emails}, optional=right),
        st.fixed_dictionaries({"login": emails}, optional=anything),
    )
    return st.one_of(profiles, st.fixed_dictionaries({"profile": profiles}))
