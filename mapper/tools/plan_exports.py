"""The requests that take an app from one Okta export to the next: ``mapper plan``.

It is the sync's own decision (:func:`mapper.sync.decide.decide`) over the state a first
``mapper sync OLD`` would leave on an empty app (a user rendered active created, an
inactive one looked for and not found). NEW is then decided user by user against it, and
the users OLD lists and NEW does not are gone. So ``plan OLD NEW`` prints exactly the
changing requests ``mapper sync NEW --dry-run`` prints after ``mapper sync OLD`` (a
property test holds them equal), app ids aside: ``{id}`` in a path stands for the app's id
of the user. A user who stays DEPROVISIONED gets nothing, as in Okta; one who becomes
DEPROVISIONED, or leaves the export, is deactivated (never deleted).

Both exports are first spread over buckets (temporary files) by the hash of each user's
Okta id, so that OLD's and NEW's records of a user land in the same bucket; then each
bucket is planned on its own, in memory, and the buckets' outcomes are merged in the
plan's order: memory holds one bucket, a fixed share of the exports, however large they
are. That state is kept as OLD's records themselves. Most of NEW is typically OLD
unchanged: a record of NEW that is byte for byte OLD's record of its id is the same user
rendered by the same ruleset, which decide would find nothing to send for, and costs a
lookup instead of a parse, a render and a comparison (tests/test_plan_exports.py holds the
plan to the one first written, which decided every user against a real sync state, for
any number of buckets and processes).

With N processes, each spreads a contiguous Nth of each export (by its bytes) and then,
once all have, plans every Nth bucket (:class:`_Job`).
"""

from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import re
import struct
import tempfile
import zlib
from collections import Counter
from collections.abc import Callable, Container, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mapper.core import jsonio
from mapper.core.styles import UpdateStyle
from mapper.errors import ProfileError
from mapper.runtime.patch import touched
from mapper.runtime.ruleset import Ruleset
from mapper.sync.decide import Kind, Match, Policy, decide, decide_gone, requests, ruleset_hash
from mapper.sync.state import Row
from mapper.tools import spill
from mapper.tools.bulk import Block, FailureCode, Record, RecordFailure, can_fork

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
#: How many buckets the users are spread over, by their Okta id's hash, when the exports'
#: size is not known: each bucket is planned on its own, in memory, so a plan holds one
#: bucket's records at a time.
BUCKETS = 64
#: The records one bucket holds, about, when the exports' size is known (bytes).
BUCKET_BYTES = 8 << 20
#: A bucket holding more than this (the exports were larger than their size said, or came
#: from a pipe) is spread again over smaller ones, up to _DEPTHS times.
BUCKET_MOST = 4 * BUCKET_BYTES
_DEPTHS = 3


@dataclass
class Summary:
    """What a plan between two exports counts: users by kind of change, and users updated per SCIM
    attribute; as sync counts them, NEW's records that could not be read and the users gone
    from NEW that are therefore not deactivated."""

    kinds: Counter[str] = field(
        default_factory=Counter
    )  # create, update, deactivate, reactivate, unchanged, failed
    attributes: Counter[str] = field(default_factory=Counter)  # SCIM attribute -> users updated
    unreadable: int = 0  # NEW's records with no Okta id to read (invalid JSON, too large, none)
    gone_kept: int = 0  # users gone from NEW not deactivated: with unreadable, who is gone is unproven
    gone: int = 0  # users gone from NEW the app holds active (deactivated, unless unreadable)

    def add(self, other: Summary) -> None:
        """OTHER's counts (a bucket's, a process's) added to these."""
        self.kinds.update(other.kinds)
        self.attributes.update(other.attributes)
        self.unreadable += other.unreadable
        self.gone += other.gone

    def keep_gone(self) -> bool:
        """Once every count is in: whether the users gone stay as they are (as sync keeps them
        when a record of the export could not be read); if so they are counted as kept."""
        if not self.unreadable or not self.gone:
            return False
        self.kinds["deactivate"] -= self.gone
        self.gone_kept, self.gone = self.gone, 0
        return True


#: NEW's failures that leave an Okta id unread, so that no user can be proven gone (sync's rule).
UNREADABLE = frozenset({FailureCode.INVALID_JSON, FailureCode.TOO_LARGE, FailureCode.NO_ID})


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
    ruleset: Ruleset, old: Iterable[Block], new: Iterable[Block], style: str, summary: Summary,
    buckets: int = BUCKETS, shares: int = 1, match: str = "userName",
) -> Iterator[dict[str, Any] | RecordFailure]:  # fmt: skip
    """Each request the app needs ({"okta_id", "method", "path", "body"}), or a RecordFailure
    (without its value: the command prints the message), for the exports' blocks OLD and NEW;
    the users spread over BUCKETS. SHARES: the work cut as plan_parallel cuts it for as many
    processes, done here one share after the other (the same outcomes, in the same order),
    each reading OLD and NEW again (lists of blocks, then). Blocks hold less than 64 MB.
    MATCH: sync's --match (a user with no value for it is not created)."""
    totals = (0, 0)
    if shares > 1:
        if not (isinstance(old, list) and isinstance(new, list)):
            raise TypeError("plan in shares reads OLD and NEW once per share: lists of blocks")
        totals = (sum(map(_bytes, old)), sum(map(_bytes, new)))
    with tempfile.TemporaryDirectory(prefix="mapper-plan-") as folder:
        job = _Job(ruleset, style, folder, shares, buckets, totals, match)
        spread = [job.spread_share(k, old, new) for k in range(shares)]
        planned = [job.plan_share(k, [names for names, _, _ in spread]) for k in range(shares)]
        yield from job.outcomes(spread, planned, summary)


#: A record's Okta id read from its text when the record begins with it, as Okta's exports do
#: (``{"id":"00u...",`` with no escape in the id). Only a hint, to find OLD's record and the
#: process of a user without parsing: a record is trusted unparsed only when it is byte for
#: byte OLD's record of that id, which parsed with that id.
_LEADING_ID = re.compile(rb'[ \t\r\n]*\{[ \t\r\n]*"id"[ \t\r\n]*:[ \t\r\n]*"([^"\\]*)"')

# What OLD left of a user: created (rendered active), or looked for and absent (inactive).
_CREATED, _ABSENT = 0, 1

#: A record in a bucket file: its position in its export, line, source (an index) and length.
_FRAME = struct.Struct("<QQII")


def buckets_for(size: int | None) -> int:
    """How many buckets two exports of SIZE bytes in all (None: not known) are spread over."""
    if size is None:
        return BUCKETS
    return max(16, min(256, size // BUCKET_BYTES + 1))  # past 2 GB, buckets are spread again


def _hint(record: Record) -> str | None:
    """The Okta id RECORD begins with (see _LEADING_ID), or None."""
    raw = _leading_id(record.data)
    return None if raw is None else raw.decode("utf-8")


def _leading_id(data: bytes) -> bytes | None:
    """The Okta id DATA begins with (see _LEADING_ID) as UTF-8, or None (also when the bytes
    are not UTF-8: the id could not be text)."""
    found = _LEADING_ID.match(data)
    if found is None:
        return None
    raw: bytes = found.group(1)
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return raw


class _Spread:
    """An export's records written to bucket files by the hash of their Okta id (in FOLDER), so
    that OLD's and NEW's records of a user land in the same bucket, each bucket's in the
    export's order. Written through buffers of FLUSH bytes in all (memory stays flat), read
    back a bucket at a time."""

    #: Bytes buffered before they are written out.
    FLUSH = 8 << 20

    def __init__(self, folder: str, name: str, buckets: int, names: list[str] | None = None) -> None:
        self.name = name
        self.paths = [Path(folder) / f"{name}-{b}.bin" for b in range(buckets)]
        self.pending: list[list[bytes]] = [[] for _ in range(buckets)]
        self.buffered = 0
        self.names: list[str] = names or []  # the records' sources, by number (NAMES: as spread)

    def source(self, name: str) -> int:
        """The number of the source NAME (a file, or <stdin>)."""
        if not self.names or self.names[-1] != name:
            self.names.append(name)  # records come file after file: a name seen again is rare
        return len(self.names) - 1

    def flush(self) -> None:
        for path, frames in zip(self.paths, self.pending, strict=True):
            if frames:
                with path.open("ab") as out:
                    out.write(b"".join(frames))  # one piece: writelines copied each frame through a buffer
                frames.clear()
        self.buffered = 0

    def size(self, bucket: int) -> int:
        """The bytes BUCKET holds (written out: after flush)."""
        path = self.paths[bucket]
        return path.stat().st_size if path.exists() else 0

    def remove(self, bucket: int) -> None:
        """BUCKET's file, once spread again."""
        self.paths[bucket].unlink(missing_ok=True)

    def frames(self, bucket: int) -> Iterator[tuple[int, str, int, bytes, int]]:
        """The bucket's records, (place, source, line, text, 0), in the export's order: read
        at once when the bucket is no larger than BUCKET_MOST, else streamed (a bucket being
        spread again)."""
        path = self.paths[bucket]
        if not path.exists():
            return
        unpack, size, names = _FRAME.unpack_from, _FRAME.size, self.names
        if path.stat().st_size <= BUCKET_MOST:
            data, offset = path.read_bytes(), 0
            while offset < len(data):
                place, line, source, length = unpack(data, offset)
                offset += size
                yield place, names[source], line, data[offset : offset + length], 0
                offset += length
            return
        with path.open("rb", buffering=1 << 20) as stream:
            while head := stream.read(size):
                place, line, source, length = unpack(head)
                yield place, names[source], line, stream.read(length), 0


#: A record's place in its export, for Keys and frames: the number of its block (blocks are
#: numbered through the export) above _OFFSET_BITS, its line's offset in the block below, so
#: that a process spreading a share of the blocks gives its records their places in the
#: export's order without counting the other shares' records (the CLI's blocks hold at most
#: 17 MB, so fewer lines; _block_lines refuses a block of 64 MB or more).
_OFFSET_BITS = 26


@dataclass
class _Job:
    """A plan cut into shares, each for one process: share K of N spreads the blocks of the
    Kth Nth of each export (by their bytes) over all the buckets, into files of its own; once
    every share has spread, share K plans the buckets K, K + N, ... reading all shares' files
    of each, one share's after the other's: the export's order. Every outcome goes to a spill
    file with its Key; outcomes() merges them in the plan's order."""

    ruleset: Ruleset
    style: str
    folder: str
    shares: int
    buckets: int
    totals: tuple[int, int] = (0, 0)  # the bytes of OLD's and NEW's blocks (with several shares)
    match: str = "userName"  # sync's --match

    def spread_share(
        self, k: int, old: Iterable[Block], new: Iterable[Block]
    ) -> tuple[list[list[str]], list[str], Summary]:
        """Share K's blocks of OLD and NEW spread over the buckets: the sources its files name
        (by phase), the spill files of the records that failed, and their summary."""
        summary = Summary()
        names, failed = [], []
        for phase, blocks in ((0, old), (1, new)):
            spread = _Spread(self.folder, f"in{phase}-{k}", self.buckets)
            with spill.Spill(Path(self.folder) / f"failed{phase}-{k}.jsonl") as failures:
                lines = _block_lines(blocks, k, self.shares, self.totals[phase])
                _spread(lines, spread, failures, phase, summary, self.buckets)
            spread.flush()
            names.append(spread.names)
            failed.append(failures.path)
        return names, failed, summary

    def plan_share(self, k: int, names: list[list[list[str]]]) -> tuple[list[str], Summary]:
        """Share K's buckets planned, once every share spread (NAMES: each share's sources, by
        phase): the spill files of the outcomes, and their summary."""
        summary = Summary()
        policy = Policy(Match(self.match), UpdateStyle(self.style))
        digest = ruleset_hash(self.ruleset)
        shards = [
            _Shards(
                [
                    _Spread(self.folder, f"in{phase}-{j}", self.buckets, own[phase])
                    for j, own in enumerate(names)
                ]
            )
            for phase in (0, 1)
        ]
        paths: list[str] = []
        for bucket in range(k, self.buckets, self.shares):
            paths += _plan_spread(self.ruleset, digest, policy, self.folder, shards, bucket, summary, 1)
        return paths, summary

    def outcomes(
        self,
        spread: list[tuple[list[list[str]], list[str], Summary]],
        planned: list[tuple[list[str], Summary]],
        summary: Summary,
    ) -> Iterator[dict[str, Any] | RecordFailure]:
        """The shares' outcomes, merged in the plan's order; their summaries added to SUMMARY."""
        paths: list[str] = []
        for part_paths, part in [(failed, part) for _, failed, part in spread] + planned:
            paths += part_paths
            summary.add(part)
        keep_gone = summary.keep_gone()
        for key, outcome in spill.merged(self.folder, paths):
            if not (keep_gone and key[0] == 2):
                yield outcome


def _block_lines(
    blocks: Iterable[Block], k: int, n: int, total: int
) -> Iterator[tuple[int, str, int, bytes, int]]:
    """The records of share K of N of the blocks, those starting in the Kth Nth of their TOTAL
    bytes (all of them for one share): (place, source, line, text, size dropped)."""
    start = 0
    for number, block in enumerate(blocks):
        share = min(n - 1, start * n // total) if n > 1 and total > 0 else 0
        start += _bytes(block)
        if share < k:
            continue
        if share > k:
            return  # the later shares': every block after this one is too
        if len(block.data) >> _OFFSET_BITS:  # fewer bytes than that: fewer lines, as places need
            raise ValueError("a block of the exports holds 64 MB or more")
        place, source, first = number << _OFFSET_BITS, block.source, block.first_line
        if block.dropped or not block.lines:
            yield place, source, first, b"" if block.dropped else block.data, block.dropped
            continue
        for offset, data in enumerate(block.data.split(b"\n")):
            if data and not data.isspace():
                yield place | offset, source, first + offset, data, 0


def _bytes(block: Block) -> int:
    """The bytes of the export BLOCK stands for (a record too large to read: its size)."""
    return block.dropped or len(block.data)


class _Shards:
    """One export's buckets as every share spread them (a _Spread each): a bucket's records
    from all of them, in the export's order."""

    def __init__(self, spreads: list[_Spread]) -> None:
        self.spreads = spreads
        self.name = spreads[0].name

    def size(self, bucket: int) -> int:
        return sum(spread.size(bucket) for spread in self.spreads)

    def remove(self, bucket: int) -> None:
        for spread in self.spreads:
            spread.remove(bucket)

    def frames(self, bucket: int) -> Iterator[tuple[int, str, int, bytes, int]]:
        """The bucket's records, (place, source, line, text, 0), in the export's order: each
        share's are, and share K's come before share K + 1's."""
        return itertools.chain.from_iterable(spread.frames(bucket) for spread in self.spreads)

    def read(self, bucket: int) -> Iterator[tuple[int, Record]]:
        """The bucket's records with their places, in the export's order."""
        for place, source, line, data, _ in self.frames(bucket):
            yield place, Record(source, line, data)


def _plan_spread(
    ruleset: Ruleset, digest: str, policy: Policy, folder: str, shards: list[_Shards], bucket: int,
    summary: Summary, depth: int,
) -> list[str]:  # fmt: skip
    """BUCKET of both exports' SHARDS planned, its outcomes spilled to files (their paths). A
    bucket larger than BUCKET_MOST (the exports were larger than their size said, or were read
    from a pipe) is spread again over smaller ones, by another hash of the Okta id, so that
    memory holds at most about that much (but for one user's records, which cannot be split)."""
    size = sum(shard.size(bucket) for shard in shards)
    if size > BUCKET_MOST and depth <= _DEPTHS:
        count = size // BUCKET_BYTES + 1
        smaller = [_Spread(folder, f"{shard.name}.{bucket}", count) for shard in shards]
        for phase, (shard, again) in enumerate(zip(shards, smaller, strict=True)):
            with spill.Spill(
                Path(folder) / f"none.{shard.name}.{bucket}.jsonl"
            ) as nothing:  # none fail again
                _spread(shard.frames(bucket), again, nothing, phase, summary, count, depth)
            again.flush()
            shard.remove(bucket)
        paths: list[str] = []
        for sub in range(count):
            paths += _plan_spread(
                ruleset,
                digest,
                policy,
                folder,
                [_Shards([again]) for again in smaller],
                sub,
                summary,
                depth + 1,
            )
        return paths
    with spill.Spill(Path(folder) / f"out.{shards[0].name}.{bucket}.jsonl") as out:
        for key, outcome in _plan_bucket(ruleset, digest, policy, shards, bucket, summary):
            out.write(key, outcome)
    return [out.path]


def _spread(
    records: Iterable[tuple[int, str, int, bytes, int]], spread: _Spread, failures: spill.Spill, phase: int,
    summary: Summary, buckets: int, depth: int = 0,
) -> None:  # fmt: skip
    """RECORDS ((place, source, line, text, size dropped)) into SPREAD's buckets by the Okta id
    each begins with, else the id it parses with; one with no id is a failure of phase PHASE.
    DEPTH: 0 for the exports, more for a bucket spread again (another hash)."""
    crc32, pack, pending = zlib.crc32, _FRAME.pack, spread.pending
    source_name, source = None, 0
    for place, name, line, data, dropped in records:
        raw = _leading_id(data)  # as _hint reads it, so that OLD's and NEW's records meet
        if raw is None:
            parsed = _user(Record(name, line, data, dropped))
            if isinstance(parsed, RecordFailure):
                summary.kinds["failed"] += 1
                summary.unreadable += phase == 1 and parsed.code in UNREADABLE
                failures.write((phase, place, 0), parsed)
                continue
            raw = parsed[0].encode("utf-8", "surrogatepass")
        bucket = (crc32(raw) if depth == 0 else _rehash(raw, depth)) % buckets
        if name is not source_name:
            source_name, source = name, spread.source(name)
        frames = pending[bucket]
        frames.append(pack(place, line, source, len(data)))
        frames.append(data)
        spread.buffered += len(data) + _FRAME.size
        if spread.buffered >= spread.FLUSH:
            spread.flush()


def _rehash(raw: bytes, depth: int) -> int:
    """Another hash of an Okta id, for a bucket spread again (CRC-32 would keep it together)."""
    return int.from_bytes(
        hashlib.blake2b(raw, digest_size=8, person=b"mapper-plan-%d" % depth).digest(), "little"
    )


def _plan_bucket(
    ruleset: Ruleset, digest: str, policy: Policy, shards: list[_Shards], bucket: int, summary: Summary
) -> Iterator[tuple[spill.Key, dict[str, Any] | RecordFailure]]:
    """One bucket's users planned, as plan plans all of them: OLD decided as a first sync on an
    empty app leaves it, NEW against that, then the users gone; the outcomes in Key order."""
    held: dict[str, tuple[bytes, int]] = {}  # Okta id -> OLD's record and what it left
    for index, record in shards[0].read(bucket):
        parsed = _user_once(record, held)
        if isinstance(parsed, RecordFailure):
            summary.kinds["failed"] += 1
            yield (0, index, 0), parsed
            continue
        okta_id, user = parsed
        try:
            decision = decide(ruleset, digest, policy, okta_id, user, None)
        except ProfileError as exc:  # a first sync fails this user: the app never had it
            summary.kinds["failed"] += 1
            yield (0, index, 0), _profile_failure(record, okta_id, exc)
            continue
        held[okta_id] = (record.data, _CREATED if decision.kind is Kind.CREATE else _ABSENT)
    listed: set[str] = set()  # the users NEW lists
    for index, record in shards[1].read(bucket):
        hint = _hint(record)
        if hint is not None and hint not in listed and held.get(hint, (None,))[0] == record.data:
            # OLD's very record, which parsed with this id: the same user rendered by the same
            # ruleset, which the app holds as OLD left it (decide finds nothing to send)
            listed.add(hint)
            summary.kinds[WORDS[Kind.NOTHING]] += 1
            continue
        parsed = _user_once(record, listed)
        if isinstance(parsed, RecordFailure):
            summary.kinds["failed"] += 1
            summary.unreadable += parsed.code in UNREADABLE
            yield (1, index, 0), parsed
            continue
        okta_id, user = parsed
        listed.add(okta_id)
        entry = held.get(okta_id)
        row = None if entry is None else _row(ruleset, digest, okta_id, *entry)
        try:
            decision = decide(ruleset, digest, policy, okta_id, user, row)
        except ProfileError as exc:
            summary.kinds["failed"] += 1
            yield (1, index, 0), _profile_failure(record, okta_id, exc)
            continue
        for sequence, request in enumerate(_requests(ruleset, policy, decision, summary)):
            yield (1, index, sequence), request
    for okta_id in sorted(held.keys() - listed):  # by Okta id, as the state lists them
        gone = decide_gone(policy, _row(ruleset, digest, okta_id, *held[okta_id]))
        if gone is not None:
            summary.gone += 1
            for sequence, request in enumerate(_requests(ruleset, policy, gone, summary)):
                yield (2, okta_id, sequence), request


def _user_once(record: Record, taken: Container[str]) -> tuple[str, dict[str, Any]] | RecordFailure:
    """RECORD's (Okta id, user), or why not: it cannot be read, or its export listed that id
    already (in TAKEN)."""
    parsed = _user(record)
    if not isinstance(parsed, RecordFailure) and parsed[0] in taken:
        return _twice(record, parsed[0])
    return parsed


def _row(ruleset: Ruleset, digest: str, okta_id: str, record: bytes, kind: int) -> Row:
    """The state's row a first sync of OLD leaves for this user (looked for and absent, or
    created with the resource rendered); their record parsed and rendered as it was then."""
    user = jsonio.parse_fast(record, "OLD")
    if kind == _ABSENT:
        return Row(okta_id, None, None, False, digest, False, user, absent=True)
    return Row(okta_id, UNKNOWN_ID, ruleset.render(user), True, digest, False, user)


# ---------------------------------------------------------------- several processes

_job: dict[str, Any] = {}


def plan_parallel(
    ruleset: Ruleset,
    old: Callable[[], Iterable[Block]],
    new: Callable[[], Iterable[Block]],
    style: str,
    summary: Summary,
    jobs: int,
    sizes: tuple[int, int] | None = None,
    match: str = "userName",
) -> Iterator[dict[str, Any] | RecordFailure]:
    """plan's outcomes, worked out by JOBS forked processes, a share each (see _Job: each reads
    the exports, OLD and NEW giving the blocks anew each call, as far as the end of its share
    of their bytes, and spreads that share; then plans every JOBSth bucket); their outcomes are
    merged here in plan's order, so the output is the same for any number of processes and
    memory stays flat. SIZES: OLD's and NEW's bytes, when known (how many buckets, and the
    shares; unknown, one process reads them once)."""
    buckets = buckets_for(sum(sizes) if sizes is not None else None)
    if jobs <= 1 or sizes is None or not can_fork():
        yield from plan(ruleset, old(), new(), style, summary, buckets, match=match)
        return
    with tempfile.TemporaryDirectory(prefix="mapper-plan-") as folder:
        job = _Job(ruleset, style, folder, jobs, buckets, sizes, match)
        _job.update(job=job, old=old, new=new)
        try:
            with multiprocessing.get_context("fork").Pool(jobs) as pool:
                spread = pool.map(_spread_job, range(jobs))
                names = [share_names for share_names, _, _ in spread]
                planned = pool.starmap(_plan_job, [(k, names) for k in range(jobs)])
        finally:
            _job.clear()
        yield from job.outcomes(spread, planned, summary)


def _spread_job(k: int) -> tuple[list[list[str]], list[str], Summary]:
    """Share K's spreading, in a worker process (_Job.spread_share)."""
    return _job["job"].spread_share(k, _job["old"](), _job["new"]())  # type: ignore[no-any-return]


def _plan_job(k: int, names: list[list[list[str]]]) -> tuple[list[str], Summary]:
    """Share K's buckets, in a worker process (_Job.plan_share)."""
    return _job["job"].plan_share(k, names)  # type: ignore[no-any-return]


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
