"""The records a sync run passes around: how it runs (:class:`Options`), what came in
(:class:`Incoming`), what a worker did for one user (:class:`Done`), a deactivation waiting for
the guard (:class:`Held`), what failed (:class:`UserFailure`) and the run's :class:`Summary`,
counted by :class:`Outcome`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from mapper.core.styles import UpdateStyle
from mapper.sync.app import AppError
from mapper.sync.decide import Match, Policy
from mapper.sync.guard import DeactivationLimit


@dataclass(frozen=True)
class Options:
    """How a run decides and sends (the command line's options)."""

    match: Match = Match.USER_NAME
    style: UpdateStyle = UpdateStyle.RFC
    delete: bool = False
    repair: bool = False
    concurrency: int = 4
    max_deactivations: DeactivationLimit = field(default_factory=DeactivationLimit)
    shard: tuple[int, int] | None = None  # (K, N): the users whose Okta id hashes to K of N
    preflight: bool = True
    list_first: bool = True  # a first sync (or --repair) lists the app's users once (sync.listing)
    bulk: bool = (
        True  # changing requests travel in /Bulk requests where the app announces them (sync.batched)
    )

    def __post_init__(self) -> None:  # the names as the command line and callers give them
        object.__setattr__(self, "match", Match(self.match))
        object.__setattr__(self, "style", UpdateStyle(self.style))

    @property
    def policy(self) -> Policy:
        """The choices that change a decision."""
        return Policy(self.match, self.style, self.delete, self.repair)


class Outcome(StrEnum):
    """What happened to a user in a run (the summary's counts)."""

    CREATED = "created"
    ADOPTED = "adopted"
    UPDATED = "updated"
    DEACTIVATED = "deactivated"
    REACTIVATED = "reactivated"
    DELETED = "deleted"
    UNCHANGED = "unchanged"
    FAILED = "failed"


KINDS = tuple(Outcome)


@dataclass
class UserFailure:
    """A user the sync could not bring in line: reported, and tried again by the next run."""

    okta_id: str | None
    where: str  # FILE:LINE, or "" for a user known from the state alone
    status: int | None
    scim_type: str
    message: str  # never a profile value

    def as_json(self) -> dict[str, Any]:
        """The failure as the run's JSON report lists it."""
        return {"id": self.okta_id, "where": self.where, "status": self.status, "scimType": self.scim_type,
                "message": self.message}  # fmt: skip


class BulkUse(NamedTuple):
    """How a run used /Bulk: the bulk requests, the operations they carried, and why bulk stopped
    (None while the app took it)."""

    requests: int
    operations: int
    off: str | None


@dataclass
class Summary:
    """What a run did: users by outcome and by attribute written, failures, requests and retries, and
    what the guard held."""

    counts: Counter[str] = field(default_factory=Counter)
    attributes: Counter[str] = field(default_factory=Counter)
    failures: list[UserFailure] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    looked_up: int = 0  # inactive users new to the state, looked for in the app
    held: list[str] = field(default_factory=list)  # Okta ids whose deactivation the guard held
    limit: int | None = None  # the guard's limit for this run
    unreadable: int = 0  # records of the export that could not be read
    gone_kept: int = 0  # users gone from the export, not deactivated: unreadable records
    stopped: str | None = None  # why the run stopped early (the app stopped answering)
    bulk: BulkUse | None = None  # when the app announced /Bulk

    def as_json(self) -> dict[str, Any]:
        """The summary as JSON, with at most 100 of the held Okta ids."""
        return {
            **{kind.value: self.counts[kind] for kind in KINDS},
            "lookedUp": self.looked_up,
            "held": len(self.held),
            "heldIds": self.held[:100],
            "maxDeactivations": self.limit,
            "unreadable": self.unreadable,
            "goneNotDeactivated": self.gone_kept,
            "stopped": self.stopped,
            "attributes": dict(self.attributes.most_common()),
            "requests": self.requests,
            "retries": self.retries,
            "bulkRequests": self.bulk.requests if self.bulk else 0,
            "bulkOperations": self.bulk.operations if self.bulk else 0,
            "seconds": round(self.seconds, 3),
            "failures": [f.as_json() for f in self.failures],
        }


@dataclass(frozen=True)
class Incoming:
    """One record of the export: a Users API user, or why it could not be read."""

    where: str
    user: dict[str, Any] | None
    problem: str = ""


@dataclass
class Done:
    """A task's outcome, applied to the state by the main thread."""

    kind: Outcome
    okta_id: str
    app_id: str | None = None
    resource: dict[str, Any] | None = None
    active: bool = True
    attributes: list[str] = field(default_factory=list)
    error: AppError | None = None
    forget: bool = False
    absent: bool = False  # looked for, not in the app
    profile: dict[str, Any] | None = None  # the Okta user rendered, kept in the state
    found: dict[str, Any] | None = None  # a lookup's active app user, to deactivate if the guard allows
    keep: bool = False  # failed while a create (this run's or earlier) may have made the account: row kept


@dataclass
class Held:
    """A deactivation (or deletion) waiting for the guard's verdict."""

    where: str
    okta_id: str
    task: Callable[[], Done]
    found: bool = False  # an active app user a lookup found: not yet counted in the state
