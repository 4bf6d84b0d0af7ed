"""What a ruleset does, as a table or a diagram, for people who would rather look than read.

One row per rule: the Okta source attributes, the transform, the SCIM target,
its schema, when it applies, its default, and where an inherited rule comes
from. Mermaid draws the flow from Okta attributes to SCIM attributes grouped
by schema, which GitHub renders in pull request descriptions.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from mapper.core.plan import PlannedRule
from mapper.core.schema import CORE_USER, ENTERPRISE_USER
from mapper.language import ast
from mapper.language.literals import literal
from mapper.language.unparse import expression
from mapper.markup import md_code, md_text, mermaid_label, visible
from mapper.runtime.ruleset import Ruleset

FORMATS = ("markdown", "mermaid", "text")

_HEADINGS = ("Okta source", "Transform", "SCIM target", "Schema", "Applies on", "Default", "Defined in")


@dataclass(frozen=True)
class Row:
    """One rule as explain shows it: the text of each column."""

    sources: str
    transform: str
    target: str
    schema: str
    applies: str
    default: str
    defined_in: str

    def cells(self) -> tuple[str, ...]:
        """The row's cells, in the order of the table's columns."""
        return (
            self.sources,
            self.transform,
            self.target,
            self.schema,
            self.applies,
            self.default,
            self.defined_in,
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


def rows(ruleset: Ruleset) -> list[Row]:
    """A Row for each of RULESET's rules, in order."""
    out = []
    for rule in ruleset.plan.rules:
        out.append(
            Row(
                _sources(rule),
                _transform(rule),
                _target(rule),
                schema_label(ruleset, rule.target.urn),
                "create only" if rule.create_only else "create and update",
                literal(rule.default) if rule.default is not None else "",
                rule.origin if rule.origin == ruleset.name else f"{rule.origin} (inherited)",
            )
        )
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
            code_like = index in (0, 1, 2) and cell and cell != "direct" and not cell.startswith("(")
            cells.append(md_code(cell, in_table=True) if code_like else md_text(cell))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


#: The width the text format fits, for terminals and for logs.
TEXT_WIDTH = 100


def text(ruleset: Ruleset) -> str:
    """A block per rule, no wider than TEXT_WIDTH: the SCIM target and when it applies, then
    what fills it (the expression, wrapped), then the Okta attributes it reads."""
    count = len(ruleset.rules)
    lines = [f"ruleset {visible(ruleset.name)}: {count} rule{'' if count == 1 else 's'}", ""]
    for row in rows(ruleset):
        facts = [row.schema, row.applies]
        if row.default:
            facts.append(f"default {row.default}")
        facts.append(row.defined_in)
        lines += textwrap.wrap(
            f"{visible(row.target)}  ({', '.join(visible(f) for f in facts)})",
            TEXT_WIDTH,
            subsequent_indent="    ",
            break_on_hyphens=False,
        )
        transform = row.sources if row.transform == "direct" else row.transform
        lines += textwrap.wrap(
            f"<- {visible(transform)}",
            TEXT_WIDTH,
            initial_indent="    ",
            subsequent_indent="       ",
            break_on_hyphens=False,
        )
        if row.transform != "direct" and row.sources != "(none)":
            lines += textwrap.wrap(
                f"reads {visible(row.sources)}",
                TEXT_WIDTH,
                initial_indent="    ",
                subsequent_indent="          ",
            )
    return "\n".join(lines) + "\n"


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
    return "\n".join(lines) + "\n"


def _short(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"
