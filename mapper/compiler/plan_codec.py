"""A checked plan as plain JSON data, and back, for the compile cache.

The cache stores what the checker concluded, never code: on the way back every
value is type-checked here, functions are looked up by name in mapper's own
table, and regular expressions are compiled and checked again. The code
generator then writes the Python from the plan as it always does (literals
through ``repr()`` after a type check), so even a cache file crafted by someone
else could at worst describe a different mapping, never run code. The cache
also verifies a checksum and refuses files it did not write (see
:mod:`mapper.compiler.compile_cache`); this module is the second line.

Plans read back carry no syntax tree (``PlannedRule.node`` is None): the tools
that need one (explain, review) load without the cache.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from mapper.core.functions import FUNCTIONS
from mapper.core.plan import (
    BINARY_OPS,
    Constant,
    InboundRule,
    Inverse,
    Inversion,
    PAppSource,
    PArray,
    PBinary,
    PCall,
    PConcat,
    PCond,
    PExpr,
    PIndex,
    PInternal,
    Plan,
    PlannedRule,
    PLiteral,
    PMatches,
    PNot,
    PSource,
    TargetSlot,
)
from mapper.core.schema import ENTERPRISE_USER, SCIM_TYPES, Attribute, Schema
from mapper.core.scim_path import AttrPath
from mapper.core.types import ValueType
from mapper.errors import Diagnostic, Severity, Span

#: Bumped whenever the shape below changes; older files are then ignored.
FORMAT = 3  # 2: a declared schema keeps the span of its URN; 3: inbound rules and inversions

_BASES = ("string", "boolean", "integer", "decimal", "null")
_MUTABILITY = ("readOnly", "readWrite", "immutable", "writeOnly")
_BUILTIN_SCHEMAS: dict[str, Schema] = {}


class InvalidData(ValueError):
    """The data is not a plan this version of mapper wrote."""


# -- writing -------------------------------------------------------------------------------


def dump_plan(plan: Plan) -> dict[str, Any]:
    """PLAN as JSON data, which read_plan reads back."""
    return {
        "name": plan.name,
        "rules": [_dump_rule(r) for r in plan.rules],
        "extensions": list(plan.extensions),
        "profile_types": {name: _dump_type(t) for name, t in plan.profile_types.items()},
        "schemas": {urn: _dump_schema(s) for urn, s in plan.schemas.items()},
        "inbound": [_dump_inbound(r) for r in plan.inbound],
        "inversions": [[i.kind.value, i.detail] for i in plan.inversions],
    }


def dump_diagnostics(diagnostics: tuple[Diagnostic, ...]) -> list[Any]:
    """DIAGNOSTICS as JSON data, which read_diagnostics reads back."""
    return [
        [d.severity.value, d.message, _dump_span(d.span) if d.span else None, d.source_line, d.hint]
        for d in diagnostics
    ]


def _dump_type(t: ValueType) -> list[Any]:
    return [t.base, t.multi]


def _dump_span(span: Span) -> list[Any]:
    return [span.file, span.line, span.col, span.end_line, span.end_col]


def _dump_rule(rule: PlannedRule) -> dict[str, Any]:
    t = rule.target
    return {
        "target": [t.urn, t.attr, t.entry_type, t.sub, t.scim_type, t.multi_simple],
        "expr": _dump_expr(rule.expr),
        "create_only": rule.create_only,
        "primary": rule.primary,
        "default": rule.default,
        "sources": list(rule.sources),
        "internal_sources": list(rule.internal_sources),
        "origin": rule.origin,
        "span": _dump_span(rule.span),
        "text": rule.text,
        "expression": rule.expression,
        "source_types": [_dump_type(t) for t in rule.source_types],
    }


def _dump_path(path: AttrPath) -> list[Any]:
    return [path.urn, path.attr, path.entry_type, path.sub]


def _dump_inbound(rule: InboundRule) -> dict[str, Any]:
    return {
        "attr": rule.attr,
        "type": _dump_type(rule.type),
        "expr": _dump_expr(rule.expr),
        "create_only": rule.create_only,
        "default": rule.default,
        "app_sources": [_dump_path(p) for p in rule.app_sources],
        "origin": rule.origin,
        "span": _dump_span(rule.span),
        "text": rule.text,
        "expression": rule.expression,
        "derived_from": rule.derived_from,
    }


def _dump_expr(e: PExpr) -> list[Any]:
    head = [_dump_type(e.type), e.nullable]
    if isinstance(e, PLiteral):
        return ["literal", *head, e.value]
    if isinstance(e, PSource):
        return ["source", *head, e.name]
    if isinstance(e, PInternal):
        return ["internal", *head, e.name]
    if isinstance(e, PAppSource):
        return ["app", *head, _dump_path(e.path), e.scim_type]
    if isinstance(e, PCall):
        sub = [e.substitution.pattern, e.substitution.replacement] if e.substitution else None
        return ["call", *head, e.function.name, [_dump_expr(a) for a in e.args], sub]
    if isinstance(e, PConcat):
        return ["concat", *head, [_dump_expr(p) for p in e.parts]]
    if isinstance(e, PBinary):
        return ["binary", *head, e.op, _dump_expr(e.left), _dump_expr(e.right)]
    if isinstance(e, PNot):
        return ["not", *head, _dump_expr(e.operand)]
    if isinstance(e, PArray):
        return ["array", *head, [_dump_expr(i) for i in e.items]]
    if isinstance(e, PIndex):
        return ["index", *head, _dump_expr(e.array), _dump_expr(e.position)]
    if isinstance(e, PMatches):
        return ["matches", *head, _dump_expr(e.subject), e.pattern]
    if isinstance(e, PCond):
        return ["cond", *head, _dump_expr(e.condition), _dump_expr(e.then), _dump_expr(e.otherwise)]
    raise TypeError(f"no encoding for {type(e).__name__}")


def _dump_schema(schema: Schema) -> Any:
    if schema.builtin:
        return schema.urn  # by reference: mapper's own table has it
    span = _dump_span(schema.span) if schema.span else None
    return [schema.urn, schema.name, [_dump_attribute(a) for a in schema.attributes.values()], span]


def _dump_attribute(a: Attribute) -> list[Any]:
    return [a.name, a.type, a.multi, a.mutability, [_dump_attribute(s) for s in a.sub_attributes.values()]]


# -- reading -------------------------------------------------------------------------------


def read_plan(data: object) -> Plan:
    """The plan DATA describes; InvalidData for anything this module would not have written."""
    try:
        return _read_plan(data)
    except InvalidData:
        raise
    except (TypeError, ValueError, KeyError, IndexError, RecursionError) as exc:
        raise InvalidData(f"{type(exc).__name__}: {exc}") from None


def read_diagnostics(data: object) -> tuple[Diagnostic, ...]:
    """The diagnostics DATA describes (as dump_diagnostics writes them); InvalidData for anything else."""
    try:
        return tuple(
            Diagnostic(
                Severity(_str(d[0])),
                _str(d[1]),
                None if d[2] is None else _span(d[2]),
                _str(d[3]),
                _str(d[4]),
            )
            for d in (_list(item, 5) for item in _list(data))
        )
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        raise InvalidData(f"{type(exc).__name__}: {exc}") from None


def _read_plan(data: object) -> Plan:
    d = _dict(data, {"name", "rules", "extensions", "profile_types", "schemas", "inbound", "inversions"})
    profile_types = {_str(k): _type(v) for k, v in _dict(d["profile_types"]).items()}
    schemas = {_str(urn): _schema(urn, s) for urn, s in _dict(d["schemas"]).items()}
    rules = tuple(_rule(r) for r in _list(d["rules"]))
    inbound = tuple(_inbound(r, len(rules)) for r in _list(d["inbound"]))
    inversions = tuple(
        Inversion(Inverse(_str(kind)), _str(detail)) for kind, detail in map(_pair, _list(d["inversions"]))
    )
    return Plan(
        _str(d["name"]),
        rules,
        tuple(_str(u) for u in _list(d["extensions"])),
        profile_types,
        schemas,
        inbound,
        inversions,
    )


def _pair(value: object) -> list[Any]:
    return _list(value, 2)


def _path(data: object) -> AttrPath:
    urn, attr, entry_type, sub = _list(data, 4)
    return AttrPath(_str(urn), _str(attr), _opt_str(entry_type), _opt_str(sub))


_INBOUND_KEYS = {
    "attr", "type", "expr", "create_only", "default", "app_sources", "origin", "span", "text",
    "expression", "derived_from",
}  # fmt: skip


def _inbound(data: object, rules: int) -> InboundRule:
    d = _dict(data, _INBOUND_KEYS)
    derived_from = d["derived_from"]
    if derived_from is not None and not (isinstance(derived_from, int) and 0 <= derived_from < rules):
        raise InvalidData("derived_from names no rule")
    return InboundRule(
        _str(d["attr"]),
        _type(d["type"]),
        _expr(d["expr"], 0),
        _bool(d["create_only"]),
        _constant(d["default"]),
        tuple(_path(p) for p in _list(d["app_sources"])),
        _str(d["origin"]),
        _span(d["span"]),
        _str(d["text"]),
        None,
        _str(d["expression"]),
        derived_from,
    )


def _app(t: ValueType, n: bool, rest: list[Any], depth: int) -> PExpr:
    path, scim_type = _one(rest, 2)
    if scim_type not in SCIM_TYPES:
        raise InvalidData(f"unknown SCIM type {scim_type!r}")
    return PAppSource(t, n, _path(path), scim_type)


_RULE_KEYS = {
    "target", "expr", "create_only", "primary", "default", "sources", "internal_sources",
    "origin", "span", "text", "expression", "source_types",
}  # fmt: skip


def _rule(data: object) -> PlannedRule:
    d = _dict(data, _RULE_KEYS)
    urn, attr, entry_type, sub, scim_type, multi_simple = _list(d["target"], 6)
    if scim_type not in SCIM_TYPES:
        raise InvalidData(f"unknown SCIM type {scim_type!r}")
    target = TargetSlot(
        _str(urn), _str(attr), _opt_str(entry_type), _opt_str(sub), scim_type, _bool(multi_simple)
    )
    return PlannedRule(
        target,
        _expr(d["expr"], 0),
        _bool(d["create_only"]),
        _bool(d["primary"]),
        _constant(d["default"]),
        tuple(_str(s) for s in _list(d["sources"])),
        tuple(_str(s) for s in _list(d["internal_sources"])),
        _str(d["origin"]),
        _span(d["span"]),
        _str(d["text"]),
        None,
        tuple(_type(t) for t in _list(d["source_types"])),
        _str(d["expression"]),
    )


#: Deeper than the parser ever nests (its own limits are far lower).
_MAX_DEPTH = 400


def _expr(data: object, depth: int) -> PExpr:
    if depth > _MAX_DEPTH:
        raise InvalidData("expression nested too deeply")
    items = _list(data)
    kind, type_, nullable, *rest = items
    reader = _EXPR_READERS.get(kind) if isinstance(kind, str) else None
    if reader is None:
        raise InvalidData(f"unknown expression kind {kind!r}")
    return reader(_type(type_), _bool(nullable), rest, depth + 1)


def _one(rest: list[Any], n: int) -> list[Any]:
    if len(rest) != n:
        raise InvalidData(f"expected {n} fields, found {len(rest)}")
    return rest


def _call(t: ValueType, n: bool, rest: list[Any], depth: int) -> PExpr:
    name, args, sub = _one(rest, 3)
    function = FUNCTIONS.get(_str(name))
    if function is None:
        raise InvalidData(f"unknown function {name!r}")
    substitution = None
    if sub is not None:
        from mapper.core.regex import PatternError, Substitution  # only rulesets with String.replace*

        pattern, replacement = _list(sub, 2)
        try:
            substitution = Substitution.build(_str(pattern), _str(replacement))
        except PatternError as exc:
            raise InvalidData(str(exc)) from None
    return PCall(t, n, function, tuple(_expr(a, depth) for a in _list(args)), substitution)


def _matches(t: ValueType, n: bool, rest: list[Any], depth: int) -> PExpr:
    from mapper.core.regex import PatternError, compile_pattern

    subject, pattern = _one(rest, 2)
    try:
        compiled = compile_pattern(_str(pattern))
    except PatternError as exc:
        raise InvalidData(str(exc)) from None
    return PMatches(t, n, _expr(subject, depth), pattern, compiled)


_Reader = Callable[[ValueType, bool, list[Any], int], PExpr]
_EXPR_READERS: Mapping[str, _Reader] = MappingProxyType(
    {
        "literal": lambda t, n, r, d: PLiteral(t, n, _constant(_one(r, 1)[0])),
        "source": lambda t, n, r, d: PSource(t, n, _str(_one(r, 1)[0])),
        "internal": lambda t, n, r, d: PInternal(t, n, _str(_one(r, 1)[0])),
        "app": _app,
        "call": _call,
        "concat": lambda t, n, r, d: PConcat(t, n, tuple(_expr(p, d) for p in _list(_one(r, 1)[0]))),
        "binary": lambda t, n, r, d: PBinary(t, n, _op(_one(r, 3)[0]), _expr(r[1], d), _expr(r[2], d)),
        "not": lambda t, n, r, d: PNot(t, n, _expr(_one(r, 1)[0], d)),
        "array": lambda t, n, r, d: PArray(t, n, tuple(_expr(i, d) for i in _list(_one(r, 1)[0]))),
        "index": lambda t, n, r, d: PIndex(t, n, _expr(_one(r, 2)[0], d), _expr(r[1], d)),
        "matches": _matches,
        "cond": lambda t, n, r, d: PCond(t, n, _expr(_one(r, 3)[0], d), _expr(r[1], d), _expr(r[2], d)),
    }
)


def _op(value: object) -> str:
    if value not in BINARY_OPS:
        raise InvalidData(f"unknown operator {value!r}")
    return str(value)


def _schema(urn: str, data: object) -> Schema:
    if isinstance(data, str):
        if data != urn or urn not in _builtin_schemas():
            raise InvalidData(f"no built-in schema {urn!r}")
        return _builtin_schemas()[urn]
    urn2, name, attributes, span = _list(data, 4)
    if urn2 != urn:
        raise InvalidData("schema URN mismatch")
    attrs = [_attribute(a, 0) for a in _list(attributes)]
    declared = _span(span) if span is not None else None
    return Schema(_str(urn2), _str(name), {a.name: a for a in attrs}, builtin=False, span=declared)


def _builtin_schemas() -> dict[str, Schema]:
    if not _BUILTIN_SCHEMAS:
        from mapper.core.schema import ENTERPRISE

        _BUILTIN_SCHEMAS[ENTERPRISE_USER] = ENTERPRISE
    return _BUILTIN_SCHEMAS


def _attribute(data: object, depth: int) -> Attribute:
    name, type_, multi, mutability, subs = _list(data, 5)
    if type_ not in (*SCIM_TYPES, "complex") or mutability not in _MUTABILITY or depth > 1:
        raise InvalidData(f"invalid attribute {name!r}")
    children = [_attribute(s, depth + 1) for s in _list(subs)]
    return Attribute(_str(name), type_, _bool(multi), mutability, {c.name: c for c in children})


def _type(data: object) -> ValueType:
    base, multi = _list(data, 2)
    if base not in _BASES:
        raise InvalidData(f"unknown type {base!r}")
    return ValueType(base, _bool(multi))


def _span(data: object) -> Span:
    file, *numbers = _list(data, 5)
    line, col, end_line, end_col = (_int(n) for n in numbers)
    return Span(_str(file), line, col, end_line, end_col)


def _constant(value: object) -> Constant:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    raise InvalidData(f"not a constant: {type(value).__name__}")


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidData(f"expected a string, found {type(value).__name__}")
    return value


def _opt_str(value: object) -> str | None:
    return None if value is None else _str(value)


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidData(f"expected a boolean, found {type(value).__name__}")
    return value


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 1 << 31:
        raise InvalidData("expected a line or column number")
    return value


def _list(value: object, length: int | None = None) -> list[Any]:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        raise InvalidData("unexpected shape")
    return value


def _dict(value: object, keys: set[str] | None = None) -> dict[str, Any]:
    if not isinstance(value, dict) or (keys is not None and set(value) != keys):
        raise InvalidData("unexpected shape")
    return value
