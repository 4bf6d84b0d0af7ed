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
from mapper.sync.decide import Kind, Policy, decide, decide_gone, requests, ruleset_hash
from mapper.sync.state import State
from mapper.tools.bulk import FailureCode, Record, RecordFailure

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
    policy = Policy(style=UpdateStyle(style))
    digest = ruleset_hash(ruleset)
    with tempfile.TemporaryDirectory(prefix="mapper-plan-") as folder:
        state = State(Path(folder) / "old.sqlite", "mapper-plan:", policy.match.value, scratch=True)
        tick = state.commit_every(10_000)
        try:
            yield from _load_old(ruleset, digest, policy, state, old, summary, tick)
            for parsed in _users(new, summary, tick):
                if isinstance(parsed, RecordFailure):
                    yield parsed
                    continue
                record, okta_id, user = parsed
                row = state.get(okta_id)
                if row is not None and row.seen == _NEW_RUN:
                    summary.kinds["failed"] += 1
                    yield _twice(record, okta_id)
                    continue
                if row is None:  # new in NEW: a row says it was listed (a second listing is an error)
                    state.mark_pending(okta_id, _NEW_RUN)
                else:
                    state.mark_seen([okta_id], _NEW_RUN)
                try:
                    decision = decide(ruleset, digest, policy, okta_id, user, row)
                except ProfileError as exc:
                    summary.kinds["failed"] += 1
                    yield RecordFailure(
                        record.source, record.line, okta_id, FailureCode.PROFILE, str(exc), exc.value
                    )
                    continue
                yield from _requests(ruleset, policy, decision, summary)
            state.commit()
            for row in state.not_seen(_NEW_RUN):
                gone = decide_gone(policy, row)
                if gone is not None:
                    yield from _requests(ruleset, policy, gone, summary)
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
) -> Iterator[RecordFailure]:
    """OLD into STATE, as a first sync of OLD on an empty app leaves it."""
    for parsed in _users(old, summary, tick):
        if isinstance(parsed, RecordFailure):
            yield parsed
            continue
        record, okta_id, user = parsed
        if state.get(okta_id) is not None:
            summary.kinds["failed"] += 1
            yield _twice(record, okta_id)
            continue
        try:
            decision = decide(ruleset, digest, policy, okta_id, user, None)
        except ProfileError as exc:  # a first sync fails this user: the app never had it
            summary.kinds["failed"] += 1
            yield RecordFailure(record.source, record.line, okta_id, FailureCode.PROFILE, str(exc), exc.value)
            continue
        if decision.kind is Kind.CREATE:
            state.acknowledged(okta_id, UNKNOWN_ID, decision.desired, True, digest, _OLD_RUN, user)
        else:  # looked for, not found: the app is empty
            state.acknowledged(okta_id, None, None, False, digest, _OLD_RUN, user, absent=True)


def _users(
    records: Iterable[Record], summary: Summary, tick: Callable[[], None]
) -> Iterator[tuple[Record, str, dict[str, Any]] | RecordFailure]:
    """Each record as (record, Okta id, user), or the RecordFailure that says why it cannot be (counted)."""
    for record in records:
        tick()
        parsed = _user(record)
        if isinstance(parsed, RecordFailure):
            summary.kinds["failed"] += 1
            yield parsed
        else:
            yield (record, *parsed)


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
