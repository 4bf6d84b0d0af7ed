"""What a ruleset does, as a table or a diagram, for people who would rather look than read.

One row per rule, both directions in one table: for a rule to the app (Okta → app)
the Okta attributes it reads, the transform, the SCIM target, its schema, when
it applies, its default, where an inherited rule comes from, and how the
inbound direction treats it (derived, declared, or why it is not invertible);
then a row per inbound rule (app → Okta), derived or declared, with the SCIM
attributes it reads and the Okta attribute it sets. Mermaid draws the flow from
Okta attributes to SCIM attributes grouped by schema, and the inbound rules as
dotted arrows back, which GitHub renders in pull request descriptions.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from mapper.core.plan import InboundRule, Inverse, Inversion, PlannedRule
from mapper.core.schema import CORE_USER, ENTERPRISE_USER
from mapper.core.scim_path import AttrPath
from mapper.language import ast
from mapper.language.literals import literal
from mapper.language.unparse import expression
from mapper.markup import md_code, md_text, mermaid_label, visible
from mapper.runtime.ruleset import Ruleset

FORMATS = ("markdown", "mermaid", "text")

_HEADINGS = (
    "Direction", "Okta", "Transform", "SCIM", "Schema", "Applies on", "Default", "Defined in", "Inbound",
)  # fmt: skip

OUTBOUND, INBOUND = "Okta → app", "app → Okta"


@dataclass(frozen=True)
class Row:
    """One rule as explain shows it: the text of each column. For an outbound rule OKTA is
    what it reads and SCIM its target; for an inbound rule, OKTA is the attribute it sets
    and SCIM what it reads. INBOUND says how an outbound rule inverts (empty for inbound rows)."""

    direction: str
    okta: str
    transform: str
    scim: str
    schema: str
    applies: str
    default: str
    defined_in: str
    inbound: str = ""

    def cells(self) -> tuple[str, ...]:
        """The row's cells, in the order of the table's columns."""
        return (
            self.direction,
            self.okta,
            self.transform,
            self.scim,
            self.schema,
            self.applies,
            self.default,
            self.defined_in,
            self.inbound,
        )


def schema_label(ruleset: Ruleset, urn: str) -> str:
    """A short name for a schema: "core User", "enterprise", or the declared alias."""
    if urn == CORE_USER:
        return "core User"
    if urn == ENTERPRISE_USER:
        return "enterprise"
    schema = ruleset.plan.schemas.get(urn)
    return schema.name if schema is not None else urn


def _sources(rule: PlannedRule) -> str:
    names = [f"user.{s}" for s in rule.sources]
    names += [f'user.getInternalProperty("{s}")' for s in rule.internal_sources]
    return ", ".join(names) or "(none)"


def _transform(rule: PlannedRule) -> str:
    if rule.node is None:
        raise ValueError("explain needs the rules' syntax: load the ruleset with cache=False")
    expr = rule.node.expr
    if isinstance(expr, ast.UserAttr | ast.UserMethod):
        return "direct"
    if isinstance(expr, ast.Literal):
        return f"constant {literal(expr.value)}"
    return expression(expr)


def _target(rule: PlannedRule) -> str:
    text = rule.target.attr_path.text(qualified=False, ascii_only=False)  # the schema has its column
    return text + (" (primary)" if rule.primary else "")


def _inversion(inversion: Inversion | None) -> str:
    if inversion is None:
        return ""
    if inversion.kind is Inverse.DERIVED:
        return "derived"
    if inversion.kind is Inverse.NOT_INVERTIBLE:
        return f"not invertible: {inversion.detail}"
    return f"{inversion.kind.value}: {inversion.detail}"


def _origin(ruleset: Ruleset, origin: str) -> str:
    return origin if origin == ruleset.name else f"{origin} (inherited)"


def _inbound_row(ruleset: Ruleset, rule: InboundRule) -> Row:
    reads = ", ".join(f"appuser.{_app_path(ruleset, p)}" for p in rule.app_sources) or "(none)"
    if rule.node is None and rule.derived_from is None:
        raise ValueError("explain needs the rules' syntax: load the ruleset with cache=False")
    if rule.derived_from is not None:
        transform = "direct"
        line = ruleset.plan.rules[rule.derived_from].span.line
        defined = f"derived from {rule.origin} line {line}"
    else:
        assert rule.node is not None
        expr = rule.node.expr
        transform = "direct" if isinstance(expr, ast.AppAttr) else expression(expr)
        defined = _origin(ruleset, rule.origin)
    urns = list(dict.fromkeys(p.urn for p in rule.app_sources))
    return Row(
        INBOUND,
        f"user.{rule.attr}",
        transform,
        reads,
        ", ".join(schema_label(ruleset, u) for u in urns),
        "create only (DONT_PUSH)" if rule.create_only else "create and update (PUSH)",
        literal(rule.default) if rule.default is not None else "",
        defined,
    )


def _app_path(ruleset: Ruleset, path: AttrPath) -> str:
    text = path.text(qualified=False, ascii_only=False)
    return text if path.urn == CORE_USER else f"{schema_label(ruleset, path.urn)}:{text}"


def rows(ruleset: Ruleset) -> list[Row]:
    """A Row for each of RULESET's rules in order, then one for each inbound rule."""
    out = []
    inversions = ruleset.plan.inversions
    for index, rule in enumerate(ruleset.plan.rules):
        out.append(
            Row(
                OUTBOUND,
                _sources(rule),
                _transform(rule),
                _target(rule),
                schema_label(ruleset, rule.target.urn),
                "create only" if rule.create_only else "create and update",
                literal(rule.default) if rule.default is not None else "",
                _origin(ruleset, rule.origin),
                _inversion(inversions[index] if index < len(inversions) else None),
            )
        )
    out.extend(_inbound_row(ruleset, rule) for rule in ruleset.plan.inbound)
    return out


def explain(ruleset: Ruleset, format: str = "markdown") -> str:
    """RULESET explained in FORMAT (markdown, mermaid or text); a ValueError for another format."""
    if format == "markdown":
        return markdown(ruleset)
    if format == "mermaid":
        return mermaid(ruleset)
    if format == "text":
        return text(ruleset)
    raise ValueError(f"unknown format {format!r}; formats: {', '.join(FORMATS)}")


def markdown(ruleset: Ruleset) -> str:
    """A Markdown table of RULESET's rules, headed by its name and the extension schemas it writes."""
    lines = [f"### Ruleset {md_code(ruleset.name)}", ""]
    extensions = [
        md_text(schema_label(ruleset, urn)) + f": {md_code(urn)}" for urn in ruleset.plan.extensions
    ]
    if extensions:
        lines += ["Extension schemas: " + "; ".join(extensions), ""]
    lines.append("| " + " | ".join(_HEADINGS) + " |")
    lines.append("|" + "---|" * len(_HEADINGS))
    for row in rows(ruleset):
        cells = []
        for index, cell in enumerate(row.cells()):
            code_like = index in (1, 2, 3) and cell and cell != "direct" and not cell.startswith("(")
            cells.append(md_code(cell, in_table=True) if code_like else md_text(cell))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


#: The width the text format fits, for terminals and for logs.
TEXT_WIDTH = 100


def text(ruleset: Ruleset) -> str:
    """A block per rule, no wider than TEXT_WIDTH: the target and when it applies, then what
    fills it (the expression, wrapped), then what it reads; the rules to the app first (each
    with how the inbound direction treats it), then the inbound rules."""
    count, back = len(ruleset.rules), len(ruleset.plan.inbound)
    lines = [
        f"ruleset {visible(ruleset.name)}: {count} rule{'' if count == 1 else 's'}, "
        f"{back} inbound rule{'' if back == 1 else 's'}",
        "",
    ]
    for row in rows(ruleset):
        if row.direction == INBOUND and "inbound (app to Okta):" not in lines:
            lines += ["inbound (app to Okta):", ""]
        target = row.scim if row.direction == OUTBOUND else row.okta
        source = row.okta if row.direction == OUTBOUND else row.scim
        facts = [f for f in (row.schema, row.applies) if f]
        if row.default:
            facts.append(f"default {row.default}")
        facts.append(row.defined_in)
        lines += _wrap(f"{visible(target)}  ({', '.join(visible(f) for f in facts)})", "", "    ")
        transform = source if row.transform == "direct" else row.transform
        lines += _wrap(f"<- {visible(transform)}", "    ", "       ")
        if row.transform != "direct" and source != "(none)":
            lines += _wrap(f"reads {visible(source)}", "    ", "          ")
        if row.inbound:
            lines += _wrap(f"inbound: {visible(row.inbound)}", "    ", "      ")
    return "\n".join(lines) + "\n"


def _wrap(text: str, first: str, rest: str) -> list[str]:
    return textwrap.wrap(
        text, TEXT_WIDTH, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False
    )


def mermaid(ruleset: Ruleset) -> str:
    """A Mermaid flowchart from the Okta attributes RULESET reads to the SCIM attributes it writes,
    grouped by schema."""
    lines = ["flowchart LR"]
    sources: dict[str, str] = {}
    for rule in ruleset.plan.rules:
        for name in [f"user.{s}" for s in rule.sources] + [f"{s} (Users API)" for s in rule.internal_sources]:
            sources.setdefault(name, f"s{len(sources) + 1}")
    lines.append('  subgraph okta["Okta user"]')
    lines += [f'    {node}["{mermaid_label(name)}"]' for name, node in sources.items()]
    lines.append("  end")
    groups: dict[str, list[tuple[str, PlannedRule]]] = {}
    for index, rule in enumerate(ruleset.plan.rules, 1):
        groups.setdefault(rule.target.urn, []).append((f"t{index}", rule))
    for number, (urn, members) in enumerate(groups.items(), 1):
        lines.append(f'  subgraph schema{number}["{mermaid_label(schema_label(ruleset, urn))}"]')
        for node, rule in members:
            label = _target(rule) + (" · create only" if rule.create_only else "")
            lines.append(f'    {node}["{mermaid_label(label)}"]')
        lines.append("  end")
    for index, rule in enumerate(ruleset.plan.rules, 1):
        transform = _transform(rule)
        inputs = [f"user.{s}" for s in rule.sources] + [f"{s} (Users API)" for s in rule.internal_sources]
        if not inputs:
            lines.append(f'  const{index}(["{mermaid_label(transform)}"]) --> t{index}')
            continue
        for name in inputs:
            if transform == "direct":
                lines.append(f"  {sources[name]} --> t{index}")
            else:
                lines.append(f'  {sources[name]} -->|"{mermaid_label(_short(transform))}"| t{index}')
    lines += _mermaid_inbound(ruleset, sources)
    return "\n".join(lines) + "\n"


def _mermaid_inbound(ruleset: Ruleset, sources: dict[str, str]) -> list[str]:
    """Dotted arrows back, from the SCIM attributes inbound rules read to the Okta attributes
    they set; attributes no outbound rule names get nodes of their own."""
    lines: list[str] = []
    targets = {rule.target.attr_path: f"t{index}" for index, rule in enumerate(ruleset.plan.rules, 1)}
    for number, rule in enumerate(ruleset.plan.inbound, 1):
        okta = f"user.{rule.attr}"
        if okta not in sources:
            sources[okta] = f"s{len(sources) + 1}"
            lines.append(f'  {sources[okta]}["{mermaid_label(okta)}"]')
        label = "" if rule.derived_from is not None else f'|"{mermaid_label(_short(rule.expression))}"|'
        for path in rule.app_sources:
            if path not in targets:
                targets[path] = f"a{len(targets) + 1}"
                lines.append(f'  {targets[path]}["{mermaid_label(_app_path(ruleset, path))}"]')
            lines.append(f"  {targets[path]} -.->{label} {sources[okta]}")
        if not rule.app_sources:
            lines.append(f'  in{number}(["{mermaid_label(_short(rule.expression))}"]) -.-> {sources[okta]}')
    return lines


def _short(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
