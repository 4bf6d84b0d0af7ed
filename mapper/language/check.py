"""The checker: one file's declarations and rules against the SCIM schemas.

Works on one parsed file at a time, given the environment its parent ruleset
left (schemas, aliases, custom profile attributes). Every problem is reported;
what passes becomes typed :class:`~mapper.core.plan.PlannedRule` objects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from mapper.core.plan import PCall, PExpr, PlannedRule, TargetSlot
from mapper.core.schema import (
    BUILTIN_ALIASES,
    BUILTIN_SCHEMAS,
    CORE_USER,
    OKTA_BASE_PROFILE,
    OKTA_TYPES,
    SCIM_TYPES,
    USER,
    Attribute,
    Schema,
    is_schema_urn,
)
from mapper.core.types import NULL, ValueType, default_fits, okta_type, scim_accepts
from mapper.errors import Span, source_lines
from mapper.language import ast
from mapper.language.diagnostics import Reporter, did_you_mean, same_but_case
from mapper.language.expressions import ExpressionChecker, literal_type

_CASE_HINT = "SCIM URNs and names must match exactly, capitalisation included"

_URN_CHARACTER = re.compile(r"[a-z0-9\-._~!$&'()*+,;=:@/%]", re.I)


@dataclass
class Environment:
    """What a ruleset can refer to: grows along the extends chain."""

    schemas: dict[str, Schema] = field(default_factory=lambda: dict(BUILTIN_SCHEMAS))
    aliases: dict[str, str] = field(default_factory=lambda: dict(BUILTIN_ALIASES))
    profile: dict[str, ValueType] = field(default_factory=dict)

    def copy(self) -> Environment:
        """A copy whose tables can grow without changing this one's (the schemas themselves are shared)."""
        return Environment(dict(self.schemas), dict(self.aliases), dict(self.profile))


def check_declarations(file: ast.RulesetFile, env: Environment, reporter: Reporter) -> Environment:
    """Adds the file's schema and profile declarations to a copy of ENV."""
    env = env.copy()
    headers = [s for s in file.statements if isinstance(s, ast.Header)]
    for extra in headers[1:]:
        reporter.error(extra.span, "a file has one `ruleset` header", "remove this line")
    if headers and file.statements[0] is not headers[0]:
        reporter.error(headers[0].span, "the `ruleset` header must come first")
    for statement in file.statements:
        if isinstance(statement, ast.SchemaDecl):
            _declare_schema(statement, env, reporter)
        elif isinstance(statement, ast.ProfileDecl):
            _declare_profile(statement, env, reporter)
    return env


def _declare_schema(decl: ast.SchemaDecl, env: Environment, reporter: Reporter) -> None:
    urn = decl.urn
    if not is_schema_urn(urn):
        bad = next((c for c in urn if not _URN_CHARACTER.fullmatch(c)), None)
        why = (
            f" (RFC 8141 does not allow {bad!r} in a URN)"
            if bad is not None
            else " (RFC 8141: urn:, a namespace of 2 to 32 letters, digits or hyphens, then :)"
            if urn.lower().startswith("urn:")
            else ""
        )
        reporter.error(decl.urn_span, f"{urn!r} is not a schema URN{why}", 'write it as "urn:...:User"')
        return
    if urn == CORE_USER:
        reporter.error(
            decl.urn_span, "the core User schema needs no declaration", "write core attributes unqualified"
        )
        return
    near = same_but_case(urn, env.schemas)
    if near:
        reporter.error(
            decl.urn_span, "this URN differs only in case from a known schema", f"{_CASE_HINT}: `{near}`"
        )
        return
    if decl.alias in env.aliases and env.aliases[decl.alias] != urn:
        reporter.error(decl.span, f"alias {decl.alias!r} already names {env.aliases[decl.alias]}")
        return
    existing = env.schemas.get(urn)
    if existing is not None:
        if decl.attributes is not None:
            what = "is built in" if existing.builtin else "is already declared"
            reporter.error(decl.span, f"schema {urn} {what}", 'declare only an alias: `schema NAME = "URN"`')
            return
        env.aliases[decl.alias] = urn
        return
    if decl.attributes is None:
        reporter.error(
            decl.span, f"unknown schema {urn}", "declare its attributes in braces: { name: string }"
        )
        return
    attributes: dict[str, Attribute] = {}
    for attr in decl.attributes:
        if attr.type not in SCIM_TYPES:
            reporter.error(
                attr.type_span,
                f"unknown SCIM type {attr.type!r}",
                did_you_mean(attr.type, SCIM_TYPES) or "types: " + ", ".join(SCIM_TYPES),
            )
            continue
        clash = same_but_case(attr.name, attributes) or (attr.name if attr.name in attributes else None)
        if clash:
            reporter.error(
                attr.span, f"attribute {attr.name!r} is declared twice", "SCIM names are case-insensitive"
            )
            continue
        attributes[attr.name] = Attribute(attr.name, attr.type, attr.multi)
    env.schemas[urn] = Schema(urn, decl.alias, attributes, builtin=False, span=decl.urn_span)
    env.aliases[decl.alias] = urn


def _declare_profile(decl: ast.ProfileDecl, env: Environment, reporter: Reporter) -> None:
    for attr in decl.attributes:
        if attr.type not in OKTA_TYPES:
            hint = did_you_mean(attr.type, OKTA_TYPES) or "Okta types: " + ", ".join(OKTA_TYPES)
            reporter.error(attr.type_span, f"unknown Okta type {attr.type!r}", hint)
            continue
        if attr.name in OKTA_BASE_PROFILE:
            reporter.error(
                attr.span,
                f"{attr.name!r} is an Okta base profile attribute",
                "only custom attributes are declared",
            )
            continue
        declared = okta_type(attr.type, attr.multi)
        if attr.name in env.profile and env.profile[attr.name] != declared:
            reporter.error(attr.span, f"{attr.name!r} is already declared as {env.profile[attr.name]}")
            continue
        env.profile[attr.name] = declared


# ---------------------------------------------------------------- rules


def check_rules(
    file: ast.RulesetFile, env: Environment, origin: str, reporter: Reporter
) -> list[PlannedRule]:
    """FILE's rules checked against ENV, in order, as planned rules of ORIGIN; every problem, a second
    rule for one target included, goes to REPORTER."""
    planned: list[PlannedRule] = []
    seen: dict[tuple[str, str, str | None, str | None], ast.Rule] = {}
    lines = source_lines(file.text)  # once per file: checking stays linear in its size
    for statement in file.statements:
        if not isinstance(statement, ast.Rule):
            continue
        rule = _check_rule(statement, env, origin, lines, reporter)
        if rule is None:
            continue
        first = seen.get(rule.target.key)
        if first is not None:
            reporter.error(
                statement.target.span,
                f"{rule.target.path} is already set on line {first.span.line}",
                "one rule per target; combine them with `c ? a : b` or `a ?: b`",
            )
            continue
        seen[rule.target.key] = statement
        planned.append(rule)
    return planned


def _check_rule(
    rule: ast.Rule, env: Environment, origin: str, lines: list[str], reporter: Reporter
) -> PlannedRule | None:
    target = resolve_target(rule.target, env, reporter)
    checker = ExpressionChecker(env.profile, reporter)
    expr = checker.check(rule.expr)
    checker.finish()
    if target is None or expr is None:
        return None
    ok = True
    if target.multi_simple:
        if not (expr.type.multi and expr.type.base in (target.scim_type, "null")) and expr.type != NULL:
            reporter.error(
                rule.expr.span,
                f"{target.path} is multi-valued {target.scim_type}: the value must be {target.scim_type}[], not {expr.type}",
            )
            ok = False
    elif not scim_accepts(target.scim_type, expr.type):
        reporter.error(
            rule.expr.span,
            f"{target.path} is {target.scim_type}, but the expression gives {expr.type}",
            _conversion_hint(target.scim_type, expr.type),
        )
        ok = False
    if expr.type == NULL:
        reporter.error(rule.expr.span, "this expression is always null, so the rule never sets a value")
        ok = False
    if not rule.create_only and calls(expr, "Time.now"):
        reporter.error(
            rule.expr.span,
            "Time.now() changes on every call, so every update would send it",
            "use it in an `on create` rule, as Okta's 'Apply on: Create' does",
        )
        ok = False
    if rule.primary and target.entry_type is None:
        reporter.error(
            rule.option_spans[0] if rule.option_spans else rule.span,
            '`primary` applies to a multi-valued entry such as emails[type eq "work"].value',
        )
        ok = False
    default = None
    if rule.default is not None:
        default = rule.default.value
        if default is None or default == "":
            reporter.error(rule.default.span, "a default must be a value", "leave the default out instead")
            ok = False
        elif target.multi_simple or not default_fits(target.scim_type, literal_type(default)):
            reporter.error(rule.default.span, f"the default of {target.path} must be {target.scim_type}")
            ok = False
    if not ok:
        return None
    from mapper.language.unparse import expression  # the unparser loads the parser: only when compiling

    text = " ".join(line.strip() for line in lines[rule.span.line - 1 : rule.span.end_line])
    return PlannedRule(
        target,
        expr,
        rule.create_only,
        rule.primary,
        default,
        tuple(checker.sources),
        tuple(checker.internal_sources),
        origin,
        rule.span,
        text,
        rule,
        tuple(checker.source_types[s] for s in checker.sources),
        expression(rule.expr),
    )


def calls(expr: PExpr, name: str) -> bool:
    """Whether EXPR calls the function NAME anywhere."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, PCall) and node.function.name == name:
            return True
        stack.extend(v for v in _children(node) if isinstance(v, PExpr))
    return False


def _children(node: PExpr) -> list[object]:
    """The sub-expressions a plan node holds (its fields, flattened one level)."""
    out: list[object] = []
    for slot in getattr(type(node), "__slots__", ()):
        value = getattr(node, slot, None)
        out.extend(value if isinstance(value, tuple) else [value])
    return out


def _conversion_hint(target: str, got: ValueType) -> str:
    if target == "boolean" and got.base == "string":
        return 'compare to get true or false: user.x == "true"'
    if target in ("integer", "decimal") and got.base == "string":
        return "convert with Convert.toInt(...) or Convert.toNum(...)"
    if got.multi:
        return "use Arrays.toCsvString(...) for one string"
    return ""


def resolve_target(
    target: ast.Target, env: Environment, reporter: Reporter, reading: bool = False
) -> TargetSlot | None:
    """The slot TARGET names in ENV's schemas; None once REPORTER has been told why it cannot be written
    (or, READING an app's resource for an inbound rule, read: read-only attributes can be)."""
    schema = _resolve_schema(target, env, reporter)
    if schema is None:
        return None
    attr = _resolve_attribute(schema.attributes, target.attr, target.attr_span, schema, env, reporter)
    if attr is None:
        return None
    if attr.mutability == "readOnly" and not reading:
        reporter.error(target.attr_span, f"{attr.name} is read-only: the service provider sets it")
        return None
    if attr.mutability == "writeOnly" and reading:
        reporter.error(target.attr_span, f"{attr.name} is write-only: the app never returns it")
        return None
    if attr.type == "complex":
        if target.sub is None:
            example = next(iter(attr.sub_attributes))
            reporter.error(
                target.span,
                f"{attr.name} is complex: name a sub-attribute",
                f"for example {attr.name}.{example}"
                if not attr.multi
                else f'for example {attr.name}[type eq "work"].{example}',
            )
            return None
        assert target.sub_span is not None
        sub = _resolve_attribute(
            attr.sub_attributes, target.sub, target.sub_span, None, env, reporter, parent=attr.name
        )
        if sub is None:
            return None
        if sub.mutability == "readOnly" and not reading:
            reporter.error(
                target.sub_span, f"{attr.name}.{sub.name} is read-only: the service provider sets it"
            )
            return None
        if attr.multi:
            if target.filter_type is None:
                reporter.error(
                    target.span,
                    f"{attr.name} is multi-valued: select the entry with a type filter",
                    f'for example {attr.name}[type eq "work"].{sub.name}',
                )
                return None
            if (target.filter_attr or "").lower() != "type":
                reporter.error(
                    target.filter_span,
                    "entries are selected by type",
                    f'write [type eq "{target.filter_type}"]',
                )
                return None
            if sub.name in ("type", "primary") and not reading:
                hint = (
                    "the type comes from the filter"
                    if sub.name == "type"
                    else "add the `primary` option to the rule"
                )
                reporter.error(target.sub_span, f"{attr.name}[...].{sub.name} is set by mapper", hint)
                return None
        elif target.filter_type is not None:
            reporter.error(target.filter_span, f"{attr.name} is not multi-valued: remove the filter")
            return None
        return TargetSlot(schema.urn, attr.name, target.filter_type, sub.name, sub.type)
    if target.filter_type is not None or target.sub is not None:
        span = target.filter_span or target.sub_span
        reporter.error(
            span,
            f"{attr.name} is a simple attribute: it has no {'filter' if target.filter_type else 'sub-attributes'}",
        )
        return None
    return TargetSlot(schema.urn, attr.name, None, None, attr.type, multi_simple=attr.multi)


def _resolve_schema(target: ast.Target, env: Environment, reporter: Reporter) -> Schema | None:
    ref = target.schema
    if ref is None:
        return USER
    span = target.schema_span
    if ref.lower().startswith("urn:"):
        if ref in env.schemas:
            return env.schemas[ref]
        near = same_but_case(ref, env.schemas)
        if near:
            reporter.error(
                span, "this URN differs only in case from a declared schema", f"{_CASE_HINT}: `{near}`"
            )
        else:
            reporter.error(
                span,
                f"unknown schema {ref}",
                did_you_mean(ref, env.schemas) or 'declare it with `schema ALIAS = "URN" { ... }`',
            )
        return None
    if ref in env.aliases:
        return env.schemas[env.aliases[ref]]
    hint = did_you_mean(ref, env.aliases) or 'declare it with `schema ALIAS = "URN" { ... }`'
    reporter.error(span, f"unknown schema alias {ref!r}", hint)
    return None


def _resolve_attribute(
    table: Mapping[str, Attribute],
    name: str,
    span: Span | None,
    schema: Schema | None,
    env: Environment,
    reporter: Reporter,
    parent: str | None = None,
) -> Attribute | None:
    attrs = table
    if name in attrs:
        return attrs[name]
    where = f"{parent}" if parent else (schema.name if schema else "")
    near = same_but_case(name, attrs)
    if near:
        reporter.error(span, f"{name!r} differs only in case from {near!r}", f"{_CASE_HINT}: write `{near}`")
        return None
    hint = did_you_mean(name, attrs)
    if not hint and schema is USER:
        for alias, urn in env.aliases.items():
            if env.schemas[urn].attribute(name) is not None:
                hint = f"did you mean `{alias}:{name}`?"
                break
    reporter.error(span, f"unknown attribute {name!r} in {where}", hint)
    return None
