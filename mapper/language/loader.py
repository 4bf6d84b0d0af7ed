"""Loading a ruleset: files and built-ins, the extends chain, overrides, and the
checks that need the whole ruleset. Produces a :class:`~mapper.core.plan.Plan` or
raises one :class:`~mapper.errors.RulesetError` with every diagnostic.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mapper.core.plan import InboundRule, Plan, PlannedRule
from mapper.core.schema import CORE_USER
from mapper.core.types import STRING, ValueType
from mapper.errors import Diagnostic, RulesetError, Span, capped, source_lines
from mapper.language import ast
from mapper.language.check import Environment, check_declarations, check_rules
from mapper.language.diagnostics import Reporter, did_you_mean
from mapper.language.inbound import check_inbound_rules, derive, override_inbound
from mapper.language.resources import (
    MAX_FILE_BYTES,
    RULESET_SUFFIX,
    Dependency,
    builtin_names,
    builtin_path,
    find_parent,
    identity,
    read_ruleset_file,
    unreadable,
)
from mapper.language.syntax import parse

#: More rules than this (inherited ones included) are refused.
MAX_RULES = 2_000
#: More distinct profile attributes than this are refused: the generated code reads and checks
#: each one, and compiling 40,000 reads takes seconds and a gigabyte.
MAX_SOURCES = 1_000


@dataclass(frozen=True, slots=True)
class _Resolved:
    name: str
    env: Environment
    rules: tuple[PlannedRule, ...]
    inbound: tuple[InboundRule, ...]
    declared_only: bool = False  # `inbound declared` here or in a parent: nothing is derived


def load_plan(
    text: str, path: str, base_dir: Path | None, dependencies: list[Dependency] | None = None
) -> tuple[Plan, tuple[Diagnostic, ...]]:
    """Check a ruleset and everything it extends; return its plan and its warnings.
    DEPENDENCIES, when given, receives every ruleset file that `extends` found."""
    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise unreadable(path, f"is larger than {MAX_FILE_BYTES} bytes")
    reporter = Reporter()
    loader = _Loader(reporter)
    resolved = loader.load(text, path, base_dir, ())
    if dependencies is not None:
        dependencies.extend(loader.dependencies)
    plan = None
    if resolved is not None and not reporter.has_errors:
        plan = _finish(resolved, path, text, reporter)
    if plan is None or reporter.has_errors:
        raise RulesetError(_ordered(reporter.diagnostics))
    return plan, tuple(_ordered(reporter.diagnostics))


def _ordered(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    def key(d: Diagnostic) -> tuple[str, int, int]:
        return (d.span.file, d.span.line, d.span.col) if d.span else ("", 0, 0)

    seen: set[Diagnostic] = set()
    unique = [d for d in diagnostics if not (d in seen or seen.add(d))]  # type: ignore[func-returns-value]
    return capped(sorted(unique, key=key))


class _Loader:
    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter
        self.dependencies: list[Dependency] = []  # every file `extends` found, for the cache

    def load(self, text: str, path: str, base_dir: Path | None, chain: tuple[str, ...]) -> _Resolved | None:
        reporter = self.reporter
        reporter.add_source(path, text)
        file, syntax_errors = parse(text, path)
        reporter.extend(syntax_errors)
        header = file.header
        name = header.name if header else Path(path).stem
        env = Environment()
        inherited: tuple[PlannedRule, ...] = ()
        inherited_inbound: tuple[InboundRule, ...] = ()
        declared_only = False
        if header is not None and header.extends is not None:
            parent = self._load_parent(header, base_dir, (*chain, identity(path)))
            # A parent that cannot be loaded is reported; this file's own statements are
            # checked all the same, so that every problem shows at once.
            if parent is not None:
                env, inherited, inherited_inbound = parent.env, parent.rules, parent.inbound
                declared_only = parent.declared_only
        own_env = check_declarations(file, env, reporter)
        _check_redeclared_sources(file, env, own_env, inherited, reporter)
        _check_redeclared_targets(file, env, own_env, inherited_inbound, reporter)
        own = check_rules(file, own_env, name, reporter)
        own_inbound = check_inbound_rules(file, own_env, name, reporter)
        modes = [s for s in file.statements if isinstance(s, ast.InboundMode)]
        for extra in modes[1:]:
            reporter.error(extra.span, "`inbound declared` is given twice", "remove one")
        return _Resolved(
            name,
            own_env,
            _override(inherited, own),
            override_inbound(inherited_inbound, own_inbound),
            declared_only or bool(modes),
        )

    def _load_parent(
        self, header: ast.Header, base_dir: Path | None, chain: tuple[str, ...]
    ) -> _Resolved | None:
        parent = header.extends
        assert parent is not None
        span = header.extends_span
        current = chain[-1] if chain else None
        found = find_parent(parent, base_dir, current)
        if found is None:
            names = set(builtin_names())
            if base_dir is not None and base_dir.is_dir():
                names.update(p.stem for p in base_dir.glob(f"*{RULESET_SUFFIX}"))
            hint = did_you_mean(parent, names) or "built-in rulesets: " + ", ".join(builtin_names())
            self.reporter.error(span, f"no ruleset named {parent!r} to extend", hint)
            return None
        if identity(str(found)) in chain:
            self.reporter.error(
                span, f"ruleset {parent!r} extends itself (a cycle)", "remove one of the `extends`"
            )
            return None
        try:
            text = read_ruleset_file(found)
        except RulesetError as exc:
            self.reporter.error(span, f"cannot read ruleset {parent!r}: {exc.diagnostics[0].message}")
            return None
        self.dependencies.append(Dependency(parent, base_dir, current, found, text))
        return self.load(text, _display_path(found), found.parent, chain)


def _display_path(path: Path) -> str:
    """Built-in rulesets are shown as <builtin>/NAME.mapper; others as given."""
    builtin = builtin_path(path.stem)
    if builtin is not None and builtin.resolve() == path.resolve():
        return f"<builtin>/{path.name}"
    return str(path)


def _override(inherited: tuple[PlannedRule, ...], own: list[PlannedRule]) -> tuple[PlannedRule, ...]:
    """Inherited rules in their order, each replaced by an own rule with the same
    target; then the own rules that override nothing."""
    own_by_key = {r.target.key: r for r in own}
    merged = [own_by_key.pop(r.target.key, r) for r in inherited]
    merged.extend(r for r in own if r.target.key in own_by_key)
    return tuple(merged)


def _check_redeclared_sources(
    file: ast.RulesetFile,
    parent_env: Environment,
    env: Environment,
    inherited: tuple[PlannedRule, ...],
    reporter: Reporter,
) -> None:
    """A custom attribute declared here must not change the type an inherited rule read."""
    new = {name for name in env.profile if name not in parent_env.profile}
    for rule in inherited:
        for source in rule.sources:
            if source in new and env.profile[source] != STRING:
                decl = next(
                    (
                        a
                        for s in file.statements
                        if isinstance(s, ast.ProfileDecl)
                        for a in s.attributes
                        if a.name == source
                    ),
                    None,
                )
                reporter.error(
                    decl.span if decl else None,
                    f"user.{source} is read as a string by inherited rule {rule.target.path}",
                    "declare custom attributes in the ruleset whose rules read them",
                )


def _check_redeclared_targets(
    file: ast.RulesetFile,
    parent_env: Environment,
    env: Environment,
    inherited: tuple[InboundRule, ...],
    reporter: Reporter,
) -> None:
    """A custom attribute declared here must have the type an inherited inbound rule sets."""
    new = {name for name in env.profile if name not in parent_env.profile}
    for rule in inherited:
        if rule.attr in new and env.profile[rule.attr] != rule.type:
            decl = next(
                (
                    a
                    for s in file.statements
                    if isinstance(s, ast.ProfileDecl)
                    for a in s.attributes
                    if a.name == rule.attr
                ),
                None,
            )
            reporter.error(
                decl.span if decl else None,
                f"user.{rule.attr} is set as {rule.type.okta_name} by the inherited inbound rule at "
                f"{rule.span.file}:{rule.span.line}",
                "declare custom attributes in the ruleset whose rules set them",
            )


def _finish(resolved: _Resolved, path: str, text: str, reporter: Reporter) -> Plan | None:
    rules = resolved.rules
    if len(rules) + len(resolved.inbound) > MAX_RULES:
        every: list[PlannedRule | InboundRule] = [*rules, *resolved.inbound]
        reporter.error(
            every[MAX_RULES].span,
            f"more than {MAX_RULES} rules",
            "split the mapping, or ask for a higher limit",
        )
        return None
    sources = {s for r in rules for s in r.sources}
    if len(sources) > MAX_SOURCES:
        reporter.error(
            Span(path, 1, 1, 1, 2),
            f"the ruleset reads {len(sources):,} profile attributes, more than {MAX_SOURCES:,}",
            "split the mapping",
        )
        return None
    inbound_only = not rules and bool(resolved.inbound)  # a ruleset for imports alone renders nothing
    if not inbound_only and not any(r.target.urn == CORE_USER and r.target.attr == "userName" for r in rules):
        first = source_lines(text)[0]
        span = Span(path, 1, 1, 1, max(2, len(first) + 1))
        reporter.error(
            span,
            "the ruleset never sets userName, which RFC 7643 requires",
            "add for example `userName <- user.login`",
        )
    primary: dict[tuple[str, str], PlannedRule] = {}
    for rule in rules:
        if not rule.primary:
            continue
        group = (rule.target.urn, rule.target.attr)
        first_rule = primary.get(group)
        if first_rule is not None and first_rule.target.entry_type != rule.target.entry_type:
            reporter.error(
                rule.span,
                f"{rule.target.attr}: entries {first_rule.target.entry_type!r} and {rule.target.entry_type!r} are both primary",
                f"at most one entry is primary (RFC 7643 section 2.4); the other is at {first_rule.span.file}:{first_rule.span.line}",
            )
        primary.setdefault(group, rule)
    if reporter.has_errors:
        return None
    extensions: list[str] = []
    profile_types: dict[str, ValueType] = {}
    first_reader: dict[str, PlannedRule] = {}
    for rule in rules:
        if rule.target.urn != CORE_USER and rule.target.urn not in extensions:
            extensions.append(rule.target.urn)
        for source, type_ in zip(
            rule.sources, rule.source_types or [STRING] * len(rule.sources), strict=True
        ):
            known = profile_types.setdefault(source, resolved.env.profile.get(source, type_))
            first_reader.setdefault(source, rule)
            if known != type_:  # an undeclared attribute read as two types
                other = first_reader[source]
                reporter.error(
                    rule.span,
                    f"user.{source} is read as {type_.okta_name} here and as {known.okta_name} "
                    f"on line {other.span.line}",
                    f"declare its type: `profile {{ {source}: ... }}`",
                )
    if reporter.has_errors:
        return None
    inbound, inversions = derive(
        rules, resolved.inbound, resolved.env.aliases, resolved.env.schemas, resolved.declared_only
    )
    read = [p.urn for r in inbound for p in r.app_sources if p.urn != CORE_USER]
    schemas = {urn: resolved.env.schemas[urn] for urn in (*extensions, *read)}
    return Plan(resolved.name, rules, tuple(extensions), profile_types, schemas, inbound, inversions)
