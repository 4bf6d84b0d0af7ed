"""A sync's changing requests carried in /Bulk requests (RFC 7644 section 3.7).

Where the app announces bulk support in ``/ServiceProviderConfig``, the run's workers hand
their creates, PATCHes, PUTs and DELETEs to :class:`BatchedUsers`, which sends them together,
within the announced ``maxOperations`` and ``maxPayloadSize``, one ``POST /Bulk`` for up to
:data:`MOST_OPERATIONS` of them. Each worker waits for its own operation's result, and that
result reads exactly as the answer to the same request sent alone would: the user as
created, an :class:`AppError` with the status and SCIM error type the app gave the
operation, or an outcome in doubt. So the engine's guarantees hold as they are: a user's row
is pending before its operation goes and written only once the app acknowledged that
operation; a create in doubt is searched for before it is sent again; a failure is that
user's alone; the guards and the breaker see every request.

Results are matched by the ``bulkId`` mapper gives every operation (a name of its own, never
user data), else, for a PATCH, PUT or DELETE, by the user's location; never by position. An
operation the answer says nothing of, or a bulk request that got no answer, is in doubt: a
POST or a PATCH goes back to the engine as an outcome unknown (it searches or reads the user
before sending again), a PUT or a DELETE is sent again on its own (repeating it is
harmless). An operation the app refused for now (429, 503) is sent again on its own, through
the retries. A bulk request the app refused whole as not understood (404, 405, 413, 501, or
400 three times) did nothing: its operations are sent on their own, and so is everything
after (``off`` says why).
"""

from __future__ import annotations

import collections
import concurrent.futures
import itertools
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mapper.core.schema import Resource
from mapper.sync.app import AppError, BulkLimits, Users, check_id, scim_get
from mapper.sync.ids import user_path
from mapper.sync.retry import REFUSED, AppUnavailable

#: The most operations one bulk request carries, whatever the app allows: past about a
#: hundred, a request's time grows and the workers waiting on it with it, for no fewer round trips worth having.
MOST_OPERATIONS = 100
#: The most worker threads a bulk run keeps (most of them wait on a result).
MOST_WORKERS = 512
#: How long a worker's operation waits for others before it goes in a smaller request (seconds).
LINGER = 0.005

_HEAD = b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":['
_TAIL = b"]}"
#: Statuses of a whole bulk request that say the app did not understand it, and did nothing.
_NOT_UNDERSTOOD = frozenset({400, 404, 405, 413, 501})
_FAILED = frozenset({500, 502, 504})


def bulk_senders(concurrency: int) -> int:
    """How many bulk requests a run with --concurrency CONCURRENCY keeps out at once: half as
    many (at least one), as each carries up to a hundred changes (measured on scim2-server:
    two at once beat four; an app's work per bulk request is a hundred requests' work)."""
    return max(1, concurrency // 2)


@dataclass(eq=False)
class _Operation:
    """One user's request, as an operation of a bulk request, and what came of it."""

    method: str
    data: Resource | None
    app_id: str | None  # the user's, for a PATCH, PUT or DELETE
    bulk_id: str
    encoded: bytes = b""
    done: threading.Event = field(default_factory=threading.Event)
    since: float = 0.0  # when it was queued (time.monotonic)
    alone: bool = False  # to be sent on its own, by its worker
    created: Resource | None = None
    error: BaseException | None = None

    def __post_init__(self) -> None:
        operation: dict[str, Any] = {
            "method": self.method,
            "bulkId": self.bulk_id,
            "path": "/Users" if self.app_id is None else user_path(self.app_id),
        }
        if self.data is not None:
            operation["data"] = self.data
        # ASCII, as ScimApp sends a request alone: valid JSON whatever the text holds
        self.encoded = json.dumps(operation, separators=(",", ":")).encode()

    def settle(self, created: Resource | None = None, error: BaseException | None = None,
               alone: bool = False) -> None:  # fmt: skip
        """Record the operation's outcome and wake its worker."""
        self.created, self.error, self.alone = created, error, alone
        self.done.set()

    def in_doubt(self, why: str, later: bool = False, status: int | None = None) -> None:
        """Nothing sure came back for it (STATUS: the bulk request's, when it had one): a POST or a
        PATCH is an outcome unknown to the engine, a PUT or a DELETE is sent again on its own.
        LATER: the app may still be working on the bulk request (no answer came): a create is
        looked for on the next run, not now."""
        if self.method in ("PUT", "DELETE"):
            self.settle(alone=True)
        else:
            self.settle(error=AppError(status, "", why, unknown_outcome=True, later=later))


class BatchedUsers:
    """The app's /Users (APP) whose creates, PATCHes, PUTs and DELETEs travel in bulk requests
    (sent by BULK: ``ScimApp.bulk``) within LIMITS, half of CONCURRENCY at once; searches, reads
    and requests that go alone go to APP, CONCURRENCY at once (the run's connections)."""

    def __init__(
        self,
        app: Users,
        bulk: Callable[[bytes], Any],
        limits: BulkLimits,
        concurrency: int,
        linger: float = LINGER,
    ) -> None:
        senders = bulk_senders(concurrency)
        self.app = app
        self.bulk = bulk
        self.counters = app.counters
        self.breaker = app.breaker
        self.limits = limits
        self.linger = linger
        self.size = min(limits.max_operations, MOST_OPERATIONS)
        self.workers = min(MOST_WORKERS, max(1, senders) * self.size)
        self.off: str | None = None  # why bulk requests stopped, when the app refused them
        self.requests = 0  # bulk requests sent
        self.operations = 0  # operations they carried
        self._queue: collections.deque[_Operation] = collections.deque()
        self._ready = threading.Condition()  # guards the queue, the counts and _in_flight
        self._most_in_flight = max(1, senders)
        self._in_flight = 0  # batches taken and not yet settled
        self._sender_pool = concurrent.futures.ThreadPoolExecutor(self._most_in_flight, "mapper-bulk-send")
        self._flusher: threading.Thread | None = None
        self._closed = False
        self._ids = itertools.count(1)
        self._refused = 0  # whole requests answered 400
        # The many workers share the connections of CONCURRENCY requests: never more at once.
        self._alone = threading.BoundedSemaphore(max(1, concurrency))

    # ---------------------------------------------------------------- what the engine calls

    def create(self, body: Resource) -> Resource:
        """POST BODY to /Users (in a bulk request): the user as the app created it."""
        operation = self._run(_Operation("POST", body, None, self._bulk_id()))
        if operation.alone:
            with self._alone:
                return self.app.create(body)
        assert operation.created is not None
        return operation.created

    def patch(self, app_id: str, message: Resource) -> None:
        """PATCH the app user APP_ID with MESSAGE (in a bulk request)."""
        if self._run(_Operation("PATCH", message, app_id, self._bulk_id())).alone:
            with self._alone:
                self.app.patch(app_id, message)

    def put(self, app_id: str, body: Resource) -> None:
        """PUT BODY as the app user APP_ID (in a bulk request)."""
        if self._run(_Operation("PUT", body, app_id, self._bulk_id())).alone:
            with self._alone:
                self.app.put(app_id, body)

    def delete(self, app_id: str) -> None:
        """DELETE the app user APP_ID (in a bulk request)."""
        if self._run(_Operation("DELETE", None, app_id, self._bulk_id())).alone:
            with self._alone:
                self.app.delete(app_id)

    def preflight(self) -> None:
        """The app's pre-flight."""
        self.app.preflight()

    def find(self, match: str, value: str) -> list[Resource]:
        """The app users whose MATCH attribute equals VALUE (a search, never in bulk)."""
        with self._alone:
            return self.app.find(match, value)

    def get(self, app_id: str) -> Resource:
        """GET the app user APP_ID (never in bulk)."""
        with self._alone:
            return self.app.get(app_id)

    def __getattr__(self, name: str) -> Any:  # anything else the engine asks of the app
        return getattr(self.app, name)

    # ---------------------------------------------------------------- batching

    def _bulk_id(self) -> str:
        return f"op{next(self._ids)}"

    def close(self) -> None:
        """Stop the flusher once the queue is empty (the run's workers are done)."""
        with self._ready:
            self._closed = True
            self._ready.notify()
        if self._flusher is not None:
            self._flusher.join()
        self._sender_pool.shutdown(wait=True)

    def _run(self, operation: _Operation) -> _Operation:
        """OPERATION sent in a bulk request (or marked to go alone); raises its error."""
        if (
            self.off is not None
            or len(_HEAD) + len(operation.encoded) + len(_TAIL) > self.limits.max_payload_size
            # An app replaces any value "bulkId:..." with the id of the user created under that
            # bulkId (RFC 7644 section 3.7.2): a profile value must never be read as one.
            or b"bulkid:" in operation.encoded.lower()
            # A bulk operation's path is not always decoded: an id that needs percent-encoding
            # could name no user there (a DELETE's 404 would read as "already gone").
            or (
                operation.app_id is not None
                and urllib.parse.quote(operation.app_id, safe="") != operation.app_id
            )
        ):
            operation.alone = True
            return operation
        operation.since = time.monotonic()
        with self._ready:
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush, name="mapper-bulk", daemon=True)
                self._flusher.start()
            self._queue.append(operation)
            self._ready.notify()
        operation.done.wait()
        if operation.error is not None:
            raise operation.error
        return operation

    def _flush(self) -> None:
        """The flusher thread: a full batch goes as soon as a sender is free; a smaller one only
        when no bulk request is in flight and its oldest operation waited LINGER (as a group
        commit: while a request is out, the next batch fills)."""
        while True:
            with self._ready:
                while True:
                    if (
                        self._queue
                        and len(self._queue) >= self.size
                        and self._in_flight < self._most_in_flight
                    ):
                        break
                    timeout = None
                    if self._queue and self._in_flight == 0:
                        timeout = self._queue[0].since + self.linger - time.monotonic()
                        if timeout <= 0:
                            break
                    elif self._closed and not self._queue:
                        return
                    self._ready.wait(timeout)
                batch = self._take()
                self._in_flight += 1
            self._sender_pool.submit(self._send, batch)

    def _take(self) -> list[_Operation]:
        """The operations at the head of the queue that fit one bulk request (the caller holds the lock)."""
        batch: list[_Operation] = []
        size = len(_HEAD) + len(_TAIL)
        while self._queue and len(batch) < self.size:
            cost = len(self._queue[0].encoded) + 1
            if batch and size + cost > self.limits.max_payload_size:
                break
            batch.append(self._queue.popleft())
            size += cost
        return batch

    def _send(self, batch: list[_Operation]) -> None:
        """Send BATCH as one bulk request (one operation alone goes as its own request) and
        settle every operation in it, whatever happens."""
        try:
            if len(batch) == 1 or self.off is not None:
                for operation in batch:
                    operation.settle(alone=True)
                return
            with self._ready:
                self.requests += 1
                self.operations += len(batch)
            try:
                document = self.bulk(_HEAD + b",".join(op.encoded for op in batch) + _TAIL)
            except AppError as exc:
                self._refused_whole(batch, exc)
                return
            self._read(batch, document)
        except AppUnavailable as exc:  # the breaker: each worker raises it, the run stops
            for operation in batch:
                if not operation.done.is_set():
                    operation.settle(error=exc)
        except Exception:  # the unforeseen: what became of each operation is not known
            for operation in batch:
                if not operation.done.is_set():
                    operation.in_doubt("the app's answer to the bulk request could not be read")
        finally:
            for operation in batch:  # never leave a worker waiting
                if not operation.done.is_set():
                    operation.in_doubt(
                        "the bulk request carrying it ended without a result for it", later=True
                    )
            with self._ready:
                self._in_flight -= 1
                self._ready.notify()

    def _refused_whole(self, batch: list[_Operation], exc: AppError) -> None:
        """The bulk request failed as a whole: its operations are settled as EXC says."""
        if exc.status in _NOT_UNDERSTOOD:
            self._refused += exc.status == 400
            if exc.status != 400 or self._refused >= 3:
                self.off = f"the app refused a bulk request (HTTP {exc.status}): each request went on its own"
            for operation in batch:  # nothing was done (a 400 may follow some: POSTs and PATCHes in doubt)
                if exc.status == 400:
                    operation.in_doubt(f"the bulk request carrying it: {exc.detail}", status=400)
                else:
                    operation.settle(alone=True)
            return
        for operation in batch:
            if exc.unknown_outcome:  # no answer, or a 5xx: the app may be at work on it still
                operation.in_doubt(
                    f"the bulk request carrying it: {exc.detail}", later=True, status=exc.status
                )
            else:
                operation.settle(error=AppError(exc.status, exc.scim_type, exc.detail))

    def _read(self, batch: list[_Operation], document: Any) -> None:
        """Settle each operation of BATCH from the BulkResponse DOCUMENT."""
        results = scim_get(document, "Operations")
        if not isinstance(results, list):
            for operation in batch:
                operation.in_doubt("the app's answer to the bulk request is not a BulkResponse")
            return
        by_id = {operation.bulk_id: operation for operation in batch}
        located = collections.Counter(op.app_id for op in batch if op.app_id is not None)
        by_location = {op.app_id: op for op in batch if op.app_id is not None and located[op.app_id] == 1}
        found: dict[_Operation, dict[str, Any]] = {}
        twice: set[_Operation] = set()
        for result in results:
            if not isinstance(result, dict):
                continue
            bulk_id = scim_get(result, "bulkId")
            matched = by_id.get(bulk_id) if isinstance(bulk_id, str) else None
            if matched is None:
                matched = by_location.get(_located_id(scim_get(result, "location")) or "")
            if matched is None:
                continue
            if matched in found:
                twice.add(matched)
            found[matched] = result
        for operation in batch:
            result = found.get(operation)
            if result is None or operation in twice:
                operation.in_doubt(
                    "the app's answer to the bulk request says nothing of it"
                    if result is None
                    else "the app's answer to the bulk request gives it two results"
                )
            else:
                _settle(operation, result)


def _settle(operation: _Operation, result: dict[str, Any]) -> None:
    """Settle OPERATION from its RESULT, as the answer to the request sent alone would read."""
    method = scim_get(result, "method")
    status = _status(scim_get(result, "status"))
    if (isinstance(method, str) and method.upper() != operation.method) or status is None:
        operation.in_doubt("the app's result for it in the bulk answer cannot be read")
        return
    if 200 <= status < 300:
        if operation.method != "POST":
            operation.settle()
            return
        created = _created(operation, result)
        if created is None:
            operation.in_doubt("the app's result for the POST in the bulk answer has no usable user id")
        else:
            operation.settle(created)
        return
    if status in REFUSED:  # the app did nothing with it, for now: it goes alone, through the retries
        operation.settle(alone=True)
        return
    if status < 200:
        operation.in_doubt(f"the app's result for it in the bulk answer has the status {status}")
        return
    if status in _FAILED:  # perhaps acted on: a POST or PATCH in doubt, a PUT or DELETE again alone
        # (504: it timed out in the app, which may still be at work on it: the next run looks)
        operation.in_doubt(
            f"the app's result for it in the bulk answer is HTTP {status}", later=status == 504
        )
        return
    response = scim_get(result, "response")
    operation.settle(
        error=AppError(
            status,
            str(scim_get(response, "scimType") or ""),
            str(scim_get(response, "detail") or ""),
            False,
        )
    )


def _created(operation: _Operation, result: dict[str, Any]) -> Resource | None:
    """The user a successful POST created: the answer's resource when the app gave it (RFC 7644
    lets it leave it out), else the body sent, with the id its location names."""
    response = scim_get(result, "response")
    if isinstance(response, dict) and "id" in response:
        created: Resource = response
    else:
        app_id = _located_id(scim_get(result, "location"))
        if app_id is None:
            return None
        assert operation.data is not None
        created = {**operation.data, "id": app_id}
        location, version = scim_get(result, "location"), scim_get(result, "version")
        created["meta"] = {"location": location, **({"version": version} if isinstance(version, str) else {})}
    try:
        check_id(created, "bulk request")
    except AppError:
        return None
    return created


def _located_id(location: Any) -> str | None:
    """The user id a result's location names (``.../Users/ID``), or None."""
    if not isinstance(location, str):
        return None
    try:
        parts = urllib.parse.urlsplit(location).path.rstrip("/").rsplit("/", 2)
    except ValueError:  # not a URL
        return None
    if len(parts) < 2 or parts[-2].casefold() != "users" or not parts[-1]:
        return None
    return urllib.parse.unquote(parts[-1])


def _status(value: Any) -> int | None:
    """A result's status: a number, or a string starting with one (``"201"``, as RFC 7644 writes it)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value[:3].isdigit() and value[:3].isascii():
        return int(value[:3])
    return None
