"""An allowlist for generated code: what the compiler may emit, and nothing else.

Used on every ruleset the fuzz tests manage to compile: no imports, no
attribute access but the few the generator writes, no calls but to the
runtime's helpers, no names but the generator's own.
"""

from __future__ import annotations

import ast
import re

import mapper

ALLOWED_NODES = (
    ast.Module, ast.FunctionDef, ast.arguments, ast.arg, ast.Assign, ast.If, ast.Return, ast.Expr,
    ast.Call, ast.Name, ast.Constant, ast.Dict, ast.List, ast.Tuple, ast.Subscript, ast.Compare,
    ast.BoolOp, ast.UnaryOp, ast.BinOp, ast.IfExp, ast.NamedExpr, ast.Attribute, ast.Try,
    ast.ExceptHandler, ast.Raise, ast.Load, ast.Store, ast.Eq, ast.NotEq, ast.Is, ast.IsNot,
    ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.And, ast.Or, ast.Not, ast.Add, ast.USub, ast.In, ast.NotIn,
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"get", "append", "update", "__class__", "issuperset"}
FIXED_NAMES = {
    "profile", "internal", "old_profile", "old_internal", "old", "new", "old_fields", "new_fields",
    "get", "og", "ng", "out", "schemas", "resource", "exc", "str", "list", "len", "None", "True", "False",
    "bool", "int", "float",  # element classes passed to _read_array
    "dict",  # the inbound function's test of its input, and render's of its user
    "user",  # render's argument
    "style",  # patch_rfc's argument (it is the ruleset's patch, once compiled)
}  # fmt: skip
GENERATED_NAME = re.compile(r"^[a-z]{1,3}\d+$")
BUILTIN_CALLS = {"str", "list", "len", "og", "ng", "get"}  # and the dict.get aliases the generator binds


def check_generated_code(ruleset: mapper.Ruleset) -> None:
    tree = ast.parse(ruleset.source)
    helpers = {
        name
        for function in (
            ruleset._render,
            ruleset.render_short,
            ruleset._changes[1],
            ruleset._update[1],
            ruleset._inbound[1],
        )
        for name in function.__globals__
        if name.startswith("_") and not name.startswith("__")
    }
    assert [type(node) for node in tree.body] == [ast.FunctionDef] * 6
    for node in ast.walk(tree):
        assert isinstance(node, ALLOWED_NODES), f"{type(node).__name__} in generated code"
        if isinstance(node, ast.Attribute):
            assert node.attr in ALLOWED_ATTRIBUTES and isinstance(node.value, ast.Name), ast.dump(node)
        elif isinstance(node, ast.Name):
            name = node.id
            assert name in FIXED_NAMES or name in helpers or GENERATED_NAME.match(name), name
        elif isinstance(node, ast.Call):
            function = node.func
            if isinstance(function, ast.Name):
                assert (
                    function.id in helpers
                    or function.id in BUILTIN_CALLS
                    or GENERATED_NAME.match(function.id)
                ), function.id
            else:
                assert isinstance(function, ast.Attribute) and function.attr in (
                    "get", "append", "update", "issuperset",
                )  # fmt: skip
        elif isinstance(node, ast.FunctionDef):
            assert node.name in ("render", "render_short", "changes", "patch_rfc", "render_update", "inbound")
            assert not node.decorator_list
    for name in helpers:
        value = ruleset._render.__globals__.get(name) or ruleset._changes[1].__globals__.get(name)
        value = value or ruleset._update[1].__globals__.get(name) or ruleset._inbound[1].__globals__.get(name)
        if name == "_SCALARS":
            assert value == frozenset({str, bool, int, float, type(None)})
            continue
        if isinstance(value, frozenset | dict):  # the inbound function's attribute name tables
            assert all(
                isinstance(k, str) and isinstance(value[k] if isinstance(value, dict) else k, str)
                for k in value
            )
            continue
        module = getattr(value, "__module__", "") or type(value).__module__
        assert module.startswith(("mapper.", "re2", "_re2")), (name, value)
