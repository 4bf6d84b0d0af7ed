"""The PatchOp that takes the app's current resource to what the ruleset wants.

``patch(old, new)`` works from two Okta profiles; a gateway that adopts an existing app
user, repairs drift, or lost its state has only the app's resource (``GET /Users/{id}``).
:func:`reconcile_message` compares that resource with the one the ruleset wants there,
:func:`~mapper.runtime.put.put_body` (the current resource with the owned slots set as the
ruleset renders the user, so nothing the ruleset does not own changes), and writes the
difference as RFC 7644 operations with paths: a whole attribute where it is simple, a
sub-attribute where it is complex, ``attr[type eq "T"]`` entries where a multi-valued
attribute's entries are told apart by type (added whole, removed whole, changed by
sub-attribute), and the whole list where they are not. Extension attributes are written
with their URN. Create-only targets are left as the app has them.
"""

from __future__ import annotations

from typing import Any

from mapper.core.patch_ops import message
from mapper.core.plan import Plan
from mapper.core.schema import CORE_USER
from mapper.core.scim_path import AttrPath
from mapper.runtime.put import json_copy
from mapper.runtime.put import target as owned_target

#: What the server keeps: never part of a PATCH.
_SERVER_OWNED = ("schemas", "id", "meta")


def reconcile_message(plan: Plan, current: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any] | None:
    """The PatchOp from CURRENT to what PLAN wants given DESIRED (the rendered user), or None
    when they agree on everything the ruleset owns."""
    target = owned_target(plan, current, desired)  # only read: no copy needed
    operations: list[dict[str, Any]] = []
    extensions = set(plan.extensions)
    for key in _keys(current, target):
        if key in _SERVER_OWNED:
            continue
        if key in extensions:
            before, after = current.get(key), target.get(key)
            inner_before = before if isinstance(before, dict) else {}
            inner_after = after if isinstance(after, dict) else {}
            for attr in _keys(inner_before, inner_after):
                was, now = inner_before.get(attr), inner_after.get(attr)
                if was is not now and was != now:  # the path is made only for a difference
                    _diff(operations, AttrPath(key, attr), was, now)
            continue
        before, after = current.get(key), target.get(key)
        if before is not after and before != after:  # most are the same object: the target's own
            _diff(operations, AttrPath(CORE_USER, key), before, after)
    # The values come from the target, which shares what it leaves alone with CURRENT: the
    # message is the caller's own, as a PUT body is.
    return message(json_copy(operations)) if operations else None


def _keys(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return [*a, *(k for k in b if k not in a)]


def _diff(ops: list[dict[str, Any]], path: AttrPath, before: Any, after: Any) -> None:
    if before == after:
        return
    if after is None:
        ops.append({"op": "remove", "path": str(path)})
        return
    if before is None:
        ops.append({"op": "add", "path": str(path), "value": after})
        return
    if path.sub is None and isinstance(before, dict) and isinstance(after, dict):
        for sub in _keys(before, after):  # SCIM has one level of sub-attributes: below, whole values
            _diff(ops, path.child(sub), before.get(sub), after.get(sub))
        return
    if (
        path.sub is None
        and isinstance(before, list)
        and isinstance(after, list)
        and _typed(before)
        and _typed(after)
    ):
        _entries(ops, path, before, after)
        return
    ops.append({"op": "replace", "path": str(path), "value": after})


def _typed(entries: list[Any]) -> bool:
    """Entries an ``attr[type eq "T"]`` filter tells apart: objects with distinct string types."""
    types = [e.get("type") if isinstance(e, dict) else None for e in entries]
    return all(isinstance(t, str) for t in types) and len(set(types)) == len(types)


def _entries(ops: list[dict[str, Any]], path: AttrPath, before: list[Any], after: list[Any]) -> None:
    old = {e["type"]: e for e in before}
    new = {e["type"]: e for e in after}
    # Removals first, then entries that stop being primary, then the rest: at no step do two
    # entries claim primary (RFC 7643 section 2.4).
    for kind in old:
        if kind not in new:
            ops.append({"op": "remove", "path": str(path.where_type(kind))})
    demoted = [k for k in new if k in old and old[k].get("primary") and not new[k].get("primary")]
    for kind in demoted:
        where = str(path.where_type(kind).child("primary"))
        value = new[kind].get("primary")
        ops.append(
            {"op": "remove", "path": where}
            if value is None
            else {"op": "replace", "path": where, "value": value}
        )
    for kind, entry in new.items():
        if kind not in old:
            ops.append({"op": "add", "path": str(path), "value": [entry]})
            continue
        previous = old[kind]
        for sub in _keys(previous, entry):
            if sub == "type" or previous.get(sub) == entry.get(sub) or (sub == "primary" and kind in demoted):
                continue
            where = str(path.where_type(kind).child(sub))
            if sub not in entry:
                ops.append({"op": "remove", "path": where})
            else:
                ops.append({"op": "replace", "path": where, "value": entry[sub]})
