"""``mapper export okta``: a reviewed ruleset as what Okta runs.

Two request bodies: the App User Schema custom properties to add (``POST /api/v1/meta/
schemas/apps/{appId}/default``), each with the exact External Namespace, and the profile
mapping (``POST /api/v1/mappings/{id}``): per app-user property, the rule's expression in
Okta Expression Language and ``PUSH`` (create and update) or ``DONT_PUSH`` (``on create``).
:mod:`mapper.okta.terraform` writes the same as Terraform for Okta's provider.

Targets the app already has (the base properties of Okta's SCIM template, or of the app
schema given) keep their variable names; others become custom properties. The inbound rules
(declared and derived) become the app-to-Okta mapping: per Okta user attribute, the
expression with each ``appuser.`` SCIM path written as the app user variable that names it
(a new custom property where none does), and ``PUSH`` or ``DONT_PUSH`` (``on create``). Entries a
ruleset marks ``primary`` are written as Okta's template writes them: the value on
``attr.^[primary==true].sub`` and the type on a sibling ``.type`` property mapped to
``(value != null && value != '') ? 'TYPE' : ''``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

from mapper.core.plan import InboundRule, PAppSource, PExpr, PlannedRule, TargetSlot
from mapper.core.schema import BUILTIN_ALIASES, BUILTIN_SCHEMAS, CORE_USER, ENTERPRISE_USER
from mapper.core.scim_path import AttrPath
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
    inbound_mappings: dict[str, dict[str, str]] = field(
        default_factory=dict
    )  # app to Okta, by Okta attribute
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The export as one JSON document: the custom App User Schema properties, the profile
        mapping (Okta user to app) and, when the ruleset has inbound rules, the app-to-Okta one."""
        document = {
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
        if self.inbound_mappings:
            document["appToOktaMapping"] = {"properties": self.inbound_mappings}
        return document

    def app_user_schema(self) -> dict[str, Any]:
        """The app's whole schema after the custom properties are added to Okta's template
        (what ``GET .../default`` would return), for reading the export back."""
        return app_user_schema(self.custom_properties, self.name)


def export_okta(ruleset: Ruleset, schema: object | None = None) -> Export:
    """RULESET as Okta's API bodies; SCHEMA is the app's App User Schema, when known."""
    existing = read_schema(schema if schema is not None else app_user_schema({}))
    by_place: dict[tuple[str, str], Property] = {
        place: p for p in existing.values() if (place := _place(p)) is not None
    }
    result = Export(ruleset.name)
    refused: list[str] = []  # rules Okta has no way to say: the export stops, naming each
    taken = set(existing)
    primary_types: dict[tuple[str, str], tuple[str, PlannedRule]] = {}
    variables: dict[AttrPath, str] = {}  # where each exported outbound rule writes, as a variable
    unexported: set[int] = set()  # outbound rules not exported: what is derived from them goes too
    for index, rule in enumerate(ruleset.plan.rules):
        t = rule.target
        skipped = _okta_managed(rule)
        if skipped:
            result.problems.append(f"{t.path}: not exported: {skipped}")
            unexported.add(index)
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
                unexported.add(index)
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
            unexported.add(index)
            continue
        result.mappings[variable] = {
            "expression": expression,
            "pushStatus": "DONT_PUSH" if rule.create_only else "PUSH",
        }
        variables[t.attr_path] = variable
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
    for inbound in ruleset.plan.inbound:
        if inbound.derived_from in unexported:
            continue  # the copy back of a rule not exported: its problem is said once, above
        if inbound.attr == "login":
            if inbound.derived_from is None:  # a derived one goes with userName, reported above
                result.problems.append(
                    "user.login: not exported: Okta names a user it imports by the import's Okta username "
                    "format setting, not the mapping"
                )
            continue
        try:
            translated = _inbound_expression(inbound, ruleset, by_place, variables, taken, result)
        except UnwritableLiteral as exc:
            refused.append(f"user.{inbound.attr}: not exported: {exc}")
            continue
        result.inbound_mappings[inbound.attr] = {
            "expression": translated,
            "pushStatus": "DONT_PUSH" if inbound.create_only else "PUSH",
        }
    if refused:
        raise ExportRefused(refused)
    return result


def _inbound_expression(
    rule: InboundRule,
    ruleset: Ruleset,
    by_place: dict[tuple[str, str], Property],
    variables: dict[AttrPath, str],
    taken: set[str],
    result: Export,
) -> str:
    """The inbound rule's expression in Okta's words: each ``appuser.PATH`` as the app user
    variable whose External Name and Namespace name PATH (the one an outbound rule writes
    there, else the app schema's, else a new custom property), a default as Elvis."""
    from mapper.language import ast
    from mapper.language.syntax import parse_expression
    from mapper.language.unparse import expression as text_of

    parsed, problem = parse_expression(_expression(rule), "<ruleset>")
    if parsed is None:  # the checker parsed it once: reaching this is a bug
        raise ValueError(f"user.{rule.attr}: {problem}")
    read = {source.path: source for source in _app_sources(rule.expr)}
    aliases = {**BUILTIN_ALIASES, **{s.name: urn for urn, s in ruleset.plan.schemas.items()}}

    def variable_for(node: ast.AppAttr) -> ast.Expr:
        p = node.path
        urn = (
            CORE_USER
            if p.schema is None
            else p.schema
            if p.schema.lower().startswith("urn:")
            else aliases[p.schema]
        )
        path = AttrPath(urn, p.attr, p.filter_type, p.sub)
        variable = variables.get(path)
        if variable is None:
            place = (urn, p.attr + (f".{p.sub}" if p.sub else ""))
            if p.filter_type is not None:
                place = (urn, ExternalName(p.attr, "type", p.filter_type, p.sub).okta())
            prop = by_place.get(_normal(place))
            if prop is None:
                if _unwritable_place(place[1], p.filter_type):
                    raise UnwritableLiteral(
                        f"Okta cannot name {path.text(qualified=False)} in an External Name (an entry type "
                        "takes letters, digits, _ and - only): give --schema an App User Schema whose property "
                        "names it, or write the entry to the app in a primary rule"
                    )
                source = read[path]
                slot = TargetSlot(urn, p.attr, p.filter_type, p.sub, source.scim_type, source.type.multi)
                variable = _new_variable(slot, ruleset, taken)
                taken.add(variable)
                spec = _custom_property(variable, slot, place)
                if _read_only(ruleset, path):  # the app sets it (id, meta, groups): Okta only reads it
                    spec["mutability"] = "READ_ONLY"
                result.custom_properties[variable] = spec
                by_place[_normal(place)] = Property(variable, variable, "string", None, place[1], urn, False)
            else:
                variable = prop.variable
            variables[path] = variable
        return ast.AppAttr(
            replace(node.path, schema=None, attr=variable, filter_type=None, sub=None), node.span
        )

    return text_of(ast.with_app_attrs(parsed, variable_for))


def _read_only(ruleset: Ruleset, path: AttrPath) -> bool:
    """Whether the app's schema makes PATH read-only (the service provider sets it)."""
    schema = ruleset.plan.schemas.get(path.urn) or BUILTIN_SCHEMAS.get(path.urn)
    attribute = schema.attribute(path.attr) if schema is not None else None
    if attribute is not None and attribute.mutability == "readOnly":
        return True
    sub = attribute.sub_attributes.get(path.sub) if attribute is not None and path.sub else None
    return sub is not None and sub.mutability == "readOnly"


def _app_sources(expr: PExpr) -> list[PAppSource]:
    """Every read of the app's resource in EXPR."""
    found, stack = [], [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, PAppSource):
            found.append(node)
        for slot in getattr(type(node), "__slots__", ()):
            value = getattr(node, slot, None)
            stack.extend(v for v in (value if isinstance(value, tuple) else (value,)) if isinstance(v, PExpr))
    return found


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


def _expression(rule: PlannedRule | InboundRule) -> str:
    """The rule's value in Okta Expression Language: its expression, with a default as Elvis
    (both give the default for null or an empty string)."""
    if not rule.expression:
        raise ValueError("export needs each rule's expression (load the ruleset again)")
    if rule.default is None:
        return rule.expression
    # In the formatter's words (parentheses only where needed): what the import reads back
    # exports as the same text.
    from mapper.errors import Span
    from mapper.language import ast
    from mapper.language.syntax import parse_expression
    from mapper.language.unparse import expression as text_of

    literal(rule.default)  # an UnwritableLiteral for a default Okta's language cannot hold
    parsed, problem = parse_expression(rule.expression, "<ruleset>")
    if parsed is None:  # the checker parsed it once: reaching this is a bug
        raise ValueError(problem)
    nowhere = Span("<ruleset>", 1, 1, 1, 1)
    return text_of(ast.Binary("?:", parsed, ast.Literal(rule.default, nowhere), nowhere))


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
