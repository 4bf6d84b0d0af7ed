"""The base properties of Okta's SCIM 2.0 app template, for when the app's own schema is not
at hand (``mapper export okta`` without ``--schema``).

Okta gives a SCIM 2.0 app these App User Schema base properties (Variable Name, External
Name, External Namespace), as app vendors' Okta setup guides list them: the names and
given, family, middle names, honorifics, the primary and secondary email and phone (each
with a ``...Type`` sibling that says the entry's type), title, display and nick names,
profile URL, language, locale, time zone, user type, the work address, and the enterprise
extension's attributes. An app created otherwise may differ: give export the app's schema
(``GET /api/v1/meta/schemas/apps/{appId}/default``) and the names come from there.
"""

from __future__ import annotations

from typing import Any

from mapper.core.schema import CORE_USER, ENTERPRISE_USER

# (variable, title, external name, namespace)
_CORE = (
    ("userName", "Username", "userName"),
    ("givenName", "Given name", "name.givenName"),
    ("familyName", "Family name", "name.familyName"),
    ("middleName", "Middle name", "name.middleName"),
    ("honorificPrefix", "Honorific prefix", "name.honorificPrefix"),
    ("honorificSuffix", "Honorific suffix", "name.honorificSuffix"),
    ("email", "Primary email", "emails.^[primary==true].value"),
    ("primaryEmailType", "Primary email type", "emails.^[primary==true].type"),
    ("secondEmail", "Secondary email", "emails.^[primary==false].value"),
    ("secondaryEmailType", "Secondary email type", "emails.^[primary==false].type"),
    ("title", "Title", "title"),
    ("displayName", "Display name", "displayName"),
    ("nickName", "Nickname", "nickName"),
    ("profileUrl", "Profile URL", "profileUrl"),
    ("primaryPhone", "Primary phone", "phoneNumbers.^[primary==true].value"),
    ("primaryPhoneType", "Primary phone type", "phoneNumbers.^[primary==true].type"),
    ("mobilePhone", "Secondary phone", "phoneNumbers.^[primary==false].value"),
    ("secondaryPhoneType", "Secondary phone type", "phoneNumbers.^[primary==false].type"),
    ("streetAddress", "Street address", "addresses.^[type=='work'].streetAddress"),
    ("locality", "Locality", "addresses.^[type=='work'].locality"),
    ("region", "Region", "addresses.^[type=='work'].region"),
    ("postalCode", "Postal code", "addresses.^[type=='work'].postalCode"),
    ("country", "Country", "addresses.^[type=='work'].country"),
    ("preferredLanguage", "Preferred language", "preferredLanguage"),
    ("locale", "Locale", "locale"),
    ("timezone", "Time zone", "timezone"),
    ("userType", "User type", "userType"),
)
_ENTERPRISE = (
    ("employeeNumber", "Employee number", "employeeNumber"),
    ("costCenter", "Cost center", "costCenter"),
    ("organization", "Organization", "organization"),
    ("division", "Division", "division"),
    ("department", "Department", "department"),
    ("manager", "Manager", "manager.value"),
)


def base_properties() -> dict[str, dict[str, Any]]:
    """The template's ``definitions.base.properties``, as Okta's API returns them."""
    properties: dict[str, dict[str, Any]] = {}
    for rows, urn in ((_CORE, CORE_USER), (_ENTERPRISE, ENTERPRISE_USER)):
        for variable, title, external in rows:
            properties[variable] = {
                "title": title,
                "type": "string",
                "mutability": "READ_WRITE",
                "scope": "NONE",
                "externalName": external,
                "externalNamespace": urn,
                **({"required": True} if variable == "userName" else {}),
            }
    return properties


def app_user_schema(custom: dict[str, dict[str, Any]], name: str = "scim2app") -> dict[str, Any]:
    """A whole App User Schema as ``GET /api/v1/meta/schemas/apps/{appId}/default`` returns it:
    the template's base properties and CUSTOM ones."""
    return {
        "id": "https://example.okta.com/meta/schemas/apps/0oa1example/default",
        "$schema": "http://json-schema.org/draft-04/schema#",
        "name": name,
        "title": f"{name} User",
        "definitions": {
            "base": {
                "id": "#base",
                "type": "object",
                "properties": base_properties(),
                "required": ["userName"],
            },
            "custom": {"id": "#custom", "type": "object", "properties": custom, "required": []},
        },
        "type": "object",
        "properties": {
            "profile": {"allOf": [{"$ref": "#/definitions/base"}, {"$ref": "#/definitions/custom"}]}
        },
    }
