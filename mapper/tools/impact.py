"""How a whole export changes between two versions of a ruleset: ``mapper review --profiles
EXPORT.jsonl``.

Each user is rendered with both versions; the users counted per SCIM attribute that
differs, with a few Okta ids each, and the users one version renders and the other refuses.
The export is read a block of lines at a time with the fast reader (as ``mapper render``),
in ``--jobs`` processes when asked: each block's :class:`Impact` is merged in input order,
so the table, its examples included, is the same for any number of processes, and memory
stays flat.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mapper.core import jsonio
from mapper.core.schema import CORE_USER
from mapper.core.scim_path import AttrPath
from mapper.errors import ProfileError
from mapper.runtime.ruleset import Ruleset
from mapper.tools.bulk import Block, FileSpan, blocks, can_fork, file_spans

#: How many Okta ids a row of the table shows.
EXAMPLES = 3
REFUSED_BY_NEW = "refused by the new version"
REFUSED_BY_OLD = "refused by the old version"

#: The bytes of the export one worker process reads at a time.
SPAN_BYTES = 1 << 20

#: A user as a table's example names it: the Okta id, else the line number in the export.
Label = str | int


@dataclass
class Impact:
    """What one part of an export (or the whole) changes: counts, and the first examples of
    each, in input order."""

    total: int = 0
    changed: int = 0
    attributes: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[Label]] = field(default_factory=dict)
    refused: Counter[str] = field(default_factory=Counter)
    refused_samples: dict[str, list[Label]] = field(default_factory=dict)
    unreadable: int = 0
    unreadable_lines: list[int] = field(default_factory=list)

    def merge(self, later: Impact, lines_before: int = 0) -> None:
        """Add LATER, the impact of the lines that follow (numbered from its own first line: shifted
        by LINES_BEFORE)."""

        def shifted(labels: list[Label]) -> list[Label]:
            return [label + lines_before if isinstance(label, int) else label for label in labels]

        self.total += later.total
        self.changed += later.changed
        self.attributes.update(later.attributes)
        self.refused.update(later.refused)
        for mine, theirs in ((self.samples, later.samples), (self.refused_samples, later.refused_samples)):
            for key, labels in theirs.items():
                kept = mine.setdefault(key, [])
                kept += shifted(labels)[: EXAMPLES - len(kept)]
        self.unreadable += later.unreadable
        self.unreadable_lines += [n + lines_before for n in later.unreadable_lines][
            : EXAMPLES - len(self.unreadable_lines)
        ]


def block_impact(old: Ruleset, new: Ruleset, block: Block) -> Impact:
    """The impact of every record of BLOCK (one loop, the fast reader)."""
    impact = Impact()
    parse = jsonio.parse_fast
    old_render, new_render = old.render, new.render
    lines = block.data.split(b"\n") if block.lines else [block.data]
    number = block.first_line - 1
    if block.dropped:  # one record too long to read
        lines, impact.total, impact.unreadable = [], 1, 1
        impact.unreadable_lines.append(block.first_line)
    for data in lines:
        number += 1
        if not data or data.isspace():
            continue
        impact.total += 1
        try:
            user = parse(data, block.source, number)
        except jsonio.JsonInputError:  # counted, as render fails it alone
            impact.unreadable += 1
            if len(impact.unreadable_lines) < EXAMPLES:
                impact.unreadable_lines.append(number)
            continue
        okta_id = user.get("id") if isinstance(user, dict) else None
        label: Label = okta_id if isinstance(okta_id, str) and okta_id else number
        before = _rendered(old_render, user)
        after = _rendered(new_render, user)
        if before is None or after is None:
            if (before is None) != (after is None):
                what = REFUSED_BY_NEW if after is None else REFUSED_BY_OLD
                impact.refused[what] += 1
                _sample(impact.refused_samples, what, label)
            continue
        if before == after and same_json(before, after):  # most users, most of the time: nothing to name
            continue
        touched = changed_attributes(before, after)
        impact.changed += bool(touched)
        for attribute in touched:
            impact.attributes[attribute] += 1
            _sample(impact.samples, attribute, label)
    return impact


def export_impact(old: Ruleset, new: Ruleset, export: Path, jobs: int = 1) -> Impact:
    """The impact of the whole EXPORT (JSON Lines), read in JOBS processes; OSError when it cannot
    be read."""
    with export.open("rb") as stream:
        if jobs > 1 and can_fork():
            return _parallel(old, new, str(export), jobs)
        impact = Impact()
        for block in blocks(str(export), stream, lines=True):
            impact.merge(block_impact(old, new, block))  # blocks number their own lines
        return impact


def changed_attributes(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """The SCIM attributes that differ between two renderings of a user, named as
    :func:`mapper.runtime.patch.touched` names those a PATCH touches (AttrPath.summary): an
    extension or a complex attribute that changes whole counts as each attribute in it that
    differs."""
    touched: set[str] = set()
    for key in _differing(before, after):  # attribute by attribute: a JSON patch names the same ones
        if key == "schemas":
            continue
        was, now = before.get(key), after.get(key)
        if key[:4].lower() == "urn:":  # a whole extension
            for attr in _differing(was, now):
                touched.update(_whole(AttrPath(key, attr), _member(was, attr), _member(now, attr)))
        else:
            touched.update(_whole(AttrPath(CORE_USER, key), was, now))
    return touched


def _whole(path: AttrPath, was: object, now: object) -> Iterator[str]:
    if path.sub is None and (isinstance(was, dict) or isinstance(now, dict)):
        yield from (path.child(sub).summary for sub in _differing(was, now))
    else:
        yield path.summary


def _member(value: object, key: str) -> object:
    return value.get(key) if isinstance(value, dict) else None


def _differing(was: object, now: object) -> list[str]:
    """The keys whose values differ between two JSON objects (a missing object has none; a
    missing key reads as null), in the order the objects name them."""
    a: dict[str, Any] = was if isinstance(was, dict) else {}
    b: dict[str, Any] = now if isinstance(now, dict) else {}
    get = b.get
    keys = []
    for key, value in a.items():
        other = get(key)
        if value.__class__ is str and other.__class__ is str:  # most values: no call
            if value != other:
                keys.append(key)
        elif not same_json(value, other):
            keys.append(key)
    keys += [key for key, other in b.items() if other is not None and key not in a]
    return keys


def same_json(a: object, b: object) -> bool:
    """Whether A and B are the same JSON value: Python's == takes True for 1 and 5.0 for 5, which
    JSON (and an app) tells apart."""
    if a.__class__ is not b.__class__:
        return False
    if a.__class__ is str:  # most values: no recursion
        return a == b
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(same_json(value, b[key]) for key, value in a.items())
    if isinstance(a, list):
        assert isinstance(b, list)
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _rendered(render: Any, user: Any) -> dict[str, Any] | None:
    try:
        resource: dict[str, Any] = render(user)
    except ProfileError:
        return None
    return resource


def _sample(samples: dict[str, list[Label]], key: str, label: Label) -> None:
    kept = samples.setdefault(key, [])
    if len(kept) < EXAMPLES:
        kept.append(label)


# ---------------------------------------------------------------- several processes

_versions: dict[str, Ruleset] = {}
_files: dict[str, int] = {}  # a worker's export, open for its next span (see FileSpan.read)


def _span_impact(span: FileSpan) -> tuple[Impact, int, int]:
    block = span.read(_files)
    return block_impact(_versions["old"], _versions["new"], block), block.data.count(b"\n"), span.offset


def _parallel(old: Ruleset, new: Ruleset, name: str, jobs: int) -> Impact:
    """The export's impact, its spans read and rendered by JOBS forked processes (which inherit
    both loaded versions: a git revision has no file to load again), merged in input order."""
    _versions.update(old=old, new=new)
    impact = Impact()
    lines_before = 0
    try:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            outcomes: Iterator[tuple[Impact, int, int]] = pool.imap(
                _span_impact, file_spans(name, SPAN_BYTES)
            )
            for part, lines, _ in outcomes:
                impact.merge(part, lines_before)
                lines_before += lines
    finally:
        _versions.clear()
    return impact
