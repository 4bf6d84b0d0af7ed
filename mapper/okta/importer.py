"""``mapper import okta``: the ruleset that does what an Okta app's mapping does today.

Input is what Okta's API returns: the App User Schema (``GET /api/v1/meta/schemas/apps/
{appId}/default``: each property's Variable Name, type, External Name and Namespace) and
the Okta-user-to-app profile mapping (``GET /api/v1/mappings/{id}``: ``properties: {name:
{expression, pushStatus}}``). Each mapped property becomes a rule on its SCIM path with the
Okta expression as it is (``DONT_PUSH``: ``on create``), a comment naming the Okta variable,
and custom namespaces become ``schema`` declarations typed from the app schema.

What cannot be translated is never dropped silently: it is returned as a problem (the CLI
prints each on standard error) and kept in the ruleset as a comment that says why.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field

from mapper.core.schema import CORE_USER, ENTERPRISE_USER, is_schema_urn
from mapper.errors import ExitCode, MapperError
from mapper.okta.paths import ExternalName, alias_for, parse_external_name, target_text

#: Okta's profile types to the types a ``schema`` block declares.
_SCIM_TYPE = {"string": "string", "boolean": "boolean", "integer": "integer", "number": "decimal"}

#: What Okta sends with every user whatever the mapping says (okta-default does the same).
_OKTA_ADDS = (
    ("externalId", 'user.getInternalProperty("id")', "sent by Okta itself"),
    ("active", 'user.getInternalProperty("status") != "DEPROVISIONED"', "sent by Okta itself"),
)


class OktaInputError(MapperError, ValueError):
    """The input is not an App User Schema and profile mapping mapper can read."""

    exit_code = ExitCode.FAILED  # bad data


@dataclass(frozen=True, slots=True)
class Property:
    """One App User Schema property."""

    variable: str
    title: str
    okta_type: str
    items_type: str | None
    external_name: str | None
    namespace: str | None
    read_only: bool


@dataclass(frozen=True, slots=True)
class Mapped:
    """One property of a profile mapping: the app user VARIABLE, its expression, and whether Okta
    pushes it on create only (DONT_PUSH)."""

    variable: str
    expression: str
    create_only: bool


@dataclass
class Rule:
    """One rule of the imported ruleset, outbound (TARGET a SCIM path) or inbound (TARGET
    ``user.ATTRIBUTE``), with the Okta expression and, when it cannot be kept, why."""

    target: str
    expression: str
    create_only: bool
    primary: bool
    comment: str
    urn: str
    attr: str
    property: Property | None = None
    problem: str | None = None  # set when the rule cannot be kept
    okta_attribute: str | None = None  # an inbound rule's Okta user attribute
    reads: list[tuple[str, str, Property]] = field(
        default_factory=list
    )  # an inbound rule's (urn, attr, property)


@dataclass
class ImportResult:
    """An import: the ruleset's TEXT, what could not be imported as it was (PROBLEMS), and how many
    rules it kept."""

    text: str
    problems: list[str] = field(default_factory=list)
    rules: int = 0
    incomplete: bool = False  # a mapping was not imported: the ruleset does less than Okta does


def read_schema(document: object) -> dict[str, Property]:
    """The properties of an App User Schema document, base ones first."""
    if not isinstance(document, dict) or not isinstance(document.get("definitions"), dict):
        raise OktaInputError(
            "not an Okta App User Schema: no 'definitions' (GET /api/v1/meta/schemas/apps/{appId}/default)"
        )
    properties: dict[str, Property] = {}
    for part in ("base", "custom"):
        section = document["definitions"].get(part) or {}
        found = section.get("properties", {}) if isinstance(section, dict) else None
        if not isinstance(found, dict):
            raise OktaInputError(
                f"not an Okta App User Schema: definitions.{part}.properties is not an object"
            )
        for variable, spec in found.items():
            if not isinstance(spec, dict):
                raise OktaInputError(f"app schema property {variable!r} is not an object")
            items = spec.get("items")
            properties[variable] = Property(
                variable,
                str(spec.get("title") or variable),
                str(spec.get("type") or "string"),
                str(items.get("type")) if isinstance(items, dict) and items.get("type") else None,
                spec.get("externalName") if isinstance(spec.get("externalName"), str) else None,
                spec.get("externalNamespace") if isinstance(spec.get("externalNamespace"), str) else None,
                spec.get("mutability") == "READ_ONLY",
            )
    return properties


def read_mapping(document: object, inbound: bool = False) -> list[Mapped]:
    """The property mappings of an Okta-user-to-app profile mapping (INBOUND: of an app-to-Okta
    one, each keyed by the Okta user attribute it sets), in their order."""
    way = "from the app to the Okta user" if inbound else "from the Okta user to the app"
    if isinstance(document, list):
        if len(document) != 1:
            raise OktaInputError(
                f"a list of {len(document)} mappings: give the one {way} (GET /api/v1/mappings/{{id}})"
            )
        document = document[0]
    if not isinstance(document, dict) or not isinstance(document.get("properties"), dict):
        raise OktaInputError("not an Okta profile mapping: no 'properties' (GET /api/v1/mappings/{id})")
    ends = ("appuser", "user") if inbound else ("user", "appuser")
    for end, expected in zip(("source", "target"), ends, strict=True):
        kind = document.get(end, {}).get("type") if isinstance(document.get(end), dict) else None
        if kind is not None and kind != expected:
            taker = (
                "--inbound-mapping takes the app to Okta user"
                if inbound
                else "mapper imports the Okta user to app"
            )
            raise OktaInputError(
                f"this mapping's {end} is {kind!r}: {taker} mapping (source {ends[0]!r}, target {ends[1]!r})"
            )
    mapped = []
    for variable, spec in document["properties"].items():
        if not isinstance(spec, dict) or not isinstance(spec.get("expression"), str):
            raise OktaInputError(f"mapping of {variable!r} has no expression")
        push = spec.get("pushStatus", "PUSH")
        if push not in ("PUSH", "DONT_PUSH"):
            raise OktaInputError(f"mapping of {variable!r}: unknown pushStatus {push!r}")
        mapped.append(Mapped(variable, spec["expression"], push == "DONT_PUSH"))
    return mapped


def import_okta(schema: object, mapping: object, name: str, inbound: object | None = None) -> ImportResult:
    """The ruleset NAME that does what MAPPING (Okta user to app) does for the app SCHEMA
    describes, and INBOUND (the app-to-Okta mapping), when given, as inbound rules."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*", name):
        raise ValueError(f"{name!r} is not a ruleset name (a letter, then letters, digits, _ or -)")
    properties = read_schema(schema)
    mapped = read_mapping(mapping)
    problems: list[str] = []
    aliases: dict[str, str] = {}
    # Rules in the mapping's order; an entry Okta selects by primary is resolved once all its
    # properties are known, and takes the place of its first one.
    ordered: list[Rule | tuple[str, str, bool]] = []
    groups: dict[tuple[str, str, bool], dict[str, tuple[Mapped, Property]]] = {}
    for m in mapped:
        prop = properties.get(m.variable)
        if prop is None:  # Okta sends nothing for it: kept as a comment, reported, exit 1
            unknown = Property(m.variable, m.variable, "string", None, None, None, False)
            ordered.append(Rule("?", m.expression, m.create_only, False, f"Okta: {m.variable}", "", "",
                                 unknown, "mapped, but the App User Schema has no such property"))  # fmt: skip
            continue
        rule = _translate(m, prop, aliases)
        if isinstance(rule, tuple):
            key, sub = rule
            if key not in groups:
                ordered.append(key)
            groups.setdefault(key, {})[sub] = (m, prop)
            continue
        ordered.append(rule)
    rules: list[Rule] = []
    entry_types: dict[tuple[str, str, bool], str] = {}
    for item in ordered:
        rules.extend(
            _primary_group(item, groups[item], aliases, problems, entry_types)
            if isinstance(item, tuple)
            else [item]
        )
    if not any(r.target == "userName" and r.problem is None for r in rules):
        rules.insert(0, Rule("userName", "user.login", False, False,
                              "Okta: the app's username format", CORE_USER, "userName"))  # fmt: skip
        problems.append(
            "userName: not in the mapping (Okta takes it from the app's username format); "
            "assumed the Okta username, user.login"
        )
    for attr, expression, why in _OKTA_ADDS:
        if not any(r.urn == CORE_USER and r.attr == attr for r in rules):
            rules.append(Rule(attr, expression, False, False, why, CORE_USER, attr))
    if inbound is not None:
        from mapper.okta.inbound_import import inbound_rules  # it imports this module

        rules += inbound_rules(
            read_mapping(inbound, inbound=True), properties, lambda urn: _alias(urn, aliases), entry_types
        )
    text = _checked_text(name, rules, aliases, properties, problems)
    incomplete = any(
        r.problem is not None and (r.property is not None or r.okta_attribute is not None) for r in rules
    )
    incomplete = incomplete or any(p.startswith("the imported ruleset") for p in problems)
    return ImportResult(text, problems, sum(r.problem is None for r in rules), incomplete)


def _translate(
    m: Mapped, prop: Property, aliases: dict[str, str]
) -> Rule | tuple[tuple[str, str, bool], str]:
    """The rule for one mapped property (with a problem when it cannot be kept), or the key of
    the entry group Okta selects by primary, and the sub-attribute."""
    comment = f"Okta: {m.variable}"

    def refused(why: str) -> Rule:
        return Rule("?", m.expression, m.create_only, False, comment, "", "", prop, why)

    if prop.read_only:
        return refused("read-only in the app schema, so Okta does not send it")
    if not prop.external_name:
        return refused("no External Name, so Okta does not send it to a SCIM app")
    if not prop.namespace:
        return refused(
            "no External Namespace, so Okta leaves it out of every request "
            "(set the app's schema URN, exactly as the app spells it)"
        )
    path = parse_external_name(prop.external_name)
    if path is None:
        return refused(f"External Name {prop.external_name!r} is not a SCIM path mapper can write")
    if not is_schema_urn(prop.namespace):
        return refused(f"External Namespace {prop.namespace!r} is not a schema URN (RFC 8141)")
    urn = prop.namespace
    if path.key == "primary":
        assert isinstance(path.value, bool) and path.sub is not None
        return (urn, path.attr, path.value), path.sub
    alias = _alias(urn, aliases)
    entry = path.value if path.key == "type" else None
    assert entry is None or isinstance(entry, str)
    target = target_text(alias, path.attr, entry, path.sub)
    rule = Rule(target, m.expression, m.create_only, False, comment, urn, path.attr, prop)
    if path.sub is not None and urn not in (CORE_USER, ENTERPRISE_USER):
        rule.problem = "a sub-attribute of a custom schema (schema blocks declare simple attributes)"
    return rule


def _primary_group(
    key: tuple[str, str, bool],
    members: dict[str, tuple[Mapped, Property]],
    aliases: dict[str, str],
    problems: list[str],
    entry_types: dict[tuple[str, str, bool], str],
) -> list[Rule]:
    """Okta's ``attr.^[primary==true|false].sub`` properties as rules on ``attr[type eq "T"]``,
    T read from the group's ``.type`` property (Okta's template maps it to a constant or to
    ``(value != null && value != '') ? 'work' : ''``); each type found goes into ENTRY_TYPES,
    for the inbound rules that read the same entry."""
    urn, attr, primary = key
    selector = ExternalName(attr, "primary", primary, "type").okta()
    typed = members.pop("type", None)
    entry_type = _type_of(typed[0].expression) if typed else None
    if entry_type is not None:
        entry_types[key] = entry_type
    alias = _alias(urn, aliases)
    rules = []
    for sub, (m, prop) in members.items():
        comment = f"Okta: {m.variable}" + (f", {typed[0].variable}" if typed else "")
        if entry_type is None:
            why = f"Okta selects this entry by {selector.replace('.type', '')}, and " + (
                f"the mapping of {typed[0].variable} ({typed[0].expression!r}) gives no single type"
                if typed
                else f"nothing maps its type ({selector})"
            )
            rule = Rule(target_text(alias, attr, "TYPE", sub), m.expression, m.create_only, primary,
                         comment, urn, attr, prop, why)  # fmt: skip
        else:
            rule = Rule(target_text(alias, attr, entry_type, sub), m.expression, m.create_only, primary,
                         comment, urn, attr, prop)  # fmt: skip
        rules.append(rule)
    if not rules and typed:
        problems.append(f"{typed[0].variable}: the type of an entry whose value nothing maps")
    return rules


def _type_of(expression: str) -> str | None:
    """The entry type a type sibling's mapping gives: a string constant, or Okta's template's
    ``(x != null && x != '') ? 'work' : ''`` (the same X twice); read as an expression, so
    any type export writes (quotes doubled) reads back."""
    from mapper.language import ast
    from mapper.language.syntax import parse_expression
    from mapper.language.unparse import expression as text_of

    parsed, _ = parse_expression(expression, "<okta>")
    if isinstance(parsed, ast.Literal):
        return parsed.value if isinstance(parsed.value, str) else None
    if not (isinstance(parsed, ast.Conditional) and isinstance(parsed.then, ast.Literal)):
        return None
    condition, otherwise = parsed.condition, parsed.otherwise
    if not (isinstance(otherwise, ast.Literal) and otherwise.value == ""):
        return None
    if not (isinstance(condition, ast.Binary) and condition.op == "AND"):
        return None
    left, right = condition.left, condition.right
    if not (isinstance(left, ast.Binary) and isinstance(right, ast.Binary) and left.op == right.op == "!="):
        return None
    if not (_is_literal(left.right, None) and _is_literal(right.right, "")):
        return None
    if text_of(left.left) != text_of(right.left):
        return None
    value = parsed.then.value
    return value if isinstance(value, str) else None


def _is_literal(e: object, value: object) -> bool:
    from mapper.language import ast

    return isinstance(e, ast.Literal) and e.value == value and type(e.value) is type(value)


def _alias(urn: str, aliases: dict[str, str]) -> str | None:
    if urn == CORE_USER:
        return None
    if urn not in aliases:
        aliases[urn] = alias_for(urn, set(aliases.values()))
    return aliases[urn]


# ---------------------------------------------------------------- the text, checked


def _checked_text(
    name: str,
    rules: list[Rule],
    aliases: dict[str, str],
    properties: Mapping[str, Property],
    problems: list[str],
) -> str:
    """The ruleset, with every rule the checker refuses turned into a comment that says why."""
    from mapper.errors import RulesetError
    from mapper.language.unparse import format_text
    from mapper.runtime.ruleset import loads

    for rule in rules:
        if rule.problem is None:
            rule.problem = _expression_problem(rule)
    for _ in range(len(rules) + 1):
        text, lines = _text(name, rules, aliases)
        try:
            loads(text, f"{name}.mapper", cache=False)
            break
        except RulesetError as exc:
            refused = False
            for d in exc.errors:
                index = lines.get(d.span.line) if d.span else None
                if index is not None and rules[index].problem is None:
                    rules[index].problem = d.message
                    refused = True
            if not refused:  # an error no single rule explains: say so and stop
                problems.extend(f"the imported ruleset: {d.message}" for d in exc.errors)
                break
    problems.extend(
        f"{_variable(r)}: not imported: {r.problem}"
        for r in rules
        if r.problem is not None and (r.property is not None or r.okta_attribute is not None)
    )
    formatted, _ = format_text(text)
    return formatted if formatted is not None else text


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def _printable(text: str) -> str:
    """TEXT for a comment line: a line break in an Okta name must not start a statement."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _variable(rule: Rule) -> str:
    if rule.okta_attribute is not None:
        return f"user.{rule.okta_attribute} (from the app)"
    return rule.property.variable if rule.property else rule.target


def _expression_problem(rule: Rule) -> str | None:
    """Why RULE's Okta expression cannot be imported as it is, else None; the expression is
    read as an expression and nothing else, and written back in the formatter's words, so
    text after it (``on create``, ``default "x"``, a comment) never becomes a rule option."""
    from mapper.language.syntax import parse_expression
    from mapper.language.unparse import expression

    parsed, problem = parse_expression(rule.expression, "<okta>")
    if parsed is None:
        return f"not an expression mapper reads: {problem}"
    rule.expression = expression(parsed)
    return None


def _text(name: str, rules: list[Rule], aliases: dict[str, str]) -> tuple[str, dict[int, int]]:
    both = any(r.okta_attribute is not None for r in rules)
    out = [
        "# Imported from Okta by `mapper import okta`: the app's App User Schema and its",
        "# Okta-user-to-app profile mapping. Review it, then export it back with `mapper export okta`.",
        *(
            ["# The app-to-Okta mapping is in the inbound rules (user.ATTRIBUTE <- appuser.PATH)."]
            if both
            else []
        ),
        f"ruleset {name}",
        "",
    ]
    kept = [r for r in rules if r.problem is None]
    attributes = [(r.urn, r.attr, r.property) for r in kept if r.property] + [
        x for r in kept for x in r.reads
    ]
    for urn, alias in aliases.items():
        if urn == ENTERPRISE_USER or not any(u == urn for u, _, _ in attributes):
            continue
        out.append(f"schema {alias} = {_string(urn)} {{")
        declared: set[str] = set()
        for u, attr, prop in attributes:
            if u == urn and attr not in declared:
                declared.add(attr)
                out.append(f"  {attr}: {_declared_type(prop)}")
        out.append("}")
        out.append("")
    declared_profile = _profile_types(rules)
    if declared_profile:
        out.append("# Okta user attributes the mapping passes straight to typed app properties:")
        out.append("profile {")
        out += [f"  {attribute}: {kind}" for attribute, kind in declared_profile.items()]
        out += ["}", ""]
    lines: dict[int, int] = {}
    for index, rule in enumerate(rules):
        expression = re.sub(
            r"[\r\n\x0b\x0c\x85\u2028\u2029]+", " ", rule.expression
        )  # a refused rule's, shown
        body = (
            f"{rule.target} <- {expression}"
            + (" on create" if rule.create_only else "")
            + (" primary" if rule.primary else "")
        )
        if rule.problem is not None:
            out.append(f"# not imported ({_printable(rule.comment)}):")
            wrapped = textwrap.wrap(
                _printable(rule.problem), 96, initial_indent="#   ", subsequent_indent="#   "
            )
            out += wrapped
            out.append(_printable(f"#   {body}" if rule.target != "?" else f"#   <- {expression}"))
            continue
        out.append(f"{body}  # {_printable(rule.comment)}")
        lines[len(out)] = index
    return "\n".join(out) + "\n", lines


_DIRECT = re.compile(r"user\.([A-Za-z_][A-Za-z0-9_]*)")


def _profile_types(rules: list[Rule]) -> dict[str, str]:
    """Custom Okta user attributes mapped as they are (``user.x``) to a non-string app property:
    Okta requires the two types to agree, so the user attribute has the property's type."""
    from mapper.core.schema import OKTA_BASE_PROFILE

    found: dict[str, str] = {}
    for rule in rules:
        match = _DIRECT.fullmatch(rule.expression.strip())
        if rule.problem is None and match and rule.property and match[1] not in OKTA_BASE_PROFILE:
            kind = rule.property.okta_type
            if kind == "array":
                found.setdefault(match[1], (rule.property.items_type or "string") + "[]")
            elif kind in ("boolean", "integer", "number"):
                found.setdefault(match[1], kind)
    return found


def _declared_type(prop: Property) -> str:
    if prop.okta_type == "array":
        return _SCIM_TYPE.get(prop.items_type or "string", "string") + "[]"
    return _SCIM_TYPE.get(prop.okta_type, "string")


def _string(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)
