"""The app-to-Okta half of ``mapper import okta``: Okta's mapping from the app user to the
Okta user (``GET /api/v1/mappings?sourceId={appId}``: ``properties: {oktaAttribute:
{expression, pushStatus}}``) as inbound rules.

Okta's expressions read the app user by its App User Schema variables (``appuser.givenName``);
a ruleset reads SCIM paths (``appuser.name.givenName``). Each variable is translated through
its External Name and Namespace, as the outbound half translates targets; an entry Okta
selects by ``primary`` takes the type the outbound mapping gives it. ``DONT_PUSH`` is
``on create``. What cannot be translated is kept as a comment that says why, and reported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from mapper.core.schema import CORE_USER, is_schema_urn
from mapper.errors import Span
from mapper.language import ast
from mapper.okta.importer import Mapped, Property, Rule
from mapper.okta.paths import parse_external_name


class _Untranslatable(Exception):
    """An app user variable that names no SCIM path mapper can read."""


def inbound_rules(
    mapped: list[Mapped],
    properties: Mapping[str, Property],
    alias: Callable[[str], str | None],
    entry_types: Mapping[tuple[str, str, bool], str],
) -> list[Rule]:
    """A rule per app-to-Okta mapping, in its order, ``user.ATTRIBUTE <- EXPRESSION``; one that
    cannot be translated carries its problem. ALIAS gives a schema URN's alias (None for the
    core), ENTRY_TYPES the type of each entry Okta selects by primary. Each rule's ``reads``
    are the app properties it reads, for the schema declarations."""
    from mapper.language.syntax import parse_expression
    from mapper.language.unparse import expression as text_of

    rules = []
    for m in mapped:
        rule = Rule(
            f"user.{m.variable}", m.expression, m.create_only, False, f"Okta: {m.expression}", "", m.variable
        )
        rule.okta_attribute = m.variable
        if not _okta_name(m.variable):
            rule.problem = f"{m.variable!r} is not an Okta attribute name mapper can write"
            rules.append(rule)
            continue
        parsed, problem = parse_expression(m.expression, "<okta>")
        if parsed is None:
            rule.problem = f"not an expression mapper reads: {problem}"
            rules.append(rule)
            continue
        variables: list[str] = []

        def translate(node: ast.AppAttr, used: list[str] = variables, into: Rule = rule) -> ast.Expr:
            p = node.path
            if p.schema is not None or p.filter_type is not None or p.sub is not None:
                raise _Untranslatable(f"appuser.{text_of(node)[8:]} is not an app user variable")
            used.append(p.attr)
            path, prop = _path(p.attr, properties, alias, entry_types)
            into.reads.append((prop.namespace or CORE_USER, path.attr, prop))
            return ast.AppAttr(path, node.span)

        try:
            translated = ast.with_app_attrs(parsed, translate)
        except _Untranslatable as exc:
            rule.problem = str(exc)
            rules.append(rule)
            continue
        rule.expression = text_of(translated)
        rule.comment = "Okta: " + (
            ", ".join(f"appuser.{v}" for v in dict.fromkeys(variables)) or "no app value"
        )
        rules.append(rule)
    return rules


def _okta_name(name: str) -> bool:
    """Whether NAME can be an Okta user attribute in a ruleset (user.NAME)."""
    return name.isascii() and name.replace("_", "a").isalnum() and not name[:1].isdigit()


def _path(
    variable: str,
    properties: Mapping[str, Property],
    alias: Callable[[str], str | None],
    entry_types: Mapping[tuple[str, str, bool], str],
) -> tuple[ast.Target, Property]:
    """The SCIM path app user VARIABLE names, as a path node, and its property; _Untranslatable
    when it names none mapper reads."""
    prop = properties.get(variable)
    if prop is None:
        raise _Untranslatable(f"appuser.{variable}: the App User Schema has no such property")
    if not prop.external_name or not prop.namespace:
        raise _Untranslatable(
            f"appuser.{variable} has no External Name and Namespace, so Okta reads no SCIM value for it"
        )
    path = parse_external_name(prop.external_name)
    if path is None or not is_schema_urn(prop.namespace):
        raise _Untranslatable(
            f"appuser.{variable}: {prop.external_name!r} is not a SCIM path mapper can read"
        )
    entry = path.value if path.key == "type" else None
    if path.key == "primary":
        assert isinstance(path.value, bool)
        entry = entry_types.get((prop.namespace, path.attr, path.value))
        if entry is None:
            raise _Untranslatable(
                f"appuser.{variable}: Okta selects the entry by primary, and nothing in the mapping to the "
                'app gives its type: write the rule by hand, reading appuser.ATTRIBUTE[type eq "TYPE"]'
            )
    assert entry is None or isinstance(entry, str)
    schema = alias(prop.namespace)
    nowhere = Span("<okta>", 1, 1, 1, 1)
    target = ast.Target(schema, path.attr, entry, path.sub, nowhere, None, nowhere, None,
                        "type" if entry is not None else None, None)  # fmt: skip
    return target, prop
