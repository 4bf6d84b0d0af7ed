"""The runtime object: a compiled ruleset and the calls a gateway makes per request."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mapper.codegen import compile_plan
from mapper.errors import Diagnostic, ProfileError, RulesetError, Severity
from mapper.loader import load_plan, read_ruleset_file
from mapper.plan import Constant, Plan
from mapper.resources import RULESET_SUFFIX, builtin_names, builtin_path
from mapper.runtime import describe

_NO_FIELDS: dict[str, Any] = {}


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled rule, for gateways and review tools."""

    target: str  # the SCIM path, e.g. 'emails[type eq "work"].value'
    sources: tuple[str, ...]  # Okta profile attributes the rule reads
    internal_sources: tuple[str, ...]  # Users API fields it reads (id, status, ...)
    create_only: bool
    primary: bool
    default: Constant
    expression: str  # the rule as written
    origin: str  # name of the ruleset that wrote it (differs for inherited rules)
    location: str  # file:line


class Ruleset:
    """A checked and compiled ruleset. Create it with :func:`mapper.load` or :func:`mapper.loads`."""

    def __init__(self, plan: Plan, warnings: tuple[Diagnostic, ...]) -> None:
        compiled = compile_plan(plan)
        self.plan = plan
        self.name = plan.name
        self.warnings = warnings
        self.source = compiled.source  # the generated Python, for `mapper compile`
        self._render = compiled.render
        self.rules = tuple(
            Rule(
                r.target.path,
                r.sources,
                r.internal_sources,
                r.create_only,
                r.primary,
                r.default,
                r.text,
                r.origin,
                f"{r.span.file}:{r.span.line}",
            )
            for r in plan.rules
        )

    def render(self, user: dict[str, Any]) -> dict[str, Any]:
        """The SCIM User resource for an Okta profile or Okta Users API object.

        Raises :class:`ProfileError` for input that cannot be mapped. The result
        is a new dict every call; nothing in it is shared with the input except
        immutable strings.
        """
        profile, fields = split_user(user)
        return self._render(profile, fields)

    def __repr__(self) -> str:
        return f"<Ruleset {self.name!r}: {len(self.rules)} rules>"


def split_user(user: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """(profile, Users API fields) from either input shape.

    A Users API object is recognised by its ``profile`` member being an object;
    anything else that is an object is taken as a bare profile.
    """
    if not isinstance(user, dict):
        raise ProfileError(
            f"expected a JSON object (an Okta profile or Users API user), got {describe(user)}"
        )
    inner = user.get("profile")
    if isinstance(inner, dict):
        return inner, user
    return user, _NO_FIELDS


def loads(text: str, name: str = "<string>", base_dir: str | os.PathLike[str] | None = None) -> Ruleset:
    """Compile ruleset TEXT. NAME is used in diagnostics; ``extends`` looks in
    BASE_DIR first (when given), then among the built-in rulesets."""
    plan, warnings = load_plan(text, name, Path(base_dir) if base_dir is not None else None)
    return Ruleset(plan, warnings)


def load(ruleset: str | os.PathLike[str]) -> Ruleset:
    """Compile a ruleset file, or a built-in ruleset by name (``okta-default``)."""
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
        return loads(read_ruleset_file(builtin), f"<builtin>/{builtin.name}", builtin.parent)
    text = read_ruleset_file(path)
    return loads(text, text_ref, path.parent)
