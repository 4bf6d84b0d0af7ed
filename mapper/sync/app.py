"""The app's SCIM API, as the sync engine uses it: find a user by an attribute, create, read,
PATCH, PUT and delete, over scim2-client on httpx2 with timeouts, retries and a rate limit
(:mod:`mapper.sync.retry`). Payloads are sent as mapper wrote them and answers read as
JSON: validation belongs to ``mapper check --schemas`` and the tests, not every request.

Every failure is an :class:`AppError` with the HTTP status, the SCIM error type and detail
(RFC 7644 section 3.12), whether the outcome is unknown (the request may have been acted
on), and advice on what to do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx2
from scim2_client import SCIMClientException
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import ScimProvider, User

from mapper.sync.retry import Counters, RateLimiter, RetryPolicy, RetryTransport

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
    404: "the app has no such user any more: sync creates it again",
    409: "conflict: another app user holds a unique value",
    413: "the request is too large for the app",
}


class AppError(Exception):
    def __init__(
        self, status: int | None, scim_type: str, detail: str, unknown_outcome: bool = False
    ) -> None:
        self.status = status
        self.scim_type = scim_type
        self.detail = detail
        self.unknown_outcome = unknown_outcome
        super().__init__(self.message())

    @property
    def advice(self) -> str:
        by_type = ADVICE.get(self.scim_type)
        return by_type or ADVICE.get(self.status or 0) or ""

    def message(self) -> str:
        head = f"HTTP {self.status}" if self.status else "no answer"
        kind = f" {self.scim_type}" if self.scim_type else ""
        text = f"{head}{kind}: {self.detail}" if self.detail else f"{head}{kind}"
        return f"{text} ({self.advice})" if self.advice else text


@dataclass(frozen=True)
class Connection:
    base_url: str
    token: str | None
    timeout: float = 30.0
    concurrency: int = 4
    max_rps: float | None = None


class ScimApp:
    """The app's /Users endpoint."""

    def __init__(self, connection: Connection, policy: RetryPolicy | None = None) -> None:
        self.counters = Counters()
        headers = {"Accept": "application/scim+json, application/json"}
        if connection.token:
            headers["Authorization"] = f"Bearer {connection.token}"
        transport = RetryTransport(
            httpx2.HTTPTransport(limits=httpx2.Limits(max_connections=connection.concurrency * 2)),
            policy or RetryPolicy(),
            RateLimiter(connection.max_rps),
            self.counters,
        )
        self.http = httpx2.Client(
            base_url=connection.base_url.rstrip("/"),
            headers=headers,
            timeout=connection.timeout,
            transport=transport,
            follow_redirects=False,  # the token must not travel elsewhere
        )
        self.client = SyncSCIMClient(
            self.http,
            provider=ScimProvider([User]),  # /Users; payloads go unchecked, as mapper wrote them
            check_request_payload=False,
            check_response_payload=False,
            check_response_status_codes=False,
            raise_scim_errors=False,
        )

    def close(self) -> None:
        self.http.close()

    # ---------------------------------------------------------------- operations

    def find(self, attribute: str, value: str) -> list[dict[str, Any]]:
        """The app users whose ATTRIBUTE equals VALUE (a SCIM filter, value JSON-quoted)."""
        query = {"filter": f"{attribute} eq {json.dumps(value, ensure_ascii=False)}"}
        found = self._call(lambda: self.client.query(url="/Users", query_parameters=query), "GET")
        resources = found.get("Resources") if isinstance(found, dict) else None
        return [r for r in resources or [] if isinstance(r, dict)]

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        created = self._call(lambda: self.client.create(resource=body, url="/Users"), "POST")
        if not isinstance(created, dict) or not isinstance(created.get("id"), str):
            raise AppError(None, "", "the app's answer to the POST has no user id", unknown_outcome=True)
        return created

    def get(self, app_id: str) -> dict[str, Any]:
        found = self._call(lambda: self.client.query("User", app_id), "GET")
        if not isinstance(found, dict):
            raise AppError(None, "", "the app's answer to the GET is not a user")
        return found

    def patch(self, app_id: str, message: dict[str, Any]) -> None:
        self._call(lambda: self.client.modify("User", app_id, message), "PATCH")

    def put(self, app_id: str, body: dict[str, Any]) -> None:
        self._call(lambda: self.client.replace("User", body, url=f"/Users/{app_id}"), "PUT")

    def delete(self, app_id: str) -> None:
        self._call(lambda: self.client.delete("User", app_id), "DELETE")

    def _call(self, request: Any, method: str) -> Any:
        """REQUEST's answer; an AppError for a SCIM error or a request that got no answer."""
        try:
            answer = request()
        except SCIMClientException as exc:
            cause = exc.__cause__
            status = getattr(self.counters.last, "status", None) if cause is None else None
            unknown = method in ("POST", "PATCH") and (
                status in (500, 502, 504)
                or (
                    status is None
                    and not isinstance(
                        cause, httpx2.ConnectError | httpx2.ConnectTimeout | httpx2.PoolTimeout
                    )
                )
            )
            detail = f"{exc.message}: {cause}" if cause else exc.message
            raise AppError(status, "", detail, unknown) from None
        except httpx2.HTTPError as exc:
            raise AppError(None, "", str(exc), method in ("POST", "PATCH")) from None
        if isinstance(answer, dict) and ERROR_URN in (answer.get("schemas") or []):
            status = _int(answer.get("status"))
            unknown = method in ("POST", "PATCH") and status in (500, 502, 504)
            raise AppError(
                status, str(answer.get("scimType") or ""), str(answer.get("detail") or ""), unknown
            )
        return answer


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None
