"""What SCIM and Okta define: the schema registry the checker resolves targets against.

The core User schema and the enterprise extension are transcribed from RFC 7643
(sections 4.1, 4.3 and 8.7.1); custom extensions come from a ruleset's
``schema`` declarations. Names are stored in their canonical spelling and
looked up case-insensitively, as RFC 7643 section 2.1 says attribute names are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from mapper.errors import Span

#: A SCIM resource or message (a User, a PatchOp) as JSON: SCIM resources are open (an app
#: adds its own attributes and extensions), so the type says the domain, not the shape.
Resource = dict[str, Any]
#: An Okta user: a profile, or a Users API object with the profile inside.
OktaUser = dict[str, Any]

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

# RFC 8141: "urn:", a namespace identifier, ":", then unreserved characters, sub-delims,
# ":", "@", "/" and percent escapes; no quotes, spaces or control characters, which would
# reach PATCH paths and review output. (Query and fragment parts have no place in a schema.)
URN_PATTERN = re.compile(
    r"urn:[a-z0-9][a-z0-9-]{0,30}[a-z0-9]:(?:[a-z0-9\-._~!$&'()*+,;=:@/]|%[0-9a-f]{2})+", re.I
)


def is_schema_urn(text: str) -> bool:
    """Whether TEXT is an RFC 8141 URN that can name a schema (not ending in a colon)."""
    return URN_PATTERN.fullmatch(text) is not None and not text.endswith(":")


#: SCIM attribute types (RFC 7643 section 2.3) a ruleset can declare.
SCIM_TYPES = ("string", "boolean", "decimal", "integer", "dateTime", "reference", "binary")


@dataclass(frozen=True, slots=True)
class Attribute:
    """A SCIM attribute: its name, type, whether multi-valued, mutability, and sub-attributes."""

    name: str
    type: str  # one of SCIM_TYPES, or "complex"
    multi: bool = False
    mutability: str = "readWrite"  # readOnly | readWrite | immutable | writeOnly
    sub_attributes: Mapping[str, Attribute] = field(default_factory=dict)

    def sub(self, name: str) -> Attribute | None:
        """The sub-attribute NAME (looked up case-insensitively), or None."""
        return _lookup(self.sub_attributes, name)


@dataclass(frozen=True, slots=True)
class Schema:
    """A SCIM schema: its URN, name and top-level attributes; BUILTIN unless a ruleset declared it."""

    urn: str
    name: str
    attributes: Mapping[str, Attribute]
    builtin: bool = True
    span: Span | None = field(default=None, compare=False)  # where a ruleset declared it (its URN)

    def attribute(self, name: str) -> Attribute | None:
        """The top-level attribute NAME (looked up case-insensitively), or None."""
        return _lookup(self.attributes, name)


def _lookup(table: Mapping[str, Attribute], name: str) -> Attribute | None:
    found = table.get(name)
    if found is not None:
        return found
    lowered = name.lower()
    for key, attr in table.items():
        if key.lower() == lowered:
            return attr
    return None


def _attrs(*attrs: Attribute) -> Mapping[str, Attribute]:
    return MappingProxyType({a.name: a for a in attrs})


def _s(name: str, type_: str = "string", mutability: str = "readWrite") -> Attribute:
    return Attribute(name, type_, mutability=mutability)


def _multi(name: str, *subs: Attribute, mutability: str = "readWrite") -> Attribute:
    return Attribute(name, "complex", True, mutability, _attrs(*subs))


def _entry(value_type: str = "string") -> tuple[Attribute, ...]:
    """value, display, type, primary: the sub-attributes of most multi-valued attributes."""
    return (_s("value", value_type), _s("display"), _s("type"), _s("primary", "boolean"))


_NAME = Attribute(
    "name",
    "complex",
    sub_attributes=_attrs(
        _s("formatted"),
        _s("familyName"),
        _s("givenName"),
        _s("middleName"),
        _s("honorificPrefix"),
        _s("honorificSuffix"),
    ),
)

_ADDRESS = _multi(
    "addresses",
    _s("formatted"),
    _s("streetAddress"),
    _s("locality"),
    _s("region"),
    _s("postalCode"),
    _s("country"),
    _s("type"),
    _s("primary", "boolean"),
)

_META = Attribute(
    "meta",
    "complex",
    mutability="readOnly",
    sub_attributes=_attrs(
        _s("resourceType", mutability="readOnly"),
        _s("created", "dateTime", "readOnly"),
        _s("lastModified", "dateTime", "readOnly"),
        _s("location", "reference", "readOnly"),
        _s("version", mutability="readOnly"),
    ),
)

USER = Schema(
    CORE_USER,
    "User",
    _attrs(
        _s("id", mutability="readOnly"),
        _s("externalId"),
        _META,
        _s("userName"),
        _NAME,
        _s("displayName"),
        _s("nickName"),
        _s("profileUrl", "reference"),
        _s("title"),
        _s("userType"),
        _s("preferredLanguage"),
        _s("locale"),
        _s("timezone"),
        _s("active", "boolean"),
        _s("password", mutability="writeOnly"),
        _multi("emails", *_entry()),
        _multi("phoneNumbers", *_entry()),
        _multi("ims", *_entry()),
        _multi("photos", *_entry("reference")),
        _ADDRESS,
        _multi(
            "groups",
            _s("value", mutability="readOnly"),
            _s("$ref", "reference", "readOnly"),
            _s("display", mutability="readOnly"),
            _s("type", mutability="readOnly"),
            mutability="readOnly",
        ),
        _multi("entitlements", *_entry()),
        _multi("roles", *_entry()),
        _multi("x509Certificates", *_entry("binary")),
    ),
)

ENTERPRISE = Schema(
    ENTERPRISE_USER,
    "EnterpriseUser",
    _attrs(
        _s("employeeNumber"),
        _s("costCenter"),
        _s("organization"),
        _s("division"),
        _s("department"),
        Attribute(
            "manager",
            "complex",
            sub_attributes=_attrs(
                _s("value"),
                _s("$ref", "reference"),
                _s("displayName", mutability="readOnly"),
            ),
        ),
    ),
)

#: Schemas every ruleset knows, and the aliases that need no declaration.
BUILTIN_SCHEMAS: Mapping[str, Schema] = MappingProxyType({CORE_USER: USER, ENTERPRISE_USER: ENTERPRISE})
BUILTIN_ALIASES: Mapping[str, str] = MappingProxyType({"enterprise": ENTERPRISE_USER})

#: Okta's base user profile: every attribute is a string.
OKTA_BASE_PROFILE: tuple[str, ...] = (
    "login", "email", "secondEmail", "firstName", "lastName", "middleName",
    "honorificPrefix", "honorificSuffix", "title", "displayName", "nickName",
    "profileUrl", "primaryPhone", "mobilePhone", "streetAddress", "city", "state",
    "zipCode", "countryCode", "postalAddress", "preferredLanguage", "locale",
    "timezone", "userType", "employeeNumber", "costCenter", "organization",
    "division", "department", "managerId", "manager",
)  # fmt: skip

#: Okta profile attribute types a ``profile`` block can declare.
OKTA_TYPES = ("string", "boolean", "integer", "number")

#: Top-level fields of an Okta Users API object, read with user.getInternalProperty("...").
OKTA_INTERNAL_PROPERTIES = (
    "id", "status", "created", "activated", "statusChanged",
    "lastLogin", "lastUpdated", "passwordChanged",
)  # fmt: skip

#: Okta user statuses (Users API).
OKTA_STATUSES = (
    "STAGED", "PROVISIONED", "ACTIVE", "RECOVERY", "PASSWORD_EXPIRED",
    "LOCKED_OUT", "SUSPENDED", "DEPROVISIONED",
)  # fmt: skip


def to_scim_json(schema: Schema) -> dict[str, object]:
    """The schema as an RFC 7643 section 7 Schema resource (for validators and servers)."""

    def attribute(attr: Attribute) -> dict[str, object]:
        out: dict[str, object] = {
            "name": attr.name,
            "type": attr.type,
            "multiValued": attr.multi,
            "required": attr.name == "userName",
            "caseExact": False,
            "mutability": attr.mutability,
            "returned": "never" if attr.mutability == "writeOnly" else "default",
            "uniqueness": "server" if attr.name in ("userName", "id") else "none",
        }
        if attr.type == "reference":
            out["referenceTypes"] = ["external"] if attr.name != "$ref" else ["User"]
        if attr.sub_attributes:
            out["subAttributes"] = [attribute(a) for a in attr.sub_attributes.values()]
        return out

    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": schema.urn,
        "name": schema.name,
        "description": f"{schema.name} (declared in a mapper ruleset)" if not schema.builtin else schema.name,
        "attributes": [attribute(a) for a in schema.attributes.values()],
    }
