"""How an update is written to the app: the PATCH styles (mapper.runtime.patch), and PUT beside
them where a command or sync lets the admin choose."""

from __future__ import annotations

from enum import StrEnum


class PatchStyle(StrEnum):
    """How a PatchOp message is written (see mapper.runtime.patch)."""

    RFC = "rfc"  # one operation per changed attribute, entries by [type eq "T"] filters
    NO_PATH = "no-path"  # one path-less replace of the changed simple attributes (Okta's own style)
    WHOLE_MULTIVALUED = "whole-multivalued"  # multi-valued attributes replaced whole


class UpdateStyle(StrEnum):
    """How a changed user is written to the app: a PATCH style, or a PUT of the whole resource."""

    RFC = PatchStyle.RFC.value
    NO_PATH = PatchStyle.NO_PATH.value
    WHOLE_MULTIVALUED = PatchStyle.WHOLE_MULTIVALUED.value
    PUT = "put"

    @property
    def patch_style(self) -> PatchStyle | None:
        """The PATCH style this is, or None for PUT."""
        return None if self is UpdateStyle.PUT else PatchStyle(self.value)
