"""The optional parts of mapper and what they need: the base install renders, checks,
formats, reviews, plans and patches; talking to an app (``sync``, ``probe``, ``check --schemas URL``)
and ``--validate`` pull their libraries through extras. A command that needs a missing
extra stops with one line that says what to install."""

from __future__ import annotations

import importlib
from enum import StrEnum

from mapper.errors import ExitCode, MapperError

#: The name mapper is installed under ("mapper" on the package index is another project).
DISTRIBUTION = "okta-scim-mapper"


class Extra(StrEnum):
    """An optional part of mapper, named as pip installs it."""

    SYNC = "sync"  # an app's SCIM API: sync, probe, check --schemas URL
    VALIDATE = "validate"  # --validate: resources checked by scim2-models


#: The modules each extra brings, as imported.
_MODULES = {
    Extra.SYNC: ("httpx2",),
    Extra.VALIDATE: ("scim2_models",),
}


class MissingExtra(MapperError):
    """A command needs libraries of an extra that is not installed (exit 2, as bad usage)."""

    exit_code = ExitCode.USAGE


def require(extra: Extra, what: str) -> None:
    """Import EXTRA's modules; MissingExtra (saying WHAT needs them and how to install them)
    when one is missing."""
    for module in _MODULES[extra]:
        try:
            importlib.import_module(module)
        except ImportError:
            raise MissingExtra(
                f"{what} needs mapper's {extra} extra ({module} is not installed): "
                f"pip install '{DISTRIBUTION}[{extra}]' (from a clone: pip install '.[{extra}]')"
            ) from None
