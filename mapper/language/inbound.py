"""The inbound direction (app to Okta): inbound rules checked, inherited and derived.

An inbound rule ``user.NAME <- EXPR`` sets an Okta profile attribute from the
app's SCIM resource, which EXPR reads as ``appuser.PATH`` (PATH written as an
outbound target is: ``appuser.emails[type eq "work"].value``). ``on create`` is
Okta's DONT_PUSH. An outbound rule that is a plain copy (``title <- user.title``)
inverts by itself, so its inbound rule is derived unless the ruleset declares one
for that attribute; every other outbound rule is recorded with why it cannot be
inverted, for ``check`` and ``explain`` to say.
"""

from __future__ import annotations

from collections.abc import Mapping

from mapper.core.plan import InboundRule, Inverse, Inversion, PAppSource, PlannedRule, PSource
from mapper.core.schema import BUILTIN_SCHEMAS, CORE_USER, OKTA_BASE_PROFILE, Schema
from mapper.core.scim_path import AttrPath
from mapper.core.types import NULL, STRING, ValueType, default_fits, scim_accepts
from mapper.errors import source_lines
from mapper.language import ast
from mapper.language.check import Environment, calls, resolve_target
from mapper.language.diagnostics import Reporter, same_but_case
from mapper.language.expressions import ExpressionChecker, literal_type
from mapper.language.literals import filter_value

#: The expression type a SCIM attribute's value is read as.
_READ_AS = {
    "string": "string",
    "reference": "string",
    "dateTime": "string",
    "binary": "string",
    "boolean": "boolean",
    "integer": "integer",
    "decimal": "decimal",
}


def check_inbound_rules(
    file: ast.RulesetFile, env: Environment, origin: str, reporter: Reporter
) -> list[InboundRule]:
    """FILE's inbound rules checked against ENV, in order; every problem, a second rule for one
    Okta attribute included, goes to REPORTER."""
    planned: list[InboundRule] = []
    seen: dict[str, ast.InboundRule] = {}
    lines = source_lines(file.text)
    for statement in file.statements:
        if not isinstance(statement, ast.InboundRule):
            continue
        rule = _check(statement, env, origin, lines, reporter)
        first = seen.get(statement.attr)
        if first is not None:
            reporter.error(
                statement.attr_span,
                f"user.{statement.attr} is already set on line {first.span.line}",
                "one inbound rule per Okta attribute; combine them with `c ? a : b` or `a ?: b`",
            )
            continue
        seen[statement.attr] = statement
        if rule is not None:
            planned.append(rule)
    return planned


def app_source(path: ast.Target, env: Environment, reporter: Reporter) -> PAppSource | None:
    """The app's attribute PATH names, typed as an expression reads it; None once reported."""
    slot = resolve_target(path, env, reporter, reading=True)
    if slot is None:
        return None
    type_ = ValueType(_READ_AS[slot.scim_type], slot.multi_simple)
    return PAppSource(type_, True, slot.attr_path, slot.scim_type)


def _target_type(
    rule: ast.InboundRule, env: Environment, got: ValueType | None, reporter: Reporter
) -> ValueType:
    """The Okta type of the attribute RULE sets: declared, base (a string), or, for an
    undeclared one (warned of), the expression's."""
    name = rule.attr
    if name in env.profile:
        return env.profile[name]
    if name in OKTA_BASE_PROFILE:
        return STRING
    known = [*OKTA_BASE_PROFILE, *env.profile]
    near = same_but_case(name, known)
    if near:
        reporter.error(
            rule.attr_span,
            f"user.{name} differs only in case from user.{near}",
            f"Okta attribute names are case-sensitive: write `user.{near}`",
        )
        return STRING
    type_ = got if got is not None and got != NULL else STRING
    reporter.warning(
        rule.attr_span,
        f"user.{name} is not an Okta base profile attribute",
        f"if it is a custom attribute, declare it: `profile {{ {name}: {type_.okta_name} }}`",
    )
    return type_


def okta_accepts(target: ValueType, value: ValueType) -> bool:
    """Whether a value of type VALUE may be stored in an Okta attribute of type TARGET: the same
    type, an integer in a number or a string (as outbound), or null."""
    if value == NULL:
        return True
    if target.multi or value.multi:
        return target == value
    return scim_accepts(target.base, value)


def _check(
    rule: ast.InboundRule, env: Environment, origin: str, lines: list[str], reporter: Reporter
) -> InboundRule | None:
    checker = ExpressionChecker(env.profile, reporter, lambda path: app_source(path, env, reporter))
    expr = checker.check(rule.expr)
    type_ = _target_type(rule, env, expr.type if expr is not None else None, reporter)
    if expr is None:
        return None
    ok = True
    if rule.primary is not None:
        reporter.error(rule.primary, "`primary` marks a SCIM entry: an Okta attribute has none", "remove it")
        ok = False
    if expr.type == NULL:
        reporter.error(rule.expr.span, "this expression is always null, so the rule never sets a value")
        ok = False
    elif not okta_accepts(type_, expr.type):
        reporter.error(
            rule.expr.span,
            f"user.{rule.attr} is {type_.okta_name}, but the expression gives {expr.type.okta_name}",
            _hint(type_, expr.type),
        )
        ok = False
    if not rule.create_only and calls(expr, "Time.now"):
        reporter.error(
            rule.expr.span,
            "Time.now() changes on every call, so every import would update it",
            "use it in an `on create` rule (Okta's DONT_PUSH)",
        )
        ok = False
    default = None
    if rule.default is not None:
        default = rule.default.value
        if default is None or default == "":
            reporter.error(rule.default.span, "a default must be a value", "leave the default out instead")
            ok = False
        elif type_.multi or not default_fits(type_.base, literal_type(default)):
            reporter.error(rule.default.span, f"the default of user.{rule.attr} must be {type_.okta_name}")
            ok = False
    if not ok:
        return None
    from mapper.language.unparse import expression  # the unparser loads the parser: only when compiling

    text = " ".join(line.strip() for line in lines[rule.span.line - 1 : rule.span.end_line])
    return InboundRule(
        rule.attr,
        type_,
        expr,
        rule.create_only,
        default,
        tuple(source.path for source in checker.app_sources),
        origin,
        rule.span,
        text,
        rule,
        expression(rule.expr),
    )


def _hint(target: ValueType, got: ValueType) -> str:
    if target.base == "integer" and got.base == "string" and not got.multi:
        return "convert it: Convert.toInt(...)"
    if target.base == "decimal" and got.base == "string" and not got.multi:
        return "convert it: Convert.toNum(...)"
    if target.base == "string" and got.base == "boolean" and not got.multi:
        return 'write it as a string: `appuser.x ? "true" : "false"`'
    if target.base == "boolean" and got.base == "string" and not got.multi:
        return 'compare it: `appuser.x == "true"`'
    if target.base == "integer" and got.base == "decimal":
        return "declare the Okta attribute as a number: `profile { name: number }`"
    if target.multi != got.multi:
        return "an array attribute takes an array: {a, b} or Arrays.toCsvString(...) the other way"
    return ""


def override_inbound(inherited: tuple[InboundRule, ...], own: list[InboundRule]) -> tuple[InboundRule, ...]:
    """Inherited inbound rules in their order, each replaced by an own rule for the same Okta
    attribute; then the own rules that override nothing."""
    own_by_attr = {r.attr: r for r in own}
    merged = [own_by_attr.pop(r.attr, r) for r in inherited]
    merged.extend(r for r in own if r.attr in own_by_attr)
    return tuple(merged)


def derive(
    rules: tuple[PlannedRule, ...],
    declared: tuple[InboundRule, ...],
    aliases: Mapping[str, str],
    schemas: Mapping[str, Schema] | None = None,
    declared_only: bool = False,
) -> tuple[tuple[InboundRule, ...], tuple[Inversion, ...]]:
    """The ruleset's inbound rules (those derived from RULES' plain copies, in rule order, then
    the DECLARED ones) and, for each of RULES, how it inverts. ALIASES names schemas (alias to
    URN) for the derived rules' text; SCHEMAS tells which attributes the app never returns.

    Of several plain copies of one Okta attribute, the first that applies on update is the one
    derived (an ``on create`` copy stops following Okta after the create: read back on every
    import, it would undo Okta's later changes); an ``on create`` copy alone is derived as
    ``on create`` (DONT_PUSH). DECLARED_ONLY (``inbound declared``): nothing is derived, and a
    plain copy says so."""
    written = {r.attr: r for r in declared}
    alias_of = {urn: alias for alias, urn in aliases.items()}
    reasons = [not_invertible(rule, schemas or {}) for rule in rules]
    for index, rule in enumerate(rules):  # entries whose types differ only in case read alike
        t = rule.target
        if reasons[index] is None and t.entry_type is not None and any(
            o.target.urn == t.urn and o.target.attr == t.attr and o.target.entry_type is not None
            and o.target.entry_type != t.entry_type and o.target.entry_type.lower() == t.entry_type.lower()
            for o in rules
        ):  # fmt: skip
            reasons[index] = f"another {t.attr} entry's type differs from {t.entry_type!r} only in case"
    chosen: dict[str, int] = {}
    for index, rule in enumerate(rules):
        if reasons[index] is None:
            first = chosen.get(rule.sources[0])
            if first is None or (rules[first].create_only and not rule.create_only):
                chosen[rule.sources[0]] = index
    derived: list[InboundRule] = []
    inversions: list[Inversion] = []
    for index, rule in enumerate(rules):
        single = rule.sources[0] if len(rule.sources) == 1 and not rule.internal_sources else None
        if single is not None and single in written:
            span = written[single].span
            detail = f"user.{single} is set by the inbound rule at {span.file}:{span.line}"
            inversions.append(Inversion(Inverse.DECLARED, detail))
            continue
        reason = reasons[index]
        if reason is not None:
            inversions.append(Inversion(Inverse.NOT_INVERTIBLE, reason))
            continue
        assert single is not None
        if declared_only:
            inversions.append(Inversion(Inverse.OFF, "the ruleset says `inbound declared`"))
            continue
        if chosen[single] != index:
            other = rules[chosen[single]]
            inversions.append(
                Inversion(Inverse.SHADOWED, f"user.{single} comes back from {other.target.path}")
            )
            continue
        path = rule.target.attr_path
        read = f"appuser.{_path_text(path, alias_of)}"
        source = PAppSource(
            rule.source_types[0] if rule.source_types else STRING, True, path, rule.target.scim_type
        )
        text = f"user.{single} <- {read}" + (" on create" if rule.create_only else "")
        derived.append(
            InboundRule(
                single, source.type, source, rule.create_only, None, (path,), rule.origin, rule.span, text, None,
                read, index,
            )
        )  # fmt: skip
        inversions.append(Inversion(Inverse.DERIVED, text))
    return (*derived, *declared), tuple(inversions)


def _path_text(path: AttrPath, alias_of: Mapping[str, str]) -> str:
    """PATH as a ruleset writes it (an extension by its alias where it has one; a filter value
    as the lexer reads one, any text included)."""
    text = path.attr
    if path.entry_type is not None:
        text += f"[type eq {filter_value(path.entry_type)}]"
    if path.sub is not None:
        text += f".{path.sub}"
    if path.urn == CORE_USER:
        return text
    return f"{alias_of.get(path.urn, path.urn)}:{text}"


def not_invertible(rule: PlannedRule, schemas: Mapping[str, Schema] | None = None) -> str | None:
    """Why the inbound direction cannot recover RULE's Okta attribute from what it writes, or None
    for a plain copy (``title <- user.title``) that it can. SCHEMAS (by URN) tells which
    attributes the app never returns."""
    expr = rule.expr
    if rule.internal_sources:
        return "it reads Okta's user fields (getInternalProperty), which an import does not set"
    if not rule.sources:
        return "a constant"
    if len(rule.sources) > 1:
        return "a function of several attributes (" + ", ".join(f"user.{s}" for s in rule.sources) + ")"
    if not isinstance(expr, PSource):
        return f"it transforms user.{rule.sources[0]}"
    if rule.default is not None:
        return "a default stands in for an empty value"
    target = rule.target
    schema = (schemas or {}).get(target.urn) or BUILTIN_SCHEMAS.get(target.urn)
    attribute = schema.attribute(target.attr) if schema is not None else None
    if attribute is not None and target.sub is not None:
        attribute = attribute.sub_attributes.get(target.sub)
    if attribute is not None and attribute.mutability == "writeOnly":
        return "the app never returns it (write-only)"
    if target.scim_type == "dateTime":
        return "it writes the value as a SCIM dateTime, normalised"
    if expr.type != ValueType(_READ_AS[target.scim_type], target.multi_simple):
        return f"it converts {expr.type.okta_name} to SCIM {target.scim_type}"
    return None
