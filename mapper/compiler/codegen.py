"""Plan to Python source, compiled once.

The approach Jinja takes: write plain Python for the whole mapping, then
``compile()`` it. Safety rules: every literal enters the source through
``repr()`` after a type check (:func:`py_literal`); every identifier in it is the
generator's own (``a1``, ``v3``, ``c2``); user text appears only inside repr'd
strings or escaped comments. Objects that have no literal form (compiled
regular expressions) are passed in the namespace under generated names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from mapper.core import helpers as runtime
from mapper.core.plan import (
    BINARY_OPS,
    Constant,
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
)
from mapper.core.schema import CORE_USER
from mapper.core.scim_path import AttrPath
from mapper.core.types import BOOLEAN, STRING, ValueType

#: The Python class that holds each expression type's values (decimals may also be int).
PYTHON_CLASS = {"string": "str", "boolean": "bool", "integer": "int", "decimal": "float"}


def py_literal(value: Constant) -> str:
    """The only way a value from a ruleset enters generated source."""
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    raise TypeError(f"no literal form for {type(value).__name__}")


def py_comment(text: str) -> str:
    """Text made safe for a one-line comment: control and non-ASCII characters escaped."""
    return ascii(text)[1:-1]


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self._depth = 0

    def line(self, text: str = "") -> None:
        self.lines.append("    " * self._depth + text if text else "")

    @contextmanager
    def block(self, head: str) -> Iterator[None]:
        self.line(head)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1

    def source(self) -> str:
        return "\n".join(self.lines) + "\n"


# ---------------------------------------------------------------- output tree


@dataclass
class _Node:
    """A place in the resource: the root, a complex attribute, an extension, or a
    multi-valued attribute and its entries. Leaves are (key, value variable)."""

    key: str
    kind: str  # "object" | "extension" | "multi" | "entry"
    children: list[_Node | tuple[str, str, bool]] = field(default_factory=list)
    entry_type: str | None = None
    primary: bool = False

    def child(self, key: str, kind: str, entry_type: str | None = None) -> _Node:
        for c in self.children:
            if isinstance(c, _Node) and c.key == key and c.entry_type == entry_type:
                return c
        node = _Node(key, kind, entry_type=entry_type)
        self.children.append(node)
        return node


def _output_tree(rules: tuple[PlannedRule, ...], variables: list[str]) -> _Node:
    root = _Node("", "object")
    for rule, var in zip(rules, variables, strict=True):
        t = rule.target
        container = root if t.urn == CORE_USER else root.child(t.urn, "extension")
        if t.entry_type is not None:
            multi = container.child(t.attr, "multi")
            entry = multi.child(t.attr, "entry", t.entry_type)
            entry.primary = entry.primary or rule.primary
            assert t.sub is not None
            entry.children.append((t.sub, var, False))
        elif t.sub is not None:
            container.child(t.attr, "object").children.append((t.sub, var, False))
        else:
            container.children.append((t.attr, var, t.multi_simple))
    # Extensions go after the core attributes, in the order the rules name them.
    root.children.sort(key=lambda c: isinstance(c, _Node) and c.kind == "extension")
    return root


# ---------------------------------------------------------------- generator


class Emitter:
    """What the render and patch generators share: the writer, the namespace the
    generated code runs in, generated names, and expressions and rule values as
    Python source. ``sources`` and ``internals`` map attribute names to the
    variables holding their (validated) values; ``app_values`` does the same for
    the app's attributes that inbound rules read."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.w = _Writer()
        self.namespace: dict[str, Any] = {
            "_bad_source": runtime.bad_source,
            "_bad_integer": runtime.bad_integer,
            "_too_long": runtime.too_long,
            "_rule_error": runtime.rule_error,
            "_missing_required": runtime.missing_required,
            "_read_array": runtime.read_array,
            "_read_decimal": runtime.norm_decimal,
            "_ValueProblem": runtime.ValueProblem,
        }
        self.sources: dict[str, str] = {}
        self.internals: dict[str, str] = {}
        self.app_values: dict[AttrPath, str] = {}  # the app's attributes, for inbound functions
        self._counter = 0

    def _name(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def _helper(self, impl: str) -> str:
        name = f"_{impl}"
        self.namespace[name] = getattr(runtime, impl)
        return name

    def header(self, what: str) -> None:
        """Write the generated source's header comment: from which ruleset, what it is (WHAT), do not edit."""
        self.w.line(f"# Generated by mapper from ruleset {py_comment(self.plan.name)}: {what}; do not edit.")

    def rule_comment(self, rule: PlannedRule) -> None:
        """Write a comment with RULE as written and where it comes from (its ruleset and line)."""
        self.w.line(f"# {py_comment(rule.text)}    [{py_comment(rule.origin)}:{rule.span.line}]")

    # rules
    def rule_value(self, var: str, rule: PlannedRule) -> None:
        """Lines that set VAR to the rule's value: converted to the target's type,
        defaulted, empty strings as None, userName required."""
        w = self.w
        t = rule.target
        value = self._expr(rule.expr)
        raises = may_raise(rule.expr) or t.scim_type == "dateTime"
        empty_possible = t.scim_type != "boolean" and not t.multi_simple and may_be_empty(rule.expr)
        lines = [f"{var} = {value}"]
        if rule.expr.type.base == "integer" and t.scim_type == "string":
            lines.append(f"if {var} is not None: {var} = str({var})")
        if t.scim_type == "dateTime":
            lines.append(f"{var} = {self._helper('to_datetime')}({var})")
        if empty_possible and rule.default is None and len(lines) == 1:
            # A string or None: "" (and None) become None in the same statement, the hot path's
            # commonest rule (a plain copy) one assignment.
            lines = [f"{var} = ({value}) or None  # an empty string is no value"]
            empty_possible = False
        if raises:
            with w.block("try:"):
                for line in lines:
                    w.line(line)
            with w.block("except _ValueProblem as exc:"):
                w.line(f"raise _rule_error(exc, {sources_literal(rule)}, {py_literal(t.path)}) from None")
        else:
            for line in lines:
                w.line(line)
        if rule.default is not None:
            test = f"not {var}" if empty_possible else f"{var} is None"
            w.line(f"if {test}: {var} = {py_literal(rule.default)}")
        elif empty_possible:
            w.line(f"if not {var}: {var} = None  # an empty string is no value")
        if t.urn == CORE_USER and t.attr == "userName":
            with w.block(f"if {var} is None:"):
                w.line(f"raise _missing_required({sources_literal(rule)}, {py_literal(t.path)})")

    # expressions
    def _expr(self, e: PExpr) -> str:
        if isinstance(e, PLiteral):
            return py_literal(e.value)
        if isinstance(e, PSource):
            return self.sources[e.name]
        if isinstance(e, PInternal):
            return self.internals[e.name]
        if isinstance(e, PAppSource):
            return self.app_values[e.path]
        if isinstance(e, PArray):
            return f"{self._helper('array_of')}({', '.join(self._expr(i) for i in e.items)})"
        if isinstance(e, PIndex):
            return f"{self._helper('array_get')}({self._expr(e.array)}, {self._expr(e.position)})"
        if isinstance(e, PMatches):
            pattern = self._name("_re")  # a compiled pattern has no literal form
            self.namespace[pattern] = e.compiled
            return f"{self._helper('matches')}({self._expr(e.subject)}, {pattern})"
        if isinstance(e, PConcat):
            parts = [self._expr(p) for p in e.parts]
            if all(not p.nullable and p.type == STRING for p in e.parts):
                return "(" + " + ".join(parts) + ")"
            return f"{self._helper('concat')}({', '.join(parts)})"
        if isinstance(e, PCall):
            args = [self._expr(a) for a in e.args]
            if e.substitution is not None:
                # A compiled pattern has no literal form: the code gets it by a generated name.
                substitution = self._name("_re")
                self.namespace[substitution] = e.substitution
                args = [args[0], substitution]
            return f"{self._helper(e.function.impl)}({', '.join(args)})"
        if isinstance(e, PNot):
            operand = self._expr(e.operand)
            return f"(not {operand})" if not e.operand.nullable else f"{self._helper('not_')}({operand})"
        if isinstance(e, PCond):
            return f"({self._expr(e.then)} if {self._truth(e.condition)} else {self._expr(e.otherwise)})"
        assert isinstance(e, PBinary)
        return self._binary(e)

    def _binary(self, e: PBinary) -> str:
        op = e.op
        if op not in BINARY_OPS:  # == and != are written as they are
            raise ValueError(f"unknown operator {op!r}")
        left, right = self._expr(e.left), self._expr(e.right)
        if op in ("AND", "OR"):
            return f"({self._truth(e.left)} {op.lower()} {self._truth(e.right)})"
        if op == "?:":
            temp = self._name("t")
            # For strings an empty result counts as no value, as everywhere else.
            test = "" if e.left.type == STRING else " is not None"
            return f"({temp} if ({temp} := {left}){test} else {right})"
        if op in ("==", "!="):
            for side, code, other in ((e.left, left, e.right), (e.right, right, e.left)):
                if isinstance(other, PLiteral) and other.value is None:
                    if not side.nullable:  # decided now: `"a" == null` is plain False
                        return py_literal(op == "!=")
                    if isinstance(side, PLiteral):  # null == null
                        return py_literal(op == "==")
                    return f"({code} is {'not ' if op == '!=' else ''}None)"
            return f"({left} {op} {right})"
        if op == "+":  # numbers; the helper refuses sums SCIM cannot carry
            return f"{self._helper('add')}({left}, {right})"
        helper = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge"}[op]
        if not e.left.nullable and not e.right.nullable:
            return f"({left} {op} {right})"
        return f"{self._helper(helper)}({left}, {right})"

    def _truth(self, e: PExpr) -> str:
        """A condition that is a real bool: null counts as false."""
        code = self._expr(e)
        if e.type == BOOLEAN and not e.nullable:
            return code
        return f"({code} is True)"

    def generate(self) -> str:
        """The generated Python source; each kind of generator defines it."""
        raise NotImplementedError


class _RenderGenerator(Emitter):
    """``render(user)``; with ``update``, ``render_update(profile,
    internal, old_profile, old_internal)``: the resource the app holds after an
    update, where create-only rules keep the values of the old profile; with ``short``,
    ``render_short(user)``: render without the length check of each string read, for a user
    read from a JSON text of at most MAX_VALUE_CHARS bytes (no string in it is that long)."""

    def __init__(self, plan: Plan, update: bool = False, short: bool = False) -> None:
        super().__init__(plan)
        self.update = update
        self.short = short
        self.truthy: set[str] = set()  # variables placed when true (plain copies of strings)

    def generate(self) -> str:
        w = self.w
        rules = self.plan.rules
        if self.update:
            self.header("the resource after an update")
            head = "def render_update(profile, internal, old_profile, old_internal):"
        else:
            self.header(
                f"render for records of at most {runtime.MAX_VALUE_CHARS:,} bytes" if self.short else "render"
            )
            w.line("# user: an Okta profile, or a Users API object (its profile, and its other fields).")
            head = "def render_short(user):" if self.short else "def render(user):"
        with w.block(head):
            if not self.update:  # the common shape read here; any other through split_user
                w.line("profile = user.get('profile') if user.__class__ is dict else None")
                with w.block("if profile.__class__ is dict:"):
                    w.line("internal = user")
                with w.block("else:"):
                    w.line(f"profile, internal = {self._helper('split_user')}(user)")
            current = [r for r in rules if not (self.update and r.create_only)]
            new_names = self._read_inputs(current, "profile", "internal", "a", "i")
            old_names = self._read_inputs(
                [r for r in rules if self.update and r.create_only], "old_profile", "old_internal", "b", "j"
            )
            variables = []
            for i, rule in enumerate(rules, 1):
                self.sources, self.internals = old_names if self.update and rule.create_only else new_names
                variables.append(self._rule(i, rule))
            w.line()
            w.line(f"schemas = [{py_literal(CORE_USER)}]")
            w.line("resource = {'schemas': schemas}")
            self._emit_children(_output_tree(rules, variables), "resource")
            w.line("return resource")
        return w.source()

    # inputs
    def _read_inputs(
        self, rules: list[PlannedRule], profile: str, internal: str, prefix: str, internal_prefix: str
    ) -> tuple[dict[str, str], dict[str, str]]:
        """Read and validate the sources RULES use; returns the variables by attribute name."""
        w = self.w
        used = {s for r in rules for s in r.sources}
        names = [n for n in self.plan.profile_types if n in used]
        internals = sorted({s for r in rules for s in r.internal_sources})
        sources: dict[str, str] = {}
        fields: dict[str, str] = {}
        getter = f"{profile}.get"
        if len(names) > 1:
            getter = self._name("get")
            w.line(f"{getter} = {profile}.get")
        for name in names:
            var = sources[name] = self._name(prefix)
            self._read(var, getter, name, self.plan.profile_types[name])
        for name in internals:
            var = fields[name] = self._name(internal_prefix)
            self._read(var, f"{internal}.get", name, STRING)
        return sources, fields

    def _read(self, var: str, getter: str, name: str, type_: ValueType) -> None:
        w = self.w
        key = py_literal(name)
        if type_.multi:
            element = PYTHON_CLASS[type_.base]
            w.line(f"{var} = _read_array({key}, {getter}({key}), {element}, {py_literal(type_.base + 's')})")
            return
        if type_.base == "decimal":
            w.line(f"{var} = _read_decimal({key}, {getter}({key}))")
            return
        w.line(f"{var} = {getter}({key})")
        cls = PYTHON_CLASS[type_.base]
        expected = py_literal(
            {"string": "a string", "boolean": "a boolean", "integer": "an integer"}[type_.base]
        )
        if type_.base == "string":
            with w.block(f"if {var}.__class__ is not str:"):
                w.line(f"if {var} is not None: raise _bad_source({key}, {expected}, {var})")
            # An empty string stays one, as in Okta (a cleared attribute is "", not null):
            # `user.x == ""` is true; the output leaves a target whose value is "" out.
            if not self.short:  # a string is shorter than the JSON text it was read from
                w.line(f"elif len({var}) > {runtime.MAX_VALUE_CHARS}: raise _too_long({key}, {var})")
        elif type_.base == "integer":
            with w.block(
                f"if {var} is not None and ({var}.__class__ is not int or not {runtime.INT_MIN} <= {var} <= {runtime.INT_MAX}):"
            ):
                w.line(f"raise _bad_integer({key}, {var})")
        else:
            w.line(
                f"if {var} is not None and {var}.__class__ is not {cls}: raise _bad_source({key}, {expected}, {var})"
            )

    def _rule(self, index: int, rule: PlannedRule) -> str:
        self.rule_comment(rule)
        value = self._expr(rule.expr)
        t = rule.target
        if (  # a plain copy of a string: its source variable, tested for truth where it is placed
            value in self.sources.values() or value in self.internals.values()
        ) and (
            rule.default is None and t.scim_type == "string" and rule.expr.type == STRING
            and not t.multi_simple and not (t.urn == CORE_USER and t.attr == "userName")
        ):  # fmt: skip
            # "" is no value: a truth test places exactly what `v = x or None` would.
            self.truthy.add(value)
            return value
        var = f"v{index}"
        self.rule_value(var, rule)
        return var

    def _present(self, var: str) -> str:
        """The test that VAR holds a value to place."""
        return var if var in self.truthy else f"{var} is not None"

    # output
    def _emit_children(self, node: _Node, target: str) -> None:
        w = self.w
        for child in node.children:
            if isinstance(child, tuple):
                key, var, as_list = child
                if as_list:
                    w.line(f"if {var}: {target}[{py_literal(key)}] = list({var})")
                else:
                    w.line(f"if {self._present(var)}: {target}[{py_literal(key)}] = {var}")
                continue
            if child.kind == "multi":
                items = self._name("m")
                w.line(f"{items} = []")
                for entry in child.children:
                    assert isinstance(entry, _Node)
                    self._emit_entry(entry, items)
                w.line(f"if {items}: {target}[{py_literal(child.key)}] = {items}")
                continue
            obj = self._name("c")
            w.line(f"{obj} = {{}}")
            self._emit_children(child, obj)
            if child.kind == "extension":
                with w.block(f"if {obj}:"):
                    w.line(f"{target}[{py_literal(child.key)}] = {obj}")
                    w.line(f"schemas.append({py_literal(child.key)})")
            else:
                w.line(f"if {obj}: {target}[{py_literal(child.key)}] = {obj}")

    def _emit_entry(self, entry: _Node, items: str) -> None:
        w = self.w
        fixed = f"{py_literal('type')}: {py_literal(entry.entry_type)}"
        if entry.primary:
            fixed += f", {py_literal('primary')}: True"
        leaves = [c for c in entry.children if isinstance(c, tuple)]
        if len(leaves) == 1:
            key, var, _ = leaves[0]
            w.line(f"if {self._present(var)}: {items}.append({{{py_literal(key)}: {var}, {fixed}}})")
            return
        obj = self._name("e")
        w.line(f"{obj} = {{}}")
        for key, var, _ in leaves:
            w.line(f"if {self._present(var)}: {obj}[{py_literal(key)}] = {var}")
        with w.block(f"if {obj}:"):
            w.line(f"{obj}.update({{{fixed}}})")
            w.line(f"{items}.append({obj})")


def sources_literal(rule: PlannedRule) -> str:
    """The rule's source attributes as a tuple literal, for error messages."""
    names = rule.sources + tuple(f"({s})" for s in rule.internal_sources)
    return "(" + "".join(py_literal(v) + "," for v in names) + ")"


def may_raise(e: PExpr) -> bool:
    """Whether evaluating E can raise a ValueProblem (a function that refuses a value, a bounded result)."""
    if isinstance(e, PCall):
        return e.function.raises or any(may_raise(a) for a in e.args)
    if isinstance(e, PConcat):
        return True  # the concat helper bounds its result
    if isinstance(e, PBinary):
        return e.op == "+" or may_raise(e.left) or may_raise(e.right)
    if isinstance(e, PNot):
        return may_raise(e.operand)
    if isinstance(e, PCond):
        return may_raise(e.condition) or may_raise(e.then) or may_raise(e.otherwise)
    if isinstance(e, PArray):
        return any(may_raise(i) for i in e.items)
    if isinstance(e, PIndex):
        return may_raise(e.array) or may_raise(e.position)
    return isinstance(e, PMatches)


def may_be_empty(e: PExpr) -> bool:
    """Whether a string expression can give "" (a profile read can: Okta clears to "")."""
    if e.type != STRING:
        return False
    if isinstance(e, PLiteral):
        return e.value == ""
    if isinstance(e, PCond):
        return may_be_empty(e.then) or may_be_empty(e.otherwise)
    if isinstance(e, PBinary) and e.op == "?:":
        return may_be_empty(e.right)
    return True


def generate(plan: Plan, update: bool = False, short: bool = False) -> tuple[str, dict[str, Any]]:
    """The Python source of PLAN's render (or render_update, or render_short) function and the
    namespace it runs in."""
    generator = _RenderGenerator(plan, update, short)
    source = generator.generate()
    return source, generator.namespace


def load_function(source: str, namespace: dict[str, Any], plan: Plan, name: str) -> Callable[..., Any]:
    """Compile generated SOURCE once and return its function NAME."""
    code = compile(source, f"<ruleset {py_comment(plan.name)}: {name}>", "exec")
    exec(code, namespace)  # noqa: S102 - our own generated source, see the module docstring
    function: Callable[..., Any] = namespace[name]
    return function
