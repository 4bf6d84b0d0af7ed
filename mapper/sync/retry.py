"""Retries and rate limits, as an HTTP transport under the SCIM client.

A request the app refused without doing anything (429 Too Many Requests, 503 Service
Unavailable, a connection that could not be made) is sent again after a pause: the
server's ``Retry-After`` when it gives one, else exponential backoff with full jitter.
Other failures (500, 502, 504, a dropped connection or a timeout after the request went
out) are retried only for methods that can be repeated safely (GET, PUT, DELETE); for a
POST or a PATCH the outcome is unknown (the user may exist now, an ``add`` may have
happened), so the error goes up to the sync engine, which looks at the app before trying
again. Every attempt waits for the rate limiter first.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx2

#: Statuses that say the server did not act on the request.
REFUSED = frozenset({429, 503})
#: Statuses that say something went wrong, perhaps after the request was acted on.
FAILED = frozenset({500, 502, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


@dataclass
class RetryPolicy:
    attempts: int = 6  # in all, the first included
    base: float = 0.5  # seconds before the first retry (at most: full jitter)
    cap: float = 30.0  # the longest pause
    max_retry_after: float = 120.0  # a longer Retry-After is a failure, not a pause
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
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


class RetryTransport(httpx2.BaseTransport):
    def __init__(
        self, inner: httpx2.BaseTransport, policy: RetryPolicy, limiter: RateLimiter, counters: Counters
    ) -> None:
        self.inner = inner
        self.policy = policy
        self.limiter = limiter
        self.counters = counters

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        policy = self.policy
        repeatable = request.method in IDEMPOTENT
        attempt = 0
        while True:
            self.limiter.wait(policy.sleep)
            last = attempt + 1 >= policy.attempts
            try:
                response = self.inner.handle_request(request)
            except (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout):
                self.counters.count(None, attempt > 0)
                if last:
                    raise
                policy.sleep(policy.backoff(attempt))  # not sent: safe to send again
                attempt += 1
                continue
            except httpx2.TransportError:
                self.counters.count(None, attempt > 0)
                if last or not repeatable:
                    raise
                policy.sleep(policy.backoff(attempt))
                attempt += 1
                continue
            self.counters.count(response.status_code, attempt > 0)
            status = response.status_code
            if last or not (status in REFUSED or (status in FAILED and repeatable)):
                return response
            wait = retry_after(response.headers.get("Retry-After")) if status in REFUSED else None
            if wait is not None and wait > policy.max_retry_after:
                return response
            response.read()
            response.close()
            policy.sleep(wait if wait is not None else policy.backoff(attempt))
            attempt += 1

    def close(self) -> None:
        self.inner.close()
