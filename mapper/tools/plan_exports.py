"""The requests that take an app from one Okta export to the next: ``mapper plan``.

It is the sync's own decision (:func:`mapper.sync.decide.decide`) over a throwaway state
made from OLD: the state a first ``mapper sync OLD`` would leave on an empty app (a user
rendered active created, an inactive one looked for and not found). NEW is then decided
user by user against it, and the users OLD lists and NEW does not are gone. So ``plan OLD
NEW`` prints exactly the changing requests ``mapper sync NEW --dry-run`` prints after
``mapper sync OLD`` (a property test holds them equal), app ids aside: ``{id}`` in a path
stands for the app's id of the user. A user who stays DEPROVISIONED gets nothing, as in
Okta; one who becomes DEPROVISIONED, or leaves the export, is deactivated (never deleted).

The state lives in a temporary SQLite file, so memory stays flat however large the exports
are; NEW is streamed.
"""

from __future__ import annotations

import heapq
import json
import multiprocessing
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
from mapper.sync.state import State
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


def _keyed(
    ruleset: Ruleset, old: Iterable[Record], new: Iterable[Record], style: str, summary: Summary,
    part: tuple[int, int] | None,
) -> Iterator[tuple[Key, dict[str, Any] | RecordFailure]]:  # fmt: skip
    """plan's outcomes, each with its Key; with PART (K, N), only for the users whose Okta id
    hashes to K of N (and, for K = 0, the records with no id)."""
    policy = Policy(style=UpdateStyle(style))
    digest = ruleset_hash(ruleset)
    with tempfile.TemporaryDirectory(prefix="mapper-plan-") as folder:
        state = State(Path(folder) / "old.sqlite", "mapper-plan:", policy.match.value, scratch=True)
        tick = state.commit_every(10_000)
        try:
            for index, failure in _load_old(ruleset, digest, policy, state, old, summary, tick, part):
                yield (0, index, 0), failure
            for index, parsed in _users(new, summary, tick, part):
                if isinstance(parsed, RecordFailure):
                    yield (1, index, 0), parsed
                    continue
                record, okta_id, user = parsed
                row = state.get(okta_id)
                if row is not None and row.seen == _NEW_RUN:
                    summary.kinds["failed"] += 1
                    yield (1, index, 0), _twice(record, okta_id)
                    continue
                if row is None:  # new in NEW: a row says it was listed (a second listing is an error)
                    state.mark_pending(okta_id, _NEW_RUN)
                else:
                    state.mark_seen([okta_id], _NEW_RUN)
                try:
                    decision = decide(ruleset, digest, policy, okta_id, user, row)
                except ProfileError as exc:
                    summary.kinds["failed"] += 1
                    yield (
                        (1, index, 0),
                        RecordFailure(
                            record.source, record.line, okta_id, FailureCode.PROFILE, str(exc), exc.value
                        ),
                    )
                    continue
                for sequence, request in enumerate(_requests(ruleset, policy, decision, summary)):
                    yield (1, index, sequence), request
            state.commit()
            for row in state.not_seen(_NEW_RUN):
                gone = decide_gone(policy, row)
                if gone is not None:
                    for sequence, request in enumerate(_requests(ruleset, policy, gone, summary)):
                        yield (2, row.okta_id, sequence), request
        finally:
            state.close()


def _load_old(
    ruleset: Ruleset,
    digest: str,
    policy: Policy,
    state: State,
    old: Iterable[Record],
    summary: Summary,
    tick: Callable[[], None],
    part: tuple[int, int] | None,
) -> Iterator[tuple[int, RecordFailure]]:
    """OLD into STATE, as a first sync of OLD on an empty app leaves it; each failure with its
    record's position."""
    for index, parsed in _users(old, summary, tick, part):
        if isinstance(parsed, RecordFailure):
            yield index, parsed
            continue
        record, okta_id, user = parsed
        if state.get(okta_id) is not None:
            summary.kinds["failed"] += 1
            yield index, _twice(record, okta_id)
            continue
        try:
            decision = decide(ruleset, digest, policy, okta_id, user, None)
        except ProfileError as exc:  # a first sync fails this user: the app never had it
            summary.kinds["failed"] += 1
            yield (
                index,
                RecordFailure(record.source, record.line, okta_id, FailureCode.PROFILE, str(exc), exc.value),
            )
            continue
        if decision.kind is Kind.CREATE:
            state.acknowledged(okta_id, UNKNOWN_ID, decision.desired, True, digest, _OLD_RUN, user)
        else:  # looked for, not found: the app is empty
            state.acknowledged(okta_id, None, None, False, digest, _OLD_RUN, user, absent=True)


def _users(
    records: Iterable[Record], summary: Summary, tick: Callable[[], None], part: tuple[int, int] | None
) -> Iterator[tuple[int, tuple[Record, str, dict[str, Any]] | RecordFailure]]:
    """Each record (of PART, when given) with its position, as (record, Okta id, user), or the
    RecordFailure that says why it cannot be (counted)."""
    for index, record in enumerate(records):
        tick()
        parsed = _user(record)
        if part is not None:
            k, n = part
            if (k != 0) if isinstance(parsed, RecordFailure) else (shard(parsed[0], n) != k):
                continue
        if isinstance(parsed, RecordFailure):
            summary.kinds["failed"] += 1
            yield index, parsed
        else:
            yield index, (record, *parsed)


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
