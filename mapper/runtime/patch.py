"""Changed units to RFC 7644 PATCH operations, in the styles downstream servers need.

Every style emits operations in ruleset order, touches only what the ruleset
owns (the attributes its rules set and the multi-valued entries of the types
they name), and never names ``schemas``: a SCIM service provider lists an
extension in ``schemas`` while the resource has a value in it (RFC 7643
section 3), so adding an extension's first attribute or removing its last one
is enough.

- ``rfc``: one operation per changed target. A plain path is ``add``ed when
  it had no value, ``replace``d when it had one, ``remove``d when the value
  is gone. A multi-valued entry is added whole (``add emails [{...}]``) when
  the app has no entry of that type (a filter that matches nothing is a
  ``noTarget`` error), removed whole (``remove emails[type eq "work"]``) when
  its last value goes, and otherwise changed through the filtered path.
- ``no-path``: the plain-path ``add``s and ``replace``s merged into one
  ``replace`` without a path whose value has dotted and URN-qualified keys
  (what Okta and Entra send), followed by what that form cannot express
  (removals, and multi-valued entries as in ``rfc``).
- ``whole-multivalued``: as ``rfc``, but a multi-valued attribute is always
  replaced as a whole array (or removed when empty), for servers without
  filter support. This replaces entries of other types too.
- ``put``: not operations but the whole resource, for servers that only
  accept PUT (see :meth:`mapper.Ruleset.patch`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, assert_never

from mapper.core.patch_ops import Operation
from mapper.core.patch_ops import entries as _entries
from mapper.core.patch_ops import leaf as _leaf
from mapper.core.scim_path import summary
from mapper.core.styles import PatchStyle

if TYPE_CHECKING:
    from mapper.compiler.patchgen import Change, Unit

#: Module names for the members the hot path compares with: no lookup on the enum per call.
_RFC: Final = PatchStyle.RFC
_NO_PATH: Final = PatchStyle.NO_PATH


def operations(units: tuple[Unit, ...], changes: list[Change], style: PatchStyle) -> list[Operation]:
    """The operations for CHANGES (from the generated changes function) in STYLE."""
    if style is _RFC:
        return _rfc(units, changes, whole_multivalued=False)
    if style is _NO_PATH:
        return _no_path(units, changes)
    if style is PatchStyle.WHOLE_MULTIVALUED:
        return _rfc(units, changes, whole_multivalued=True)
    assert_never(style)


_BY_NAME = {style.value: style for style in PatchStyle}


def patch_style(style: PatchStyle | str) -> PatchStyle:
    """STYLE as a PatchStyle; a ValueError that says what to use for any other name (PUT is
    not a PATCH style: its body is another request)."""
    found = _BY_NAME.get(style)  # a dict lookup: patch() asks on every call
    if found is not None:
        return found
    if style == "put":
        raise ValueError(
            "put is not a PATCH style: a PUT's body is Ruleset.put(current, user), "
            "the app's resource with what the ruleset owns brought in line"
        )
    raise ValueError(f"unknown patch style {style!r}; styles: {', '.join(PatchStyle)}")


def _rfc(units: tuple[Unit, ...], changes: list[Change], whole_multivalued: bool) -> list[Operation]:
    ops: list[Operation] = []
    for index, old, new in changes:
        unit = units[index]
        if unit.kind == "leaf":
            ops.append(_leaf(unit.path, old, new))
        elif whole_multivalued:
            ops.append(_whole(unit, old, new))
        else:
            _entries(ops, unit, old, new)
    return ops


def _whole(unit: Unit, old: tuple[Any, ...], new: tuple[Any, ...]) -> Operation:
    before = [e for e in old if e is not None]
    after = [e for e in new if e is not None]
    return _leaf(unit.path, before or None, after or None)


def _no_path(units: tuple[Unit, ...], changes: list[Change]) -> list[Operation]:
    merged: dict[str, Any] = {}
    others: list[Operation] = []
    for index, old, new in changes:
        unit = units[index]
        if unit.kind == "leaf" and new is not None:
            merged[unit.path] = new
        elif unit.kind == "leaf":
            others.append({"op": "remove", "path": unit.path})
        else:
            _entries(others, unit, old, new)
    head = [{"op": "replace", "value": merged}] if merged else []
    return head + others


def touched(message: dict[str, Any]) -> set[str]:
    """The SCIM attributes a PatchOp touches, for summaries, as :attr:`AttrPath.summary`
    names them (``emails`` for its entries, ``name.givenName``, extension attributes with
    their URN; the keys of a path-less value)."""
    names: set[str] = set()
    for operation in message["Operations"]:
        paths = [operation["path"]] if "path" in operation else list(operation.get("value", {}))
        names.update(summary(path) for path in paths)
    return names
