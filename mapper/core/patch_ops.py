"""The RFC 7644 PATCH operations every patch style writes the same way: a leaf's ``add``,
``replace`` or ``remove``, and the changes of multi-valued entries told apart by type.

Shared by the patch styles (:mod:`mapper.runtime.patch`) and the generated ``patch_rfc``
function (:mod:`mapper.compiler.patchgen`), which writes RFC-style operations as it finds
the changes.
"""

from __future__ import annotations

from typing import Any, Protocol

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
Operation = dict[str, Any]


class EntryPaths(Protocol):
    """One owned entry of a multi-valued attribute (mapper.compiler.patchgen.Entry)."""

    @property
    def path(self) -> str: ...  # emails[type eq "work"]
    @property
    def sub_paths(self) -> tuple[tuple[str, str], ...]: ...  # (sub-attribute, its filtered path)


class MultiUnit(Protocol):
    """A multi-valued attribute and the entries the ruleset owns (mapper.compiler.patchgen.Unit)."""

    @property
    def path(self) -> str: ...
    @property
    def entries(self) -> tuple[EntryPaths, ...]: ...


def message(operations: list[Operation]) -> dict[str, Any]:
    """The PatchOp message that carries OPERATIONS."""
    return {"schemas": [PATCH_OP], "Operations": operations}


def leaf(path: str, old: Any, new: Any) -> Operation:
    """The operation that takes PATH from OLD to NEW (None: no value), which differ."""
    if new is None:
        return {"op": "remove", "path": path}
    return {"op": "add" if old is None else "replace", "path": path, "value": new}


def entries(ops: list[Operation], unit: MultiUnit, old: tuple[Any, ...], new: tuple[Any, ...]) -> None:
    """Append to OPS the operations from OLD to NEW (one entry dict or None per owned entry of
    UNIT): an entry added whole, removed whole, or changed by sub-attribute."""
    for entry, before, after in zip(unit.entries, old, new):  # noqa: B905 - one per entry by construction
        if before == after:
            continue
        if before is None:
            ops.append({"op": "add", "path": unit.path, "value": [after]})
        elif after is None:
            ops.append({"op": "remove", "path": entry.path})
        else:
            for sub, path in entry.sub_paths:
                was, now = before.get(sub), after.get(sub)
                if was == now:
                    continue
                if now is None:
                    ops.append({"op": "remove", "path": path})
                else:
                    ops.append({"op": "add" if was is None else "replace", "path": path, "value": now})
