"""The sync: for each Okta user, the fewest requests that bring the app in line, under guards.

A run goes in three phases. First every user of the export is decided
(:mod:`mapper.sync.decide`) and what is not destructive is carried out on a bounded pool
of threads (:mod:`mapper.sync.tasks`, the requests of each decision): creates (after a
search by ``--match``: an app user found is adopted), updates, reactivations, repairs,
and the searches for inactive users the state does not know.
Then the users the export no longer lists are decided. Last, the deactivations and
deletions the run holds are judged by the deactivation guard (:mod:`mapper.sync.guard`):
all of them are carried out, or, past the limit, none. Users gone from the export are
never deactivated when a record of the export could not be read (who is gone cannot be
proven), and an export with no users is refused before any request.

Every state row is marked ``pending`` before a request goes and written only when the app
acknowledged it. App users are claimed atomically across the run's threads (by app id and
by match value), so no concurrency hands one app user to two Okta users. The app client
stops the whole run when the app stops answering (:class:`mapper.sync.retry.Breaker`).

The same run without writing (``dry_run``) sends the searches and GETs, and records the
changing requests instead of sending them: the dry run and the saved plan.
"""

from __future__ import annotations

import concurrent.futures
import functools
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from mapper.errors import ExitCode, MapperError, ProfileError
from mapper.runtime.ruleset import Ruleset
from mapper.sync.app import AppError, BulkLimits, Users
from mapper.sync.batched import BatchedUsers
from mapper.sync.decide import (
    Decision,
    Kind,
    decide,
    decide_gone,
    ruleset_hash,
    shard,
)
from mapper.sync.listing import listed
from mapper.sync.records import KINDS, BulkUse, Done, Held, Incoming, Options, Outcome, Summary, UserFailure
from mapper.sync.retry import AppUnavailable
from mapper.sync.state import State
from mapper.sync.tasks import Tasks

__all__ = ["KINDS", "Done", "EmptyExport", "Incoming", "Options", "Outcome", "Summary", "Sync", "UserFailure"]


class EmptyExport(MapperError):
    """An export with no users: refused before any request (a guard: exit 4)."""

    exit_code = ExitCode.GUARD


class Sync:
    """A sync of an export to the app through RULESET: the fewest requests, under the guards, recorded
    in STATE."""

    def __init__(
        self,
        ruleset: Ruleset,
        app: Users,
        state: State,
        options: Options,
        on_failure: Callable[[UserFailure], None] = lambda f: None,
        on_progress: Callable[[], None] = lambda: None,
    ) -> None:
        self.ruleset = ruleset
        self.app = app
        self.state = state
        self.options = options
        self.policy = options.policy
        self.on_failure = on_failure
        self.on_progress = on_progress
        self.plan = ruleset.plan
        self.ruleset_hash = ruleset_hash(ruleset)
        self.summary = Summary()
        self.on_done: Callable[[Done, str], None] = lambda done, where: None
        self._task_context = threading.local()
        self._seen: set[str] = set()  # users listed that need no request now, marked seen in batches
        self._run = 0
        self._tasks: Tasks  # made by run, once the run's app is known

    # ---------------------------------------------------------------- the run

    def run(self, users: Iterable[Incoming]) -> Summary:
        """Bring the app in line with USERS. Raises EmptyExport (before any request) for an
        export with no records, PreflightError when the app cannot be reached; stops early,
        with ``summary.stopped`` set, when the app stops answering."""
        started = time.perf_counter()
        records = iter(users)
        first = next(records, None)
        if first is None:
            raise EmptyExport(
                "the export holds no users: refused, as it would deactivate every user of the app "
                "(check the export; nothing was sent)"
            )
        if self.options.preflight:
            self.app.preflight()
        counters = self.app.counters
        before = (counters.requests, counters.retries)  # the pre-flight's are not the users'
        run = self._run = self.state.next_run()
        # The guard's base: the users the app held active before this run (its creates do not
        # count), plus those this run matches (adopts, or finds active for an inactive user).
        active_before = self.state.active_count()
        try:
            limits = self._bulk_limits()
            before = (counters.requests, counters.retries)  # nor the read of the bulk limits
            self._list_first()
        except AppUnavailable as exc:
            self.summary.stopped = str(exc)
            return self._ended(started, before)
        workers = self._batch(limits)
        tasks = self._tasks = Tasks(self.ruleset, self.app, self.state, self.options)
        pool = concurrent.futures.ThreadPoolExecutor(workers)
        in_flight: dict[concurrent.futures.Future[Done], str] = {}
        held: list[Held] = []
        busy: set[str] = set()
        judged = False  # once the guard has judged, a deactivation found is one it allowed

        def submit(okta_id: str, where: str, task: Callable[[], Done], match: str | None = None) -> None:
            self.state.mark_pending(okta_id, run, match)
            busy.add(okta_id)
            in_flight[pool.submit(self._guarded, task, okta_id)] = where
            drain(workers * 2)

        def drain(limit: int) -> None:
            while len(in_flight) > limit:
                done, _ = concurrent.futures.wait(in_flight, return_when=concurrent.futures.FIRST_COMPLETED)
                stop: BaseException | None = None
                for future in done:
                    where = in_flight.pop(future)
                    if future.exception() is not None:
                        stop = future.exception()  # the app stopped answering: the run stops
                        continue
                    outcome = future.result()
                    busy.discard(outcome.okta_id)
                    if outcome.found is None:
                        self._apply(outcome, where, run)
                    elif judged:  # the deactivation the guard counted for this user: carried out
                        item = self._held_found(outcome, where)
                        in_flight[pool.submit(self._guarded, item.task, item.okta_id)] = where
                    else:
                        held.append(self._held_found(outcome, where))
                if stop is not None:
                    raise stop

        try:
            for where, decision in self._decide_all(itertools.chain((first,), records), run, busy):
                task = tasks.task(decision)
                if decision.destructive(self.options.delete):
                    held.append(Held(where, decision.okta_id, task))
                    self._seen.add(decision.okta_id)  # listed: not gone
                    continue
                submit(decision.okta_id, where, task, tasks.match_value(decision.desired))
            drain(0)
            if self.summary.unreadable:
                self.summary.gone_kept = sum(
                    1 for row in self.state.not_seen(run) if decide_gone(self.policy, row) is not None
                )
            else:
                for row in self.state.not_seen(run):
                    gone = decide_gone(self.policy, row)
                    if gone is not None:
                        held.append(Held("", row.okta_id, tasks.task(gone)))
            active = active_before + self.summary.counts[Outcome.ADOPTED] + sum(1 for h in held if h.found)
            self.summary.limit = self.options.max_deactivations.allowed(active)
            judged = True
            if len(held) > self.summary.limit:
                self.summary.held = sorted(h.okta_id for h in held)
            else:
                for item in held:
                    submit(item.okta_id, item.where, item.task)
            drain(0)
        except AppUnavailable as exc:
            self.summary.stopped = str(exc)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            if isinstance(self.app, BatchedUsers):
                self.app.close()
            for future, where in list(in_flight.items()):
                if future.done() and not future.cancelled() and future.exception() is None:
                    outcome = future.result()
                    if outcome.found is None:
                        self._apply(outcome, where, run)
        return self._ended(started, before)

    def _ended(self, started: float, before: tuple[int, int]) -> Summary:
        """The summary, with the run's requests, retries, time and bulk requests filled in."""
        if self.app.breaker.reason is not None:
            self.summary.stopped = self.app.breaker.reason
        self.summary.requests = self.app.counters.requests - before[0]
        self.summary.retries = self.app.counters.retries - before[1]
        self.summary.seconds = time.perf_counter() - started
        if isinstance(self.app, BatchedUsers):
            self.summary.bulk = BulkUse(self.app.requests, self.app.operations, self.app.off)
        return self.summary

    def _decide_all(
        self, users: Iterable[Incoming], run: int, busy: set[str]
    ) -> Iterator[tuple[str, Decision]]:
        """(where, decision) for each user that needs a request; the others are counted and
        marked seen in batches."""
        seen = self._seen
        try:
            for incoming in self._shard(users):
                self.on_progress()
                self.app.breaker.check()
                found = self._decide_one(incoming, busy, seen)
                if found is not None:
                    yield incoming.where, found
                if len(seen) >= 1000:
                    self.state.mark_seen(seen, run)
                    seen.clear()
        finally:
            self.state.mark_seen(seen, run)

    def _shard(self, users: Iterable[Incoming]) -> Iterator[Incoming]:
        if self.options.shard is None:
            yield from users
            return
        part, parts = self.options.shard
        for incoming in users:
            okta_id = incoming.user.get("id") if incoming.user is not None else None
            if not isinstance(okta_id, str) or shard(okta_id, parts) == part:
                yield incoming

    def _decide_one(self, incoming: Incoming, busy: set[str], seen: set[str]) -> Decision | None:
        user = incoming.user
        if user is None:
            self.summary.unreadable += 1
            self._fail(UserFailure(None, incoming.where, None, "", incoming.problem))
            return None
        okta_id = user.get("id")
        if not isinstance(okta_id, str) or not okta_id:
            self.summary.unreadable += 1
            self._fail(
                UserFailure(None, incoming.where, None, "", "no Okta id: sync needs Users API objects")
            )
            return None
        row = self.state.get(okta_id)
        if okta_id in busy or okta_id in seen or (row is not None and row.seen == self._run):
            self._fail(
                UserFailure(okta_id, incoming.where, None, "", "listed twice in the export; the first kept")
            )
            return None
        try:
            decision = decide(self.ruleset, self.ruleset_hash, self.policy, okta_id, user, row)
        except ProfileError as exc:
            seen.add(okta_id)  # not deactivated for a bad profile
            self._fail(UserFailure(okta_id, incoming.where, None, "", str(exc)))
            return None
        if decision.kind is Kind.NOTHING:
            seen.add(okta_id)
            self.summary.counts[Outcome.UNCHANGED] += 1
            return None
        if decision.kind is Kind.LOOKUP:
            self.summary.looked_up += 1
        busy.add(okta_id)
        return decision

    def _held_found(self, done: Done, where: str) -> Held:
        """An active app user found for an inactive Okta user (by a lookup, or by a repair that
        read the app): its deactivation waits for the guard."""
        assert done.found is not None and done.app_id is not None
        task = functools.partial(self._tasks.deactivate_current, done.okta_id, done.app_id, done.found)
        return Held(where, done.okta_id, task, found=True)

    def _guarded(self, task: Callable[[], Done], okta_id: str) -> Done:
        self._task_context.okta_id = okta_id
        try:
            return task()
        except AppError as exc:
            return Done(Outcome.FAILED, okta_id, error=exc)
        except ProfileError as exc:
            return Done(Outcome.FAILED, okta_id, error=AppError(None, "", str(exc)))

    @property
    def current_okta_id(self) -> str | None:
        """The Okta id the calling worker thread is working for (for a recorder)."""
        return getattr(self._task_context, "okta_id", None)

    def _apply(self, done: Done, where: str, run: int) -> None:
        if done.kind is Outcome.FAILED:
            error = done.error
            assert error is not None
            # An outcome in doubt, or a failure while a create may have made the account: it stays pending.
            if not error.unknown_outcome and not done.keep:
                self.state.settle(done.okta_id)
            self._fail(UserFailure(done.okta_id, where, error.status, error.scim_type, error.message()))
            return
        if done.forget:
            self.state.forget(done.okta_id)
        else:
            self.state.acknowledged(done.okta_id, done.app_id, done.resource, done.active, self.ruleset_hash,
                                    run, done.profile, done.absent)  # fmt: skip
        self.summary.counts[done.kind] += 1
        self.summary.attributes.update(done.attributes)
        self.on_done(done, where)

    def _fail(self, failure: UserFailure) -> None:
        self.summary.counts[Outcome.FAILED] += 1
        if len(self.summary.failures) < 10_000:  # the rest are counted, and printed as they come
            self.summary.failures.append(failure)
        self.on_failure(failure)

    # ---------------------------------------------------------------- the run's app

    def _list_first(self) -> None:
        """On a first sync (a state with no users) or a --repair, answer the first search for each
        user from one listing of the app's users (mapper.sync.listing)."""
        if self.options.list_first and (self.options.repair or self.state.size() == 0):
            self.app = listed(self.app, self.options.match.value)

    def _bulk_limits(self) -> BulkLimits | None:
        """The app's /Bulk limits, when it announces them and the run may use them."""
        reader = getattr(self.app, "bulk_limits", None)
        return reader() if self.options.bulk and reader is not None else None

    def _batch(self, limits: BulkLimits | None) -> int:
        """With LIMITS, the run's changing requests go in bulk requests (mapper.sync.batched):
        more workers, most of them waiting on a result. How many workers the run has."""
        if limits is None:
            return max(1, self.options.concurrency)
        batched = BatchedUsers(self.app, self.app.bulk, limits, self.options.concurrency)  # type: ignore[attr-defined]
        self.app = batched
        return batched.workers
