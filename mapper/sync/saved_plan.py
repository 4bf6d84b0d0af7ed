"""Saved sync plans: ``mapper sync --plan-out FILE``, then ``mapper sync --apply FILE``.

A plan is made by the sync itself, run against a private copy of the state with a
:class:`Recorder` standing in for the app: searches and GETs go to the app, and every
changing request (POST, PATCH, PUT, DELETE) is recorded instead of sent, with what it
depends on: the base URL, the ruleset's hash, a fingerprint of the state, and, for a
request built from an app record (an adoption, a PUT, a repair), that record's version
(or hash). The same run prints the requests of ``--dry-run``.

Applying sends exactly those requests: refused before any request when the state changed
since the plan, or the URL or the ruleset differ; a user whose app record changed since is
skipped and reported, not overwritten; a create whose search now finds a user is skipped.
The deactivation guard was judged when the plan was made.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mapper import __version__
from mapper.core import jsonio
from mapper.errors import ExitCode, MapperError, shown_value
from mapper.runtime.patch import touched as patch_touched
from mapper.runtime.put import put_body
from mapper.runtime.ruleset import Ruleset
from mapper.sync.app import MATCH_FILTERS, AppError, ScimApp, matches, record_version
from mapper.sync.decide import ruleset_hash
from mapper.sync.engine import Sync
from mapper.sync.records import Done, Outcome, Summary, UserFailure
from mapper.sync.retry import AppUnavailable
from mapper.sync.state import State

FORMAT = "mapper sync plan"
VERSION = 1
UNKNOWN_ID = "{id}"  # the app id of a user the plan creates, in paths and files

#: A plan's counts, as Terraform words them, by what happened to the user.
VERBS = {
    Outcome.CREATED: "create",
    Outcome.ADOPTED: "adopt",
    Outcome.UPDATED: "update",
    Outcome.DEACTIVATED: "deactivate",
    Outcome.REACTIVATED: "reactivate",
    Outcome.DELETED: "delete",
}


class PlanRefused(MapperError):
    """A saved plan that cannot be applied as it is (stale, another app, another ruleset): exit 4."""

    exit_code = ExitCode.GUARD


class PlanFileError(MapperError):
    """A file that is not a saved plan this mapper can read: exit 2."""

    exit_code = ExitCode.USAGE


@dataclass
class Recorded:
    """A changing request, recorded instead of sent."""

    method: str
    path: str
    body: dict[str, Any] | None
    app_id: str | None
    if_match: str | None = None  # the version of the app record the request was built from
    search: tuple[str, str] | None = None  # for a POST: the search that must still find no one

    def as_json(self) -> dict[str, Any]:
        """The request as a plan file holds it: method, path, body, and its ifMatch and search when it
        has them."""
        document: dict[str, Any] = {"method": self.method, "path": self.path, "body": self.body}
        if self.if_match is not None:
            document["ifMatch"] = self.if_match
        if self.search is not None:
            document["search"] = {"match": self.search[0], "value": self.search[1]}
        return document


class Recorder:
    """The app, as a dry run sees it: reads are sent, changing requests are recorded per Okta
    user (the engine says which user a worker thread works for)."""

    def __init__(self, app: ScimApp) -> None:
        self.app = app
        self.counters = app.counters
        self.breaker = app.breaker
        self.sync: Sync | None = None
        self._lock = threading.Lock()
        self._requests: dict[str, list[Recorded]] = {}
        self._read: dict[str, dict[str, str]] = {}  # okta id -> app id -> version read
        self._searched: dict[str, tuple[str, str]] = {}

    def _who(self) -> str:
        assert self.sync is not None and self.sync.current_okta_id is not None
        return self.sync.current_okta_id

    def _remember(self, record: dict[str, Any]) -> None:
        if isinstance(record.get("id"), str):
            with self._lock:
                self._read.setdefault(self._who(), {})[record["id"]] = record_version(record)

    def _record(self, method: str, app_id: str | None, body: dict[str, Any] | None) -> None:
        who = self._who()
        with self._lock:
            if_match = self._read.get(who, {}).get(app_id) if app_id else None
            search = self._searched.get(who) if method == "POST" else None
            path = "/Users" if method == "POST" else f"/Users/{app_id}"
            self._requests.setdefault(who, []).append(Recorded(method, path, body, app_id, if_match, search))

    def take(self, okta_id: str) -> list[Recorded]:
        """The requests recorded for OKTA_ID, in order, forgetting what was read and searched for them."""
        with self._lock:
            self._read.pop(okta_id, None)
            self._searched.pop(okta_id, None)
            return self._requests.pop(okta_id, [])

    def preflight(self) -> None:
        """The app's pre-flight check, sent: a plan too needs an app that answers."""
        self.app.preflight()

    def find(self, match: str, value: str) -> list[dict[str, Any]]:
        """The app's search, sent; kept as the search a create for this user depends on, with the
        versions of the users found."""
        found = self.app.find(match, value)
        with self._lock:
            self._searched[self._who()] = (match, value)
        for record in found:
            self._remember(record)
        return found

    def get(self, app_id: str) -> dict[str, Any]:
        """The app user APP_ID, read and its version kept; an AppError for a user this plan creates."""
        if app_id.startswith(UNKNOWN_ID[:-1]):
            raise AppError(None, "", "a user this plan creates cannot be read before the plan is applied")
        found = self.app.get(app_id)
        self._remember(found)
        return found

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """Record the POST of BODY; BODY with a placeholder id for this user, until the plan is applied."""
        self._record("POST", None, body)
        return {**body, "id": _placeholder(self._who())}

    def patch(self, app_id: str, message: dict[str, Any]) -> None:
        """Record the PATCH of MESSAGE to APP_ID, with the version read of that user, if any."""
        self._record("PATCH", app_id, message)

    def put(self, app_id: str, body: dict[str, Any]) -> None:
        """Record the PUT of BODY to APP_ID, with the version read of that user, if any."""
        self._record("PUT", app_id, body)

    def delete(self, app_id: str) -> None:
        """Record the DELETE of APP_ID."""
        self._record("DELETE", app_id, None)


def _placeholder(okta_id: str) -> str:
    """The app id a recorded create stands for until it is applied: one per user, so that the
    run's claims on app ids still hold."""
    return f"{UNKNOWN_ID[:-1]}:{okta_id}}}"


@dataclass
class PlannedUser:
    """One user in a saved plan: the outcome, the requests that bring it about, the state row after them."""

    okta_id: str
    where: str
    outcome: Outcome
    requests: list[Recorded]
    after: dict[str, Any]  # the state row once the requests are acknowledged
    attributes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The user as the plan file holds it."""
        return {
            "okta_id": self.okta_id,
            "where": self.where,
            "outcome": self.outcome.value,
            "attributes": self.attributes,
            "requests": [r.as_json() for r in self.requests],
            "after": self.after,
        }


@dataclass
class SavedPlan:
    """A saved plan: what it was made against (URL, ruleset, state, options), each user's requests,
    the deactivations the guard held, and the counts."""

    base_url: str
    ruleset: dict[str, str]  # name, source (the -r argument), hash
    state: dict[str, str]  # path, fingerprint
    options: dict[str, Any]
    users: list[PlannedUser]
    held: list[str]
    summary: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        """The plan file's document, headed by its format, its version and the mapper that wrote it."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "mapper": __version__,
            "base_url": self.base_url,
            "ruleset": self.ruleset,
            "state": self.state,
            "options": self.options,
            "summary": self.summary,
            "held": self.held,
            "users": [u.as_json() for u in self.users],
        }

    def dumps(self) -> str:
        """The plan file's text: the document as JSON indented by one space, ending in a newline."""
        return json.dumps(self.as_json(), indent=1, ensure_ascii=False, sort_keys=False) + "\n"

    def requests(self) -> list[dict[str, Any]]:
        """The changing requests, in order, as ``--dry-run`` prints them."""
        return [
            {"okta_id": u.okta_id, "method": r.method, "path": r.path, "body": r.body}
            for u in self.users
            for r in u.requests
        ]


def counts(outcomes: Iterable[Outcome]) -> dict[str, int]:
    """Users per verb (create, adopt, update, deactivate, reactivate, delete), every verb named."""
    counted = Counter(outcomes)
    return {verb: counted[outcome] for outcome, verb in VERBS.items()}


def summary_line(plan_counts: dict[str, int]) -> str:
    """``Plan: 2 to create, 1 to update, ...`` as Terraform says it."""
    return "Plan: " + ", ".join(f"{n:,} to {verb}" for verb, n in plan_counts.items()) + "."


def make(
    ruleset: Ruleset,
    source: str,
    sync: Sync,
    recorder: Recorder,
    users: Iterable[Any],
    state_path: str,
    fingerprint: str,
) -> tuple[SavedPlan, Summary]:
    """Run SYNC (over a copy of the state, with RECORDER as its app) and keep what it would send."""
    planned: list[PlannedUser] = []

    def keep(done: Done, where: str) -> None:
        requests = recorder.take(done.okta_id)
        after = {
            "app_id": None if done.app_id == _placeholder(done.okta_id) else done.app_id,
            "resource": done.resource,
            "active": done.active,
            "profile": done.profile,
            "absent": done.absent,
            "forget": done.forget,
        }
        planned.append(PlannedUser(done.okta_id, where, done.kind, requests, after, sorted(done.attributes)))

    recorder.sync = sync
    sync.on_done = keep
    summary = sync.run(users)
    planned.sort(key=lambda u: u.okta_id)
    options = sync.options
    plan = SavedPlan(
        base_url=sync.state.base_url,
        ruleset={"name": ruleset.name, "source": source, "hash": ruleset_hash(ruleset)},
        state={"path": state_path, "fingerprint": fingerprint},
        options={"match": options.match, "style": options.style, "delete": options.delete},
        users=planned,
        held=summary.held,
        summary=counts(u.outcome for u in planned if _shown(u.outcome.value, bool(u.requests))),
    )
    return plan, summary


# ---------------------------------------------------------------- reading and applying


def load(text: bytes, name: str) -> dict[str, Any]:
    """A saved plan's document, checked for what applying relies on; PlanFileError otherwise."""
    try:
        document = jsonio.parse(text, name, any_size=True)  # a plan is as large as the run
    except jsonio.JsonInputError as exc:
        raise PlanFileError(f"{exc} (not a saved plan)") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise PlanFileError(f"{name}: not a saved plan of mapper sync (--plan-out writes them)")
    if document.get("version") != VERSION:
        raise PlanFileError(
            f"{name}: a plan of format {document.get('version')!r}; this mapper reads {VERSION}"
        )
    try:
        _check_document(document)
    except (AssertionError, KeyError, TypeError, ValueError):
        raise PlanFileError(
            f"{name}: a damaged saved plan (a field is missing or of the wrong type)"
        ) from None
    return document


def _check_document(document: dict[str, Any]) -> None:
    """Every field applying reads, of the type it must have (AssertionError, KeyError... otherwise)."""
    assert isinstance(document["base_url"], str)
    assert isinstance(document["ruleset"]["hash"], str) and isinstance(document["ruleset"]["source"], str)
    assert isinstance(document["state"]["fingerprint"], str)
    assert document["options"]["match"] in MATCH_FILTERS
    assert isinstance(document["users"], list)
    outcomes = {o.value for o in Outcome if o is not Outcome.FAILED}
    for user in document["users"]:
        assert isinstance(user["okta_id"], str) and user["okta_id"] and isinstance(user["where"], str)
        assert user["outcome"] in outcomes
        assert all(isinstance(a, str) for a in user["attributes"])
        after = user["after"]
        assert after["app_id"] is None or isinstance(after["app_id"], str)
        assert after["resource"] is None or isinstance(after["resource"], dict)
        assert after["profile"] is None or isinstance(after["profile"], dict)
        assert all(isinstance(after[key], bool) for key in ("active", "absent", "forget"))
        for request in user["requests"]:
            assert request["method"] in ("POST", "PATCH", "PUT", "DELETE")
            assert isinstance(request["path"], str) and request["path"].startswith("/Users")
            assert request["method"] == "POST" or request["path"].startswith("/Users/")
            assert request["body"] is None or isinstance(request["body"], dict)
            assert request["method"] == "DELETE" or isinstance(request["body"], dict)
            assert request.get("ifMatch") is None or isinstance(request["ifMatch"], str)
            search = request.get("search")
            if search is not None:
                assert search["match"] in MATCH_FILTERS and isinstance(search["value"], str)


def check_applicable(
    document: dict[str, Any], name: str, base_url: str, ruleset: Ruleset, state: State
) -> None:
    """Refuse (PlanRefused) a plan made for another app or ruleset, or from another state."""
    if document["base_url"].rstrip("/") != base_url.rstrip("/"):
        raise PlanRefused(f"{name}: a plan for {document['base_url']}, not {base_url}: refused, nothing sent")
    if document["ruleset"]["hash"] != ruleset_hash(ruleset):
        raise PlanRefused(
            f"{name}: made with another version of the ruleset {document['ruleset']['source']} "
            "(it changed since): make a new plan; nothing sent"
        )
    if state.meta("applied_plan") == plan_id(document):
        raise PlanRefused(f"{name}: this plan was already applied to {state.path}; nothing sent")
    if document["state"]["fingerprint"] != state.fingerprint():
        raise PlanRefused(
            f"{name}: the state {state.path} is not as it was when the plan was made (another run wrote it, "
            "or it is another state file): the plan is stale; make a new plan; nothing sent"
        )


def plan_id(document: dict[str, Any]) -> str:
    """What names a plan: a hash of its whole document."""
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def apply(
    document: dict[str, Any],
    ruleset: Ruleset,
    app: ScimApp,
    state: State,
    concurrency: int,
    on_failure: Callable[[UserFailure], None],
) -> Summary:
    """Send the plan's requests, user by user (at most CONCURRENCY at once), writing the state
    as the app acknowledges them; a user whose app record changed since the plan is skipped."""
    import time

    started = time.perf_counter()
    summary = Summary()
    app.preflight()
    before = (app.counters.requests, app.counters.retries)
    run = state.next_run()
    state.set_meta("applied_plan", plan_id(document))
    users = list(document["users"])
    digest = ruleset_hash(ruleset)

    def one(user: dict[str, Any]) -> Done:
        try:
            return _apply_user(user, ruleset, app, state)
        except AppError as exc:
            return Done(Outcome.FAILED, user["okta_id"], error=exc)

    def record(user: dict[str, Any], done: Done) -> None:
        if done.kind is Outcome.FAILED:
            assert done.error is not None
            if not done.error.unknown_outcome:
                state.settle(done.okta_id)
            failure = UserFailure(done.okta_id, user["where"], done.error.status, done.error.scim_type,
                              done.error.message())  # fmt: skip
            summary.counts[Outcome.FAILED] += 1
            summary.failures.append(failure)
            on_failure(failure)
            return
        if done.forget:
            state.forget(done.okta_id)
        else:
            state.acknowledged(done.okta_id, done.app_id, done.resource, done.active, digest, run, done.profile,
                               done.absent)  # fmt: skip
        summary.counts[done.kind] += 1
        summary.attributes.update(done.attributes)

    with concurrent.futures.ThreadPoolExecutor(max(1, concurrency)) as pool:
        futures: dict[concurrent.futures.Future[Done], dict[str, Any]] = {}
        recorded: set[concurrent.futures.Future[Done]] = set()
        try:
            for user in users:
                if user["requests"]:
                    search = user["requests"][0].get("search")
                    state.mark_pending(user["okta_id"], run, search["value"] if search else None)
                futures[pool.submit(one, user)] = user
            for future in concurrent.futures.as_completed(futures):
                error = future.exception()
                if error is not None:
                    raise error
                recorded.add(future)
                record(futures[future], future.result())
        except AppUnavailable as exc:
            summary.stopped = str(exc)
            pool.shutdown(wait=True, cancel_futures=True)
            for future, user in futures.items():
                if (
                    future in recorded
                    or not future.done()
                    or future.cancelled()
                    or future.exception() is not None
                ):
                    continue
                record(user, future.result())
    summary.requests = app.counters.requests - before[0]
    summary.retries = app.counters.retries - before[1]
    summary.seconds = time.perf_counter() - started
    return summary


def _apply_user(user: dict[str, Any], ruleset: Ruleset, app: ScimApp, state: State) -> Done:
    """Send one user's requests, once every precondition holds (each checked before any
    request of the user goes: the plan's own requests change the records it read)."""
    okta_id, after = user["okta_id"], user["after"]
    checked: set[str] = set()
    for request in user["requests"]:
        search = request.get("search")
        if search is not None:
            found = app.find(search["match"], search["value"])
            if any(matches(f, search["match"], search["value"]) for f in found):
                raise AppError(None, "", "an app user with this user's match value appeared since the plan was "
                               "made: skipped, not created; make a new plan")  # fmt: skip
        app_id = _app_id(request)
        if request.get("ifMatch") is not None and app_id is not None and app_id not in checked:
            checked.add(app_id)
            if record_version(app.get(app_id)) != request["ifMatch"]:
                raise AppError(None, "", "the app user changed since the plan was made: skipped, not "
                               "overwritten; make a new plan")  # fmt: skip
    created: dict[str, Any] | None = None
    guarded: set[str] = set()
    for request in user["requests"]:
        method, body = request["method"], request.get("body")
        if method == "POST":
            if request.get("search") is not None:  # a row on an account the plan met a 404 for
                state.lost(okta_id, request["search"]["value"])  # (as in sync: before the POST)
            created = app.create(body)
            continue
        app_id = _app_id(request) or (created["id"] if created else None)
        if app_id is None:
            raise AppError(None, "", "a request of the plan names no app user: make a new plan")
        # The first change to a record the plan read carries its ETag (RFC 7644 section 3.14), so
        # an app that checks versions refuses it (412) if the record changed since the GET above.
        version = str(request.get("ifMatch") or "")
        if_match = (
            version.removeprefix("version:")
            if version.startswith("version:") and app_id not in guarded
            else None
        )
        guarded.add(app_id)
        if method == "PATCH":
            app.patch(app_id, body, if_match)
        elif method == "PUT":
            app.put(app_id, body, if_match)
        else:
            app.delete(app_id)
    resource = after.get("resource")
    app_id = after.get("app_id")
    if created is not None:
        app_id = created["id"]
        resource = put_body(ruleset.plan, created, resource or {})
    return Done(Outcome(user["outcome"]), okta_id, app_id, resource, bool(after.get("active", True)),
                list(user.get("attributes", [])), forget=bool(after.get("forget")), absent=bool(after.get("absent")),
                profile=after.get("profile"))  # fmt: skip


def _app_id(request: dict[str, Any]) -> str | None:
    """The app id a request's path names; None for a POST, or for a user the plan creates."""
    if request["method"] == "POST":
        return None
    app_id = str(request["path"]).removeprefix("/Users/")
    return None if app_id.startswith(UNKNOWN_ID[:-1]) else app_id


# ---------------------------------------------------------------- the review view


def review_lines(document: dict[str, Any], show_values: bool = False) -> list[str]:
    """The plan as a reviewer reads it in a pull request: one line per user with requests (the
    verb, the Okta id, where it came from, each request and the attributes it touches); no
    profile value unless SHOW_VALUES."""
    marks = {"create": "+", "adopt": "~", "update": "~", "reactivate": "~", "deactivate": "-", "delete": "-"}
    lines = [
        f"mapper sync plan for {document['base_url']}",
        f"  ruleset {document['ruleset']['source']} ({document['ruleset']['hash']}), "
        f"state {document['state']['path']}, --match {document['options']['match']}, "
        f"--style {document['options']['style']}",
        "",
    ]
    for user in document["users"]:
        if not _shown(user["outcome"], bool(user["requests"])):
            continue
        verb = VERBS.get(Outcome(user["outcome"]), user["outcome"])
        where = f"  ({user['where']})" if user["where"] else "  (gone from the export)"
        lines.append(f"{marks.get(verb, '~')} {verb:<10} {user['okta_id']}{where}")
        if not user["requests"]:
            lines.append("    no request: the app user found already holds what the ruleset wants")
        for request in user["requests"]:
            body = request.get("body")
            touched = ", ".join(sorted(patch_touched(body))) if request["method"] == "PATCH" and body else ""
            head = f"    {request['method']} {request['path']}"
            lines.append(f"{head}  {touched}".rstrip() if touched else head)
            if show_values and request.get("body") is not None:
                lines.extend(_values(request["body"]))
    held = document.get("held") or []
    if held:
        lines += ["", f"held by the deactivation guard (not in this plan): {len(held):,} users"]
    lines += ["", summary_line(document["summary"])]
    return lines


def _shown(outcome: str, has_requests: bool) -> bool:
    """Whether a planned user is shown and counted: any with requests, and every adoption (an
    app account taken over is news to a reviewer even when nothing in it changes)."""
    return has_requests or outcome == Outcome.ADOPTED.value


def _values(body: dict[str, Any]) -> list[str]:
    operations = body.get("Operations")
    if isinstance(operations, list):
        return [f"      {op.get('op')} {op.get('path', '')} = {shown_value(op.get('value'))}".replace("  =", " =")
                for op in operations if isinstance(op, dict)]  # fmt: skip
    return [f"      {key} = {shown_value(value)}" for key, value in body.items() if key != "schemas"]
