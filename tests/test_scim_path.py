"""The one SCIM attribute-path type: its text round-trips, and every summary of a change
(sync's reports and saved plans from PATCH messages, review from two renderings) names an
attribute at the same level."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mapper
from mapper.core.schema import CORE_USER, ENTERPRISE_USER
from mapper.core.scim_path import AttrPath, summary
from mapper.runtime.patch import touched
from mapper.tools.impact import changed_attributes
from tests.support.strategies import okta_users

_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,12}", fullmatch=True)
_urns = st.sampled_from(
    [CORE_USER, ENTERPRISE_USER, "urn:ietf:params:scim:schemas:extension:appspace:2.0:User"]
)


@given(_urns, _names, st.none() | st.text(max_size=10), st.none() | _names)
def test_a_path_reads_back_as_written(urn: str, attr: str, entry_type: str | None, sub: str | None) -> None:
    path = AttrPath(urn, attr, entry_type, sub)
    assert AttrPath.parse(path.text()) == path
    assert AttrPath.parse(path.text(ascii_only=False)) == path
    assert path.text().isascii()


def test_the_text_of_a_path() -> None:
    work = AttrPath(CORE_USER, "emails").where_type("wörk").child("value")
    assert str(work) == 'emails[type eq "w\\u00f6rk"].value'
    assert work.text(ascii_only=False) == 'emails[type eq "wörk"].value'
    assert str(work.entry) == 'emails[type eq "w\\u00f6rk"]'
    assert str(work.attribute) == "emails"
    department = AttrPath(ENTERPRISE_USER, "manager").child("value")
    assert str(department) == f"{ENTERPRISE_USER}:manager.value"
    assert department.text(qualified=False) == "manager.value"
    with pytest.raises(ValueError, match="one level"):
        department.child("more")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('emails[type eq "work"].value', "emails"),
        ("name.givenName", "name.givenName"),
        ("title", "title"),
        (f"{ENTERPRISE_USER}:department", f"{ENTERPRISE_USER}:department"),
        (f'{ENTERPRISE_USER}:phones[type eq "a:b"].value', f"{ENTERPRISE_USER}:phones"),
        ('emails[value eq "x"].primary', "emails"),  # a filter mapper does not write: kept readable
    ],
)
def test_summaries(text: str, name: str) -> None:
    assert summary(text) == name


@pytest.mark.parametrize(
    ("pointer", "path"),
    [
        ("/title", AttrPath(CORE_USER, "title")),
        ("/emails/0/value", AttrPath(CORE_USER, "emails")),
        ("/name/givenName", AttrPath(CORE_USER, "name", None, "givenName")),
        (f"/{ENTERPRISE_USER}/manager/value", AttrPath(ENTERPRISE_USER, "manager", None, "value")),
        (f"/{ENTERPRISE_USER}", None),
        ("/a~1b~0c", AttrPath(CORE_USER, "a/b~c")),
    ],
)
def test_json_pointers(pointer: str, path: AttrPath | None) -> None:
    assert AttrPath.from_pointer(pointer) == path


_RULESETS = {name: mapper.load(name) for name in ("okta-default", "enterprise", "appspace")}
_extra = {
    "department": st.text(string.ascii_letters, max_size=5),
    "costCenter": st.text(string.ascii_letters, max_size=5),
    "division": st.text(string.ascii_letters, max_size=5),
    "organization": st.text(string.ascii_letters, max_size=5),
    "managerId": st.text(string.ascii_letters, max_size=5),
}


@given(st.sampled_from(sorted(_RULESETS)), okta_users(_extra), okta_users(_extra))
def test_review_and_patch_summaries_name_the_same_attributes(name: str, old: object, new: object) -> None:
    """review (from two renderings) and sync's reports (from the PATCH) agree on what changed,
    for the rules that a PATCH writes (create-only targets are in a rendering, never in a PATCH)."""
    ruleset = _RULESETS[name]
    try:
        before, after = ruleset.render(old), ruleset.render(new)
        message = ruleset.patch(old, new)
    except mapper.ProfileError:
        return
    create_only = {summary(r.target.path) for r in ruleset.plan.rules if r.create_only}
    from_patch = touched(message) if message is not None else set()
    assert from_patch == changed_attributes(before, after) - create_only
