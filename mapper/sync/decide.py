"""What one Okta user needs, decided once: the pure core of ``mapper sync``, its dry run,
its saved plans and ``mapper plan``.

:func:`decide` takes a user of the export and what the state knows of them (the row) and
says what the user needs, as a :class:`Decision`; :func:`decide_gone` does the same for
a user the export no longer lists. Neither sends, reads or writes anything. The engine
carries a decision out; :func:`requests` describes the requests it implies from the state
alone, which is what ``mapper plan OLD NEW`` prints (its state made from OLD).

Okta's push is the reference: a user who stays DEPROVISIONED gets nothing, a user who
becomes inactive is deactivated (never deleted, unless ``--delete``), an unchanged user
costs no request.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple, assert_never

from mapper.core.styles import PatchStyle, UpdateStyle
from mapper.errors import ProfileError
from mapper.runtime.reconcile import reconcile_message
from mapper.runtime.ruleset import Ruleset
from mapper.sync.state import Row


class Kind(StrEnum):
    """What a user needs."""

    CREATE = "create"  # new to the state: looked for by --match, adopted, else created
    LOOKUP = "lookup"  # inactive and new to the state: looked for; an active account found is deactivated
    REPAIR = "repair"  # a request in doubt, or --repair: read from the app, then reconciled
    UPDATE = "update"  # changed: one PATCH (or a PUT on a fresh GET)
    DEACTIVATE = "deactivate"  # became inactive
    REACTIVATE = "reactivate"  # active again
    GONE = "gone"  # no longer in the export: deactivated, or deleted with --delete
    NOTHING = "nothing"


class Match(StrEnum):
    """The attribute a user new to the state is looked for by."""

    USER_NAME = "userName"
    EMAIL = "email"
    EXTERNAL_ID = "externalId"


@dataclass(frozen=True)
class Policy:
    """The choices that change a decision."""

    match: Match = Match.USER_NAME
    style: UpdateStyle = UpdateStyle.RFC
    delete: bool = False
    repair: bool = False


class Decision(NamedTuple):
    """What one user needs (KIND), with what it was decided from: the user, the rendered resource, the
    state's row, and the PATCH an update sends. A named tuple, as Row: one is made per user."""

    kind: Kind
    okta_id: str
    user: dict[str, Any] | None  # None for a user gone from the export
    desired: dict[str, Any] | None  # the rendered resource
    row: Row | None
    message: dict[str, Any] | None = None  # the PATCH of an update
    inactive: bool = False  # the ruleset renders the user inactive

    def destructive(self, delete: bool) -> bool:
        """Whether carrying it out may deactivate (or delete) an account the app holds active:
        what the deactivation guard counts and holds."""
        if self.kind in (Kind.DEACTIVATE, Kind.GONE):
            return self.row is not None and (self.row.active or delete) and self.row.app_id is not None
        return self.kind is Kind.REPAIR and self.inactive and self.row is not None and self.row.active


@dataclass(frozen=True)
class Request:
    """One changing request: the app's id stands as ``{id}`` in PATH when it is not known."""

    okta_id: str
    method: str
    path: str
    body: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        """The request as JSON: the Okta id, the method, the path and the body."""
        return {"okta_id": self.okta_id, "method": self.method, "path": self.path, "body": self.body}


def ruleset_hash(ruleset: Ruleset) -> str:
    """Which ruleset rendered a row: a row rendered by another is brought in line."""
    return hashlib.sha256(ruleset.render_source.encode()).hexdigest()[:16]


def shard(okta_id: str, parts: int) -> int:
    """Which of PARTS the user OKTA_ID belongs to (CRC-32 of the id): sync --shard K/N."""
    return zlib.crc32(okta_id.encode("utf-8", "surrogatepass")) % parts


def is_inactive(desired: dict[str, Any], user: dict[str, Any]) -> bool:
    """Whether the user is to be inactive in the app: as the ruleset renders ``active``
    (okta-default: only DEPROVISIONED, as Okta), else Okta's DEPROVISIONED status."""
    if "active" in desired:
        return desired["active"] is False
    return user.get("status") == "DEPROVISIONED"


def decide(ruleset: Ruleset, rendered_by: str, policy: Policy, okta_id: str, user: dict[str, Any],
           row: Row | None) -> Decision:  # fmt: skip
    """What USER needs, given ROW (what the state knows; None: nothing). RENDERED_BY is
    :func:`ruleset_hash` of RULESET. Raises ProfileError for a profile that cannot be mapped."""
    desired = ruleset.render(user)
    inactive = is_inactive(desired, user)

    def decision(kind: Kind, message: dict[str, Any] | None = None) -> Decision:
        return Decision(kind, okta_id, user, desired, row, message, inactive)

    if row is None or row.app_id is None:
        if not inactive:
            if match_value(desired, policy.match) is None:
                raise unmatchable(policy.match)  # before any request: a pending row stays as it is
            return decision(Kind.CREATE)
        if row is not None and row.absent and not row.pending:
            return decision(Kind.NOTHING)  # looked for before, not there, still inactive
        return decision(Kind.LOOKUP)
    if row.pending or policy.repair:
        return decision(Kind.REPAIR)
    if inactive:
        return decision(Kind.DEACTIVATE) if row.active else decision(Kind.NOTHING)
    if not row.active:
        return decision(Kind.REACTIVATE)
    assert row.resource is not None
    if row.profile is not None and row.ruleset == rendered_by and ruleset.patch(row.profile, user) is None:
        # Nothing a rule reads changed since the same ruleset rendered the row's resource, and
        # that resource holds exactly what it rendered (put_body): reconcile would find nothing.
        return decision(Kind.NOTHING)
    message = reconcile_message(ruleset.plan, row.resource, desired)
    if message is None:
        return decision(Kind.NOTHING)
    if (
        policy.style in (UpdateStyle.NO_PATH, UpdateStyle.WHOLE_MULTIVALUED)
        and row.profile is not None
        and row.ruleset == rendered_by
    ):
        # The PATCH in the app's style, from the Okta user last rendered (the same ruleset);
        # after a ruleset change, reconcile's (RFC paths) says what the change implies.
        message = ruleset.patch(row.profile, user, PatchStyle(policy.style.value)) or message
    return decision(Kind.UPDATE, message)


def unmatchable(match: str) -> ProfileError:
    """The refusal of a create no search could check: the user has no value for --match MATCH.
    A create goes only after a search found no one, so that a create whose outcome is in doubt
    is looked for, never sent again (a second account)."""
    return ProfileError(
        f"no {match} to look for the user by in the app (--match {match}): sync creates an app user "
        "only after a search by it finds none, so that no user is created twice; set one in Okta, or "
        "choose another --match"
    )


def earlier_match(row: Row | None) -> str | None:
    """The --match value an earlier run's create carried, when its outcome is still in doubt (ROW
    pending, no app id): the account it may have made is looked for by it too, should the
    user's value have changed since."""
    return row.match if row is not None and row.pending and row.app_id is None else None


def match_value(resource: dict[str, Any], match: str) -> str | None:
    """The value a user is looked for by: the rendered --match attribute (the primary email)."""
    if match == "email":
        emails = resource.get("emails") or []
        primary = [e for e in emails if isinstance(e, dict) and e.get("primary")] or emails
        value = primary[0].get("value") if primary and isinstance(primary[0], dict) else None
    else:
        value = resource.get(match)
    return value if isinstance(value, str) and value else None


def decide_gone(policy: Policy, row: Row) -> Decision | None:
    """What a user the export no longer lists needs (ROW: what the state knows), or None."""
    if row.app_id is None and not (row.pending and row.match):
        return None  # never sent (or looked for and not found)
    if row.app_id is not None and not row.active and not policy.delete:
        return None  # already inactive
    return Decision(Kind.GONE, row.okta_id, None, None, row)


def status_body(
    ruleset: Ruleset, style: UpdateStyle, active: bool, current: dict[str, Any] | None
) -> dict[str, Any]:
    """The body that (de)activates a user in STYLE, as Okta sends it: a PATCH (path-less for
    no-path, as Okta's own; ``replace active`` otherwise), or for put the app's CURRENT resource
    PUT back with ACTIVE (Okta's AIW apps); put without CURRENT sends the pathed PATCH."""
    if style is UpdateStyle.PUT and current is not None:
        return {**current, "active": active}
    # without the resource a PUT would clear the user: the pathed PATCH instead
    patch_style = PatchStyle.NO_PATH if style is UpdateStyle.NO_PATH else PatchStyle.RFC
    return ruleset.reactivate(patch_style) if active else ruleset.deactivate(patch_style)


def status_request(
    ruleset: Ruleset, policy: Policy, okta_id: str, path: str, active: bool, current: dict[str, Any] | None
) -> Request:
    """The request that (de)activates a user in the policy's style (see :func:`status_body`)."""
    method = "PUT" if policy.style is UpdateStyle.PUT and current is not None else "PATCH"
    return Request(okta_id, method, path, status_body(ruleset, policy.style, active, current))


def requests(ruleset: Ruleset, policy: Policy, decision: Decision) -> list[Request]:
    """The requests DECISION implies when the app holds exactly what the state says (no
    search finds a user the state does not know, no request is in doubt): what ``mapper
    plan OLD NEW`` prints, its state made from OLD."""
    row, user, okta_id = decision.row, decision.user, decision.okta_id
    path = f"/Users/{row.app_id}" if row is not None and row.app_id else "/Users/{id}"
    kind = decision.kind
    if kind in (Kind.NOTHING, Kind.LOOKUP):
        return []  # a lookup finds no one the state does not know
    if kind is Kind.GONE:
        if policy.delete:
            return [Request(okta_id, "DELETE", path)]
        return [status_request(ruleset, policy, okta_id, path, False, row.resource if row else None)]
    if kind is Kind.CREATE:
        assert user is not None
        return [Request(okta_id, "POST", "/Users", ruleset.create(user))]
    if kind is Kind.REPAIR:
        raise ValueError("a repair reads the app: it has no requests from the state alone")
    if kind is Kind.DEACTIVATE:
        return [status_request(ruleset, policy, okta_id, path, False, row.resource if row else None)]
    if kind is Kind.REACTIVATE:
        assert row is not None and row.resource is not None and decision.desired is not None
        message = reconcile_message(ruleset.plan, {**row.resource, "active": True}, decision.desired)
        again = [status_request(ruleset, policy, okta_id, path, True, row.resource)]
        return again + ([Request(okta_id, "PATCH", path, message)] if message is not None else [])
    if kind is Kind.UPDATE:
        if policy.style is UpdateStyle.PUT:
            assert row is not None and row.resource is not None and user is not None
            return [Request(okta_id, "PUT", path, ruleset.put(row.resource, user))]
        return [Request(okta_id, "PATCH", path, decision.message)]
    assert_never(kind)
