"""A small reference evaluator over the checked plan: the test oracle for the code
generator. It walks expression trees and builds the resource slot by slot, in
the plainest Python, sharing nothing with mapper.compiler.codegen.
"""

from __future__ import annotations

import re
from typing import Any

from mapper.core import helpers as runtime
from mapper.core.plan import (
    PArray,
    PBinary,
    PCall,
    PConcat,
    PCond,
    PExpr,
    PIndex,
    PInternal,
    Plan,
    PLiteral,
    PMatches,
    PNot,
    PSource,
)
from mapper.core.schema import CORE_USER


def _read(value: Any) -> Any:
    if isinstance(value, list):
        kept = [v for v in value if v is not None and v != ""]
        return kept or None
    return value


def evaluate(e: PExpr, profile: dict[str, Any], internal: dict[str, Any]) -> Any:
    if isinstance(e, PLiteral):
        return e.value
    if isinstance(e, PSource):
        return _read(profile.get(e.name))
    if isinstance(e, PInternal):
        return _read(internal.get(e.name))
    if isinstance(e, PConcat):
        values = [evaluate(p, profile, internal) for p in e.parts]
        present = [v for v in values if v is not None]
        if not present:
            return None
        return "".join(v if isinstance(v, str) else runtime._text(v) for v in present)
    if isinstance(e, PCall):
        args = [evaluate(a, profile, internal) for a in e.args]
        if e.substitution is not None:
            args = [args[0], e.substitution]
        return getattr(runtime, e.function.impl)(*args)
    if isinstance(e, PArray):
        return [v for v in (evaluate(i, profile, internal) for i in e.items) if v is not None]
    if isinstance(e, PIndex):
        array, position = evaluate(e.array, profile, internal), evaluate(e.position, profile, internal)
        ok = array is not None and position is not None and 0 <= position < len(array)
        return array[position] if ok else None
    if isinstance(e, PMatches):
        subject = evaluate(e.subject, profile, internal)
        return subject is not None and re.fullmatch(e.pattern, subject) is not None
    if isinstance(e, PNot):
        value = evaluate(e.operand, profile, internal)
        return None if value is None else not value
    if isinstance(e, PCond):
        return (
            evaluate(e.then, profile, internal)
            if evaluate(e.condition, profile, internal) is True
            else evaluate(e.otherwise, profile, internal)
        )
    assert isinstance(e, PBinary)
    if e.op == "AND":
        return evaluate(e.left, profile, internal) is True and evaluate(e.right, profile, internal) is True
    if e.op == "OR":
        return evaluate(e.left, profile, internal) is True or evaluate(e.right, profile, internal) is True
    left = evaluate(e.left, profile, internal)
    if e.op == "?:":
        keep = left not in (None, "")
        return left if keep else evaluate(e.right, profile, internal)
    right = evaluate(e.right, profile, internal)
    if e.op == "==":
        return left == right
    if e.op == "!=":
        return left != right
    if left is None or right is None:
        return None if e.op == "+" else False
    return {
        "+": lambda: left + right,
        "<": lambda: left < right,
        "<=": lambda: left <= right,
        ">": lambda: left > right,
        ">=": lambda: left >= right,
    }[e.op]()


def render(plan: Plan, profile: dict[str, Any], internal: dict[str, Any]) -> dict[str, Any]:
    """The resource, built the long way: every slot's value, then placed."""
    values: list[Any] = []
    for rule in plan.rules:
        value = evaluate(rule.expr, profile, internal)
        if rule.target.scim_type == "string" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value == "" or value == []:
            value = None
        values.append(rule.default if value is None else value)

    def place(container: dict[str, Any], urn: str) -> None:
        entries: dict[tuple[str, str], dict[str, Any]] = {}
        for rule, value in zip(plan.rules, values, strict=True):
            t = rule.target
            if t.urn != urn:
                continue
            if t.entry_type is not None:
                entry = entries.setdefault((t.attr, t.entry_type), {})
                entry.setdefault("__rules", []).append((t.sub, value, rule.primary))
                container.setdefault(t.attr, [])
                if not any(x is entry for x in container[t.attr]):
                    container[t.attr].append(entry)
            elif value is not None and t.sub is not None:
                container.setdefault(t.attr, {})[t.sub] = value
            elif value is not None:
                container[t.attr] = list(value) if t.multi_simple else value
        for attr in {a for a, _ in entries}:
            kept = []
            for (entry_attr, entry_type), entry in entries.items():
                if entry_attr != attr:
                    continue
                subs = entry.pop("__rules")
                for sub, value, _ in subs:
                    if value is not None:
                        entry[sub] = value
                if entry:
                    entry["type"] = entry_type
                    if any(primary for _, _, primary in subs):
                        entry["primary"] = True
                    kept.append(entry)
            if kept:
                container[attr] = kept
            else:
                del container[attr]

    resource: dict[str, Any] = {"schemas": [CORE_USER]}
    place(resource, CORE_USER)
    for urn in plan.extensions:
        extension: dict[str, Any] = {}
        place(extension, urn)
        if extension:
            resource[urn] = extension
            resource["schemas"].append(urn)
    return resource
