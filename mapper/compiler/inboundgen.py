"""Plan to Python source for the inbound direction: ``inbound(resource)``, the Okta profile
an app's SCIM resource maps to by the ruleset's inbound rules (declared and derived).

The generated function reads each SCIM attribute a rule names once, checks its
type inline as ``render`` checks profile attributes, evaluates the rules with
the same expression code as ``render`` (:class:`~mapper.compiler.codegen.Emitter`),
and returns a new dict with one key per inbound rule: None where the rule has no
value (an empty string is no value, as outbound). Attribute names are matched
as SCIM defines them, without regard to case, at the cost of a subset test per
object when the app spells them as the schema does. The safety rules of
:mod:`mapper.compiler.codegen` hold: literals through ``repr()`` after a type
check, every identifier the generator's own.
"""

from __future__ import annotations

from typing import Any

from mapper.compiler.codegen import PYTHON_CLASS, Emitter, may_be_empty, may_raise, py_comment, py_literal
from mapper.core import app_values
from mapper.core import helpers as runtime
from mapper.core.plan import InboundRule, Plan
from mapper.core.schema import BUILTIN_SCHEMAS, CORE_USER, USER, Attribute, Schema
from mapper.core.scim_path import AttrPath
from mapper.core.types import STRING

_EXPECTED = {"string": "a string", "boolean": "a boolean", "integer": "an integer"}
_STRINGS = ("string", "reference", "dateTime", "binary")


class InboundGenerator(Emitter):
    """``inbound(resource)`` for a plan's inbound rules."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(plan)
        self.namespace.update(
            {
                "_not_resource": app_values.not_resource,
                "_bad_app": app_values.bad_value,
                "_app_too_long": app_values.too_long,
                "_app_rule_error": app_values.rule_error,
                "_canonical": app_values.canonical,
                "_complex": app_values.complex_value,
                "_entry": app_values.entry,
                "_app_array": app_values.array,
                "_app_decimal": app_values.decimal,
            }
        )
        self._schemas: dict[str, Schema] = {**BUILTIN_SCHEMAS, **plan.schemas}
        self._names: dict[tuple[str, ...], tuple[str, str]] = {}  # attribute set -> (known, names)

    def generate(self) -> str:
        """The source of ``inbound(resource)``."""
        w = self.w
        self.header("inbound (app to Okta)")
        w.line("# resource: the app's SCIM User resource; the result: Okta profile attributes.")
        with w.block("def inbound(resource):"):
            w.line("if resource.__class__ is not dict: raise _not_resource(resource)")
            known, names = self._name_tables(self._root_names())
            w.line(f"if not {known}.issuperset(resource): resource = _canonical(resource, {names}, '')")
            self._read_paths()
            out = []
            for rule in self.plan.inbound:
                var = self._name("v")
                w.line(f"# {py_comment(rule.text)}    [{py_comment(rule.origin)}:{rule.span.line}]")
                self._value(var, rule)
                out.append(f"{py_literal(rule.attr)}: {var}")
            w.line("return {" + ", ".join(out) + "}")
        return w.source()

    # names
    def _root_names(self) -> list[str]:
        return ["schemas", *USER.attributes, *self._schemas]

    def _name_tables(self, names: list[str]) -> tuple[str, str]:
        """Generated names for the frozenset of NAMES and their lower-case-to-canonical table."""
        key = tuple(names)
        if key not in self._names:
            known, table = self._name("_k"), self._name("_n")
            self.namespace[known] = frozenset(names)
            self.namespace[table] = {n.lower(): n for n in names}
            self._names[key] = (known, table)
        return self._names[key]

    # reading
    def _read_paths(self) -> None:
        w = self.w
        paths = list(dict.fromkeys(p for r in self.plan.inbound for p in r.app_sources))
        containers: dict[str, str] = {CORE_USER: "resource"}
        objects: dict[tuple[str, str, str | None], str] = {}
        for path in paths:
            schema = self._schemas[path.urn]
            if path.urn not in containers:
                var = containers[path.urn] = self._name("x")
                known, names = self._name_tables(list(schema.attributes))
                self._object(var, f"resource.get({py_literal(path.urn)})", py_literal(path.urn), known, names)
            holder = containers[path.urn]
            attr = schema.attributes[path.attr]
            where = py_literal(_shown(path.attribute))
            if path.sub is not None:
                key = (path.urn, path.attr, path.entry_type)
                if key not in objects:
                    var = objects[key] = self._name("e" if path.entry_type else "x")
                    known, names = self._name_tables(list(attr.sub_attributes))
                    get = f"{holder}.get({py_literal(path.attr)})"
                    if path.entry_type is not None:
                        w.line(
                            f"{var} = _entry({get}, {py_literal(path.entry_type)}, {where}, {known}, {names})"
                        )
                    else:
                        self._object(var, get, where, known, names)
                holder = objects[key]
                attr = attr.sub_attributes[path.sub]
            var = self.app_values[path] = self._name("r")
            self._check(var, f"{holder}.get({py_literal(path.sub or path.attr)})", path, attr)

    def _object(self, var: str, read: str, where: str, known: str, names: str) -> None:
        """Lines that set VAR to the object READ gives (EMPTY when absent), its names canonical:
        the common case (a dict spelt as the schema spells it) costs a subset test, no call."""
        w = self.w
        w.line(f"{var} = {read}")
        w.line(f"if {var}.__class__ is not dict: {var} = _complex({var}, {where}, {known}, {names})")
        w.line(f"elif not {known}.issuperset({var}): {var} = _canonical({var}, {names}, {where})")

    def _check(self, var: str, read: str, path: AttrPath, attr: Attribute) -> None:
        """Lines that set VAR to the value READ gives, checked against ATTR's type."""
        w = self.w
        shown = py_literal(_shown(path))
        base = "string" if attr.type in _STRINGS else attr.type
        if attr.multi and path.sub is None:
            element = PYTHON_CLASS[base]
            w.line(f"{var} = _app_array({shown}, {read}, {element}, {py_literal(base + 's')})")
            return
        if base == "decimal":
            w.line(f"{var} = _app_decimal({shown}, {read})")
            return
        w.line(f"{var} = {read}")
        expected = py_literal(_EXPECTED[base])
        if base == "string":
            with w.block(f"if {var}.__class__ is not str:"):
                w.line(f"if {var} is not None: raise _bad_app({shown}, {expected}, {var})")
            w.line(f"elif len({var}) > {runtime.MAX_VALUE_CHARS}: raise _app_too_long({shown}, {var})")
        elif base == "integer":
            with w.block(
                f"if {var} is not None and ({var}.__class__ is not int"
                f" or not {runtime.INT_MIN} <= {var} <= {runtime.INT_MAX}):"
            ):
                w.line(f"raise _bad_app({shown}, 'a 64-bit integer', {var})")
        else:
            w.line(
                f"if {var} is not None and {var}.__class__ is not bool: raise _bad_app({shown}, {expected}, {var})"
            )

    # rules
    def _value(self, var: str, rule: InboundRule) -> None:
        """Lines that set VAR to the rule's value: converted to the Okta type, empty as None, defaulted."""
        w = self.w
        lines = [f"{var} = {self._expr(rule.expr)}"]
        if rule.expr.type.base == "integer" and not rule.expr.type.multi and rule.type == STRING:
            lines.append(f"if {var} is not None: {var} = str({var})")
        if may_raise(rule.expr):
            with w.block("try:"):
                for line in lines:
                    w.line(line)
            with w.block("except _ValueProblem as exc:"):
                paths = "(" + "".join(py_literal(_shown(p)) + "," for p in rule.app_sources) + ")"
                w.line(f"raise _app_rule_error(exc, {paths}, {py_literal(rule.attr)}) from None")
        else:
            for line in lines:
                w.line(line)
        empty = rule.type.multi or (rule.type == STRING and may_be_empty(rule.expr))
        if empty:
            w.line(f"if not {var}: {var} = None  # an empty string or array is no value")
        if rule.default is not None:
            w.line(f"if {var} is None: {var} = {py_literal(rule.default)}")


def _shown(path: AttrPath) -> str:
    """PATH as error messages name it: the URN kept for extension attributes."""
    return path.text(qualified=True, ascii_only=True)


def generate(plan: Plan) -> tuple[str, dict[str, Any]]:
    """The Python source of PLAN's inbound function and the namespace it runs in."""
    generator = InboundGenerator(plan)
    source = generator.generate()
    return source, generator.namespace
