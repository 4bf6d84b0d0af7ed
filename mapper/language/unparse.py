"""The unparser: a parsed ruleset (or one expression, target or rule) back as text, in the
one canonical layout ``mapper fmt`` writes; the checker, the importer, review and explain
print rules with it. It imports only the language below it.

- The header first, then the ``schema`` and ``profile`` declarations (and
  ``inbound declared``) in their order, then the rules in theirs (rule order is meaning: it orders the output
  and the PATCH operations, so rules never move), then the inbound rules
  (``user.NAME <- ...``, app to Okta) in theirs.
- One statement per line; expressions on one line, with single spaces around
  operators, the fewest parentheses their meaning needs, double-quoted
  strings, ``AND``/``OR`` for ``&&``/``||``, and options in the order
  ``on create``, ``primary``, ``default``.
- In a run of rules not separated by a blank line, the arrows line up (rules
  whose target is longer than 40 characters stand apart) and so do trailing
  comments. Blocks are indented by two spaces. One blank line at most.
- Every comment stays with the line it was on: a comment on its own line
  stays above the statement (or schema attribute) that follows it; a comment
  after code stays at the end of that statement's line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mapper.errors import Diagnostic, source_lines
from mapper.language import ast
from mapper.language.literals import filter_value, literal
from mapper.language.syntax import parse

ALIGN_LIMIT = 40
LINE_LENGTH = 100

_PRECEDENCE = {"?:": 2, "OR": 3, "AND": 4, "==": 5, "!=": 5, "<": 6, "<=": 6, ">": 6, ">=": 6, "+": 7}
_CONDITIONAL, _NOT, _PRIMARY = 1, 8, 9
_NON_ASSOCIATIVE = {"<", "<=", ">", ">="}


def expression(e: ast.Expr, context: int = 0) -> str:
    """E as canonical text; parenthesised when it binds looser than CONTEXT needs."""
    if isinstance(e, ast.Literal):
        return literal(e.value)
    if isinstance(e, ast.UserAttr):
        return f"user.{e.name}"
    if isinstance(e, ast.UserMethod):
        return f"user.{e.name}({', '.join(expression(a) for a in e.args)})"
    if isinstance(e, ast.Call):
        name = f"{e.namespace}.{e.function}" if e.namespace else e.function
        return f"{name}({', '.join(expression(a) for a in e.args)})"
    if isinstance(e, ast.AppAttr):
        return f"appuser.{target(e.path)}"
    if isinstance(e, ast.OtherRef):
        return f"{e.scope}.{e.name}"
    if isinstance(e, ast.Member):
        return f"{expression(e.base, _PRIMARY)}.{e.name}"
    if isinstance(e, ast.ArrayLiteral):
        return "{" + ", ".join(expression(i) for i in e.items) + "}"
    if isinstance(e, ast.Index):
        return f"{expression(e.array, _PRIMARY)}[{expression(e.position)}]"
    if isinstance(e, ast.Not):
        text, own = "!" + expression(e.operand, _NOT), _NOT
    elif isinstance(e, ast.Matches):
        own = _PRECEDENCE["<"]
        text = f"{expression(e.subject, own + 1)} matches {literal(e.pattern.value)}"
    elif isinstance(e, ast.Conditional):
        text = (
            f"{expression(e.condition, _CONDITIONAL + 1)} ? {expression(e.then, _CONDITIONAL)}"
            f" : {expression(e.otherwise, _CONDITIONAL)}"
        )
        own = _CONDITIONAL
    else:
        own = _PRECEDENCE[e.op]
        left_context = own + 1 if e.op in _NON_ASSOCIATIVE else own
        text = f"{expression(e.left, left_context)} {e.op} {expression(e.right, own + 1)}"
    return f"({text})" if own < context else text


def target(t: ast.Target) -> str:
    """T as canonical text, ``[schema:]attr[type eq "x"][.sub]``. A filter keeps the attribute
    it was written on: the checker refuses any but ``type``, and formatting must not turn a
    refused rule into an accepted one that means something else."""
    text = ""
    if t.schema is not None:
        text = f"{t.schema}:"
    text += t.attr
    if t.filter_type is not None:
        on = t.filter_attr if t.filter_attr and t.filter_attr.lower() != "type" else "type"
        text += f"[{on} eq {filter_value(t.filter_type)}]"
    if t.sub is not None:
        text += f".{t.sub}"
    return text


def rule_tail(rule: ast.Rule | ast.InboundRule, room: int = 10_000) -> list[str]:
    """Everything after the arrow, the expression and the options, as lines: one
    line when it fits in ROOM characters, else broken before the top-level
    operators (continuation lines are indented four spaces)."""
    options = ""
    if rule.create_only:
        options += " on create"
    if rule.primary:
        options += " primary"
    if rule.default is not None:
        options += f" default {literal(rule.default.value)}"
    text = expression(rule.expr) + options
    if len(text) <= room:
        return [text]
    lines = _broken(rule.expr)
    lines[-1] += options
    return lines


def _broken(e: ast.Expr) -> list[str]:
    if isinstance(e, ast.Conditional):
        return [
            expression(e.condition, _CONDITIONAL + 1),
            f"    ? {expression(e.then, _CONDITIONAL)}",
            f"    : {expression(e.otherwise, _CONDITIONAL)}",
        ]
    if isinstance(e, ast.Binary) and e.op not in _NON_ASSOCIATIVE:
        operands = [e.right]
        left: ast.Expr = e.left
        while isinstance(left, ast.Binary) and left.op == e.op:
            operands.append(left.right)
            left = left.left
        own = _PRECEDENCE[e.op]
        lines = [expression(left, own)]
        lines += [f"    {e.op} {expression(o, own + 1)}" for o in reversed(operands)]
        return lines
    return [expression(e)]


# ---------------------------------------------------------------- files


@dataclass
class _Item:
    """A statement with the comments that travel with it."""

    statement: ast.Statement
    leading: list[tuple[int, str]] = field(default_factory=list)  # (line, text)
    trailing: list[str] = field(default_factory=list)
    # For blocks: comments by attribute index, and after the last attribute.
    attr_leading: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    attr_trailing: dict[int, list[str]] = field(default_factory=dict)
    block_end: list[tuple[int, str]] = field(default_factory=list)
    close_trailing: list[str] = field(default_factory=list)


def format_text(text: str, path: str = "<string>") -> tuple[str | None, list[Diagnostic]]:
    """The canonical form of TEXT, or None and the syntax errors that prevent it."""
    file, errors = parse(text, path)
    if errors:
        return None, errors
    return format_file(file), []


def format_file(file: ast.RulesetFile) -> str:
    """FILE in the canonical layout (see the module docstring), its comments kept."""
    lines = source_lines(file.text)
    items = _attach_comments(file, lines)
    header = [i for i in items if isinstance(i.statement, ast.Header)]
    declarations = [
        i for i in items if isinstance(i.statement, ast.SchemaDecl | ast.ProfileDecl | ast.InboundMode)
    ]
    rules = [i for i in items if isinstance(i.statement, ast.Rule)]
    inbound = [i for i in items if isinstance(i.statement, ast.InboundRule)]
    trailer = _trailer_comments(file, items, lines)

    out: list[str] = []
    for section in (header, declarations, rules, inbound):
        first = True
        run: list[
            tuple[str, ast.Rule | ast.InboundRule, str]
        ] = []  # pending aligned rules: (target, rule, comment)
        for item in section:
            blank = bool(out) and (first or _blank_before(item, lines))
            if blank or item.leading:
                _flush(run, out)
            if blank and out and out[-1] != "":
                out.append("")
            for number, comment in item.leading:
                if _is_blank(lines, number - 1) and out and out[-1] != "" and number != item.leading[0][0]:
                    out.append("")
                out.append(comment)
            if item.leading and _is_blank(lines, item.statement.span.line - 1):
                out.append("")  # the comment heads a group, not just this statement
            if isinstance(item.statement, ast.Rule):
                rule = item.statement
                run.append((target(rule.target), rule, " ".join(item.trailing)))
            elif isinstance(item.statement, ast.InboundRule):
                run.append((f"user.{item.statement.attr}", item.statement, " ".join(item.trailing)))
            else:
                out.extend(_declaration(item))
            first = False
        _flush(run, out)
    if trailer:
        if out and out[-1] != "" and _is_blank(lines, trailer[0][0] - 1):
            out.append("")
        out.extend(comment for _, comment in trailer)
    while out and out[-1] == "":
        out.pop()
    # Only a comment can end in spaces (strings end at their quote): none survives.
    return "\n".join(line.rstrip() for line in out) + "\n" if out else ""


def _flush(run: list[tuple[str, ast.Rule | ast.InboundRule, str]], out: list[str]) -> None:
    """Write a run of rules with their arrows (and trailing comments) aligned."""
    if not run:
        return
    width = max((len(t) for t, _, _ in run if len(t) <= ALIGN_LIMIT), default=0)
    blocks: list[list[str]] = []
    for name, rule, _ in run:
        head = f"{name.ljust(width if len(name) <= ALIGN_LIMIT else len(name))} <- "
        tail = rule_tail(rule, LINE_LENGTH - len(head))
        blocks.append([head + tail[0], *tail[1:]])
    column = max((len(b[-1]) for b, (_, _, note) in zip(blocks, run, strict=True) if note), default=0)
    for block, (_, _, note) in zip(blocks, run, strict=True):
        if note:
            block[-1] = f"{block[-1].ljust(column)}  {note}"
        out.extend(block)
    run.clear()


def _declaration(item: _Item) -> list[str]:
    s = item.statement
    suffix = f"  {' '.join(item.trailing)}" if item.trailing else ""
    if isinstance(s, ast.Header):
        text = f"ruleset {s.name}" + (f" extends {s.extends}" if s.extends else "")
        return [text + suffix]
    if isinstance(s, ast.InboundMode):
        return ["inbound declared" + suffix]
    if isinstance(s, ast.SchemaDecl):
        head = f"schema {s.alias} = {literal(s.urn)}"
        attributes: tuple[ast.AttrDecl, ...] | None = s.attributes
    else:
        assert isinstance(s, ast.ProfileDecl)
        head = "profile"
        attributes = s.attributes
    if attributes is None:
        return [head + suffix]
    if not attributes and not item.block_end:
        return [
            f"{head} {{}}" + suffix + (f"  {' '.join(item.close_trailing)}" if item.close_trailing else "")
        ]
    out = [f"{head} {{" + suffix]
    for index, attr in enumerate(attributes):
        out.extend(f"  {comment}" for _, comment in item.attr_leading.get(index, []))
        line = f"  {attr.name}: {attr.type}{'[]' if attr.multi else ''}"
        notes = item.attr_trailing.get(index)
        out.append(f"{line}  {' '.join(notes)}" if notes else line)
    out.extend(f"  {comment}" for _, comment in item.block_end)
    out.append("}" + (f"  {' '.join(item.close_trailing)}" if item.close_trailing else ""))
    return out


def _is_blank(lines: list[str], number: int) -> bool:
    """Whether line NUMBER (counting from 1) exists and is blank."""
    return 0 < number <= len(lines) and not lines[number - 1].strip()


def _first_line(item: _Item) -> int:
    return item.leading[0][0] if item.leading else item.statement.span.line


def _blank_before(item: _Item, lines: list[str]) -> bool:
    return _is_blank(lines, _first_line(item) - 1)


def _attach_comments(file: ast.RulesetFile, lines: list[str]) -> list[_Item]:
    items = [_Item(s) for s in file.statements]
    pending: list[tuple[int, str]] = []
    comments = sorted(file.comments)
    position = 0
    for item in items:
        span = item.statement.span
        while position < len(comments) and comments[position][0] <= span.end_line:
            line, column, text = comments[position]
            position += 1
            trailing = bool(lines[line - 1][: column - 1].strip())
            if line < span.line:
                pending.append((line, text))
            elif isinstance(item.statement, ast.SchemaDecl | ast.ProfileDecl):
                _attach_in_block(item, line, text, trailing)
            elif trailing:
                item.trailing.append(text)
            else:
                pending.append((line, text))  # a comment line inside a long rule moves above it
        item.leading, pending = pending, []
    return items


def _attach_in_block(item: _Item, line: int, text: str, trailing: bool) -> None:
    s = item.statement
    attributes = s.attributes if isinstance(s, ast.SchemaDecl | ast.ProfileDecl) else None
    attributes = attributes or ()
    if trailing and line == s.span.line:
        item.trailing.append(text)
        return
    if trailing and line == s.span.end_line:
        owner = [i for i, a in enumerate(attributes) if a.span.line == line]
        if owner:
            item.attr_trailing.setdefault(owner[-1], []).append(text)
        else:
            item.close_trailing.append(text)
        return
    if trailing:
        owner = [i for i, a in enumerate(attributes) if a.span.line == line]
        if owner:
            item.attr_trailing.setdefault(owner[-1], []).append(text)
            return
    following = [i for i, a in enumerate(attributes) if a.span.line > line]
    if following:
        item.attr_leading.setdefault(following[0], []).append((line, text))
    else:
        item.block_end.append((line, text))


def _trailer_comments(file: ast.RulesetFile, items: list[_Item], lines: list[str]) -> list[tuple[int, str]]:
    last = max((i.statement.span.end_line for i in items), default=0)
    return [(line, text) for line, _, text in sorted(file.comments) if line > last]
