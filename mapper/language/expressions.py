"""Type-checking Okta EL expressions into the typed plan form.

Reports unknown attributes and functions, wrong argument counts and type
mismatches; returns None for an expression that has errors (after reporting
all of them).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mapper.core import timefmt
from mapper.core.functions import DEPRECATED, FUNCTIONS
from mapper.core.plan import (
    PAppSource,
    PArray,
    PBinary,
    PCall,
    PConcat,
    PCond,
    PExpr,
    PIndex,
    PInternal,
    PLiteral,
    PMatches,
    PNot,
    PSource,
)
from mapper.core.regex import PatternError, Substitution, compile_pattern, replacement_parts
from mapper.core.schema import OKTA_BASE_PROFILE, OKTA_INTERNAL_PROPERTIES
from mapper.core.types import BOOLEAN, DECIMAL, INTEGER, NULL, STRING, ValueType
from mapper.errors import Span
from mapper.language import ast
from mapper.language.diagnostics import Reporter, did_you_mean, same_but_case

_COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")


def literal_type(value: object) -> ValueType:
    """The type of a literal VALUE: null, boolean, integer, decimal or string."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return DECIMAL
    return STRING


#: Okta EL scopes other than the user, and what they hold.
_OKTA_CONTEXTS = {
    "app": "application properties",
    "org": "organization properties",
    "session": "session",
    "idpuser": "identity provider profile",
    "access": "access token",
}

#: Okta EL functions that read beyond one user's profile, and what each needs.
_NEEDS_MORE_THAN_A_PROFILE = {
    **dict.fromkeys(
        ("isMemberOfGroup", "isMemberOfGroupName", "isMemberOfAnyGroup", "isMemberOfGroupNameStartsWith",
         "isMemberOfGroupNameContains", "isMemberOfGroupNameRegex", "getFilteredGroups", "contains",
         "startsWith", "endsWith"),
        "the user's group memberships",
    ),
    **dict.fromkeys(
        ("hasDirectoryUser", "hasWorkdayUser", "findDirectoryUser", "findWorkdayUser"),
        "the user's directory and Workday app assignments",
    ),
    **dict.fromkeys(
        ("getManagerUser", "getManagerAppUser", "getAssistantUser", "getAssistantAppUser"),
        "the manager's or assistant's Okta user",
    ),
}  # fmt: skip


class ExpressionChecker:
    """Types one rule's expression; records the profile attributes it reads."""

    def __init__(
        self,
        profile: Mapping[str, ValueType],
        reporter: Reporter,
        app: Callable[[ast.Target], PAppSource | None] | None = None,
    ) -> None:
        self.profile = profile  # declared custom attributes (base ones are all strings)
        self.reporter = reporter
        # An inbound rule's expression reads the app's resource (APP resolves a path) and
        # not the Okta user; an outbound rule's reads the Okta user and not the app's.
        self.app = app
        self.app_sources: list[PAppSource] = []
        self.sources: list[str] = []
        self.internal_sources: list[str] = []
        self.source_types: dict[str, ValueType] = {}
        # Undeclared custom attributes: their type is unknown until an operator needs one
        # (Okta documents `user.groupCode == 123`, `!user.isContractor`); first use of each.
        self._undeclared: dict[str, ast.UserAttr] = {}

    def check(self, expr: ast.Expr) -> PExpr | None:
        """The typed form of EXPR; None once its problems have been reported."""
        method = getattr(self, f"_{type(expr).__name__.lower()}")
        result: PExpr | None = method(expr)
        return result

    # leaves
    def _literal(self, node: ast.Literal) -> PExpr:
        return PLiteral(literal_type(node.value), node.value is None, node.value)

    def _appattr(self, node: ast.AppAttr) -> PExpr | None:
        if self.app is None:
            from mapper.language.unparse import target  # the unparser loads the parser: only here

            path = target(node.path)
            self.reporter.error(
                node.span,
                f"appuser.{path} reads the app's resource: that is the app-to-Okta direction",
                f"an inbound rule reads it (`user.NAME <- appuser.{path}`); "
                "a mapping to the app reads the Okta user: user.ATTRIBUTE",
            )
            return None
        typed = self.app(node.path)
        if typed is not None and typed not in self.app_sources:
            self.app_sources.append(typed)
        return typed

    def _inbound_reads_user(self, span: Span, what: str) -> bool:
        """In an inbound rule, report a read of the Okta user (WHAT); whether it was one."""
        if self.app is None:
            return False
        self.reporter.error(
            span,
            f"an inbound rule reads the app's resource, not the Okta user's {what}",
            "write the app's attribute as appuser.SCIM_PATH, e.g. appuser.title or appuser.name.givenName",
        )
        return True

    def _userattr(self, node: ast.UserAttr) -> PExpr | None:
        if self._inbound_reads_user(node.span, f"user.{node.name}"):
            return None
        name = node.name
        if name in self.profile:
            type_ = self.profile[name]
        else:
            type_ = self.source_types.get(name, STRING)
            if name not in OKTA_BASE_PROFILE and name not in self._undeclared:
                self._undeclared[name] = node
        if name not in self.source_types:
            self.sources.append(name)
            self.source_types[name] = type_
        return PSource(type_, True, name)

    def finish(self) -> None:
        """Warn of each undeclared attribute once, with the type the rule reads it as."""
        for name, node in self._undeclared.items():
            type_ = self.source_types.get(name, STRING)
            known = list(OKTA_BASE_PROFILE) + list(self.profile)
            near = same_but_case(name, known)
            if near:
                self.reporter.warning(
                    node.span,
                    f"user.{name} differs only in case from user.{near}",
                    f"Okta attribute names are case-sensitive: did you mean `user.{near}`?",
                )
                continue
            declare = f"if it is a custom attribute, declare it: `profile {{ {name}: {type_.okta_name} }}`"
            message = f"user.{name} is not an Okta base profile attribute"
            if type_ != STRING:
                message = (
                    f"user.{name} is not declared; it is read as {type_.okta_name}, as its use here needs"
                )
            # The reporter calls the hint only for warnings it shows; defaults bind this loop's values.
            self.reporter.warning(
                node.span,
                message,
                lambda n=name, k=known, d=declare: " ".join(filter(None, (did_you_mean(n, k), d))),  # type: ignore[misc]
            )

    def _typed(self, typed: PExpr, wanted: ValueType) -> PExpr:
        """An undeclared attribute read where WANTED (a number or a boolean) is needed is read as
        that type: its value is checked at render time (a ProfileError names it)."""
        if isinstance(typed, PSource) and typed.name in self._undeclared and typed.type == STRING:
            self.source_types[typed.name] = wanted
            return PSource(wanted, True, typed.name)
        return typed

    def _usermethod(self, node: ast.UserMethod) -> PExpr | None:
        if self._inbound_reads_user(node.span, f"user.{node.name}()"):
            return None
        if node.name in ("getLinkedObject", "getGroups"):
            what = "linked objects" if node.name == "getLinkedObject" else "the user's group memberships"
            self.reporter.error(
                node.span,
                f"user.{node.name}() needs {what}, which a profile does not carry",
                "mapper maps one Okta user's profile and Users API fields",
            )
            return None
        if node.name != "getInternalProperty":
            self.reporter.error(
                node.span,
                f"unknown method user.{node.name}()",
                'the only method on user is getInternalProperty("id"), ("status"), ...',
            )
            return None
        arg = node.args[0] if len(node.args) == 1 else None
        if not (isinstance(arg, ast.Literal) and isinstance(arg.value, str)):
            self.reporter.error(
                node.span,
                "user.getInternalProperty() takes one string literal",
                'for example user.getInternalProperty("status")',
            )
            return None
        if arg.value not in OKTA_INTERNAL_PROPERTIES:
            hint = did_you_mean(arg.value, OKTA_INTERNAL_PROPERTIES)
            self.reporter.error(
                arg.span,
                f"unknown internal property {arg.value!r}",
                hint or "known: " + ", ".join(OKTA_INTERNAL_PROPERTIES),
            )
            return None
        if arg.value not in self.internal_sources:
            self.internal_sources.append(arg.value)
        return PInternal(STRING, True, arg.value)

    # calls
    def _call(self, node: ast.Call) -> PExpr | None:
        name = f"{node.namespace}.{node.function}"
        if not node.namespace:
            name = DEPRECATED.get(node.function, node.function)
            if node.function in DEPRECATED:
                self.reporter.warning(
                    node.span,
                    f"{node.function}(...) is deprecated in Okta Expression Language",
                    f"write {name}(...), which does the same",
                )
        function = FUNCTIONS.get(name)
        args = [self.check(a) for a in node.args]
        if function is None:
            if node.function in _NEEDS_MORE_THAN_A_PROFILE and node.namespace in ("", "Groups"):
                self.reporter.error(
                    node.span,
                    f"{name if node.namespace else node.function}() needs "
                    f"{_NEEDS_MORE_THAN_A_PROFILE[node.function]}, which a profile "
                    "does not carry",
                    "mapper maps one Okta user's profile and Users API fields",
                )
                return None
            hint: Callable[[], str] = lambda: did_you_mean(name, FUNCTIONS)  # noqa: E731
            if not node.namespace:
                known = [f for f in FUNCTIONS if f.endswith(f".{node.function}")]
                hint = lambda: (  # noqa: E731
                    f"functions are written with their class, e.g. {known[0]}(...)" if known else ""
                )
            self.reporter.error(node.span, f"unknown function {name}", hint)
            return None
        count = len(node.args)
        if count < function.min_args or (function.max_args is not None and count > function.max_args):
            wanted = (
                f"at least {function.min_args}"
                if function.max_args is None
                else str(function.min_args)
                if function.min_args == function.max_args
                else f"{function.min_args} to {function.max_args}"
            )
            self.reporter.error(
                node.span,
                f"{name} takes {wanted} argument{'s' if wanted != '1' else ''}, got {count}",
                f"usage: {function.signature}",
            )
            return None
        if function.rest_in_pairs and (count - function.min_args) % 2:
            self.reporter.error(
                node.span, f"{name} takes keys and values in pairs", f"usage: {function.signature}"
            )
            return None
        if any(a is None for a in args):
            return None
        typed = [a for a in args if a is not None]
        ok = True
        pattern: ast.Literal | None = None
        replacement: ast.Literal | None = None
        for index, (arg_node, arg) in enumerate(zip(node.args, typed, strict=True)):
            kind = function.params[index] if index < len(function.params) else (function.rest or "")
            if kind == "literal":  # Time.now(zone, pattern)
                kind = "timezone" if index == 0 else "timepattern"
            if kind in ("timezone", "timepattern"):
                ok = self._time_literal(name, kind, arg_node) and ok
                continue
            if kind in ("pattern", "replacement"):
                if not (isinstance(arg_node, ast.Literal) and isinstance(arg_node.value, str)):
                    self.reporter.error(arg_node.span, f"the {kind} of {name} must be a string literal")
                    ok = False
                elif kind == "pattern":
                    pattern = arg_node
                else:
                    replacement = arg_node
                continue
            element = typed[0].type.element if kind == "element" else None
            if not self._accepts(kind, arg.type, element):
                wanted = {"scalar": "a string or a number", "array": "an array"}.get(
                    kind, f"{element}" if element else kind
                )
                self.reporter.error(
                    arg_node.span,
                    f"argument {index + 1} of {name} must be {wanted}, not {arg.type}",
                    f"usage: {function.signature}",
                )
                ok = False
        substitution = None
        if ok and pattern is not None and replacement is not None:
            substitution = self._substitution(pattern, replacement)
            ok = substitution is not None
        if not ok:
            return None
        nullable = function.nullable
        returns = function.returns
        if function.returns_from == "array":  # Arrays.add(array, value) gives that array's type
            if typed[0].type != NULL:
                returns = typed[0].type
            elif len(typed) > 1:  # Arrays.add(NULL, 40): an array of what is added
                returns = ValueType(typed[1].type.base, True)
            # else Arrays.clear(NULL): an empty array of no known type (the function's own)
        elif function.returns_from == "element":  # Arrays.get(array, position)
            returns = typed[0].type.element if typed[0].type != NULL else NULL
        elif function.returns_from == "flatten":
            flattened = self._flattened(node, typed)
            if flattened is None:
                return None
            returns = flattened
        return PCall(returns, nullable, function, tuple(typed), substitution)

    def _time_literal(self, name: str, kind: str, node: ast.Expr) -> bool:
        """A time zone or Joda pattern: a string literal, checked now rather than per render."""
        what = "time zone" if kind == "timezone" else "time pattern"
        if not (isinstance(node, ast.Literal) and isinstance(node.value, str)):
            self.reporter.error(node.span, f"the {what} of {name} must be a string literal")
            return False
        try:
            if kind == "timezone":
                ZoneInfo(timefmt.zone_name(node.value))
            else:
                timefmt.compile_pattern(node.value)
        except (ValueError, ZoneInfoNotFoundError) as exc:
            message = str(exc) if kind == "timepattern" else f"unknown time zone {node.value!r}"
            hint = (
                "pattern letters: y M d H h m s S a Z E, text in 'quotes'"
                if kind == "timepattern"
                else ("a tz database name such as America/New_York, or UTC")
            )
            self.reporter.error(node.span, message, hint)
            return False
        return True

    def _flattened(self, node: ast.Call, typed: list[PExpr]) -> ValueType | None:
        """Arrays.flatten(10, {20, 30}, 40): an array of the items' one element type."""
        base: ValueType = NULL
        for arg_node, arg in zip(node.args, typed, strict=True):
            joined = self._join(base, arg.type.element)
            if joined is None:
                self.reporter.error(arg_node.span, f"Arrays.flatten mixes {base} and {arg.type.element}")
                return None
            base = joined
        return ValueType(base.base, True)

    # Okta EL that needs what a profile does not carry
    def _otherref(self, node: ast.OtherRef) -> None:
        reference = f"{node.scope}.{node.name}"
        if node.scope == "appuser":
            message = f"{reference} reads the app user's profile: that is the app-to-Okta direction"
        elif node.scope in _OKTA_CONTEXTS:
            message = f"{reference} reads Okta's {_OKTA_CONTEXTS[node.scope]}, which a gateway does not have"
        else:
            message = f"{reference} reads the profile of the app {node.scope!r}, which mapper does not have"
        self.reporter.error(node.span, message, "a mapping to the app reads the Okta user: user.ATTRIBUTE")

    def _member(self, node: ast.Member) -> None:
        self.reporter.error(
            node.span,
            f".{node.name} of another user or app user (a manager, a linked object, a directory account)",
            "a profile does not carry other users: map an attribute of the user (user.managerId, ...)",
        )

    # arrays
    def _arrayliteral(self, node: ast.ArrayLiteral) -> PExpr | None:
        items = [self.check(i) for i in node.items]
        if any(i is None for i in items):
            return None
        typed = [i for i in items if i is not None]
        element: ValueType = NULL
        for item_node, item in zip(node.items, typed, strict=True):
            joined = self._join(element, item.type) if not item.type.multi else None
            if joined is None:
                self.reporter.error(
                    item_node.span, f"an array holds one type: {element} and {item.type} do not mix"
                )
                return None
            element = joined
        return PArray(ValueType(element.base, True), False, tuple(typed))

    def _index(self, node: ast.Index) -> PExpr | None:
        array = self.check(node.array)
        position = self.check(node.position)
        if array is None or position is None:
            return None
        if not array.type.multi and array.type != NULL:
            self.reporter.error(node.array.span, f"only an array can be indexed, not {array.type}")
            return None
        if position.type not in (INTEGER, NULL):
            self.reporter.error(node.position.span, f"an array position is an integer, not {position.type}")
            return None
        return PIndex(array.type.element if array.type != NULL else NULL, True, array, position)

    def _matches(self, node: ast.Matches) -> PExpr | None:
        subject = self.check(node.subject)
        if subject is None:
            return None
        if subject.type not in (STRING, NULL):
            self.reporter.error(node.subject.span, f"matches tests a string, not {subject.type}")
            return None
        assert isinstance(node.pattern.value, str)
        try:
            compiled = compile_pattern(node.pattern.value)
        except PatternError as exc:
            self.reporter.error(node.pattern.span, str(exc), "RE2 syntax: no backreferences or lookaround")
            return None
        return PMatches(BOOLEAN, False, subject, node.pattern.value, compiled)

    def _substitution(self, pattern: ast.Literal, replacement: ast.Literal) -> Substitution | None:
        assert isinstance(pattern.value, str) and isinstance(replacement.value, str)
        try:
            compiled = compile_pattern(pattern.value)
        except PatternError as exc:
            hint = (
                "use smaller repetition counts, or split the work over several rules"
                if "too large" in str(exc)
                else "RE2 syntax: no backreferences or lookaround"
            )
            self.reporter.error(pattern.span, str(exc), hint)
            return None
        try:
            parts = replacement_parts(compiled, replacement.value)
        except PatternError as exc:
            hint = "write a dollar sign as \\$" if "`$`" in str(exc) else ""
            self.reporter.error(replacement.span, str(exc), hint)
            return None
        return Substitution(pattern.value, replacement.value, compiled, parts)

    @staticmethod
    def _accepts(kind: str, type_: ValueType, element: ValueType | None) -> bool:
        if type_ == NULL:
            return True  # null is every type's missing value (Arrays.size(NULL) is 0)
        if kind == "any":
            return True
        if kind == "array":
            return type_.multi
        if type_.multi:
            return False
        if kind == "scalar":
            return type_.base in ("string", "integer", "decimal")
        if kind == "element" and element is not None:
            return type_ == element or element == NULL or (type_.is_number and element.is_number)
        return type_.base == kind

    # operators
    def _binary(self, node: ast.Binary) -> PExpr | None:
        if node.op == "+":
            return self._plus(node)
        left = self.check(node.left)
        right = self.check(node.right)
        if left is None or right is None:
            return None
        if node.op in ("AND", "OR"):
            left, right = self._typed(left, BOOLEAN), self._typed(right, BOOLEAN)
        elif node.op != "?:":
            if right.type in (BOOLEAN, INTEGER, DECIMAL):
                left = self._typed(left, DECIMAL if right.type.is_number else BOOLEAN)
            if left.type in (BOOLEAN, INTEGER, DECIMAL):
                right = self._typed(right, DECIMAL if left.type.is_number else BOOLEAN)
        lt, rt = left.type, right.type
        if node.op in ("AND", "OR"):
            for side, typed in ((node.left, left), (node.right, right)):
                if typed.type not in (BOOLEAN, NULL):
                    self._not_boolean(side, typed, node.op)
                    return None
            return PBinary(BOOLEAN, False, node.op, left, right)
        if node.op == "?:":
            joined = self._join(lt, rt)
            if joined is None:
                self.reporter.error(
                    node.span, f"?: joins {lt} with {rt}", "both sides must give the same type"
                )
                return None
            return PBinary(joined, right.nullable, "?:", left, right)
        if lt.multi or rt.multi:
            self.reporter.error(
                node.span, f"cannot compare arrays with {node.op}", "use Arrays.contains or Arrays.size"
            )
            return None
        if node.op in ("==", "!="):
            if NULL not in (lt, rt) and lt != rt and not (lt.is_number and rt.is_number):
                self.reporter.error(
                    node.span,
                    f"comparing {lt} with {rt} is always {'false' if node.op == '==' else 'true'}",
                    "Convert.toInt or Convert.toNum turn strings into numbers",
                )
                return None
            return PBinary(BOOLEAN, False, node.op, left, right)
        # < <= > >=
        if not ((lt.is_number and rt.is_number) or (lt == rt == STRING)):
            self.reporter.error(
                node.span, f"cannot order {lt} and {rt} with {node.op}", "compare two numbers or two strings"
            )
            return None
        return PBinary(BOOLEAN, False, node.op, left, right)

    def _plus(self, node: ast.Binary) -> PExpr | None:
        """``+`` as in Java and Okta: left to right, adding two numbers, otherwise
        joining strings (``1 + 2 + "x"`` is "3x", ``"x" + 1 + 2`` is "x12")."""
        left = self.check(node.left)
        right = self.check(node.right)
        if left is None or right is None:
            return None
        for side, typed in ((node.left, left), (node.right, right)):
            if typed.type.multi or typed.type == BOOLEAN:
                self.reporter.error(
                    side.span, f"cannot use + on {typed.type}", "+ joins strings or adds numbers"
                )
                return None
        if left.type.is_number and right.type.is_number:
            type_ = INTEGER if left.type == right.type == INTEGER else DECIMAL
            return PBinary(type_, left.nullable or right.nullable, "+", left, right)
        # Joining strings is associative, so nested joins become one.
        parts = (left.parts if isinstance(left, PConcat) else (left,)) + (
            right.parts if isinstance(right, PConcat) else (right,)
        )
        return PConcat(STRING, all(p.nullable for p in parts), parts)

    def _not(self, node: ast.Not) -> PExpr | None:
        operand = self.check(node.operand)
        if operand is None:
            return None
        operand = self._typed(operand, BOOLEAN)
        if operand.type not in (BOOLEAN, NULL):
            self._not_boolean(node.operand, operand, "!")
            return None
        return PNot(BOOLEAN, operand.nullable, operand)

    def _conditional(self, node: ast.Conditional) -> PExpr | None:
        condition = self.check(node.condition)
        then = self.check(node.then)
        otherwise = self.check(node.otherwise)
        if condition is None or then is None or otherwise is None:
            return None
        if condition.type not in (BOOLEAN, NULL):
            self._not_boolean(node.condition, condition, "?:")
            return None
        joined = self._join(then.type, otherwise.type)
        if joined is None:
            self.reporter.error(
                node.span,
                f"the branches of ?: give {then.type} and {otherwise.type}",
                "both branches must give the same type (or null)",
            )
            return None
        return PCond(joined, then.nullable or otherwise.nullable, condition, then, otherwise)

    def _not_boolean(self, node: ast.Expr, typed: PExpr, op: str) -> None:
        hint = "test for a value with `!= null`" if typed.type == STRING else ""
        self.reporter.error(node.span, f"{op} needs true or false, not {typed.type}", hint)

    @staticmethod
    def _join(a: ValueType, b: ValueType) -> ValueType | None:
        if a == b:
            return a
        if a.multi and b.multi:  # arrays: an empty array literal ({}) joins any
            element = ExpressionChecker._join(a.element, b.element)
            return ValueType(element.base, True) if element is not None else None
        if a == NULL:
            return b
        if b == NULL:
            return a
        if a.is_number and b.is_number:
            return DECIMAL
        return None
