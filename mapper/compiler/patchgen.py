"""Plan to a Python function that finds what changed between two profiles.

The generated ``changes(old_profile, old_fields, new_profile, new_fields)``
compares the raw source attributes first and evaluates a rule only when one of
its sources differs: a one-attribute change costs a few comparisons and one
rule. It returns ``[(unit, old, new), ...]`` in ruleset order, where a unit is
what a PATCH operation can address on its own (see :class:`Unit`); the patch
styles in :mod:`mapper.runtime.patch` turn those into operations.

``patch_rfc(old_user, new_user)`` makes the same comparisons and writes the RFC
style's operations as it goes, returning the PatchOp message (or None): the
common case of ``Ruleset.patch``, with no list of changes or second pass between.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mapper.compiler.codegen import PYTHON_CLASS, Emitter, py_comment, py_literal
from mapper.core import patch_ops
from mapper.core.helpers import MAX_VALUE_CHARS
from mapper.core.patch_ops import PATCH_OP
from mapper.core.plan import Plan, PlannedRule
from mapper.core.styles import PatchStyle
from mapper.core.types import STRING, ValueType

Change = tuple[int, Any, Any]


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a multi-valued attribute that the ruleset owns."""

    type: str
    subs: tuple[str, ...]  # sub-attributes the rules set, in rule order, each once
    primary: bool
    path: str = ""  # the filtered path: emails[type eq "work"] (the type as a JSON string)
    sub_paths: tuple[tuple[str, str], ...] = ()  # (sub-attribute, emails[type eq "work"].sub)


@dataclass(frozen=True, slots=True)
class Unit:
    """A leaf (a simple attribute, a sub-attribute, or a multi-valued simple
    attribute, addressed by ``path``) or a multi-valued complex attribute with
    the entries the ruleset owns (``path`` is the attribute, URN-qualified in
    an extension). Old and new values of a leaf are the values; of a
    multi-valued attribute, a tuple with one entry dict (or None) per entry."""

    kind: str  # "leaf" | "multi"
    path: str
    urn: str
    attr: str
    sub: str | None = None
    entries: tuple[Entry, ...] = ()
    create_only: bool = False


def plan_units(plan: Plan) -> tuple[tuple[Unit, tuple[PlannedRule, ...]], ...]:
    """The units of a ruleset in rule order, each with the rules that feed it.

    Create-only leaves are no unit (they never produce operations); create-only
    entry rules stay in their unit, where the old value is kept."""
    units: list[tuple[Unit, list[PlannedRule]]] = []
    multis: dict[tuple[str, str], int] = {}
    for rule in plan.rules:
        t = rule.target
        if t.entry_type is None:
            if rule.create_only:
                continue
            unit = Unit("leaf", t.path, t.urn, t.attr, t.sub)
            units.append((unit, [rule]))
            continue
        key = (t.urn, t.attr)
        if key not in multis:
            path = t.attr_path.attribute.text()
            multis[key] = len(units)
            units.append((Unit("multi", path, t.urn, t.attr), []))
        units[multis[key]][1].append(rule)
    finished: list[tuple[Unit, tuple[PlannedRule, ...]]] = []
    for unit, rules in units:
        if unit.kind == "multi":
            if all(r.create_only for r in rules):
                continue
            entries: dict[str, Entry] = {}
            for r in rules:
                entry_type = r.target.entry_type
                assert entry_type is not None and r.target.sub is not None
                before = entries.get(entry_type, Entry(entry_type, (), False))
                subs = before.subs if r.target.sub in before.subs else (*before.subs, r.target.sub)
                where = r.target.attr_path.attribute.where_type(entry_type)
                path = where.text()
                sub_paths = tuple((sub, where.child(sub).text()) for sub in subs)
                entries[entry_type] = Entry(entry_type, subs, before.primary or r.primary, path, sub_paths)
            unit = Unit("multi", unit.path, unit.urn, unit.attr, entries=tuple(entries.values()))
        finished.append((unit, tuple(rules)))
    return tuple(finished)


_NORMALISERS = {
    "string": "norm_string",
    "boolean": "norm_boolean",
    "integer": "norm_integer",
    "decimal": "norm_decimal",
}


class _PatchGenerator(Emitter):
    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self.units = plan_units(plan)
        self.raw_old: dict[str, str] = {}
        self.raw_new: dict[str, str] = {}
        self.raw_internal_old: dict[str, str] = {}
        self.raw_internal_new: dict[str, str] = {}
        self._old_values: dict[int, str] = {}  # rule id -> variable with its old value, per unit
        self.direct = False  # writing patch_rfc (operations), not changes (units' old and new values)

    def generate(self) -> str:
        w = self.w
        self.namespace["_SCALARS"] = frozenset({str, bool, int, float, type(None)})
        self.header("changes between two profiles")
        w.line("# Compares raw source attributes; evaluates a rule only when one of its sources changed.")
        with w.block("def changes(old, old_fields, new, new_fields):"):
            self._body()
            w.line("return out")
        w.line()
        w.line()
        self.direct = True
        w.line("# The same comparisons, writing the RFC 7644 PatchOp (operations with paths) as they go.")
        with w.block("def patch_rfc(old, new, style=_rfc_style):"):
            # Ruleset.patch itself, once compiled: any other style goes back to the ruleset
            w.line("if style is not _rfc_style: return _other_style(old, new, style)")
            for side in ("old", "new"):  # the Users API shape read inline, any other through split_user
                w.line(f"{side}_fields = {side}")
                w.line(f"{side} = {side}.get('profile') if {side}.__class__ is dict else None")
                with w.block(f"if {side}.__class__ is not dict:"):
                    w.line(f"{side}, {side}_fields = {self._helper('split_user')}({side}_fields)")
            self._body()
            w.line(f"return {{'schemas': [{py_literal(PATCH_OP)}], 'Operations': out}} if out else None")
        return w.source()

    def _body(self) -> None:
        """The raw reads, then each unit's comparison, appending to ``out`` (changes or
        operations, as self.direct says)."""
        self._read_raw()
        self.w.line("out = []")
        for index, (unit, rules) in enumerate(self.units):
            self.w.line()
            if unit.kind == "leaf":
                self._leaf(index, rules[0])
            else:
                self._multi(index, unit, rules)

    def _read_raw(self) -> None:
        w = self.w
        names = [n for n in self.plan.profile_types]
        internals = sorted({s for r in self.plan.rules for s in r.internal_sources})
        if names:
            w.line("og = old.get")
            w.line("ng = new.get")
        for name in names:
            key = py_literal(name)
            old, new = self._name("o"), self._name("n")
            self.raw_old[name], self.raw_new[name] = old, new
            w.line(f"{old} = og({key}); {new} = ng({key})")
        for name in internals:
            key = py_literal(name)
            old, new = self._name("o"), self._name("n")
            self.raw_internal_old[name], self.raw_internal_new[name] = old, new
            w.line(f"{old} = old_fields.get({key}); {new} = new_fields.get({key})")

    def _changed(self, rules: tuple[PlannedRule, ...]) -> str:
        """A condition that is true when any source of RULES differs between the profiles."""
        tests: list[str] = []
        # Raw values are compared with == only when the old one is a string (or a
        # scalar of the declared type): comparing two containers recurses, and hostile
        # input can nest deeper than the stack. Anything else counts as changed unless
        # it is the same object (as None is); reading it then validates it.
        for name in dict.fromkeys(s for r in rules if not r.create_only for s in r.sources):
            old, new = self.raw_old[name], self.raw_new[name]
            type_ = self.plan.profile_types[name]
            if type_ == STRING:
                tests.append(f"({old} is not {new} and ({old}.__class__ is not str or {old} != {new}))")
            elif type_.multi:
                tests.append(f"{old} is not {new}")
            else:
                # 1 == 1.0 == True: a change of type is a change.
                tests.append(
                    f"({old} is not {new} and ({old}.__class__ is not {new}.__class__"
                    f" or {old}.__class__ not in _SCALARS or {old} != {new}))"
                )
        for name in dict.fromkeys(s for r in rules if not r.create_only for s in r.internal_sources):
            old, new = self.raw_internal_old[name], self.raw_internal_new[name]
            tests.append(f"({old} is not {new} and ({old}.__class__ is not str or {old} != {new}))")
        return " or ".join(tests) or "False"

    def _normalise(self, rules: tuple[PlannedRule, ...], side: str) -> None:
        """Validated values of the sources RULES read, from the old or the new profile."""
        self.sources = {}
        self.internals = {}
        for name in dict.fromkeys(s for r in rules for s in r.sources):
            raw = (self.raw_old if side == "old" else self.raw_new)[name]
            var = self.sources[name] = self._name("p" if side == "old" else "q")
            self._norm_line(var, name, raw, self.plan.profile_types[name])
        for name in dict.fromkeys(s for r in rules for s in r.internal_sources):
            raw = (self.raw_internal_old if side == "old" else self.raw_internal_new)[name]
            var = self.internals[name] = self._name("p" if side == "old" else "q")
            self._norm_line(var, name, raw, STRING)

    def _norm_line(self, var: str, name: str, raw: str, type_: ValueType) -> None:
        key = py_literal(name)
        if type_.multi:
            element = PYTHON_CLASS[type_.base]
            w_line = f"{var} = _read_array({key}, {raw}, {element}, {py_literal(type_.base + 's')})"
        elif type_.base == "string":
            # norm_string inline where it returns the value itself (a string not too long), the
            # common case: a call saved per changed attribute, the same value either way
            helper = self._helper(_NORMALISERS[type_.base])
            w_line = (
                f"{var} = {raw} if {raw}.__class__ is str and len({raw}) <= {MAX_VALUE_CHARS}"
                f" else {helper}({key}, {raw})"
            )
        else:
            w_line = f"{var} = {self._helper(_NORMALISERS[type_.base])}({key}, {raw})"
        self.w.line(w_line)

    def _values(self, rules: tuple[PlannedRule, ...], side: str) -> list[str]:
        """Evaluate RULES on one side; create-only rules keep their old value on the new side."""
        self._normalise(tuple(r for r in rules if side == "old" or not r.create_only), side)
        names = []
        for rule in rules:
            var = self._name("vo" if side == "old" else "vn")
            if side == "new" and rule.create_only:
                self.w.line(f"{var} = {self._old_values[id(rule)]}  # created only: the server keeps it")
            else:
                self.rule_value(var, rule)
                if side == "old":
                    self._old_values[id(rule)] = var
            names.append(var)
        return names

    def _leaf(self, index: int, rule: PlannedRule) -> None:
        w = self.w
        self._old_values = {}
        self.rule_comment(rule)
        with w.block(f"if {self._changed((rule,))}:"):
            (old,) = self._values((rule,), "old")
            (new,) = self._values((rule,), "new")
            test = f"{old} != {new}"
            if rule.target.scim_type == "decimal":
                test += f" or {old}.__class__ is not {new}.__class__"  # 1 and 1.0 differ in JSON
            with w.block(f"if {test}:"):
                if not self.direct:
                    w.line(f"out.append(({index}, {old}, {new}))")
                    return
                path = py_literal(self.units[index][0].path)
                w.line(f"if {new} is None: out.append({{'op': 'remove', 'path': {path}}})")
                w.line(
                    f"else: out.append({{'op': 'add' if {old} is None else 'replace', 'path': {path}, 'value': {new}}})"
                )

    def _multi(self, index: int, unit: Unit, rules: tuple[PlannedRule, ...]) -> None:
        w = self.w
        self._old_values = {}
        w.line(f"# {py_comment(unit.path)}: entries {py_comment(', '.join(e.type for e in unit.entries))}")
        if self.direct and len(unit.entries) == 1 and len(rules) == 1:
            self._one_entry_value(unit, rules[0])
            return
        with w.block(f"if {self._changed(rules)}:"):
            sides = []
            for side in ("old", "new"):
                values = dict(zip((id(r) for r in rules), self._values(rules, side), strict=True))
                parts = [self._entry(entry, rules, values) for entry in unit.entries]
                var = self._name("eo" if side == "old" else "en")
                w.line(f"{var} = ({''.join(p + ', ' for p in parts)})")
                sides.append(var)
            with w.block(f"if {sides[0]} != {sides[1]}:"):
                if not self.direct:
                    w.line(f"out.append(({index}, {sides[0]}, {sides[1]}))")
                    return
                self.namespace[f"_unit{index}"] = unit
                w.line(f"{self._entries_helper()}(out, _unit{index}, {sides[0]}, {sides[1]})")

    def _one_entry_value(self, unit: Unit, rule: PlannedRule) -> None:
        """patch_rfc's operations for a multi-valued attribute of which the ruleset writes one
        sub-attribute of one entry (okta-default's work email): what patch_ops.entries writes
        for it, inline. The entry's other keys are fixed, so it changes when the value does."""
        w = self.w
        entry, sub = unit.entries[0], rule.target.sub
        assert sub is not None
        with w.block(f"if {self._changed((rule,))}:"):
            (old,) = self._values((rule,), "old")
            (new,) = self._values((rule,), "new")
            fixed = f"{py_literal('type')}: {py_literal(entry.type)}" + (
                f", {py_literal('primary')}: True" if entry.primary else ""
            )
            added = f"[{{{py_literal(sub)}: {new}, {fixed}}}]"
            with w.block(f"if {old} != {new}:"):
                w.line(
                    f"if {old} is None: out.append({{'op': 'add', 'path': {py_literal(unit.path)}, 'value': {added}}})"
                )
                w.line(
                    f"elif {new} is None: out.append({{'op': 'remove', 'path': {py_literal(entry.path)}}})"
                )
                path = py_literal(dict(entry.sub_paths)[sub])
                w.line(f"else: out.append({{'op': 'replace', 'path': {path}, 'value': {new}}})")

    def _entries_helper(self) -> str:
        self.namespace["_patch_entries"] = patch_ops.entries
        return "_patch_entries"

    def _entry(self, entry: Entry, rules: tuple[PlannedRule, ...], values: dict[int, str]) -> str:
        """An expression for the entry dict, or None when none of its sub-attributes has a value."""
        fixed = f"{py_literal('type')}: {py_literal(entry.type)}" + (
            f", {py_literal('primary')}: True" if entry.primary else ""
        )
        pairs = [(r.target.sub, values[id(r)]) for r in rules if r.target.entry_type == entry.type]
        if len(pairs) == 1:
            sub, var = pairs[0]
            return f"({{{py_literal(sub)}: {var}, {fixed}}} if {var} is not None else None)"
        w = self.w
        var = self._name("e")
        w.line(f"{var} = {{}}")
        for sub, value in pairs:
            w.line(f"if {value} is not None: {var}[{py_literal(sub)}] = {value}")
        w.line(f"{var} = {{**{var}, {fixed}}} if {var} else None")
        return var


def generate_changes(
    plan: Plan, other_style: Callable[[Any, Any, Any], Any]
) -> tuple[str, dict[str, Any], tuple[Unit, ...]]:
    """The Python source of PLAN's changes and patch_rfc functions, the namespace they run in,
    and the units in order. OTHER_STYLE: what patch_rfc calls for a style other than RFC
    (the ruleset's patch in the other styles)."""
    generator = _PatchGenerator(plan)
    generator.namespace["_rfc_style"] = PatchStyle.RFC
    generator.namespace["_other_style"] = other_style
    source = generator.generate()
    return source, generator.namespace, tuple(unit for unit, _ in generator.units)
