"""Hypothesis strategies: Okta profiles as Okta sends them, and hostile JSON."""

from __future__ import annotations

import string
from typing import Any

from hypothesis import strategies as st

from mapper.schema import OKTA_BASE_PROFILE, OKTA_STATUSES

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


def okta_profiles(
    extra: dict[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Okta base profiles: strings everywhere, real email addresses where Okta enforces them,
    any attribute possibly missing, null or empty."""
    strategies: dict[str, st.SearchStrategy[Any]] = {}
    for name in OKTA_BASE_PROFILE:
        value = emails if name in _EMAIL_ATTRIBUTES else profile_text
        strategies[name] = st.one_of(st.none(), st.just(""), value)
    for name, value in (extra or {}).items():
        strategies[name] = st.one_of(st.none(), value)
    required = {"login": emails}
    optional = {k: v for k, v in strategies.items() if k != "login"}
    return st.fixed_dictionaries(required, optional=optional)


def okta_users(extra: dict[str, st.SearchStrategy[Any]] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Either input shape: a bare profile or a Users API object."""
    api = st.fixed_dictionaries(
        {"profile": okta_profiles(extra)},
        optional={
            "id": st.text(string.ascii_letters + string.digits, min_size=1, max_size=20).map("00u{}".format),
            "status": st.sampled_from(OKTA_STATUSES),
        },
    )
    return st.one_of(okta_profiles(extra), api)


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def hostile_users() -> st.SearchStrategy[Any]:
    """Anything JSON can hold, shaped loosely like a profile or a Users API object."""
    keys = st.sampled_from([*OKTA_BASE_PROFILE, "costCenter", "tags", "id", "status", "profile"]) | st.text(
        max_size=8
    )
    profile = st.dictionaries(keys, json_values, max_size=12)
    api = st.fixed_dictionaries({"profile": profile}, optional={"id": json_values, "status": json_values})
    return st.one_of(profile, api, json_values)
