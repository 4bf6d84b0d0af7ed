"""Retries and rate limits, as an HTTP transport under the SCIM client.

A request the app refused without doing anything (429 Too Many Requests, 503 Service
Unavailable, a connection that could not be made) is sent again after a pause: the
server's ``Retry-After`` when it gives one, else exponential backoff with full jitter.
Other failures (500, 502, 504, a dropped connection or a timeout after the request went
out) are retried only for methods that can be repeated safely (GET, PUT, DELETE); for a
POST or a PATCH the outcome is unknown (the user may exist now, an ``add`` may have
happened), so the error goes up to the sync engine, which looks at the app before trying
again. Every attempt waits for the rate limiter first.

Above the retries, a circuit breaker shared by every thread stops the whole run when the
app stops answering: a number of failed attempts in a row (no answer, a 5xx, a refused
token), a time without any answer that is not a failure, or a ``Retry-After`` longer
than the run is willing to wait. Once it is open no request goes out, pauses end at once,
and every caller gets :class:`AppUnavailable`.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx2

from mapper.errors import ExitCode, MapperError

#: Statuses that say the server did not act on the request.
REFUSED = frozenset({429, 503})
#: Statuses that say something went wrong, perhaps after the request was acted on.
FAILED = frozenset({500, 502, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class AppUnavailable(MapperError):
    """The app stopped answering (the circuit breaker opened): the run stops (exit 5)."""

    exit_code = ExitCode.APP


#: Answers that say the app is not serving us: counted as failures by the breaker.
BROKEN = frozenset({401, 403, 500, 502, 503, 504})


class Breaker:
    """Opens after FAILURES failed attempts in a row, or SECONDS without a good answer while
    attempts fail; once open, it stays open for the rest of the run."""

    def __init__(
        self, failures: int = 10, seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ):
        self.failures = failures
        self.seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._in_a_row = 0
        self._failing_since: float | None = None  # the first failure since the last good answer
        self.reason: str | None = None
        self.opened = threading.Event()

    def check(self) -> None:
        """Raise AppUnavailable once the breaker is open."""
        if self.reason is not None:
            raise AppUnavailable(self.reason)

    def good(self) -> None:
        """A good answer: the failures in a row, and the time without a good answer, count from zero again."""
        with self._lock:
            self._in_a_row = 0
            self._failing_since = None

    def bad(self, what: str) -> None:
        """A failed attempt (WHAT: how it failed, for the message)."""
        with self._lock:
            self._in_a_row += 1
            now = self._clock()
            if self._failing_since is None:
                self._failing_since = now
            silent = now - self._failing_since
            if self._in_a_row >= self.failures:
                self._open(f"{self._in_a_row} attempts in a row failed, the last: {what}")
            elif silent >= self.seconds:
                self._open(f"no good answer for {silent:.0f} s, the last attempt: {what}")

    def silent(self) -> bool:
        """Whether attempts have failed (429s included) for the whole window, with no good answer."""
        with self._lock:
            if self._failing_since is None:
                self._failing_since = self._clock()
            return self._clock() - self._failing_since >= self.seconds

    def trip(self, reason: str) -> None:
        """Open the breaker now, for REASON (unless it is open already, with its own reason)."""
        with self._lock:
            self._open(reason)

    def _open(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
            self.opened.set()

    def pause(self, seconds: float, sleep: Callable[[float], None]) -> None:
        """Wait SECONDS (cut short when the breaker opens), then raise if it is open. A pause
        that would end past the window without a good answer opens the breaker now instead:
        a run spends at most SECONDS (and one request's --timeout) waiting on a failing app."""
        with self._lock:
            if (
                self._failing_since is not None
                and self._clock() + seconds - self._failing_since > self.seconds
            ):
                self._open(
                    f"no good answer for {self._clock() - self._failing_since:.0f} s, and the next try would "
                    f"come after the {self.seconds:.0f} s the run waits (--breaker-seconds)"
                )
        self.check()
        if sleep is time.sleep:
            self.opened.wait(seconds)
        else:
            sleep(seconds)
        self.check()


@dataclass
class RetryPolicy:
    """How a failed attempt is retried: ATTEMPTS in all, pauses of full-jitter backoff from BASE up
    to CAP, and the longest Retry-After the run waits for."""

    attempts: int = 6  # in all, the first included
    base: float = 0.5  # seconds before the first retry (at most: full jitter)
    cap: float = 30.0  # the longest pause
    max_retry_after: float = 300.0  # a longer Retry-After stops the run (the breaker), not a pause
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random

    def backoff(self, attempt: int) -> float:
        """Full jitter: anywhere up to base * 2**attempt, capped."""
        return float(self.random() * min(self.cap, self.base * 2**attempt))


class RateLimiter:
    """At most RATE requests a second across every thread (a token bucket of one second)."""

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self._clock = clock
        self._lock = threading.Lock()
        self._next = clock()

    def wait(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """Wait (with SLEEP) for this request's turn: turns are 1/RATE seconds apart; no wait without RATE."""
        if not self.rate:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
        if start > now:
            sleep(start - now)


@dataclass
class Counters:
    """What went over the wire, for the summary and the tests."""

    requests: int = 0
    retries: int = 0
    by_status: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The status of this thread's last answer, for errors whose body is not SCIM's.
    last: threading.local = field(default_factory=threading.local)

    def count(self, status: int | None, retried: bool) -> None:
        """Count an attempt and its answer's STATUS (None for no answer), a retry when RETRIED; the
        status is kept as this thread's last."""
        self.last.status = status
        with self.lock:
            self.requests += 1
            self.retries += retried
            if status is not None:
                self.by_status[status] = self.by_status.get(status, 0) + 1


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


class RetryTransport(httpx2.BaseTransport):
    """INNER with retries, the rate limit and the circuit breaker, as the module docstring describes."""

    def __init__(
        self,
        inner: httpx2.BaseTransport,
        policy: RetryPolicy,
        limiter: RateLimiter,
        counters: Counters,
        breaker: Breaker | None = None,
    ) -> None:
        self.inner = inner
        self.policy = policy
        self.limiter = limiter
        self.counters = counters
        self.breaker = breaker or Breaker(failures=1 << 30, seconds=float("inf"))

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """REQUEST sent, and sent again as the module docstring says; the last answer, or the last
        transport error raised."""
        policy, breaker = self.policy, self.breaker
        repeatable = request.method in IDEMPOTENT
        attempts = int(request.extensions.get("mapper.attempts", policy.attempts))
        attempt = 0
        while True:
            breaker.check()
            self.limiter.wait(lambda seconds: breaker.pause(seconds, policy.sleep))
            breaker.check()
            last = attempt + 1 >= attempts
            try:
                response = self.inner.handle_request(request)  # a BoundedTransport: see mapper.core.http
            except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout) as exc:
                self.counters.count(None, attempt > 0)
                breaker.bad(_describe(exc))
                if last:
                    raise
                breaker.pause(policy.backoff(attempt), policy.sleep)  # not sent: safe to send again
                attempt += 1
                continue
            except httpx2.TransportError as exc:
                self.counters.count(None, attempt > 0)
                breaker.bad(_describe(exc))
                if last or not repeatable:
                    raise
                breaker.pause(policy.backoff(attempt), policy.sleep)
                attempt += 1
                continue
            self.counters.count(response.status_code, attempt > 0)
            status = response.status_code
            if status in BROKEN:
                breaker.bad(f"HTTP {status}")
            elif status != 429:
                breaker.good()
            if not (status in REFUSED or (status in FAILED and repeatable)):
                return response
            wait = retry_after(response.headers.get("Retry-After")) if status in REFUSED else None
            if wait is not None and wait > policy.max_retry_after:
                response.close()
                breaker.trip(
                    f"the app asked to wait {wait:.0f} s (HTTP {status}, Retry-After), more than "
                    f"{policy.max_retry_after:.0f} s (--max-retry-after): run again later"
                )
                breaker.check()
            if last:
                return response
            if status == 429 and breaker.silent():
                breaker.bad("HTTP 429")  # throttled for longer than the breaker waits
            response.read()
            response.close()
            breaker.pause(wait if wait is not None else policy.backoff(attempt), policy.sleep)
            attempt += 1

    def close(self) -> None:
        """Close the inner transport."""
        self.inner.close()


def _describe(exc: Exception) -> str:
    """What went wrong with an attempt, in a few words (no URL: the caller names it)."""
    kind = type(exc).__name__
    return {
        "ConnectError": "the connection could not be made",
        "ConnectTimeout": "the connection timed out",
        "PoolTimeout": "no connection was free in time",
        "ReadTimeout": "the answer timed out",
        "WriteTimeout": "the request could not be sent in time",
        "RemoteProtocolError": "the connection was dropped",
        "ReadError": "the connection was dropped",
    }.get(kind, kind)
