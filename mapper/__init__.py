"""mapper: compile Okta-to-SCIM mapping rulesets into fast Python functions.

>>> import mapper
>>> ruleset = mapper.load("okta-default")
>>> ruleset.render({"login": "ada@example.com"})["userName"]
'ada@example.com'

The names below are imported when first used, so that ``import mapper.cli``
(and ``mapper --help``) does not pay for the compiler.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from mapper.core.styles import PatchStyle as PatchStyle
    from mapper.errors import Diagnostic as Diagnostic
    from mapper.errors import MapperError as MapperError
    from mapper.errors import ProfileError as ProfileError
    from mapper.errors import ResourceError as ResourceError
    from mapper.errors import RulesetError as RulesetError
    from mapper.errors import Severity as Severity
    from mapper.errors import Span as Span
    from mapper.language.resources import builtin_names as builtin_names
    from mapper.runtime.ruleset import Rule as Rule
    from mapper.runtime.ruleset import Ruleset as Ruleset
    from mapper.runtime.ruleset import load as load
    from mapper.runtime.ruleset import loads as loads

_WHERE = {
    "PatchStyle": "mapper.core.styles",
    "Diagnostic": "mapper.errors",
    "MapperError": "mapper.errors",
    "ProfileError": "mapper.errors",
    "ResourceError": "mapper.errors",
    "RulesetError": "mapper.errors",
    "Severity": "mapper.errors",
    "Span": "mapper.errors",
    "builtin_names": "mapper.language.resources",
    "Rule": "mapper.runtime.ruleset",
    "Ruleset": "mapper.runtime.ruleset",
    "load": "mapper.runtime.ruleset",
    "loads": "mapper.runtime.ruleset",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'mapper' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
