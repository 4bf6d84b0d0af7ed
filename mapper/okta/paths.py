"""Okta's External Names and RFC 7644 paths.

Okta writes where an app-user property goes in a SCIM request as an External Name in its
own syntax: ``userName``, ``name.givenName``, ``emails.^[type=='work'].value``,
``phoneNumbers.^[primary==true].value``; the schema it belongs to is the External
Namespace. A ruleset writes the same place as an RFC 7644 path,
``emails[type eq "work"].value``, selecting entries by ``type`` only; Okta's
``^[primary==true]`` entries take their type from a sibling ``.type`` property, which the
importer resolves (see :mod:`mapper.okta.importer`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mapper.core.schema import ENTERPRISE_USER
from mapper.language.literals import filter_value

#: An attribute name as RFC 7643 section 2.1 allows it.
_NAME = r"[A-Za-z][A-Za-z0-9_-]*"
_EXTERNAL_NAME = re.compile(
    rf"(?P<attr>{_NAME})"
    rf"(?:\.\^\[(?P<key>{_NAME})==(?:'(?P<text>[^'\\]*)'|(?P<flag>true|false))\])?"
    rf"(?:\.(?P<sub>{_NAME}))?"
)


@dataclass(frozen=True, slots=True)
class ExternalName:
    """A parsed Okta External Name: ATTR, an entry selector (``type``/``primary``), SUB."""

    attr: str
    key: str | None = None  # "type" or "primary" (any other key is refused)
    value: str | bool | None = None
    sub: str | None = None

    def okta(self) -> str:
        """Okta's own spelling."""
        text = self.attr
        if self.key is not None:
            shown = ("true" if self.value else "false") if isinstance(self.value, bool) else f"'{self.value}'"
            text += f".^[{self.key}=={shown}]"
        if self.sub is not None:
            text += f".{self.sub}"
        return text


def parse_external_name(text: str) -> ExternalName | None:
    """TEXT as an ExternalName, or None when it is not one mapper can write."""
    match = _EXTERNAL_NAME.fullmatch(text)
    if match is None:
        return None
    key = match["key"]
    if key is None:
        return ExternalName(match["attr"], sub=match["sub"])
    if key == "type" and match["text"] is not None:
        value: str | bool = match["text"]
    elif key == "primary" and match["flag"] is not None:
        value = match["flag"] == "true"
    else:
        return None
    if match["sub"] is None:
        return None  # a whole entry: Okta maps values, not entries
    return ExternalName(match["attr"], key, value, match["sub"])


def target_text(alias: str | None, attr: str, entry_type: str | None, sub: str | None) -> str:
    """A ruleset target: ``alias:attr[type eq "T"].sub`` (no alias for the core schema)."""
    text = f"{alias}:{attr}" if alias else attr
    if entry_type is not None:
        text += f"[type eq {filter_value(entry_type)}]"
    if sub is not None:
        text += f".{sub}"
    return text


def alias_for(urn: str, taken: set[str]) -> str:
    """A schema alias for URN: ``enterprise`` for RFC 7643's extension, else the word after
    ``extension:`` (``appspace`` for urn:ietf:params:scim:schemas:extension:appspace:2.0:User),
    made unique against TAKEN."""
    if urn == ENTERPRISE_USER:
        return "enterprise"
    parts = urn.split(":")
    word = (
        parts[parts.index("extension") + 1]
        if "extension" in parts[:-1]
        else parts[-2]
        if len(parts) > 1
        else "x"
    )
    base = re.sub(r"[^A-Za-z0-9_]", "_", word) or "x"
    if not base[0].isalpha():
        base = "x" + base
    alias, n = base, 1
    while alias in taken or alias in ("enterprise", "user", "ruleset", "schema", "profile", "extends"):
        n += 1
        alias = f"{base}{n}"
    return alias
