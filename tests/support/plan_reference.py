"""``mapper plan`` as it was first written, the oracle the fast one is held to: every user of
OLD decided into a real sync State (as a first sync of OLD on an empty app leaves it), every
user of NEW decided against their row one by one, the users not seen gone. Slow (a parse, a
render and SQLite reads and writes per user of both exports) and plainly right."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from mapper.core.styles import UpdateStyle
from mapper.errors import ProfileError
from mapper.runtime.ruleset import Ruleset
from mapper.sync.decide import Kind, Policy, decide, decide_gone, ruleset_hash
from mapper.sync.state import State
from mapper.tools.bulk import FailureCode, Record, RecordFailure
from mapper.tools.plan_exports import UNKNOWN_ID, UNREADABLE, Summary, _requests, _twice, _user

_OLD_RUN, _NEW_RUN = 1, 2


def reference_plan(
    ruleset: Ruleset, old: Iterable[Record], new: Iterable[Record], style: str, summary: Summary
) -> Iterator[dict[str, Any] | RecordFailure]:
    """What ``plan`` yields, in its order, with SUMMARY counted the same way."""
    policy = Policy(style=UpdateStyle(style))
    digest = ruleset_hash(ruleset)
    state = State(":memory:", "mapper-plan:", policy.match.value)
    try:
        for record, parsed in _users(old, summary):
            if isinstance(parsed, RecordFailure):
                yield parsed
                continue
            okta_id, user = parsed
            if state.get(okta_id) is not None:
                summary.kinds["failed"] += 1
                yield _twice(record, okta_id)
                continue
            try:
                decision = decide(ruleset, digest, policy, okta_id, user, None)
            except ProfileError as exc:
                summary.kinds["failed"] += 1
                yield _failure(record, okta_id, exc)
                continue
            if decision.kind is Kind.CREATE:
                state.acknowledged(okta_id, UNKNOWN_ID, decision.desired, True, digest, _OLD_RUN, user)
            else:
                state.acknowledged(okta_id, None, None, False, digest, _OLD_RUN, user, absent=True)
        for record, parsed in _users(new, summary):
            if isinstance(parsed, RecordFailure):
                summary.unreadable += parsed.code in UNREADABLE
                yield parsed
                continue
            okta_id, user = parsed
            row = state.get(okta_id)
            if row is not None and row.seen == _NEW_RUN:
                summary.kinds["failed"] += 1
                yield _twice(record, okta_id)
                continue
            if row is None:
                state.mark_pending(okta_id, _NEW_RUN)
            else:
                state.mark_seen([okta_id], _NEW_RUN)
            try:
                decision = decide(ruleset, digest, policy, okta_id, user, row)
            except ProfileError as exc:
                summary.kinds["failed"] += 1
                yield _failure(record, okta_id, exc)
                continue
            yield from _requests(ruleset, policy, decision, summary)
        gone = [g for row in state.not_seen(_NEW_RUN) if (g := decide_gone(policy, row)) is not None]
        if summary.unreadable and gone:  # as sync: who is gone cannot be proven
            summary.gone_kept = len(gone)
            return
        summary.gone = len(gone)
        for decision in gone:
            yield from _requests(ruleset, policy, decision, summary)
    finally:
        state.close()


def _users(
    records: Iterable[Record], summary: Summary
) -> Iterator[tuple[Record, tuple[str, dict[str, Any]] | RecordFailure]]:
    for record in records:
        parsed = _user(record)
        if isinstance(parsed, RecordFailure):
            summary.kinds["failed"] += 1
        yield record, parsed


def _failure(record: Record, okta_id: str, exc: ProfileError) -> RecordFailure:
    return RecordFailure(record.source, record.line, okta_id, FailureCode.PROFILE, str(exc), exc.value)
