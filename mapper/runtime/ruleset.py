"""The runtime object: a compiled ruleset and the calls a gateway makes per request."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mapper.compiler import codegen, compile_cache
from mapper.core.helpers import describe, split_user
from mapper.core.patch_ops import message
from mapper.core.plan import Constant, Plan
from mapper.core.styles import PatchStyle
from mapper.errors import Diagnostic, ProfileError, RulesetError, Severity
from mapper.language.resources import (
    RULESET_SUFFIX,
    Dependency,
    builtin_names,
    builtin_path,
    read_ruleset_file,
)
from mapper.runtime import patch
from mapper.runtime.put import put_body
from mapper.runtime.reconcile import reconcile_message

if TYPE_CHECKING:
    from mapper.compiler.patchgen import Unit


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled rule, for gateways and review tools."""

    target: str  # the SCIM path, e.g. 'emails[type eq "work"].value'
    sources: tuple[str, ...]  # Okta profile attributes the rule reads
    internal_sources: tuple[str, ...]  # Users API fields it reads (id, status, ...)
    create_only: bool
    primary: bool
    default: Constant
    expression: str  # the expression alone, in the formatter's canonical form
    origin: str  # name of the ruleset that wrote it (differs for inherited rules)
    location: str  # file:line
    text: str  # the whole rule as written (its lines joined)


#: The common style, compared by identity on the hot path.
_RFC = PatchStyle.RFC


class Ruleset:
    """A checked and compiled ruleset. Create it with :func:`mapper.load` or :func:`mapper.loads`."""

    def __init__(self, plan: Plan, warnings: tuple[Diagnostic, ...]) -> None:
        source, namespace = codegen.generate(plan)
        self.plan = plan
        self.name = plan.name
        self.warnings = warnings
        self.render_source = source  # the generated Python, for `mapper compile`
        self._render: Callable[[Any], dict[str, Any]] = codegen.load_function(
            source, namespace, plan, "render"
        )
        # The generated function itself answers ruleset.render(user): no call in between (the
        # method below is reached only through the class: Ruleset.render(ruleset, user)).
        self.render = self._render  # type: ignore[method-assign]
        self.rules = tuple(
            Rule(
                r.target.path,
                r.sources,
                r.internal_sources,
                r.create_only,
                r.primary,
                r.default,
                r.expression,
                r.origin,
                f"{r.span.file}:{r.span.line}",
                r.text,
            )
            for r in plan.rules
        )

    @property
    def source(self) -> str:
        """All the generated Python: render, render_short, changes (for patch), render_update
        and inbound."""
        parts = (self.render_source, self._short[0], self._changes[0], self._update[0], self._inbound[0])
        return "\n\n".join(parts)

    # The PATCH machinery is compiled on first use: many callers only render.
    @cached_property
    def _changes(self) -> tuple[str, Callable[..., list[Any]], tuple[Unit, ...]]:
        from mapper.compiler.patchgen import generate_changes

        this = weakref.ref(self)  # the generated code must not keep the ruleset alive (a cycle)

        def other_style(old: Any, new: Any, style: Any) -> dict[str, Any] | None:
            ruleset = this()
            assert ruleset is not None  # its patch is being called
            return ruleset._patch_styled(old, new, style)

        source, namespace, units = generate_changes(self.plan, other_style)
        return source, codegen.load_function(source, namespace, self.plan, "changes"), units

    @cached_property
    def _patch_rfc(self) -> Callable[..., dict[str, Any] | None]:
        """The generated patch_rfc (compiled with changes, in the same source). From now on it
        answers ruleset.patch itself, as the generated render answers ruleset.render: the RFC
        style with no call in between, any other style handed back to _patch_styled."""
        function: Callable[..., dict[str, Any] | None] = self._changes[1].__globals__["patch_rfc"]
        self.patch = function  # type: ignore[method-assign]
        return function

    @cached_property
    def _inbound(self) -> tuple[str, Callable[[Any], dict[str, Any]], frozenset[str]]:
        from mapper.compiler.inboundgen import generate

        source, namespace = generate(self.plan)
        function = codegen.load_function(source, namespace, self.plan, "inbound")
        return source, function, frozenset(r.attr for r in self.plan.inbound if r.create_only)

    @property
    def render_short(self) -> Callable[[Any], dict[str, Any]]:
        """:meth:`render` for a user read from a JSON text of at most 10,000 bytes
        (``mapper.core.helpers.MAX_VALUE_CHARS``): the same resource or the same error,
        without checking the length of each string read (a string in such a text is shorter
        than Okta's 10,000-character limit for a value). Compiled on first use; ``mapper
        render`` calls it for every record that short."""
        return self._short[1]

    @cached_property
    def _short(self) -> tuple[str, Callable[[Any], dict[str, Any]]]:
        source, namespace = codegen.generate(self.plan, short=True)
        return source, codegen.load_function(source, namespace, self.plan, "render_short")

    @cached_property
    def _update(self) -> tuple[str, Callable[..., dict[str, Any]]]:
        source, namespace = codegen.generate(self.plan, update=True)
        return source, codegen.load_function(source, namespace, self.plan, "render_update")

    def render(self, user: dict[str, Any]) -> dict[str, Any]:
        """The SCIM User resource for an Okta profile or Okta Users API object.

        Raises :class:`ProfileError` for input that cannot be mapped. The result
        is a new dict every call; nothing in it is shared with the input except
        immutable strings.
        """
        return self._render(user)

    def inbound(self, resource: dict[str, Any], *, update: bool = False) -> dict[str, Any]:
        """The Okta profile attributes the app's SCIM RESOURCE maps to, by the ruleset's inbound
        rules (declared, and derived from its plain copies): one key per rule, None where the
        resource gives no value. What Okta's import sets on a user it creates; with UPDATE,
        only the attributes an import updates on a matched user (the PUSH rules: ``on create``
        rules, Okta's DONT_PUSH, left out).

        Raises :class:`~mapper.errors.ResourceError` (a :class:`ProfileError`) for input that
        cannot be mapped. Attribute names are matched without regard to case, as RFC 7643
        defines them; a multi-valued entry is the primary one of its type, else the first."""
        _, function, create_only = self._inbound
        profile: dict[str, Any] = function(resource)
        if update and create_only:
            return {k: v for k, v in profile.items() if k not in create_only}
        return profile

    def create(self, user: dict[str, Any]) -> dict[str, Any]:
        """The body of the POST that creates the user in the app (create-only rules included)."""
        return self.render(user)

    def updated(self, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        """The resource the app holds after the update from OLD to NEW: render(NEW),
        except that targets of create-only rules keep their values from OLD."""
        old_profile, old_fields = split_user(old)
        new_profile, new_fields = split_user(new)
        resource: dict[str, Any] = self._update[1](new_profile, new_fields, old_profile, old_fields)
        return resource

    def patch(
        self, old: dict[str, Any], new: dict[str, Any], style: PatchStyle | str = PatchStyle.RFC
    ) -> dict[str, Any] | None:
        """The RFC 7644 PatchOp message that takes the app's user from OLD to NEW, or None
        when nothing the ruleset maps has changed: there is no request to send (RFC 7644
        section 3.5.2 requires one or more operations, and servers reject an empty list).

        Only rules whose source attributes differ are evaluated; operations come
        in ruleset order; create-only rules produce none. STYLE is a
        :class:`~mapper.core.styles.PatchStyle` or its name ("rfc", "no-path",
        "whole-multivalued"; see :mod:`mapper.runtime.patch`). A PUT is another
        request: its body is :meth:`put`.
        """
        return self._patch_rfc(old, new, style)  # compiled on first use (then called directly)

    def _patch_styled(
        self, old: dict[str, Any], new: dict[str, Any], style: PatchStyle | str
    ) -> dict[str, Any] | None:
        """patch in STYLE (a PatchStyle or its name): the RFC style by patch_rfc, the others from
        the changes function's list."""
        if style.__class__ is not PatchStyle:
            style = patch.patch_style(style)
        if style is _RFC:
            return self._patch_rfc(old, new)
        (old_profile, old_fields), (new_profile, new_fields) = split_user(old), split_user(new)
        _, changes, units = self._changes
        changed = changes(old_profile, old_fields, new_profile, new_fields)
        operations = patch.operations(units, changed, style) if changed else []
        return message(operations) if operations else None

    def put(self, current: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
        """The body of a PUT that brings the app's user in line with USER, built as Okta
        builds one: CURRENT (the app's resource, from GET) with the attributes the ruleset
        owns replaced or removed, and everything else (id, meta, groups, attributes the
        ruleset does not map, create-only targets) kept. A server may clear what a PUT
        omits (RFC 7644 section 3.5.1), so a body of owned attributes alone is not safe."""
        if not isinstance(current, dict):
            raise ProfileError(
                f"expected the app's current resource as a JSON object, got {describe(current)}"
            )
        return put_body(self.plan, current, self.render(user))

    def reconcile(self, current: dict[str, Any], user: dict[str, Any]) -> dict[str, Any] | None:
        """The PatchOp that takes the app's CURRENT resource (from GET) to what the ruleset
        wants for USER, touching only what the ruleset owns (create-only targets, attributes
        it does not map, ``id``, ``meta`` and ``schemas`` are left as the app has them); None
        when they already agree. For adopting existing app users, repairing drift, and
        gateways that lost their state. See :mod:`mapper.runtime.reconcile`."""
        if not isinstance(current, dict):
            raise ProfileError(
                f"expected the app's current resource as a JSON object, got {describe(current)}"
            )
        return reconcile_message(self.plan, current, self.render(user))

    def deactivate(self, style: PatchStyle | str = PatchStyle.NO_PATH) -> dict[str, Any]:
        """The PATCH that deactivates the user (Okta never deletes app users). By default
        Okta's own body, ``replace`` with no path and ``{"active": false}``, which every app
        built for Okta accepts; ``style="rfc"`` gives the pathed form."""
        return _set_active(False, style)

    def reactivate(self, style: PatchStyle | str = PatchStyle.NO_PATH) -> dict[str, Any]:
        """The PATCH that reactivates the user (Okta's body by default, as :meth:`deactivate`)."""
        return _set_active(True, style)

    def __repr__(self) -> str:
        return f"<Ruleset {self.name!r}: {len(self.rules)} rules>"


def _set_active(active: bool, style: PatchStyle | str) -> dict[str, Any]:
    if patch.patch_style(style) is PatchStyle.NO_PATH:
        return message([{"op": "replace", "value": {"active": active}}])
    return message([{"op": "replace", "path": "active", "value": active}])


def loads(
    text: str,
    name: str = "<string>",
    base_dir: str | os.PathLike[str] | None = None,
    cache: bool = True,
) -> Ruleset:
    """Compile ruleset TEXT. NAME is used in diagnostics; ``extends`` looks in
    BASE_DIR first (when given), then among the built-in rulesets.

    A ruleset compiled before (same text, name, folder, extended files and mapper)
    is read from the compile cache without parsing; see :mod:`mapper.compiler.compile_cache`.
    ``cache=False`` always parses and checks (and neither reads nor writes the cache)."""
    folder = Path(base_dir) if base_dir is not None else None
    use_cache = cache and compile_cache.enabled()
    if use_cache:
        cached = _from_cache(text, name, folder)
        if cached is not None:
            return cached
    from mapper.language.loader import load_plan  # the parser and checker, only when needed

    dependencies: list[Dependency] = []
    plan, warnings = load_plan(text, name, folder, dependencies)
    ruleset = Ruleset(plan, warnings)
    if use_cache:
        compile_cache.store(text, name, folder, plan, warnings, dependencies)
    return ruleset


def _from_cache(text: str, name: str, folder: Path | None) -> Ruleset | None:
    found = compile_cache.lookup(text, name, folder)
    if found is None:
        return None
    try:
        return Ruleset(*found)
    except Exception:  # a plan the generator refuses: compile afresh
        return None


def load(ruleset: str | os.PathLike[str], cache: bool = True) -> Ruleset:
    """Compile a ruleset file, or a built-in ruleset by name (``okta-default``);
    ``cache`` as for :func:`loads`."""
    path = Path(ruleset)
    text_ref = str(ruleset)
    looks_like_path = path.suffix == RULESET_SUFFIX or os.sep in text_ref or "/" in text_ref
    if not looks_like_path and not path.exists():
        builtin = builtin_path(text_ref)
        if builtin is None:
            names = ", ".join(builtin_names())
            raise RulesetError(
                [
                    Diagnostic(
                        Severity.ERROR,
                        f"no ruleset file or built-in ruleset named {text_ref!r} (built-ins: {names})",
                        None,
                    )
                ]
            )
        return loads(read_ruleset_file(builtin), f"<builtin>/{builtin.name}", builtin.parent, cache)
    text = read_ruleset_file(path)
    return loads(text, text_ref, path.parent, cache)
