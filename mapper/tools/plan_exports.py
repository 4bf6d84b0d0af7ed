"""The requests that take an app from one Okta export to the next: ``mapper plan``.

It is the sync's own decision (:func:`mapper.sync.decide.decide`) over the state a first
``mapper sync OLD`` would leave on an empty app (a user rendered active created, an
inactive one looked for and not found). NEW is then decided user by user against it, and
the users OLD lists and NEW does not are gone. So ``plan OLD NEW`` prints exactly the
changing requests ``mapper sync NEW --dry-run`` prints after ``mapper sync OLD`` (a
property test holds them equal), app ids aside: ``{id}`` in a path stands for the app's id
of the user. A user who stays DEPROVISIONED gets nothing, as in Okta; one who becomes
DEPROVISIONED, or leaves the export, is deactivated (never deleted).

That state is kept as OLD's records themselves, by Okta id, in a temporary SQLite file, so
memory stays flat however large the exports are; both exports are streamed, a block of
records at a time. Most of NEW is typically OLD unchanged: a record of NEW that is byte for
byte OLD's record of its id is the same user rendered by the same ruleset, which decide
would find nothing to send for, and costs a lookup instead of a parse, a render and a
comparison (tests/test_plan_exports.py holds the plan to the one first written, which
decided every user against a real sync state).
"""

from __future__ import annotations

import heapq
import itertools
import json
import multiprocessing
import re
import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mapper.core import jsonio
from mapper.core.styles import UpdateStyle
from mapper.errors import ProfileError
from mapper.runtime.patch import touched
from mapper.runtime.ruleset import Ruleset
from mapper.sync.decide import Kind, Policy, decide, decide_gone, requests, ruleset_hash, shard
from mapper.sync.state import Row
from mapper.tools.bulk import FailureCode, Record, RecordFailure, can_fork

#: The summary's word for each decision.
WORDS = {
    Kind.CREATE: "create",
    Kind.UPDATE: "update",
    Kind.DEACTIVATE: "deactivate",
    Kind.REACTIVATE: "reactivate",
    Kind.GONE: "deactivate",
    Kind.NOTHING: "unchanged",
    Kind.LOOKUP: "unchanged",
}
UNKNOWN_ID = "{id}"
_OLD_RUN, _NEW_RUN = 1, 2


@dataclass
class Summary:
    """What a plan between two exports counts: users by kind of change, and users updated per SCIM
    attribute."""

    kinds: Counter[str] = field(
        default_factory=Counter
    )  # create, update, deactivate, reactivate, unchanged, failed
    attributes: Counter[str] = field(default_factory=Counter)  # SCIM attribute -> users updated


def _user(record: Record) -> tuple[str, dict[str, Any]] | RecordFailure:
    try:
        if record.dropped:
            raise jsonio.RecordTooLarge(record.source, jsonio.too_large(record.dropped))
        document = jsonio.parse_fast(record.data, record.source, record.line)
    except jsonio.JsonInputError as exc:
        return RecordFailure(record.source, record.line, None, FailureCode.INVALID_JSON, exc.reason)
    okta_id = document.get("id") if isinstance(document, dict) else None
    if not isinstance(okta_id, str) or not okta_id:
        return RecordFailure(
            record.source,
            record.line,
            None,
            FailureCode.NO_ID,
            "a plan needs Okta Users API users, with their id",
        )
    return okta_id, document


def plan(
    ruleset: Ruleset, old: Iterable[Record], new: Iterable[Record], style: str, summary: Summary
) -> Iterator[dict[str, Any] | RecordFailure]:
    """Each request the app needs ({"okta_id", "method", "path", "body"}), or a RecordFailure."""
    for _, outcome in _keyed(ruleset, old, new, style, summary, None):
        yield outcome


#: Where an outcome goes in the plan: (phase, position, sequence). Phase 0 is OLD's failures by
#: record, 1 NEW's outcomes by record, 2 the users gone, by Okta id (as the state lists them).
Key = tuple[int, Any, int]

#: A record's Okta id read from its text when the record begins with it, as Okta's exports do
#: (``{"id":"00u...",`` with no escape in the id). Only a hint, to find OLD's record and the
#: process of a user without parsing: a record is trusted unparsed only when it is byte for
#: byte OLD's record of that id, which parsed with that id.
_LEADING_ID = re.compile(rb'[ \t\r\n]*\{[ \t\r\n]*"id"[ \t\r\n]*:[ \t\r\n]*"([^"\\]*)"')

#: Records looked up at once (SQLite's oldest limit on a statement's parameters is 999).
_BLOCK = 900

# What the table holds of a user: OLD's record, created (rendered active) or looked for and
# absent (rendered inactive); or only listed by NEW.
_CREATED, _ABSENT, _NEW_ONLY = 0, 1, 2


def _hint(record: Record) -> str | None:
    """The Okta id RECORD begins with (see _LEADING_ID), or None."""
    found = _LEADING_ID.match(record.data)
    if found is None:
        return None
    try:
        return found.group(1).decode("utf-8")
    except UnicodeDecodeError:
        return None


class _Old:
    """OLD's records by Okta id, in a temporary SQLite file (memory stays flat): the state a
    first sync of OLD on an empty app would leave, kept as the records themselves. A user's
    Row is made again from their record when NEW changes them (a tenth of users, typically):
    an unchanged record needs neither a parse nor a render."""

    def __init__(self, folder: str, ruleset: Ruleset, digest: str) -> None:
        self.ruleset, self.digest = ruleset, digest
        self.db = sqlite3.connect(Path(folder) / "old.sqlite", isolation_level=None)
        self.db.execute("PRAGMA journal_mode = MEMORY")  # a scratch file; a block's insert may be undone
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute(
            "CREATE TABLE users (okta_id TEXT PRIMARY KEY, record BLOB, kind INTEGER NOT NULL, "
            "seen INTEGER NOT NULL DEFAULT 0)"
        )
        self.db.execute("BEGIN")

    def close(self) -> None:
        self.db.close()

    def find(self, okta_ids: Iterable[str]) -> dict[str, tuple[bytes | None, int, int]]:
        """(record, kind, seen) of each of OKTA_IDS the table holds."""
        wanted = list(set(okta_ids))
        if not wanted:
            return {}
        query = (
            "SELECT okta_id, record, kind, seen FROM users WHERE okta_id IN "  # noqa: S608 - placeholders only
            f"({','.join('?' * len(wanted))})"
        )
        return {
            okta_id: (record, kind, seen) for okta_id, record, kind, seen in self.db.execute(query, wanted)
        }

    def add(self, rows: list[tuple[str, bytes, int]]) -> bool:
        """OLD's users (Okta id, record, kind), all or none: False (none) when one of the Okta
        ids is held already."""
        self.db.execute("SAVEPOINT block")
        try:
            self.db.executemany("INSERT INTO users (okta_id, record, kind) VALUES (?, ?, ?)", rows)
        except sqlite3.IntegrityError:
            self.db.execute("ROLLBACK TO block")
            return False
        finally:
            self.db.execute("RELEASE block")
        return True

    def listed(self, okta_ids: list[str]) -> None:
        """Users NEW lists (added when OLD did not)."""
        self.db.executemany(
            "INSERT INTO users (okta_id, kind, seen) VALUES (?, 2, 1) ON CONFLICT(okta_id) DO UPDATE SET seen = 1",
            [(okta_id,) for okta_id in okta_ids],
        )

    def gone(self) -> Iterator[Row]:
        """The users OLD lists and NEW does not, by Okta id (as the state lists them)."""
        query = "SELECT okta_id, record, kind FROM users WHERE seen = 0 AND kind != 2 ORDER BY okta_id"
        for okta_id, record, kind in self.db.execute(query):
            yield self.row(okta_id, record, kind)

    def row(self, okta_id: str, record: bytes, kind: int) -> Row:
        """The state's row a first sync of OLD leaves for this user (looked for and absent, or
        created with the resource rendered); their record parsed and rendered as it was then."""
        user = jsonio.parse_fast(record, "OLD")
        if kind == _ABSENT:
            return Row(okta_id, None, None, False, self.digest, False, user, absent=True)
        return Row(okta_id, UNKNOWN_ID, self.ruleset.render(user), True, self.digest, False, user)


def _keyed(
    ruleset: Ruleset, old: Iterable[Record], new: Iterable[Record], style: str, summary: Summary,
    part: tuple[int, int] | None,
) -> Iterator[tuple[Key, dict[str, Any] | RecordFailure]]:  # fmt: skip
    """plan's outcomes, each with its Key; with PART (K, N), only for the users whose Okta id
    hashes to K of N (records with no id: those whose hint does, and K = 0 for the rest)."""
    policy = Policy(style=UpdateStyle(style))
    digest = ruleset_hash(ruleset)
    with tempfile.TemporaryDirectory(prefix="mapper-plan-") as folder:
        table = _Old(folder, ruleset, digest)
        try:
            yield from _load_old(ruleset, digest, policy, table, old, summary, part)
            yield from _plan_new(ruleset, digest, policy, table, new, summary, part)
            for row in table.gone():
                gone = decide_gone(policy, row)
                if gone is not None:
                    for sequence, request in enumerate(_requests(ruleset, policy, gone, summary)):
                        yield (2, row.okta_id, sequence), request
        finally:
            table.close()


def _load_old(
    ruleset: Ruleset,
    digest: str,
    policy: Policy,
    table: _Old,
    old: Iterable[Record],
    summary: Summary,
    part: tuple[int, int] | None,
) -> Iterator[tuple[Key, RecordFailure]]:
    """OLD into TABLE, as a first sync of OLD on an empty app leaves its state; each failure.

    A block is decided as if no earlier block held its users, and inserted: an Okta id
    already in the table (a user twice, blocks apart: rare) undoes the insert, and the
    block is decided again knowing which of its ids are held (as it is when a user it
    failed is held: that user is there twice)."""
    for block in _blocks(old):
        items = list(_parsed(block, summary, part))
        failures, rows = _old_block(ruleset, digest, policy, items, set())
        # a user who failed here may be held by an earlier block: then they are there twice
        failed = [f.okta_id for _, f, _ in failures if f.code is FailureCode.PROFILE and f.okta_id]
        if (failed and table.find(failed)) or not table.add(rows):
            held = set(table.find(okta_id for _, _, okta_id, _ in items if okta_id is not None))
            failures, rows = _old_block(ruleset, digest, policy, items, held)
            table.add(rows)
        for key, failure, counted in failures:
            if not counted:
                summary.kinds["failed"] += 1
            yield key, failure


def _old_block(
    ruleset: Ruleset,
    digest: str,
    policy: Policy,
    items: list[tuple[int, Record, str | None, tuple[str, dict[str, Any]] | RecordFailure | None]],
    held: set[str],
) -> tuple[list[tuple[Key, RecordFailure, bool]], list[tuple[str, bytes, int]]]:
    """A block of OLD decided, the Okta ids in HELD taken by earlier blocks: its failures in
    order (each with whether it was counted already) and the table's rows."""
    failures: list[tuple[Key, RecordFailure, bool]] = []
    rows: list[tuple[str, bytes, int]] = []
    for index, record, okta_id, parsed in items:
        if isinstance(parsed, RecordFailure):
            failures.append(((0, index, 0), parsed, True))
            continue
        assert okta_id is not None and parsed is not None
        if okta_id in held:
            failures.append(((0, index, 0), _twice(record, okta_id), False))
            continue
        try:
            decision = decide(ruleset, digest, policy, okta_id, parsed[1], None)
        except ProfileError as exc:  # a first sync fails this user: the app never had it
            failures.append(((0, index, 0), _profile_failure(record, okta_id, exc), False))
            continue
        held.add(okta_id)  # looked for, not found (the app is empty), when not created
        rows.append((okta_id, record.data, _CREATED if decision.kind is Kind.CREATE else _ABSENT))
    return failures, rows


def _plan_new(
    ruleset: Ruleset,
    digest: str,
    policy: Policy,
    table: _Old,
    new: Iterable[Record],
    summary: Summary,
    part: tuple[int, int] | None,
) -> Iterator[tuple[Key, dict[str, Any] | RecordFailure]]:
    """NEW's users decided against TABLE, as a sync of NEW after one of OLD: the outcomes."""
    for block in _blocks(new):
        items = list(_parsed(block, summary, part, lazy=True))
        found = table.find(okta_id for _, _, okta_id, _ in items if okta_id is not None)
        listed: list[str] = []
        for index, record, okta_id, parsed in items:
            if isinstance(parsed, RecordFailure):
                yield (1, index, 0), parsed
                continue
            assert okta_id is not None
            before, kind, seen = found.get(okta_id, (None, _NEW_ONLY, 0))
            unchanged = parsed is None and before == record.data
            if parsed is None and not unchanged:
                parsed = _user(record)  # its id is the hint's, if it is a user at all
                if isinstance(parsed, RecordFailure):
                    summary.kinds["failed"] += 1
                    yield (1, index, 0), parsed
                    continue
            if seen:  # NEW listed the user already
                summary.kinds["failed"] += 1
                yield (1, index, 0), _twice(record, okta_id)
                continue
            found[okta_id] = (before, kind, 1)
            listed.append(okta_id)
            if parsed is None:
                # OLD's very record, which parsed with this id: the same user rendered by the
                # same ruleset, which the app holds as OLD left it (decide finds nothing to send)
                summary.kinds[WORDS[Kind.NOTHING]] += 1
                continue
            user = parsed[1]
            row = None if before is None else table.row(okta_id, before, kind)
            try:
                decision = decide(ruleset, digest, policy, okta_id, user, row)
            except ProfileError as exc:
                summary.kinds["failed"] += 1
                yield (1, index, 0), _profile_failure(record, okta_id, exc)
                continue
            for sequence, request in enumerate(_requests(ruleset, policy, decision, summary)):
                yield (1, index, sequence), request
        table.listed(listed)


def _blocks(records: Iterable[Record]) -> Iterator[list[tuple[int, Record]]]:
    """RECORDS with their positions, _BLOCK at a time."""
    numbered = enumerate(records)
    while block := list(itertools.islice(numbered, _BLOCK)):
        yield block


def _parsed(
    block: list[tuple[int, Record]], summary: Summary, part: tuple[int, int] | None, lazy: bool = False
) -> Iterator[tuple[int, Record, str | None, tuple[str, dict[str, Any]] | RecordFailure | None]]:
    """Each record of BLOCK that is PART's, as (position, record, Okta id, (Okta id, user) or the
    RecordFailure that says why it cannot be, counted). LAZY: a record that begins with its id
    is not parsed yet (None), its id taken from the text; it is parsed where it differs from OLD's."""
    for index, record in block:
        hint = _hint(record) if lazy or part is not None else None
        if part is not None and hint is not None and shard(hint, part[1]) != part[0]:
            continue  # another process's user (or its failure)
        if lazy and hint is not None:
            yield index, record, hint, None
            continue
        parsed = _user(record)
        if isinstance(parsed, RecordFailure):
            if part is not None and hint is None and part[0] != 0:
                continue  # part 0 reports the records with no id
            summary.kinds["failed"] += 1
            yield index, record, None, parsed
            continue
        if part is not None and hint is None and shard(parsed[0], part[1]) != part[0]:
            continue
        yield index, record, parsed[0], parsed


# ---------------------------------------------------------------- several processes

_job: dict[str, Any] = {}


def plan_parallel(
    ruleset: Ruleset,
    old: Callable[[], Iterable[Record]],
    new: Callable[[], Iterable[Record]],
    style: str,
    summary: Summary,
    jobs: int,
) -> Iterator[dict[str, Any] | RecordFailure]:
    """plan's outcomes, worked out by JOBS forked processes, each for the users whose Okta id
    hashes to its part (every process reads both exports: OLD and NEW give the records anew each
    call); each writes its outcomes with their Keys to a file, merged here in plan's order, so
    the output is the same for any number of processes and memory stays flat."""
    if jobs <= 1 or not can_fork():
        yield from plan(ruleset, old(), new(), style, summary)
        return
    with tempfile.TemporaryDirectory(prefix="mapper-plan-") as folder:
        _job.update(ruleset=ruleset, old=old, new=new, style=style, folder=folder, jobs=jobs)
        try:
            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                parts = pool.map(_plan_part, range(jobs))
        finally:
            _job.clear()
        for _, part_summary in parts:
            summary.kinds.update(part_summary.kinds)
            summary.attributes.update(part_summary.attributes)
        for _, outcome in heapq.merge(*(_outcomes(path) for path, _ in parts), key=lambda item: item[0]):
            yield outcome


def _plan_part(k: int) -> tuple[str, Summary]:
    """Part K of the plan, written as JSON lines of [Key, outcome] in Key order; its path and summary."""
    job = _job
    summary = Summary()
    path = Path(job["folder"]) / f"part-{k}.jsonl"
    with path.open("w", encoding="ascii") as out:
        for key, outcome in _keyed(
            job["ruleset"], job["old"](), job["new"](), job["style"], summary, (k, job["jobs"])
        ):
            written: list[Any] = [list(key), "request", outcome]
            if isinstance(outcome, RecordFailure):  # the value stays here: the command prints the message
                failure = [outcome.source, outcome.line, outcome.okta_id, outcome.code.value, outcome.message]
                written = [list(key), "failure", failure]
            out.write(json.dumps(written) + "\n")  # ASCII: any text the export held goes through
    return str(path), summary


def _outcomes(path: str) -> Iterator[tuple[Key, dict[str, Any] | RecordFailure]]:
    """The (Key, outcome) pairs a part wrote (this run's own file, in its temporary folder)."""
    with open(path, encoding="ascii") as stream:
        for line in stream:
            key, kind, outcome = json.loads(line)
            if kind == "failure":
                source, number, okta_id, code, message = outcome
                yield tuple(key), RecordFailure(source, number, okta_id, FailureCode(code), message)
            else:
                yield tuple(key), outcome


def _profile_failure(record: Record, okta_id: str, exc: ProfileError) -> RecordFailure:
    return RecordFailure(record.source, record.line, okta_id, FailureCode.PROFILE, str(exc), exc.value)


def _twice(record: Record, okta_id: str) -> RecordFailure:
    return RecordFailure(
        record.source, record.line, okta_id, FailureCode.DUPLICATE_ID, "this Okta id is in the export twice"
    )


def _requests(ruleset: Ruleset, policy: Policy, decision: Any, summary: Summary) -> Iterator[dict[str, Any]]:
    summary.kinds[WORDS[decision.kind]] += 1
    for request in requests(ruleset, policy, decision):
        if decision.kind is Kind.UPDATE and request.body is not None:
            for attribute in touched(request.body):
                summary.attributes[attribute] += 1
        yield request.as_json()
