"""mapper's one HTTP client (:func:`client`, for sync's SCIM requests and ``check --schemas``),
and the limits every answer it reads is held to: at most a number of bytes, within one deadline.

A read timeout alone bounds each read, not the answer: a server that drips one byte a
second, or streams without end, would hold a run (and its memory) for ever. Here the
answer's body passes through :class:`BoundedStream`, which counts its bytes and checks the
clock at each chunk: past the cap it is a ``ReadError``, past the deadline (``--timeout``
from the moment the request was sent) a ``ReadTimeout``, as any other failed read, so the
callers' handling of transport errors applies. A server that sends nothing at all is
still stopped by the read timeout, so no answer takes longer than twice ``--timeout``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx2

from mapper.markup import visible

#: The largest answer read by default (``--max-response-mb``): a SCIM page of 100 users is
#: well under a megabyte, /Schemas of the largest apps a few.
MAX_RESPONSE_BYTES = 16 << 20


class BoundedStream(httpx2.SyncByteStream):
    """INNER's chunks, stopped beyond LIMIT bytes or after DEADLINE (time.monotonic())."""

    def __init__(
        self,
        inner: httpx2.SyncByteStream,
        request: httpx2.Request,
        limit: int,
        deadline: float,
        timeout: float,
    ) -> None:
        self.inner, self.request = inner, request
        self.limit, self.deadline, self.timeout = limit, deadline, timeout

    def __iter__(self) -> Iterator[bytes]:
        size = 0
        for chunk in self.inner:
            size += len(chunk)
            if size > self.limit:
                raise httpx2.ReadError(
                    f"the answer is larger than {self.limit >> 20} MB (--max-response-mb)",
                    request=self.request,
                )
            if time.monotonic() > self.deadline:
                raise httpx2.ReadTimeout(
                    f"the answer took longer than {self.timeout:g} s (--timeout)", request=self.request
                )
            yield chunk

    def close(self) -> None:
        """Close the inner stream."""
        self.inner.close()


def bounded(
    response: httpx2.Response, request: httpx2.Request, limit: int, started: float, timeout: float
) -> httpx2.Response:
    """RESPONSE (from a transport, body not read) with its body held to LIMIT bytes and to
    TIMEOUT seconds from STARTED (time.monotonic() when the request was sent)."""
    assert isinstance(response.stream, httpx2.SyncByteStream)
    stream = BoundedStream(response.stream, request, limit, started + timeout, timeout)
    return httpx2.Response(
        response.status_code,
        headers=response.headers,
        stream=stream,
        request=request,
        extensions=response.extensions,
    )


class BoundedTransport(httpx2.BaseTransport):
    """INNER, with every answer bounded (see :func:`bounded`)."""

    def __init__(self, inner: httpx2.BaseTransport, limit: int, timeout: float) -> None:
        self.inner, self.limit, self.timeout = inner, limit, timeout

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """INNER's answer to REQUEST, its body bounded from the moment the request was sent."""
        started = time.monotonic()
        return bounded(self.inner.handle_request(request), request, self.limit, started, self.timeout)

    def close(self) -> None:
        """Close the inner transport."""
        self.inner.close()


def client(
    base_url: str,
    token: str | None,
    *,
    timeout: float,
    max_bytes: int = MAX_RESPONSE_BYTES,
    max_connections: int | None = None,
    wrap: Callable[[httpx2.BaseTransport], httpx2.BaseTransport] | None = None,
) -> httpx2.Client:
    """An HTTP client for an app's SCIM API at BASE_URL: SCIM's Accept header, the bearer
    TOKEN, every answer bounded (:class:`BoundedTransport`), no redirect followed (the token
    would travel with it). WRAP adds a layer over the bounded transport (sync's retries)."""
    headers = {"Accept": "application/scim+json, application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    limits = httpx2.Limits(max_connections=max_connections)
    transport: httpx2.BaseTransport = BoundedTransport(
        httpx2.HTTPTransport(limits=limits), max_bytes, timeout
    )
    return httpx2.Client(
        base_url=base_url.rstrip("/"),
        headers=headers,
        timeout=timeout,
        transport=wrap(transport) if wrap else transport,
        follow_redirects=False,
    )


def reason(exc: Exception) -> str:
    """An HTTP client error in a few words, for one line: the OS's or TLS's own reason when it
    gives one; never more than 200 characters, control characters shown as escapes."""
    text = str(exc) or type(exc).__name__
    for marker, said in _REASONS:
        if marker in text:
            return said
    return visible(text.splitlines()[0])[:200] if text.strip() else type(exc).__name__


_REASONS = (
    ("CERTIFICATE_VERIFY_FAILED", "TLS: the certificate could not be verified"),
    ("Name or service not known", "DNS: the host name is not known"),
    ("No address associated", "DNS: the host name is not known"),
    ("Temporary failure in name resolution", "DNS: the host name could not be resolved"),
    ("Connection refused", "connection refused"),
    ("timed out", "timed out"),
)
