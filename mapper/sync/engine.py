"""The sync: for each Okta user, the fewest requests that bring the app in line.

For every user of the export the engine decides, from the state row (what the app was
last sent) and the ruleset's rendering, what the user needs; a user that needs nothing
costs no request. Requests run on a bounded pool of threads; the state row is marked
``pending`` before a request goes and written only when the app acknowledged it.

- new user (no acknowledged row): searched in the app by ``--match``; an existing app user
  is adopted (reconciled), else created. A create whose outcome is unknown (a dropped
  connection, a 500) is searched for again before it is sent again: never a duplicate.
- changed user: the PatchOp from what the app was last sent to what the ruleset wants
  (``reconcile``: the same for a profile change and a ruleset change), or with
  ``--style put`` a PUT built on a fresh GET, as Okta does. A PATCH whose outcome is
  unknown is followed by a GET and a reconcile against what the app really holds.
- DEPROVISIONED, or gone from the export: deactivated (Okta's body); deleted only with
  ``--delete``. An inactive user who is active again is reactivated.
- a pending row (a run that was killed) or ``--repair``: GET the app's user and reconcile.
"""

from __future__ import annotations

import concurrent.futures
import functools
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from mapper.errors import ProfileError
from mapper.runtime.patch import touched
from mapper.runtime.put import put_body
from mapper.runtime.reconcile import reconcile_message
from mapper.runtime.ruleset import Ruleset
from mapper.sync.app import AppError, ScimApp
from mapper.sync.state import Row, State

MATCHES = {
    # --match NAME: the SCIM filter attribute, and how to read its value from the resource.
    "userName": "userName",
    "email": "emails.value",
    "externalId": "externalId",
}
KINDS = ("created", "adopted", "updated", "deactivated", "reactivated", "deleted", "unchanged", "failed")


@dataclass(frozen=True)
class Options:
    match: str = "userName"
    style: str = "rfc"  # "rfc" (reconcile's PatchOp) or "put"
    delete: bool = False
    repair: bool = False
    concurrency: int = 4


@dataclass
class Failure:
    okta_id: str | None
    where: str  # FILE:LINE, or "" for a user known from the state alone
    status: int | None
    scim_type: str
    message: str  # never a profile value

    def as_json(self) -> dict[str, Any]:
        return {"id": self.okta_id, "where": self.where, "status": self.status, "scimType": self.scim_type,
                "message": self.message}  # fmt: skip


@dataclass
class Summary:
    counts: Counter[str] = field(default_factory=Counter)
    attributes: Counter[str] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            **{kind: self.counts[kind] for kind in KINDS},
            "attributes": dict(self.attributes.most_common()),
            "requests": self.requests,
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
            "failures": [f.as_json() for f in self.failures],
        }


@dataclass(frozen=True)
class Incoming:
    """One record of the export: a Users API user, or why it could not be read."""

    where: str
    user: dict[str, Any] | None
    problem: str = ""


@dataclass(frozen=True)
class Action:
    """What one user needs, decided before anything is sent: run by a worker thread, or
    described by the dry run. KIND: create, repair, deactivate, reactivate, update, gone."""

    kind: str
    okta_id: str
    user: dict[str, Any] | None  # None for a user gone from the export
    desired: dict[str, Any] | None
    row: Row | None
    message: dict[str, Any] | None = None  # the PATCH of an update
    deprovisioned: bool = False


@dataclass
class _Done:
    """A task's outcome, applied to the state by the main thread."""

    kind: str
    okta_id: str
    app_id: str | None = None
    resource: dict[str, Any] | None = None
    active: bool = True
    attributes: list[str] = field(default_factory=list)
    error: AppError | None = None
    forget: bool = False
    profile: dict[str, Any] | None = None  # the Okta user rendered, kept in the state


class Sync:
    def __init__(
        self,
        ruleset: Ruleset,
        app: ScimApp | None,
        state: State,
        options: Options,
        on_failure: Callable[[Failure], None] = lambda f: None,
        on_progress: Callable[[], None] = lambda: None,
    ) -> None:
        self.ruleset = ruleset
        self._app = app
        self.state = state
        self.options = options
        self.on_failure = on_failure
        self.on_progress = on_progress
        self.plan = ruleset.plan
        self.ruleset_hash = _hash(ruleset)
        self.summary = Summary()

    @property
    def app(self) -> ScimApp:
        assert self._app is not None, "a run needs the app; the dry run does not"
        return self._app

    # ---------------------------------------------------------------- the run

    def run(self, users: Iterable[Incoming]) -> Summary:
        started = time.perf_counter()
        run = self.state.next_run()
        pool = concurrent.futures.ThreadPoolExecutor(max(1, self.options.concurrency))
        in_flight: dict[concurrent.futures.Future[_Done], tuple[str, str]] = {}
        busy: set[str] = set()

        def drain(limit: int) -> None:
            while len(in_flight) > limit:
                done, _ = concurrent.futures.wait(in_flight, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in done:
                    okta_id, where = in_flight.pop(future)
                    busy.discard(okta_id)
                    self._apply(future.result(), where, run)

        try:
            for where, action in self._decide_all(users, run, busy):
                match = _match_value(action.desired, self.options.match) if action.desired else None
                self.state.mark_pending(action.okta_id, run, match)
                busy.add(action.okta_id)
                future = pool.submit(self._guarded, self._task(action), action.okta_id, action.user)
                in_flight[future] = (action.okta_id, where)
                drain(self.options.concurrency * 4)
            drain(0)
            for action in self._gone_actions(self.state.not_seen(run)):
                self.state.mark_pending(action.okta_id, run)
                future = pool.submit(self._guarded, self._task(action), action.okta_id)
                in_flight[future] = (action.okta_id, "")
                drain(self.options.concurrency * 4)
            drain(0)
        finally:
            pool.shutdown(wait=True)
            for future, (_, where) in list(in_flight.items()):
                if future.done() and not future.cancelled():
                    self._apply(future.result(), where, run)
        self.summary.requests = self.app.counters.requests
        self.summary.retries = self.app.counters.retries
        self.summary.seconds = time.perf_counter() - started
        return self.summary

    def _decide_all(
        self, users: Iterable[Incoming], run: int, busy: set[str]
    ) -> Iterator[tuple[str, Action]]:
        """(where, action) for each user that needs a request; the others are counted."""
        seen: list[str] = []  # users that need nothing, marked seen in batches
        try:
            yield from self._decide_each(users, run, busy, seen)
        finally:
            self.state.mark_seen(seen, run)

    def _decide_each(
        self, users: Iterable[Incoming], run: int | None, busy: set[str], seen: list[str]
    ) -> Iterator[tuple[str, Action]]:
        """As _decide_all; RUN None (the dry run) writes nothing to the state."""
        for incoming in users:
            self.on_progress()
            user = incoming.user
            if user is None:
                self._fail(Failure(None, incoming.where, None, "", incoming.problem))
                continue
            okta_id = user.get("id")
            if not isinstance(okta_id, str) or not okta_id:
                self._fail(
                    Failure(None, incoming.where, None, "", "no Okta id: sync needs Users API objects")
                )
                continue
            if okta_id in busy:
                self._fail(Failure(okta_id, incoming.where, None, "", "listed twice in the export"))
                continue
            row = self.state.get(okta_id)
            try:
                action = self._decide(okta_id, user, row)
            except ProfileError as exc:
                seen.append(okta_id)  # not deactivated for a bad profile
                self._fail(Failure(okta_id, incoming.where, None, "", str(exc)))
                continue
            if action is None:
                seen.append(okta_id)
                self.summary.counts["unchanged"] += 1
            else:
                yield incoming.where, action
            if run is not None and len(seen) >= 1000:
                self.state.mark_seen(seen, run)
                seen.clear()

    def _decide(self, okta_id: str, user: dict[str, Any], row: Row | None) -> Action | None:
        """What USER needs, or None for nothing."""
        desired = self.ruleset.render(user)
        deprovisioned = user.get("status") == "DEPROVISIONED"

        def action(kind: str, message: dict[str, Any] | None = None) -> Action:
            return Action(kind, okta_id, user, desired, row, message, deprovisioned)

        if row is None or row.app_id is None:
            if deprovisioned and row is None:
                return None  # never provisioned, nothing to undo
            return action("create")
        if row.pending or self.options.repair:
            return action("repair")
        if deprovisioned:
            return action("deactivate") if row.active else None
        if not row.active:
            return action("reactivate")
        assert row.resource is not None
        message = reconcile_message(self.plan, row.resource, desired)
        if message is None:
            return None
        style = self.options.style
        if (
            style in ("no-path", "whole-multivalued")
            and row.profile is not None
            and row.ruleset == self.ruleset_hash
        ):
            # The PATCH in the app's style, from the Okta user last rendered (the same ruleset);
            # after a ruleset change, reconcile's (RFC paths) says what the change implies.
            message = self.ruleset.patch(row.profile, user, style) or message
        return action("update", message)

    def _gone_actions(self, rows: Iterable[Row]) -> Iterator[Action]:
        """Of ROWS (users the export no longer lists), those that need a request."""
        for row in list(rows):
            if row.app_id is None and not (row.pending and row.match):
                continue  # never sent
            if row.app_id is not None and not row.active and not self.options.delete:
                continue
            yield Action("gone", row.okta_id, None, None, row)

    def _task(self, action: Action) -> Callable[[], _Done]:
        """The requests ACTION needs, as a callable for a worker thread."""
        row, user, desired = action.row, action.user, action.desired
        if action.kind == "gone":
            assert row is not None
            return functools.partial(self._gone, row)
        assert user is not None and desired is not None
        if action.kind == "create":
            return functools.partial(self._create, user, desired, action.deprovisioned)
        assert row is not None
        if action.kind == "repair":
            return functools.partial(self._repair, row, user, desired, action.deprovisioned)
        if action.kind == "deactivate":
            return functools.partial(self._deactivate, row)
        if action.kind == "reactivate":
            return functools.partial(self._reactivate, row, user, desired)
        assert action.kind == "update" and action.message is not None
        return functools.partial(self._update, row, user, desired, action.message)

    # ---------------------------------------------------------------- the dry run

    def dry_run(self, users: Iterable[Incoming]) -> Iterator[dict[str, Any]]:
        """The requests a run would send, as {okta_id, method, path, body[, note]}, from the
        state as it is; nothing is sent and the state is not written. What a run would learn
        from the app (a search, a GET) is said in a note."""
        seen: list[str] = []
        for _, action in self._decide_each(users, None, set(), seen):
            seen.append(action.okta_id)
            yield from self._requests(action)
        listed = set(seen)
        unlisted = (row for row in self.state.not_seen(-1) if row.okta_id not in listed)  # -1: every row
        for action in self._gone_actions(unlisted):
            yield from self._requests(action)

    def _requests(self, action: Action) -> Iterator[dict[str, Any]]:
        row, user = action.row, action.user
        app_path = f"/Users/{row.app_id}" if row is not None and row.app_id else "/Users/{id}"

        def request(method: str, path: str, body: Any = None, note: str = "") -> dict[str, Any]:
            line = {"okta_id": action.okta_id, "method": method, "path": path, "body": body}
            return {**line, "note": note} if note else line

        if action.kind == "gone":
            if self.options.delete:
                yield request("DELETE", app_path, note="gone from the export")
            else:
                yield request("PATCH", app_path, self.ruleset.deactivate(), "gone from the export")
        elif action.kind == "create":
            assert user is not None
            note = f"after a search by {self.options.match}: an app user found is adopted instead"
            if action.deprovisioned:
                yield request("PATCH", app_path, self.ruleset.deactivate(), "only if a search finds it")
            else:
                yield request("POST", "/Users", self.ruleset.create(user), note)
        elif action.kind == "repair":
            yield request("GET", app_path, note="then the PATCH that reconciles what the app holds")
        elif action.kind == "deactivate":
            yield request("PATCH", app_path, self.ruleset.deactivate())
        elif action.kind == "reactivate":
            assert row is not None and row.resource is not None and action.desired is not None
            yield request("PATCH", app_path, self.ruleset.reactivate())
            message = reconcile_message(self.plan, {**row.resource, "active": True}, action.desired)
            if message is not None:
                yield request("PATCH", app_path, message)
        elif self.options.style == "put":
            assert row is not None and row.resource is not None and user is not None
            yield request("GET", app_path)
            yield request(
                "PUT", app_path, self.ruleset.put(row.resource, user), "built on what the GET returns"
            )
        else:
            yield request("PATCH", app_path, action.message)

    def _guarded(self, task: Callable[[], _Done], okta_id: str, user: dict[str, Any] | None = None) -> _Done:
        try:
            done = task()
            if user is not None and done.kind != "failed":
                done.profile = user
            return done
        except AppError as exc:
            return _Done("failed", okta_id, error=exc)
        except ProfileError as exc:
            return _Done("failed", okta_id, error=AppError(None, "", str(exc)))

    def _apply(self, done: _Done, where: str, run: int) -> None:
        if done.kind == "failed":
            error = done.error
            assert error is not None
            if not error.unknown_outcome:  # else it stays pending: the next run reads the app
                self.state.settle(done.okta_id)
            self._fail(Failure(done.okta_id, where, error.status, error.scim_type, error.message()))
            return
        if done.forget:
            self.state.forget(done.okta_id)
        else:
            self.state.acknowledged(
                done.okta_id, done.app_id, done.resource, done.active, self.ruleset_hash, run, done.profile
            )
        self.summary.counts[done.kind] += 1
        self.summary.attributes.update(done.attributes)

    def _fail(self, failure: Failure) -> None:
        self.summary.counts["failed"] += 1
        if len(self.summary.failures) < 10_000:  # the rest are counted, and printed as they come
            self.summary.failures.append(failure)
        self.on_failure(failure)

    # ---------------------------------------------------------------- tasks (worker threads)

    def _create(self, user: dict[str, Any], desired: dict[str, Any], deprovisioned: bool) -> _Done:
        okta_id = user["id"]
        for _ in range(3):
            found = self._find(desired)
            if found is not None:
                return self._adopt(okta_id, found, user, desired, deprovisioned)
            if deprovisioned:
                return _Done("unchanged", okta_id, forget=True)  # a create that never happened
            try:
                created = self.app.create(self.ruleset.create(user))
            except AppError as exc:
                if exc.unknown_outcome:
                    continue  # the user may exist now: search again before sending again
                raise
            return _Done("created", okta_id, created["id"], put_body(self.plan, created, desired))
        raise AppError(None, "", "the app did not answer a create three times; the next run tries again")

    def _find(self, desired: dict[str, Any]) -> dict[str, Any] | None:
        value = _match_value(desired, self.options.match)
        if value is None:
            return None
        found = self.app.find(MATCHES[self.options.match], value)
        if len(found) > 1:
            raise AppError(
                None, "uniqueness", f"{len(found)} app users match this user's {self.options.match}"
            )
        return found[0] if found else None

    def _adopt(
        self,
        okta_id: str,
        current: dict[str, Any],
        user: dict[str, Any],
        desired: dict[str, Any],
        deprovisioned: bool,
    ) -> _Done:
        """An app user found by --match becomes this Okta user's: brought in line, nothing else touched."""
        app_id = current.get("id")
        if not isinstance(app_id, str):
            raise AppError(None, "", "the app's search result has no id")
        owner = self.state.owner(app_id)
        if owner is not None and owner != okta_id:
            raise AppError(
                None,
                "uniqueness",
                f"the app user with this {self.options.match} was provisioned for Okta user {owner}",
            )
        if deprovisioned:
            return self._deactivate_current(okta_id, app_id, current)
        attributes = self._send_reconcile(app_id, current, user)
        return _Done("adopted", okta_id, app_id, put_body(self.plan, current, desired), attributes=attributes)

    def _update(
        self, row: Row, user: dict[str, Any], desired: dict[str, Any], message: dict[str, Any]
    ) -> _Done:
        assert row.app_id is not None and row.resource is not None
        if self.options.style == "put":
            return self._put(row, user, desired)
        try:
            self.app.patch(row.app_id, message)
        except AppError as exc:
            if exc.status == 404:
                return self._create(user, desired, False)  # deleted in the app: provision again
            if not exc.unknown_outcome:
                raise
            return self._repair(row, user, desired, False)  # see what the app really holds
        return _Done("updated", row.okta_id, row.app_id, put_body(self.plan, row.resource, desired),
                     attributes=_attributes(message))  # fmt: skip

    def _put(self, row: Row, user: dict[str, Any], desired: dict[str, Any]) -> _Done:
        assert row.app_id is not None
        current = self._get(row, user, desired)
        if isinstance(current, _Done):
            return current
        if reconcile_message(self.plan, current, desired) is None:
            return _Done("unchanged", row.okta_id, row.app_id, put_body(self.plan, current, desired))
        body = self.ruleset.put(current, user)
        self.app.put(row.app_id, body)
        changed = reconcile_message(self.plan, current, desired)
        return _Done("updated", row.okta_id, row.app_id, body, attributes=_attributes(changed))

    def _repair(self, row: Row, user: dict[str, Any], desired: dict[str, Any], deprovisioned: bool) -> _Done:
        """Read the app's user and bring it in line (a killed run, --repair, an unknown outcome)."""
        assert row.app_id is not None
        current = self._get(row, user, desired, deprovisioned)
        if isinstance(current, _Done):
            return current
        if deprovisioned:
            if current.get("active") is False:
                return _Done("unchanged", row.okta_id, row.app_id, current, active=False)
            return self._deactivate_current(row.okta_id, row.app_id, current)
        kind = "updated"
        if current.get("active") is False and not _owns_active(self.plan):
            self.app.patch(row.app_id, self.ruleset.reactivate())
            current = {**current, "active": True}
            kind = "reactivated"
        attributes = self._send_reconcile(row.app_id, current, user)
        if not attributes and kind == "updated":
            kind = "unchanged"
        return _Done(
            kind, row.okta_id, row.app_id, put_body(self.plan, current, desired), attributes=attributes
        )

    def _get(
        self, row: Row, user: dict[str, Any], desired: dict[str, Any], deprovisioned: bool = False
    ) -> dict[str, Any] | _Done:
        assert row.app_id is not None
        try:
            return self.app.get(row.app_id)
        except AppError as exc:
            if exc.status == 404:
                return self._create(user, desired, deprovisioned)
            raise

    def _send_reconcile(self, app_id: str, current: dict[str, Any], user: dict[str, Any]) -> list[str]:
        """Send reconcile(current, user) (re-read and re-sent when its outcome is unknown)."""
        for _ in range(3):
            message = self.ruleset.reconcile(current, user)
            if message is None:
                return []
            try:
                self.app.patch(app_id, message)
                return _attributes(message)
            except AppError as exc:
                if not exc.unknown_outcome:
                    raise
                current = self.app.get(app_id)
        raise AppError(None, "", "the app did not answer a PATCH three times; the next run tries again")

    def _deactivate(self, row: Row) -> _Done:
        assert row.app_id is not None
        return self._deactivate_current(row.okta_id, row.app_id, row.resource or {})

    def _deactivate_current(self, okta_id: str, app_id: str, current: dict[str, Any]) -> _Done:
        body = self.ruleset.deactivate()
        for attempt in range(3):  # replace active=false twice is the same as once
            try:
                self.app.patch(app_id, body)
                break
            except AppError as exc:
                if not exc.unknown_outcome or attempt == 2:
                    raise
        return _Done(
            "deactivated", okta_id, app_id, {**current, "active": False}, active=False, attributes=["active"]
        )

    def _reactivate(self, row: Row, user: dict[str, Any], desired: dict[str, Any]) -> _Done:
        assert row.app_id is not None and row.resource is not None
        self.app.patch(row.app_id, self.ruleset.reactivate())
        current = {**row.resource, "active": True}
        attributes = ["active", *self._send_reconcile(row.app_id, current, user)]
        return _Done("reactivated", row.okta_id, row.app_id, put_body(self.plan, current, desired),
                     attributes=attributes)  # fmt: skip

    def _gone(self, row: Row) -> _Done:
        """A user the export no longer lists: deactivated (deleted with --delete). One whose
        create is in doubt is searched for first."""
        app_id, current = row.app_id, row.resource or {}
        if app_id is None:
            assert row.match is not None
            found = self.app.find(MATCHES[self.options.match], row.match)
            found_id = found[0].get("id") if len(found) == 1 else None
            if not isinstance(found_id, str) or self.state.owner(found_id) not in (None, row.okta_id):
                return _Done("unchanged", row.okta_id, forget=True)  # it was never created
            app_id, current = found_id, found[0]
        if self.options.delete:
            try:
                self.app.delete(app_id)
            except AppError as exc:
                if exc.status != 404:
                    raise
            return _Done("deleted", row.okta_id, forget=True)
        return self._deactivate_current(row.okta_id, app_id, current)


def _match_value(resource: dict[str, Any], match: str) -> str | None:
    if match == "email":
        emails = resource.get("emails") or []
        primary = [e for e in emails if e.get("primary")] or emails
        value = primary[0].get("value") if primary else None
    else:
        value = resource.get(match)
    return value if isinstance(value, str) and value else None


def _owns_active(plan: Any) -> bool:
    return any(r.target.attr == "active" and r.target.sub is None for r in plan.rules)


def _attributes(message: dict[str, Any] | None) -> list[str]:
    return sorted(touched(message)) if message is not None else []


def _hash(ruleset: Ruleset) -> str:
    import hashlib

    return hashlib.sha256(ruleset.render_source.encode()).hexdigest()[:16]
