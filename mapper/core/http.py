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
from urllib.parse import urlsplit

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
        started = time.monotonic()
        return bounded(self.inner.handle_request(request), request, self.limit, started, self.timeout)

    def close(self) -> None:
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


def shown_url(url: str) -> str:
    """URL as messages show it: a user name and password (never meant to be there) hidden,
    quoted, and at most 200 characters."""
    import re

    return repr(re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@", r"\1***@", url)[:200])


def base_url_problem(url: str) -> str | None:
    """Why URL cannot be an app's base URL (None when it can): http or https with a host,
    a numeric port, no user name or password, query or fragment, no space or control
    character, at most 2,000 characters."""
    if len(url) > 2000:
        return f"a URL of {len(url):,} characters (at most 2,000)"
    if any(c.isspace() or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in url):
        return "the URL holds a space or a control character"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.username is not None or parts.password is not None:
        return (
            "the URL holds a user name or password; give the base URL alone and the token in the "
            "variable --token-env names (a URL is printed and kept in the state file)"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return "not an http or https base URL with a host (and no ?query)"
    return None


def clear_text_to_another_host(url: str) -> bool:
    """Whether URL is plain http to a host other than this machine (127.0.0.0/8, ::1,
    localhost): a bearer token sent there crosses the network in clear text."""
    import ipaddress

    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return False
    if parts.scheme != "http":
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a name: it may resolve anywhere
