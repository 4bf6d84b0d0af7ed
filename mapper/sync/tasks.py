"""What one user's decision sends: the requests of a create (a search by ``--match``, then an
adoption or a POST), an update, a repair, a (de)activation, and a user gone from the export.

Each runs on a worker thread of the sync's pool (:mod:`mapper.sync.engine`) and returns a
:class:`~mapper.sync.records.Done` that the engine applies to the state; none writes a row
itself, but for the marks a create needs before its request goes (``carried``, ``lost``)
and the claims that keep one app user to one Okta user. An error a task raises is the
user's failure; an error after a create whose outcome is unknown comes back as a failure
that keeps the row pending (``Done.keep``), so that the next run looks for that create.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from mapper.core.schema import OktaUser, Resource
from mapper.core.styles import UpdateStyle
from mapper.errors import ProfileError
from mapper.runtime.patch import touched
from mapper.runtime.put import put_body
from mapper.runtime.reconcile import reconcile_message
from mapper.runtime.ruleset import Ruleset
from mapper.sync.app import AppError, Conflict, Users, fold
from mapper.sync.decide import Decision, Kind, earlier_match, match_value, status_body, unmatchable
from mapper.sync.records import Done, Options, Outcome
from mapper.sync.state import Row, State


class Tasks:
    """The requests that carry out decisions for RULESET on APP, with STATE for the marks and
    claims (one per run: the engine makes it once the run's app is known)."""

    def __init__(self, ruleset: Ruleset, app: Users, state: State, options: Options) -> None:
        self.ruleset = ruleset
        self.app = app
        self.state = state
        self.options = options
        self.plan = ruleset.plan

    def task(self, decision: Decision) -> Callable[[], Done]:
        """The requests DECISION needs, as a callable for a worker thread."""
        row, user, desired = decision.row, decision.user, decision.desired
        kind = decision.kind
        if kind is Kind.GONE:
            assert row is not None
            return functools.partial(self._gone, row)
        assert user is not None and desired is not None
        if kind in (Kind.CREATE, Kind.LOOKUP):
            return functools.partial(self._create, user, desired, kind is Kind.LOOKUP, earlier_match(row))
        assert row is not None
        if kind is Kind.REPAIR:
            return functools.partial(self._repair, row, user, desired, decision.inactive)
        if kind is Kind.DEACTIVATE:
            return functools.partial(self._deactivate, row)
        if kind is Kind.REACTIVATE:
            return functools.partial(self._reactivate, row, user, desired)
        assert kind is Kind.UPDATE and decision.message is not None
        return functools.partial(self._update, row, user, desired, decision.message)

    def match_value(self, desired: Resource | None) -> str | None:
        """The value DESIRED is looked for by in the app (--match), or None."""
        return match_value(desired, self.options.match) if desired is not None else None

    def _create(
        self,
        user: OktaUser,
        desired: Resource,
        inactive: bool,
        earlier: str | None = None,
        lost: bool = False,
    ) -> Done:
        """A user new to the state: looked for by --match, adopted if found, else created (an
        inactive user is never created: an active account found is deactivated, with the guard).
        EARLIER: a value an account of this user may carry, looked for first when the user's
        value has changed since: the one an earlier run's create in doubt carried, or (LOST) the
        one the account was last sent. LOST: the state's app id is of an account the app
        answered 404 for, dropped just before a POST goes."""
        okta_id = user["id"]
        # Whether a create (an earlier run's, or one of this run's) may have made the account.
        in_doubt = earlier is not None and not lost
        try:
            value = self.match_value(desired)
            match = self.options.match
            changed = earlier is not None and (value is None or fold(earlier, match) != fold(value, match))
            if changed and "externalId" in desired:
                assert earlier is not None
                # Adopted by that value only when it is provably the account that create made (it
                # carries this user's externalId): the value may be another Okta user's by now.
                mine = [
                    f for f in self.app.find(match, earlier) if f.get("externalId") == desired["externalId"]
                ]
                if len(mine) == 1:
                    return self._adopt(okta_id, mine[0], user, desired, inactive)
            if value is None and not inactive:
                raise unmatchable(match)  # (an app user deleted in the app, its user with no value now)
            if changed and value is not None:
                self.state.carried(okta_id, value)  # the earlier value is done with: a POST would carry this
            if value is not None:
                self._claim("match:" + fold(value, match), okta_id, f"the same {match} in this export",
                            "another Okta user")  # fmt: skip
            for _ in range(3):
                found = self._find(value)
                if found is not None:
                    return self._adopt(okta_id, found, user, desired, inactive)
                if inactive:
                    return Done(Outcome.UNCHANGED, okta_id, active=False, absent=True, profile=user)
                body = self.ruleset.create(user)
                if lost and value is not None:  # no one found: this POST makes the account; the old id goes
                    self.state.lost(okta_id, value)
                    lost = False
                try:
                    created = self.app.create(body)
                except AppError as exc:
                    if exc.unknown_outcome and not exc.later:
                        in_doubt = True
                        continue  # the user may exist now: search again before sending again
                    if in_doubt and (exc.status == 409 or exc.scim_type == "uniqueness"):
                        # The create in doubt was acted on after the search that followed it (the
                        # app was still creating the user): the account is this user's own.
                        found = self._find(value)
                        if found is not None:
                            return self._adopt(okta_id, found, user, desired, inactive)
                    raise  # (later: it stays pending, and the next run looks for it first)
                self._claim(created["id"], okta_id, "the id", "another Okta user")
                return Done(Outcome.CREATED, okta_id, created["id"], put_body(self.plan, created, desired),
                            profile=user)  # fmt: skip
            # The last create is in doubt too: the user stays pending, and the next run looks for it first.
            raise AppError(None, "", "the app did not answer a create three times; the next run looks for it first",
                           unknown_outcome=True)  # fmt: skip
        except (AppError, ProfileError) as exc:
            if not in_doubt:
                raise
            # What a create did is not known yet: the row keeps the value it carried, so that the
            # next run (or, should the user leave the export, its deactivation) looks for it first.
            error = exc if isinstance(exc, AppError) else AppError(None, "", str(exc))
            return Done(Outcome.FAILED, okta_id, error=error, keep=True)

    def _find(self, value: str | None) -> Resource | None:
        if value is None:
            return None
        found = self.app.find(self.options.match, value)
        if len(found) > 1:
            raise AppError(
                None, "uniqueness", f"{len(found)} app users match this user's {self.options.match}"
            )
        return found[0] if found else None

    def _claim(self, key: str, okta_id: str, what: str, whose: str) -> None:
        holder = self.state.claim(key, okta_id)
        if holder is not None:
            raise Conflict(f"{whose} ({holder}) holds {what}")

    def _adopt(
        self,
        okta_id: str,
        current: Resource,
        user: OktaUser,
        desired: Resource,
        inactive: bool,
    ) -> Done:
        """An app user found by --match becomes this Okta user's: brought in line, nothing else
        touched; never one that belongs to another Okta user."""
        app_id = current.get("id")
        if not isinstance(app_id, str) or not app_id:
            raise AppError(None, "", "the app's search result has no id")
        external = current.get("externalId")
        if (
            "externalId" in desired
            and isinstance(external, str)
            and external
            and external != desired["externalId"]
        ):
            raise Conflict(
                f"the app user with this {self.options.match} has the externalId of another Okta user ({external})"
            )
        self._claim(app_id, okta_id, f"the app user with this {self.options.match}", "another Okta user")
        if inactive:
            if current.get("active") is False:
                return Done(Outcome.UNCHANGED, okta_id, app_id, current, active=False, profile=user)
            return Done(Outcome.UNCHANGED, okta_id, app_id, current, profile=user, found=current)
        attributes = self._send_reconcile(app_id, current, user)
        return Done(Outcome.ADOPTED, okta_id, app_id, put_body(self.plan, current, desired), attributes=attributes,
                    profile=user)  # fmt: skip

    def _update(self, row: Row, user: OktaUser, desired: Resource, message: Resource) -> Done:
        assert row.app_id is not None and row.resource is not None
        if self.options.style is UpdateStyle.PUT:
            return self._put(row, user, desired)
        try:
            self.app.patch(row.app_id, message)
        except AppError as exc:
            if exc.status == 404:
                return self._recreate(row, user, desired, False)
            if not exc.unknown_outcome or exc.later:
                raise  # (later: a read now could come before the PATCH lands; the next run reads)
            return self._repair(row, user, desired, False)  # see what the app really holds
        return Done(Outcome.UPDATED, row.okta_id, row.app_id, put_body(self.plan, row.resource, desired),
                    attributes=_attributes(message), profile=user)  # fmt: skip

    def _put(self, row: Row, user: OktaUser, desired: Resource) -> Done:
        assert row.app_id is not None
        current = self._get(row, user, desired)
        if isinstance(current, Done):
            return current
        changed = reconcile_message(self.plan, current, desired)
        if changed is None:
            return Done(Outcome.UNCHANGED, row.okta_id, row.app_id, put_body(self.plan, current, desired),
                        profile=user)  # fmt: skip
        body = self.ruleset.put(current, user)
        self.app.put(row.app_id, body)
        return Done(
            Outcome.UPDATED, row.okta_id, row.app_id, body, attributes=_attributes(changed), profile=user
        )

    def _repair(self, row: Row, user: OktaUser, desired: Resource, inactive: bool) -> Done:
        """Read the app's user and bring it in line (a killed run, --repair, an unknown outcome)."""
        assert row.app_id is not None
        current = self._get(row, user, desired, inactive)
        if isinstance(current, Done):
            return current
        if inactive:
            if current.get("active") is False:
                return Done(Outcome.UNCHANGED, row.okta_id, row.app_id, current, active=False, profile=user)
            return Done(Outcome.UNCHANGED, row.okta_id, row.app_id, current, profile=user, found=current)
        kind = Outcome.UPDATED
        if current.get("active") is False and not _owns_active(self.ruleset):
            current = self._set_active(row.app_id, True, current)
            kind = Outcome.REACTIVATED
        attributes = self._send_reconcile(row.app_id, current, user)
        if not attributes and kind is Outcome.UPDATED:
            kind = Outcome.UNCHANGED
        return Done(kind, row.okta_id, row.app_id, put_body(self.plan, current, desired), attributes=attributes,
                    profile=user)  # fmt: skip

    def _get(self, row: Row, user: OktaUser, desired: Resource, inactive: bool = False) -> Resource | Done:
        assert row.app_id is not None
        try:
            return self.app.get(row.app_id)
        except AppError as exc:
            if exc.status == 404:
                return self._recreate(row, user, desired, inactive)
            raise

    def _recreate(self, row: Row, user: OktaUser, desired: Resource, inactive: bool) -> Done:
        """The app has no user at ROW's app id (a 404: deleted in the app): provisioned again, as a
        user new to the state. Its row keeps the old id until a POST goes (State.lost): a 404 is
        not proof (a gateway may answer one), and the search may find the same account: by the
        user's value, and by the value the account was last sent (the user may be renamed by
        the update that met the 404), adopted by that one only if it carries the externalId."""
        return self._create(user, desired, inactive, self.match_value(row.resource), lost=True)

    def _send_reconcile(self, app_id: str, current: Resource, user: OktaUser) -> list[str]:
        """Send reconcile(current, user) (re-read and re-sent when its outcome is unknown)."""
        for _ in range(3):
            message = self.ruleset.reconcile(current, user)
            if message is None:
                return []
            try:
                self.app.patch(app_id, message)
                return _attributes(message)
            except AppError as exc:
                if not exc.unknown_outcome or exc.later:
                    raise  # (later: it stays pending, and the next run reads the app)
                current = self.app.get(app_id)
        # The last PATCH is in doubt too: the user stays pending, and the next run reads the app first.
        raise AppError(None, "", "the app did not answer a PATCH three times; the next run reads the user first",
                       unknown_outcome=True)  # fmt: skip

    def _deactivate(self, row: Row) -> Done:
        assert row.app_id is not None
        return self.deactivate_current(row.okta_id, row.app_id, row.resource or {})

    def _set_active(self, app_id: str, active: bool, current: Resource) -> Resource:
        """(De)activate the app user in the run's style (decide.status_body); with put, on the
        resource read from the app just before. What the app holds afterwards."""
        style = self.options.style
        if style is UpdateStyle.PUT:
            current = self.app.get(app_id)
            self.app.put(app_id, status_body(self.ruleset, style, active, current))
        else:
            self.app.patch(app_id, status_body(self.ruleset, style, active, None))
        return {**current, "active": active}

    def deactivate_current(self, okta_id: str, app_id: str, current: Resource) -> Done:
        for attempt in range(3):  # setting active=false twice is the same as once
            try:
                current = self._set_active(app_id, False, current)
                break
            except AppError as exc:
                if not exc.unknown_outcome or attempt == 2:
                    raise
        return Done(Outcome.DEACTIVATED, okta_id, app_id, current, active=False,
                    attributes=["active"])  # fmt: skip

    def _reactivate(self, row: Row, user: OktaUser, desired: Resource) -> Done:
        assert row.app_id is not None and row.resource is not None
        try:
            current = self._set_active(row.app_id, True, row.resource)
        except AppError as exc:
            if exc.status == 404:
                return self._recreate(row, user, desired, False)
            raise
        attributes = ["active", *self._send_reconcile(row.app_id, current, user)]
        return Done(Outcome.REACTIVATED, row.okta_id, row.app_id, put_body(self.plan, current, desired),
                    attributes=attributes, profile=user)  # fmt: skip

    def _gone(self, row: Row) -> Done:
        """A user the export no longer lists: deactivated (deleted with --delete). One whose
        create is in doubt is searched for first."""
        app_id, current = row.app_id, row.resource or {}
        if app_id is None:
            assert row.match is not None
            found = self.app.find(self.options.match, row.match)
            found_id = found[0].get("id") if len(found) == 1 else None
            external = found[0].get("externalId") if len(found) == 1 else None
            if (
                not isinstance(found_id, str)
                or (isinstance(external, str) and external and external != row.okta_id)
                or self.state.claim(found_id, row.okta_id) is not None
            ):
                return Done(Outcome.UNCHANGED, row.okta_id, forget=True)  # not created, or not ours
            app_id, current = found_id, found[0]
        if self.options.delete:
            try:
                self.app.delete(app_id)
            except AppError as exc:
                if exc.status != 404:
                    raise
            return Done(Outcome.DELETED, row.okta_id, forget=True)
        return self.deactivate_current(row.okta_id, app_id, current)


def _owns_active(ruleset: Ruleset) -> bool:
    return any(r.target.attr == "active" and r.target.sub is None for r in ruleset.plan.rules)


def _attributes(message: Resource | None) -> list[str]:
    return sorted(touched(message)) if message is not None else []
