"""``mapper export okta``: a reviewed ruleset as what Okta runs.

Two request bodies: the App User Schema custom properties to add (``POST /api/v1/meta/
schemas/apps/{appId}/default``), each with the exact External Namespace, and the profile
mapping (``POST /api/v1/mappings/{id}``): per app-user property, the rule's expression in
Okta Expression Language and ``PUSH`` (create and update) or ``DONT_PUSH`` (``on create``).
:mod:`mapper.okta.terraform` writes the same as Terraform for Okta's provider.

Targets the app already has (the base properties of Okta's SCIM template, or of the app
schema given) keep their variable names; others become custom properties. Entries a
ruleset marks ``primary`` are written as Okta's template writes them: the value on
``attr.^[primary==true].sub`` and the type on a sibling ``.type`` property mapped to
``(value != null && value != '') ? 'TYPE' : ''``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from mapper.core.plan import PlannedRule, TargetSlot
from mapper.core.schema import CORE_USER, ENTERPRISE_USER
from mapper.language.literals import UnwritableLiteral, literal, string_literal
from mapper.okta.importer import OktaInputError, Property, read_schema
from mapper.okta.paths import ExternalName, parse_external_name
from mapper.okta.template import app_user_schema
from mapper.runtime.ruleset import Ruleset

#: SCIM attribute types to Okta profile types.
_OKTA_TYPE = {"boolean": "boolean", "integer": "integer", "decimal": "number"}


@dataclass
class Export:
    """What to send to Okta, and what could not be exported (with why)."""

    name: str
    custom_properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    mappings: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The export as one JSON document: the custom App User Schema properties and the profile mapping."""
        return {
            "appUserSchema": {
                "definitions": {
                    "custom": {
                        "id": "#custom",
                        "type": "object",
                        "properties": self.custom_properties,
                        "required": [],
                    }
                }
            },
            "profileMapping": {"properties": self.mappings},
        }

    def app_user_schema(self) -> dict[str, Any]:
        """The app's whole schema after the custom properties are added to Okta's template
        (what ``GET .../default`` would return), for reading the export back."""
        return app_user_schema(self.custom_properties, self.name)


def export_okta(ruleset: Ruleset, schema: object | None = None) -> Export:
    """RULESET as Okta's API bodies; SCHEMA is the app's App User Schema, when known."""
    existing = read_schema(schema if schema is not None else app_user_schema({}))
    by_place = {_place(p): p for p in existing.values() if _place(p) is not None}
    result = Export(ruleset.name)
    refused: list[str] = []  # rules Okta has no way to say: the export stops, naming each
    taken = set(existing)
    primary_types: dict[tuple[str, str], tuple[str, PlannedRule]] = {}
    for rule in ruleset.plan.rules:
        t = rule.target
        skipped = _okta_managed(rule)
        if skipped:
            result.problems.append(f"{t.path}: not exported: {skipped}")
            continue
        place = (t.urn, t.attr + (f".{t.sub}" if t.sub else ""))
        if t.entry_type is not None:
            place = (t.urn, ExternalName(t.attr, "type", t.entry_type, t.sub).okta())
        prop = by_place.get(_normal(place))
        if t.entry_type is not None and rule.primary:
            # Okta's template selects the primary entry and types it with a sibling property;
            # an app that names the entry by type (and so knows its type) needs neither.
            by_primary = (t.urn, ExternalName(t.attr, "primary", True, t.sub).okta())
            if prop is None or _normal(by_primary) in by_place:
                place, prop = by_primary, by_place.get(_normal(by_primary))
                if t.sub == "value" or (t.urn, t.attr) not in primary_types:
                    primary_types[(t.urn, t.attr)] = (t.entry_type, rule)
        if prop is None:
            unsafe = _unwritable_place(place[1], t.entry_type)
            if unsafe:
                refused.append(f"{t.path}: not exported: {unsafe}")
                continue
            variable = _new_variable(t, ruleset, taken)
            taken.add(variable)
            result.custom_properties[variable] = _custom_property(variable, t, place)
        else:
            variable = prop.variable
            if prop.read_only:
                result.problems.append(f"{t.path}: the app's {variable} is read-only; exported all the same")
        try:
            expression = _expression(rule)
        except UnwritableLiteral as exc:
            refused.append(f"{t.path}: not exported: {exc}")
            continue
        result.mappings[variable] = {
            "expression": expression,
            "pushStatus": "DONT_PUSH" if rule.create_only else "PUSH",
        }
    for (urn, attr), (entry_type, rule) in primary_types.items():
        place = (urn, ExternalName(attr, "primary", True, "type").okta())
        prop = by_place.get(_normal(place))
        if prop is None:
            variable = _unique(f"{attr}PrimaryType", taken)
            taken.add(variable)
            result.custom_properties[variable] = _custom_property(variable, rule.target, place, "string")
        else:
            variable = prop.variable
        value = _expression(rule)
        try:
            typed = string_literal(entry_type, "'")  # quoted as Okta's template quotes it
        except UnwritableLiteral as exc:
            refused.append(f"{rule.target.path}: not exported: the entry type: {exc}")
            continue
        if not re.fullmatch(r"user\.\w+", value):
            value = f"({value})"  # != binds tighter than ?: and + in Okta's language
        result.mappings[variable] = {
            "expression": f"({value} != null && {value} != '') ? {typed} : ''",
            "pushStatus": "DONT_PUSH" if rule.create_only else "PUSH",
        }
    if refused:
        raise ExportRefused(refused)
    return result


class ExportRefused(OktaInputError):
    """Rules that no Okta mapping or External Name can say as written: nothing is exported."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


#: The entry types an External Name filter (``emails.^[type=='work']``) can hold: Okta's
#: filter has no escape, so anything beyond these is refused rather than written.
_FILTER_VALUE = re.compile(r"[A-Za-z0-9_-]+")


def _unwritable_place(external_name: str, entry_type: str | None) -> str | None:
    """Why EXTERNAL_NAME, for a new custom property (which selects ENTRY_TYPE's entry when it
    filters by type), cannot be written as Okta reads it."""
    if entry_type is not None and ".^[type==" in external_name and not _FILTER_VALUE.fullmatch(entry_type):
        return (
            f"the entry type {entry_type!r} cannot be written in an Okta External Name filter "
            "(only letters, digits, _ and -): make the rule primary (the type then goes in an "
            "expression), or give --schema an App User Schema whose property already names the entry"
        )
    if parse_external_name(external_name) is None:
        return f"Okta cannot name this attribute ({external_name!r} is not an External Name Okta reads)"
    return None


def _okta_managed(rule: PlannedRule) -> str | None:
    """Why a rule is Okta's own business (no mapping can say it), or None."""
    t = rule.target
    if t.urn == CORE_USER and t.attr == "active":
        return "Okta sends active itself, from the user's status"
    if t.urn == CORE_USER and t.attr == "externalId":
        return "Okta sends externalId itself (the Okta user id)"
    if t.urn == CORE_USER and t.attr == "userName":
        return "Okta takes userName from the app's username format (Sign On settings), not the mapping"
    if t.entry_type is not None and t.sub is None:
        return "a whole entry"
    return None


def _expression(rule: PlannedRule) -> str:
    """The rule's value in Okta Expression Language: its expression, with a default as Elvis
    (both give the default for null or an empty string)."""
    if not rule.expression:
        raise ValueError("export needs each rule's expression (load the ruleset again)")
    if rule.default is None:
        return rule.expression
    return f"({rule.expression}) ?: {literal(rule.default)}"


def _place(prop: Property) -> tuple[str, str] | None:
    if not prop.external_name or not prop.namespace:
        return None
    return _normal((prop.namespace, prop.external_name))


def _normal(place: tuple[str, str]) -> tuple[str, str]:
    """Namespace and External Name compared as Okta compares them (names case-insensitively)."""
    parsed = parse_external_name(place[1])
    return (place[0], (parsed.okta() if parsed else place[1]).lower())


def _new_variable(t: TargetSlot, ruleset: Ruleset, taken: set[str]) -> str:
    """A Variable Name for a new custom property: the attribute's name, qualified as needed."""
    if t.entry_type is None and t.sub is None:
        base = t.attr
    else:
        parts = [t.attr, t.entry_type or "", t.sub or ""]
        base = parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:] if p)
    base = re.sub(r"[^A-Za-z0-9_]", "_", base)
    if base in taken and t.urn not in (CORE_USER, ENTERPRISE_USER):
        alias = next((s.name for s in ruleset.plan.schemas.values() if s.urn == t.urn), "custom")
        base = re.sub(r"[^A-Za-z0-9_]", "_", alias) + base[:1].upper() + base[1:]
    return _unique(base, taken)


def _unique(base: str, taken: set[str]) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}{n}"
    return name


def _custom_property(
    variable: str, t: TargetSlot, place: tuple[str, str], scim_type: str | None = None
) -> dict[str, Any]:
    kind = scim_type or t.scim_type
    okta_type = _OKTA_TYPE.get(kind, "string")
    spec: dict[str, Any] = {"title": variable, "type": okta_type}
    if t.multi_simple:
        spec = {"title": variable, "type": "array", "items": {"type": okta_type}}
    spec.update(
        {
            "scope": "SELF",  # the seed's "User personal"
            "externalName": place[1],
            "externalNamespace": place[0],
            "mutability": "READ_WRITE",
        }
    )
    return spec


def dumps(export: Export) -> str:
    """EXPORT as JSON text, indented by two, non-ASCII kept, ending in a newline."""
    return json.dumps(export.as_json(), indent=2, ensure_ascii=False) + "\n"
