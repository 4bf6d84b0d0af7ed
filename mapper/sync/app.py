"""The app's SCIM API, as the sync engine uses it: find a user by an attribute, create, read,
PATCH, PUT and delete, over httpx2 (mapper.core.http) with timeouts, retries and a rate limit
(:mod:`mapper.sync.retry`). Payloads are sent as mapper wrote them and answers read as
JSON: validation belongs to ``mapper check --schemas`` and the tests, not every request.

Every failure is an :class:`AppError` with the HTTP status, the SCIM error type and detail
(RFC 7644 section 3.12), whether the outcome is unknown (the request may have been acted
on), and advice on what to do.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Protocol

import httpx2

from mapper.core import http
from mapper.core.http import MAX_RESPONSE_BYTES
from mapper.core.schema import Resource
from mapper.errors import ExitCode, MapperError
from mapper.sync.ids import id_problem, user_path
from mapper.sync.retry import Breaker, Counters, RateLimiter, RetryPolicy, RetryTransport

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"

#: What to do about each SCIM error type (RFC 7644 section 3.12) and status.
ADVICE: dict[str | int, str] = {
    "uniqueness": "another app user already holds this unique value: adopt it with --match, or remove the duplicate in the app",
    "invalidValue": "the app refused a value: check the rule that writes it (mapper check --schemas)",
    "mutability": "the app does not let this attribute change: make its rule `on create`",
    "invalidPath": "the app does not know an attribute the ruleset writes: run mapper check --schemas",
    "noTarget": "the app holds no entry the PATCH path selects: run sync with --repair",
    "invalidSyntax": "the app could not read the request: report it with the request (mapper sync --dry-run)",
    "invalidFilter": "the app cannot search by this attribute: choose another --match",
    "tooMany": "the app's search returned too many users: choose a more selective --match",
    "sensitive": "the app refuses this value in a URL: choose another --match",
    "invalidVers": "the app's version check failed: run sync with --repair",
    401: "the app refused the token: check the variable --token-env names",
    403: "the token may not do this: check its permissions in the app",
    404: "the app has no user at this id (deleted in the app, or a gateway that does not route the request)",
    409: "conflict: another app user holds a unique value",
    412: "the app user changed since it was read (its version is another): make a new plan",
    413: "the request is too large for the app",
}


class AppError(MapperError):
    """A request for one user failed: reported for that user, tried again by the next run."""

    def __init__(
        self, status: int | None, scim_type: str, detail: str, unknown_outcome: bool = False,
        later: bool = False,
    ) -> None:  # fmt: skip
        self.status = status
        self.scim_type = scim_type
        self.detail = detail
        self.unknown_outcome = unknown_outcome
        # The app may still be acting on the request (a timeout, a 504, a bulk request that got no
        # answer): looking now could miss what it is creating, so the next run looks instead.
        self.later = later
        super().__init__(self.message())

    @property
    def advice(self) -> str:
        """What to do about it: the advice for its SCIM error type, else for its HTTP status, else empty;
        for a request the app may still be at work on, what the next run does."""
        if self.later:
            return "the app may still be at work on it: the next run looks at the app before sending it again"
        by_type = ADVICE.get(self.scim_type)
        return by_type or ADVICE.get(self.status or 0) or ""

    def message(self) -> str:
        """The failure in one line: status, SCIM error type, detail, and any advice in parentheses."""
        head = f"HTTP {self.status}" if self.status else "no answer" if self.unknown_outcome else ""
        head = f"{head} {self.scim_type}".strip() if self.scim_type else head
        text = f"{head}: {self.detail}" if head and self.detail else head or self.detail
        return f"{text} ({self.advice})" if self.advice else text


class Conflict(AppError):
    """Two Okta users would share one app user: reported for the second, never written."""

    def __init__(self, detail: str) -> None:
        super().__init__(None, "uniqueness", detail)

    def message(self) -> str:
        """The conflict in one line, saying that nothing was written."""
        return (
            f"conflict: {self.detail}; nothing was written (resolve it in the app or in Okta: mapper never "
            "gives one app user to two Okta users)"
        )


class PreflightError(MapperError):
    """The app could not be reached, or refused us, before any user request (exit 5)."""

    exit_code = ExitCode.APP


@dataclass(frozen=True)
class Connection:
    """How to reach the app: its SCIM base URL, the token, and the limits on requests and answers."""

    base_url: str
    token: str | None
    timeout: float = 30.0
    concurrency: int = 4
    max_rps: float | None = None
    token_env: str = "SCIM_TOKEN"  # noqa: S105 - the variable's name, named in messages (never the token)
    max_response_bytes: int = MAX_RESPONSE_BYTES  # a longer answer is a failed read
    url_option: str = "--to"  # the option that gave the base URL, named in the pre-flight's advice


#: --match NAME: the SCIM filter attribute, and whether its values compare exactly
#: (RFC 7643: userName and emails.value are caseExact false, externalId is caseExact).
MATCH_FILTERS: dict[str, tuple[str, bool]] = {
    "userName": ("userName", False),
    "email": ("emails.value", False),
    "externalId": ("externalId", True),
}


#: The most users a listing of the app's /Users reads (memory stays bounded).
MAX_LISTED = 2_000_000


@dataclass(frozen=True)
class Listing:
    """The app's users as a paged listing read them, and how the listing went: the
    ``totalResults`` of each page (one value unless users came or went meanwhile), how many
    users were read on two pages, and how many pages held fewer users than asked for while
    more were to come (mapper reads on from what it got, as RFC 7644 section 3.4.2.4 allows;
    Okta asks for the next page at the start index plus the count, and misses the rest)."""

    users: list[dict[str, Any]]
    totals: tuple[int, ...]
    duplicates: int
    short_pages: int = 0  # pages that held fewer users than asked for, with more to come

    @property
    def changed(self) -> bool:
        """Whether the app's users changed while they were read: the listing may miss some."""
        return len(set(self.totals)) > 1 or self.duplicates > 0


@dataclass(frozen=True)
class BulkLimits:
    """What the app's /ServiceProviderConfig announces of /Bulk (RFC 7644 sections 3.7 and 5):
    the most operations one request may carry, and its largest body in bytes."""

    max_operations: int
    max_payload_size: int


#: Connection failures that say the request was never sent: safe to send again.
UNSENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)


class Users(Protocol):
    """What a sync asks of the app's /Users: :class:`ScimApp`, or the dry run's recorder
    standing in for it (mapper.sync.saved_plan.Recorder)."""

    counters: Counters
    breaker: Breaker

    def preflight(self) -> None:
        """Check that the app answers and takes the token, before any user's request."""

    def find(self, match: str, value: str) -> list[Resource]:
        """The app users whose --match attribute MATCH equals VALUE."""

    def get(self, app_id: str) -> Resource:
        """The app user APP_ID."""

    def create(self, body: Resource) -> Resource:
        """Create the app user BODY; the user as the app created it, with its id."""

    def patch(self, app_id: str, message: Resource) -> None:
        """PATCH the app user APP_ID with the PatchOp MESSAGE."""

    def put(self, app_id: str, body: Resource) -> None:
        """Replace the app user APP_ID with BODY."""

    def delete(self, app_id: str) -> None:
        """Delete the app user APP_ID."""


class ScimApp:
    """The app's /Users endpoint."""

    def __init__(
        self, connection: Connection, policy: RetryPolicy | None = None, breaker: Breaker | None = None
    ) -> None:
        self.connection = connection
        self.breaker = breaker or Breaker()
        self.counters = Counters()
        self.http = http.client(
            connection.base_url,
            connection.token,
            timeout=connection.timeout,
            max_bytes=connection.max_response_bytes,
            max_connections=connection.concurrency * 2,
            wrap=lambda bounded: RetryTransport(
                bounded, policy or RetryPolicy(), RateLimiter(connection.max_rps), self.counters, self.breaker
            ),
        )

    def close(self) -> None:
        """Close the HTTP client and its connections."""
        self.http.close()

    # ---------------------------------------------------------------- operations

    def preflight(self) -> None:
        """Prove the base URL, the path and the token with one authenticated request
        (``GET /Users?count=1``), before any user's: a PreflightError says what to fix."""
        where = f"{self.connection.base_url.rstrip('/')}/Users"
        variable = f"${self.connection.token_env}"
        option = self.connection.url_option
        try:
            answer = self.http.get(
                "/Users", params={"startIndex": 1, "count": 1}, extensions={"mapper.attempts": 2}
            )
        except httpx2.HTTPError as exc:
            reason = http.reason(exc).replace(self.connection.token or "\0", "<token>")
            raise PreflightError(
                f"{where}: no answer ({reason}): check the host, the port and that the app is up"
            ) from None
        status = answer.status_code
        if status in (401, 403):
            raise PreflightError(
                f"{where}: HTTP {status}: the app refused the token in {variable}: check that it is "
                f"current and meant for this app{' (and allowed to manage users)' if status == 403 else ''}"
            )
        if status == 404:
            raise PreflightError(
                f"{where}: HTTP 404: no SCIM users there: check the base URL ({option}) against the app's "
                "documentation (the path often ends in /scim/v2, or just /v2)"
            )
        if 300 <= status < 400:
            raise PreflightError(
                f"{where}: HTTP {status}: the app redirects elsewhere, which mapper does not follow (the token "
                f"would travel with it): give the URL it redirects to as {option}"
            )
        if status >= 300:
            raise PreflightError(
                f"{where}: HTTP {status}: the app is not answering as SCIM does; try again later"
            )
        try:
            document = answer.json()
        except ValueError:
            document = None
        if not (isinstance(document, dict) and isinstance(document.get("totalResults"), int)):
            raise PreflightError(
                f"{where}: the answer is not a SCIM list of users (ListResponse): check that {option} is the app's SCIM base URL"
            )

    def find(self, match: str, value: str) -> list[dict[str, Any]]:
        """The app users whose --match attribute MATCH equals VALUE (a SCIM filter, value
        JSON-quoted). An answer that is not a list, holds fewer users than it counts, or holds
        a user who does not match (a server that ignores the filter) is an AppError: a search
        that cannot be trusted must never read as "no such user"."""
        attribute, _ = MATCH_FILTERS[match]
        query = {"filter": f"{attribute} eq {json.dumps(value, ensure_ascii=False)}"}
        found = self._request("GET", "/Users", params=query)
        if not isinstance(found, dict):
            raise AppError(None, "", "the app's answer to a search is not a SCIM ListResponse")
        resources = found.get("Resources", [])
        total = found.get("totalResults")
        if (
            not isinstance(resources, list)
            or not all(isinstance(r, dict) for r in resources)
            or not isinstance(total, int)
            or isinstance(total, bool)
        ):
            raise AppError(None, "", "the app's answer to a search is not a SCIM ListResponse")
        if total > len(resources):
            raise AppError(
                None, "tooMany", f"the app's search counts {total} users but returned {len(resources)}"
            )
        for resource in resources:
            check_id(resource, "search")
            if not matches(resource, match, value):
                raise AppError(
                    None,
                    "invalidFilter",
                    f"the app's search by {match} returned a user who does not match it (does the app ignore filters?)",
                )
        return resources

    def list_users(self, page_size: int = 100, limit: int = MAX_LISTED) -> Listing:
        """Every app user, as Okta's import reads them: ``GET /Users?startIndex=1&count=PAGE_SIZE``,
        then the next page at the start index plus what the page held, until ``totalResults`` are
        read. Every page is checked (a ListResponse, integer counts, usable ids); a user read on
        two pages (the listing shifted: users were removed while it was read) is kept once, and
        a count that changed between pages is recorded, for the caller to say the listing may be
        incomplete. More than LIMIT users, or a page that ends the listing before its count, is an
        AppError, never a silently short list."""
        users: dict[str, dict[str, Any]] = {}
        start, totals, duplicates, short = 1, [], 0, 0
        while True:
            query = {"startIndex": start, "count": page_size}
            page = self._request("GET", "/Users", params=query)
            resources = page.get("Resources", []) if isinstance(page, dict) else None
            total = page.get("totalResults") if isinstance(page, dict) else None
            if (
                not isinstance(resources, list)
                or not all(isinstance(r, dict) for r in resources)
                or not isinstance(total, int)
                or isinstance(total, bool)
            ):
                raise AppError(
                    None, "", f"the app's answer to GET /Users?startIndex={start} is not a SCIM ListResponse"
                )
            totals.append(total)
            for resource in resources:
                check_id(resource, "listing")
                if resource["id"] in users:
                    duplicates += 1
                users[resource["id"]] = resource
            if len(users) > limit:
                raise AppError(None, "tooMany", f"the app lists more than {limit:,} users")
            start += len(resources)
            if start > total:
                return Listing(list(users.values()), tuple(totals), duplicates, short)
            short += len(resources) < page_size  # the app pages by fewer: Okta, adding the count, skips users
            if not resources:
                raise AppError(
                    None, "", f"the app's listing ended at {start - 1:,} of the {total:,} users it counts"
                )

    def bulk_limits(self) -> BulkLimits | None:
        """The limits of /Bulk as the app's /ServiceProviderConfig announces them, or None when it
        does not announce bulk support (or cannot be read, or announces fewer than two operations
        or no payload size: nothing mapper can rely on)."""
        try:
            status, config = self._exchange("GET", "/ServiceProviderConfig", attempts=2)
        except AppError:
            return None
        bulk = scim_get(config, "bulk") if status == 200 else None
        most, size = scim_get(bulk, "maxOperations"), scim_get(bulk, "maxPayloadSize")
        if (
            scim_get(bulk, "supported") is not True
            or not (isinstance(most, int) and not isinstance(most, bool) and most >= 2)
            or not (isinstance(size, int) and not isinstance(size, bool) and size > 0)
        ):
            return None
        return BulkLimits(most, size)

    def bulk(self, content: bytes) -> Any:
        """POST CONTENT (a BulkRequest, serialised) to /Bulk: the answer's JSON document. A request
        that got no answer, or an error answer without per-operation results, is an AppError (its
        outcome unknown unless the request was never sent or the app said it did nothing); an error
        answer that lists them (a failed bulk job lists what it processed, RFC 7644 section 3.7.3) is
        returned, and reading the results is the caller's (mapper.sync.batched)."""
        status, document = self._exchange("POST", "/Bulk", content)
        document = None if document is _NOT_JSON else document
        if status >= 300 and not isinstance(scim_get(document, "Operations"), list):
            raise _error(status, document, True, "the app refused the bulk request")
        return document

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST BODY to /Users: the user the app created, whose id must be usable (an answer without
        one is an AppError whose outcome is unknown)."""
        created = self._request("POST", "/Users", body)
        if not isinstance(created, dict) or "id" not in created:
            raise AppError(None, "", "the app's answer to the POST has no user id", unknown_outcome=True)
        check_id(created, "POST")
        return created

    def get(self, app_id: str) -> dict[str, Any]:
        """GET the app user APP_ID, as the app answers; an answer that is not a JSON object is an AppError."""
        found = self._request("GET", user_path(app_id))
        if not isinstance(found, dict):
            raise AppError(None, "", "the app's answer to the GET is not a user")
        if "id" in found and found["id"] != app_id:  # never take another user's resource for this one
            raise AppError(
                None, "", "the app's answer to the GET is another user (its id is not the one asked for)"
            )
        return found

    def patch(self, app_id: str, message: dict[str, Any], if_match: str | None = None) -> None:
        """PATCH the user; with IF_MATCH (an ETag), only while the app's version is still that one."""
        headers = {"If-Match": if_match} if if_match else None
        self._request("PATCH", user_path(app_id), message, headers)

    def put(self, app_id: str, body: dict[str, Any], if_match: str | None = None) -> None:
        """PUT BODY as the app user APP_ID; with IF_MATCH (an ETag), only while the app's version is
        still that one."""
        headers = {"If-Match": if_match} if if_match else None
        self._request("PUT", user_path(app_id), body, headers)

    def delete(self, app_id: str) -> None:
        """DELETE the app user APP_ID."""
        self._request("DELETE", user_path(app_id))

    def _request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:  # fmt: skip
        """The JSON answer to METHOD PATH (BODY sent as JSON; None for an empty answer). An error
        answer (a status of 300 or more, or SCIM's Error message) or no answer is an AppError;
        its outcome is unknown for a POST or a PATCH that may have been acted on (500, 502,
        504, a timeout or a connection dropped after the request went out)."""
        content = (
            json.dumps(body).encode() if body is not None else None
        )  # ASCII: valid JSON whatever the text
        status, document = self._exchange(method, path, content, headers, params)
        may_act = method in ("POST", "PATCH")
        if document is _NOT_JSON:
            if status < 300:
                raise AppError(status, "", "the app's answer is not JSON", may_act)
            document = None
        schemas = scim_get(document, "schemas")
        if status >= 300 or (isinstance(schemas, list) and ERROR_URN in schemas):
            raise _error(status if status >= 300 else _int(scim_get(document, "status")), document, may_act)
        return document

    def _exchange(
        self, method: str, path: str, content: bytes | None = None, headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None, attempts: int | None = None,
    ) -> tuple[int, Any]:  # fmt: skip
        """METHOD PATH sent (CONTENT as SCIM JSON; at most ATTEMPTS tries, else the retry policy's):
        the answer's status and JSON document (None when empty, _NOT_JSON when it is not JSON: what
        is in it is checked where it is used). No answer is an AppError, its outcome unknown for a
        POST or a PATCH that went out."""
        sent = dict(headers or {})
        if content is not None:
            sent["Content-Type"] = "application/scim+json"
        extensions = {"mapper.attempts": attempts} if attempts is not None else {}
        try:
            answer = self.http.request(
                method, path, params=params, content=content, headers=sent, extensions=extensions
            )
        except httpx2.HTTPError as exc:
            unknown = method in ("POST", "PATCH") and not isinstance(exc, UNSENT)
            reason = http.reason(exc)  # an outcome unknown reads "no answer: REASON" (AppError.message)
            message = reason if unknown else f"no answer ({reason})"
            # Timed out: the app may still be at work on it, so a search now could miss a user it
            # is creating; the next run looks instead.
            raise AppError(
                None, "", message, unknown, later=unknown and isinstance(exc, httpx2.ReadTimeout)
            ) from None
        if not answer.content.strip():
            return answer.status_code, None
        try:
            return answer.status_code, json.loads(answer.content)
        except (ValueError, RecursionError):
            return answer.status_code, _NOT_JSON


#: An answer whose body is not JSON (told apart from an empty one).
_NOT_JSON = object()


def _error(status: int | None, document: Any, may_act: bool, detail: str = "") -> AppError:
    """The AppError of an error answer: its status, SCIM error type and detail; the outcome unknown
    for a request that may have been acted on (MAY_ACT) answered 500, 502 or 504, and looked at
    only by the next run after a 504 (a gateway stopped waiting: the app may still be at work)."""
    return AppError(
        status,
        str(scim_get(document, "scimType") or ""),
        str(scim_get(document, "detail") or detail),
        may_act and status in (500, 502, 504),
        later=may_act and status == 504,
    )


def check_id(resource: dict[str, Any], answer: str) -> None:
    """Refuse an app user whose id cannot be one URL path segment (see :mod:`mapper.sync.ids`):
    stored, it would send later requests elsewhere, or fail every later run."""
    problem = id_problem(resource.get("id"))
    if problem:
        raise AppError(
            None,
            "",
            f"the app's answer to the {answer} gives a user id mapper cannot use: {problem} "
            "(an id must fit in a URL path: ask the app's vendor)",
        )


def match_values(resource: dict[str, Any], match: str) -> list[str]:
    """The values of RESOURCE's --match attribute MATCH (every email's, for ``email``)."""
    if match == "email":
        emails = resource.get("emails")
        return (
            [e["value"] for e in emails if isinstance(e, dict) and isinstance(e.get("value"), str)]
            if isinstance(emails, list)
            else []
        )
    value = resource.get(match)
    return [value] if isinstance(value, str) else []


def fold(value: str, match: str) -> str:
    """A match value as the app compares it: userName and emails ignore case (RFC 7643)."""
    return value if match == "externalId" else value.casefold()


def matches(resource: dict[str, Any], match: str, value: str) -> bool:
    """Whether RESOURCE's MATCH attribute equals VALUE, as RFC 7643 compares it."""
    _, exact = MATCH_FILTERS[match]
    if exact:
        return value in match_values(resource, match)
    folded = value.casefold()
    return any(v.casefold() == folded for v in match_values(resource, match))


def record_version(resource: dict[str, Any]) -> str:
    """What a saved plan remembers of an app record it built a request from: the app's
    version (ETag, RFC 7644 section 3.14) when it gives one, else a hash of the record."""
    meta = resource.get("meta")
    version = meta.get("version") if isinstance(meta, dict) else None
    if isinstance(version, str) and version:
        return f"version:{version}"
    canonical = json.dumps(resource, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def scim_get(document: Any, name: str) -> Any:
    """DOCUMENT's attribute NAME, its case ignored as SCIM ignores it (RFC 7643 section 2.1);
    None when DOCUMENT is not an object or has no such attribute."""
    if not isinstance(document, dict):
        return None
    if name in document:
        return document[name]
    folded = name.casefold()
    return next((value for key, value in document.items() if key.casefold() == folded), None)


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None
