"""SCIM attribute paths (RFC 7644 section 3.10, as PATCH writes them in section 3.5.2): the one
type every part of mapper names an attribute with, and the one place their text is written
and read.

A path is a schema URN (the core User's is left out of the text), an attribute, optionally a
``type`` value that selects entries of a multi-valued attribute (``emails[type eq "work"]``)
and a sub-attribute (``.value``): the targets mapper writes, nothing more. The filter value is
a JSON string (RFC 7644 section 3.4.2.2 compares with JSON values), escaped to ASCII on the
wire and shown as written to people.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass

from mapper.core.schema import CORE_USER

_NAME = r"[A-Za-z$][A-Za-z0-9_$-]*"  # RFC 7643 section 2.1 ATTRNAME, with $ref's "$"
_LOCAL = re.compile(rf'({_NAME})(?:\[type eq ("(?:[^"\\]|\\.)*")\])?(?:\.({_NAME}))?')


@dataclass(frozen=True, slots=True)
class AttrPath:
    """A SCIM attribute path: ``urn:...:attr[type eq "T"].sub``, the URN left out for the core User."""

    urn: str
    attr: str
    entry_type: str | None = None
    sub: str | None = None

    def __str__(self) -> str:
        return self.text()

    def text(self, *, qualified: bool = True, ascii_only: bool = True) -> str:
        """The path as RFC 7644 writes it; without the extension's URN when not QUALIFIED, and
        with the filter value as written (not escaped to ASCII) when not ASCII_ONLY."""
        text = self.attr
        if self.entry_type is not None:
            text += f"[type eq {json.dumps(self.entry_type, ensure_ascii=ascii_only)}]"
        if self.sub is not None:
            text += f".{self.sub}"
        return text if not qualified or self.urn == CORE_USER else f"{self.urn}:{text}"

    @property
    def attribute(self) -> AttrPath:
        """The top-level attribute: ``emails`` for ``emails[type eq "work"].value``."""
        return AttrPath(self.urn, self.attr)

    @property
    def entry(self) -> AttrPath:
        """The path without its sub-attribute: ``emails[type eq "work"]`` (a whole entry)."""
        return AttrPath(self.urn, self.attr, self.entry_type)

    def where_type(self, entry_type: str) -> AttrPath:
        """The entries of this multi-valued attribute whose ``type`` is ENTRY_TYPE."""
        return AttrPath(self.urn, self.attr, entry_type)

    def child(self, sub: str) -> AttrPath:
        """The sub-attribute SUB of this complex attribute (or of its selected entries)."""
        if self.sub is not None:
            raise ValueError(f"{self}: SCIM attributes have one level of sub-attributes")
        return AttrPath(self.urn, self.attr, self.entry_type, sub)

    @property
    def summary(self) -> str:
        """The name change summaries count (sync's reports, saved plans, review): the attribute
        with the sub-attribute of a complex one (``name.givenName``); a multi-valued attribute's
        entries count as the attribute (``emails``)."""
        return AttrPath(self.urn, self.attr, None, self.sub if self.entry_type is None else None).text()

    @classmethod
    def parse(cls, text: str) -> AttrPath:
        """The path TEXT writes (as :meth:`text` writes it); ValueError for any other text, such
        as a filter on something else than ``type``."""
        urn, local = CORE_USER, text
        head = text.split("[", 1)[0]
        if head[:4].lower() == "urn:":
            cut = head.rfind(":")
            urn, local = text[:cut], text[cut + 1 :]
        found = _LOCAL.fullmatch(local)
        if found is None or not urn:
            raise ValueError(f"not a SCIM attribute path mapper writes: {text[:100]!r}")
        attr, quoted, sub = found.groups()
        entry_type = None
        if quoted is not None:
            entry_type = json.loads(quoted)
            if not isinstance(entry_type, str):  # pragma: no cover - the pattern admits strings only
                raise ValueError(f"not a SCIM attribute path mapper writes: {text[:100]!r}")
        return cls(urn, attr, entry_type, sub)

    @classmethod
    def from_pointer(cls, pointer: str) -> AttrPath | None:
        """The path a JSON Pointer into a rendered resource names, to the level paths go
        (``/emails/0/value`` is ``emails``, ``/urn:...:User/manager/value`` is
        ``urn:...:User:manager.value``); None for the resource itself or a whole extension."""
        parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
        urn = CORE_USER
        if parts and parts[0][:4].lower() == "urn:":
            urn, parts = parts[0], parts[1:]
        if not parts:
            return None
        sub = parts[1] if len(parts) > 1 and not parts[1].isdigit() else None
        return cls(urn, parts[0], None, sub)


@functools.lru_cache(maxsize=4096)  # a plan's summary asks it for every update: few paths, many times
def summary(text: str) -> str:
    """The summary name of a path in a PatchOp (:attr:`AttrPath.summary`); a path mapper does
    not write (another filter, say, in a saved plan edited by hand) loses its filter only."""
    try:
        return AttrPath.parse(text).summary
    except ValueError:
        return text if text[:4].lower() == "urn:" else text.split("[", 1)[0]
