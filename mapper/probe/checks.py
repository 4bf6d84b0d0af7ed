"""The probe: connection and discovery, Okta's SPEC test, and Okta's CRUD lifecycle sent in each
update style with the ruleset's own requests, all on one throwaway user that is removed at the
end (deactivated where the app refuses DELETE), even when the probe is interrupted.

Every check has a stable name (``spec.create``, ``crud.rfc.update``...) and ends ok, failed or
skipped, with one line of detail that never holds a token. The verdict is the first style, of
rfc, no-path, whole-multivalued and put, whose every step the app applied exactly: after each
request the user is read back and compared, by the same reconcile sync uses, with what the
ruleset wants, and a home email the app holds beside the ruleset's work email must survive.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx2

from mapper.core import http, jsonio
from mapper.core.schema import OktaUser, Resource
from mapper.core.styles import UpdateStyle
from mapper.core.types import STRING
from mapper.errors import MapperError, ProfileError
from mapper.runtime.patch import touched
from mapper.runtime.reconcile import reconcile_message
from mapper.runtime.ruleset import Ruleset
from mapper.sync.app import AppError, Connection, PreflightError, ScimApp, match_values
from mapper.sync.decide import status_body
from mapper.sync.ids import id_problem, user_path
from mapper.sync.retry import Counters, RateLimiter, RetryPolicy, RetryTransport

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
#: RFC 2606: a domain that never receives mail.
DOMAIN = "example.invalid"
HOME_EMAIL_TYPE = "home"


@dataclass(frozen=True)
class Check:
    """One named check: OK is True, False, or None when it was skipped; DETAIL one line."""

    name: str
    ok: bool | None
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        """The check as the JSON report writes it."""
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass
class Report:
    """What a probe found: its checks in order, the style to use (None: none works), and the
    throwaway user (its id, its userName, and whether it is still in the app)."""

    checks: list[Check] = field(default_factory=list)
    style: UpdateStyle | None = None
    user_id: str | None = None
    user_name: str = ""
    left_in_app: bool = False
    connected: bool = True
    tried: list[UpdateStyle] = field(default_factory=list)  # the styles whose steps were sent

    def as_json(self) -> dict[str, Any]:
        """The report as ``--format json`` writes it (documented in the README)."""
        return {
            "style": self.style.value if self.style else None,
            "connected": self.connected,
            "user": {"id": self.user_id, "userName": self.user_name, "left_in_app": self.left_in_app},
            "tried": [style.value for style in self.tried],
            "checks": [c.as_json() for c in self.checks],
        }


class ProbeStopped(MapperError):
    """The probe cannot go on (no connection, or no user could be created)."""


def probe_user_name(token: str | None = None) -> str:
    """A userName no real person has: mapper-probe-<random>@example.invalid."""
    return f"mapper-probe-{token or secrets.token_hex(4)}@{DOMAIN}"


def profiles(ruleset: Ruleset, user_name: str) -> tuple[OktaUser, OktaUser]:
    """Two Okta users for the lifecycle: BEFORE, with a value for every profile attribute the
    ruleset reads, and AFTER, where every value changed, the work email included, and one
    optional attribute cleared."""
    base: dict[str, Any] = {"login": user_name, "email": user_name}
    changed: dict[str, Any] = {"login": user_name, "email": user_name.replace("@", "+changed@")}
    # The value cleared: one that feeds an entry of a multi-valued attribute when there is one
    # (its entry is then removed with a filtered path, what servers most often get wrong).
    entries = {src for r in ruleset.rules if "[" in r.target and not r.create_only for src in r.sources}
    optional = sorted(
        (name for name, kind in ruleset.plan.profile_types.items()
         if kind == STRING and name not in ("login", "email", "firstName", "lastName")),
        key=lambda name: (name not in entries, name),
    )  # fmt: skip
    cleared = optional[0] if optional else None
    for name, kind in sorted(ruleset.plan.profile_types.items()):
        if name in base or name.startswith("$"):
            continue
        before, after = _value(name, kind.base, kind.multi, 1), _value(name, kind.base, kind.multi, 2)
        if before is None:
            continue
        base[name] = before
        changed[name] = None if name == cleared else after
    okta_id = "00uprobe" + user_name.split("-")[2].split("@")[0]
    return (
        {"id": okta_id, "status": "ACTIVE", "profile": base},
        {"id": okta_id, "status": "ACTIVE", "profile": changed},
    )


def _value(name: str, base: str, multi: bool, version: int) -> Any:
    one: Any
    if base == "string":
        one = f"{name}{version}@{DOMAIN}" if "mail" in name.lower() else f"probe {name} {version}"
    elif base == "integer":
        one = 1000 + version
    elif base == "decimal":
        one = 1000.5 + version
    elif base == "boolean":
        one = version == 1
    else:
        return None
    return [one] if multi else one


class Probe:
    """Probes the app at CONNECTION with RULESET; ON_CHECK hears each check as it ends, and
    ON_USER the throwaway user's id as soon as the app gives it."""

    def __init__(
        self,
        ruleset: Ruleset,
        connection: Connection,
        match: str = "userName",
        skip_auth_check: bool = False,
        keep: bool = False,
        on_check: Callable[[Check], None] = lambda c: None,
        on_user: Callable[[str, str], None] = lambda i, n: None,
    ) -> None:
        self.ruleset, self.connection, self.match = ruleset, connection, match
        self.skip_auth_check, self.keep = skip_auth_check, keep
        self.on_check, self.on_user = on_check, on_user
        self.report = Report(user_name=probe_user_name())
        self.bulk: dict[str, Any] | None = None  # /ServiceProviderConfig's bulk, when served
        # Throttling (429, Retry-After) and a passing 503 are retried as sync retries them: one
        # throttled request must not change the verdict.
        self.http = http.client(
            connection.base_url,
            connection.token,
            timeout=connection.timeout,
            max_bytes=connection.max_response_bytes,
            wrap=lambda bounded: RetryTransport(bounded, RetryPolicy(), RateLimiter(None), Counters()),
        )

    # ---------------------------------------------------------------- plumbing

    def _check(self, name: str, ok: bool | None, detail: str = "") -> bool:
        token = self.connection.token or ""
        hidden = detail.replace(token, "<token>") if len(token) >= 8 else detail  # a short one is a word
        check = Check(name, ok, hidden[:300])
        self.report.checks.append(check)
        self.on_check(check)
        return bool(ok)

    def _send(
        self, method: str, path: str, body: Resource | None = None, token: str | None = None
    ) -> tuple[int, Any]:
        """One request: the status and the JSON answer (None when empty or not JSON)."""
        headers = {"Content-Type": "application/scim+json"} if body is not None else {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            answer = self.http.request(
                method, path, content=json.dumps(body).encode() if body is not None else None, headers=headers
            )
        except httpx2.HTTPError as exc:
            raise AppError(None, "", f"no answer to {method} {path} ({http.reason(exc)})") from None
        try:
            document = jsonio.parse(answer.content, f"{method} {path}") if answer.content.strip() else None
        except jsonio.JsonInputError:
            document = None
        return answer.status_code, document

    def _find_probe_user(self, name: str) -> str | None:
        """The id of the user named NAME (exactly: a filter may be ignored), or None."""
        _, found = self._send("GET", "/Users?filter=" + _filter("userName", name))
        ids = [r["id"] for r in _list_response(found) or [] if _is_probe_user(r, name)]
        return ids[0] if len(ids) == 1 else None

    def _delete_one(self, app_id: str) -> bool:
        """Delete one user the probe made; whether the app says it is gone."""
        if id_problem(app_id) is not None:
            return False
        status, _ = self._send("DELETE", user_path(app_id))
        return status in (200, 204, 404)

    def _user_path(self) -> str:
        assert self.report.user_id is not None
        return user_path(self.report.user_id)

    # ---------------------------------------------------------------- the run

    def run(self) -> Report:
        """Every check, then the cleanup (always, unless --keep); the report."""
        try:
            self._connection()
            self._discovery()
            self._bulk()
            self._spec()
            self._lifecycle()
        except ProbeStopped:
            pass
        except AppError as exc:  # the app stopped answering mid-run
            self.report.connected = False
            self._check("connection", False, f"lost: {exc.message()}")
        except ProfileError as exc:
            self._check("ruleset", False, f"the ruleset cannot map the probe's users: {exc}")
        finally:
            self._cleanup()
            self.http.close()
        return self.report

    def _connection(self) -> None:
        app = ScimApp(self.connection)
        try:
            app.preflight()
        except PreflightError as exc:
            self.report.connected = False
            self._check("connection", False, str(exc))
            raise ProbeStopped(str(exc)) from None
        finally:
            app.close()
        self._check("connection", True, "the token, the base URL and /Users answer as SCIM")

    def _discovery(self) -> None:
        status, config = self._send("GET", "/ServiceProviderConfig")
        if status == 200 and isinstance(config, dict):
            announced = [
                name
                for name in ("patch", "filter", "bulk", "etag", "sort", "changePassword")
                if isinstance(config.get(name), dict) and config[name].get("supported") is True
            ]
            self._check(
                "discovery.service-provider-config",
                True,
                "supports: " + (", ".join(announced) or "nothing announced"),
            )
            self.bulk = config.get("bulk") if isinstance(config.get("bulk"), dict) else None
            if isinstance(config.get("patch"), dict) and config["patch"].get("supported") is False:
                self._check(
                    "discovery.patch-announced",
                    False,
                    "the app announces no PATCH support (RFC 7644 section 3.5.2): only put can work",
                )
        else:
            self._check(
                "discovery.service-provider-config",
                None,
                f"HTTP {status}: not served (optional for apps Okta provisions)",
            )
        from mapper.runtime import app_schema

        try:
            documents = app_schema.fetch_discovery(
                self.connection.base_url,
                self.connection.token,
                self.connection.timeout,
                self.connection.max_response_bytes,
            )
            schemas = app_schema.read_discovery(*documents)
        except app_schema.DiscoveryError as exc:
            self._check("discovery.schemas", None, f"not checked: {exc}")
            return
        problems = [d for d in app_schema.check_app_schema(self.ruleset, schemas) if d.is_error]
        detail = "; ".join(d.message for d in problems[:3]) + (
            f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        )
        self._check(
            "discovery.schemas",
            not problems,
            detail or "every target exists in the app's /Schemas, spelled as the app spells it",
        )

    def _spec(self) -> None:
        name = self.report.user_name
        status, listed = self._send("GET", "/Users?startIndex=1&count=1")
        self._check(
            "spec.list",
            status == 200 and _list_response(listed) is not None and len(_list_response(listed) or []) <= 1,
            f"HTTP {status}" + ("" if _list_response(listed) is not None else ": not a ListResponse"),
        )
        status, found = self._send(
            "GET", "/Users?filter=" + _filter("userName", name.replace("@", "-absent@"))
        )
        resources = _list_response(found)
        self._check(
            "spec.filter-unknown",
            status == 200 and resources == [] and found.get("totalResults") == 0,
            f"HTTP {status}, {len(resources) if resources is not None else 'no'} results (expected 0)",
        )
        status, missing = self._send("GET", f"/Users/{secrets.token_hex(16)}")
        error_body = isinstance(missing, dict) and ERROR in (missing.get("schemas") or [])
        self._check(
            "spec.unknown-id",
            status == 404 and error_body,
            f"HTTP {status}" + ("" if error_body else ", without a SCIM Error body (RFC 7644 section 3.12)"),
        )
        before, _ = profiles(self.ruleset, name)
        try:
            body = self.ruleset.create(before)
        except ProfileError as exc:
            self._check("spec.create", False, f"the ruleset cannot render the probe's user: {exc}")
            raise ProbeStopped(str(exc)) from None
        status, created = self._send("POST", "/Users", body)
        self.report.left_in_app = status in (200, 201)  # until the cleanup says otherwise
        user_id = created.get("id") if isinstance(created, dict) else None
        if self.report.left_in_app and not isinstance(user_id, str):  # created, but which id?
            user_id = self._find_probe_user(name)
        problem = id_problem(user_id) if isinstance(user_id, str) else "the app gave no id"
        if self.report.left_in_app and problem is None:
            assert isinstance(user_id, str)
            self.report.user_id = user_id
            self.on_user(user_id, name)
        ok = status == 201 and problem is None and isinstance(created, dict) and created.get("active") is True
        why = "" if ok else f": {problem}" if problem else ": expected 201 with the user, active true"
        self._check("spec.create", ok, f"HTTP {status}{why}")
        if self.report.user_id is None:
            if self.report.left_in_app:
                self._check(
                    "cleanup",
                    False,
                    f"the app created {name} but its id cannot be used: remove it in the app",
                )
            raise ProbeStopped("no usable user")
        status, read = self._send("GET", self._user_path())
        same = isinstance(read, dict) and read.get("id") == self.report.user_id
        self._check(
            "spec.get", status == 200 and same, f"HTTP {status}" + ("" if same else ": not the user created")
        )
        status, again = self._send("POST", "/Users", body)
        other = again.get("id") if isinstance(again, dict) else None
        if (
            status in (200, 201)
            and isinstance(other, str)
            and other != self.report.user_id
            and id_problem(other) is None
        ):
            self._delete_one(other)  # a duplicate it should never have made
        duplicate = (
            "" if status == 409 else ": a second POST of the same userName must be 409 (RFC 7644 section 3.3)"
        )
        self._check("spec.duplicate", status == 409, f"HTTP {status}{duplicate}")
        status, found = self._send("GET", "/Users?filter=" + _filter("userName", name.upper()))
        resources = _list_response(found) or []
        ours = [r.get("id") for r in resources if isinstance(r, dict)] == [self.report.user_id]
        self._check("spec.filter-case-insensitive", status == 200 and ours,
                    f"HTTP {status}: the userName in capitals finds " + ("the probe's user" if ours else f"{len(resources)} other result(s)")
                    + " (RFC 7643: userName is caseExact false)")  # fmt: skip
        self._match(before)
        if self.skip_auth_check:
            self._check("spec.bad-token", None, "--skip-auth-check")
        else:
            status, _ = self._send("GET", "/Users?count=1", token="mapper-probe-wrong-token")  # noqa: S106 - wrong on purpose
            self._check("spec.bad-token", status == 401, f"HTTP {status} for a wrong token (expected 401)")

    def _match(self, user: OktaUser) -> None:
        desired = self.ruleset.render(user)
        values = match_values(desired, self.match)
        if not values:
            self._check(
                "spec.match",
                False,
                f"the ruleset writes no {self.match}, so --match {self.match} cannot find users",
            )
            return
        app = ScimApp(self.connection)
        try:
            found = app.find(self.match, values[0])
        except AppError as exc:
            self._check("spec.match", False, f"--match {self.match}: {exc.message()}")
            return
        finally:
            app.close()
        ok = [r.get("id") for r in found] == [self.report.user_id]
        self._check(
            "spec.match",
            ok,
            f"--match {self.match} finds {len(found)} user(s)"
            + ("" if ok else ", expected the probe's user alone"),
        )

    def _bulk(self) -> None:
        """What the configuration says of /Bulk, tried (RFC 7644 section 3.7): a second throwaway
        user created and deleted in one request, within the announced maxOperations."""
        if not self.bulk or self.bulk.get("supported") is not True:
            self._check("discovery.bulk", None, "not announced")
            return
        most = self.bulk.get("maxOperations")
        if isinstance(most, int) and not isinstance(most, bool) and most < 2:
            self._check("discovery.bulk", None, f"announced with maxOperations {most}: too few to try")
            return
        before, _ = profiles(self.ruleset, probe_user_name())
        request = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "probe", "data": self.ruleset.create(before)},
            {"method": "DELETE", "path": "/Users/bulkId:probe"},
        ]}  # fmt: skip
        status, answer = self._send("POST", "/Bulk", request)
        results = answer.get("Operations") if isinstance(answer, dict) else None
        codes = (
            [str(r.get("status")) for r in results if isinstance(r, dict)]
            if isinstance(results, list)
            else []
        )
        ok = status == 200 and codes[:1] == ["201"] and codes[1:2] in (["204"], ["200"])
        if not ok:  # remove whatever user it made
            name = before["profile"]["login"]
            _, found = self._send("GET", "/Users?filter=" + _filter("userName", name))
            for resource in _list_response(found) or []:  # only the probe's own: a filter may be ignored
                if _is_probe_user(resource, name):
                    self._delete_one(resource["id"])
        self._check("discovery.bulk", ok, f"HTTP {status}, operations answered {', '.join(codes) or 'nothing'}"
                    + ("" if ok else " (expected 201 then 204: what the configuration announces does not hold)"))  # fmt: skip

    # ---------------------------------------------------------------- the lifecycle

    def _lifecycle(self) -> None:
        before, after = profiles(self.ruleset, self.report.user_name)
        address = f"home-{secrets.token_hex(3)}@{DOMAIN}"
        home = address if self._add_home_email(address) else None
        self._check("crud.home-email", home is not None or None,
                    "the app holds a home email beside the work email" if home
                    else "the app did not take a home email; updates are checked without one")  # fmt: skip
        for style in UpdateStyle:
            if not self._reset(style, before):
                continue
            if home is not None and not self._add_home_email(home):  # a style before lost it
                self._check(f"crud.{style}.reset", None, "not tried: the home email could not be put back")
                continue
            self.report.tried.append(style)
            if all(self._step(style, step, old, new, home) for step, old, new in _steps(before, after)):
                self.report.style = self.report.style or style

    def _add_home_email(self, address: str) -> bool:
        """Whether the app holds ADDRESS as a home email (added when it does not), an email the
        ruleset does not own and every update must keep."""
        current = self._read()
        if current is not None and _home(current, address):
            return True
        message = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "add", "path": "emails", "value": [{"value": address, "type": HOME_EMAIL_TYPE}]}]}  # fmt: skip
        self._send("PATCH", self._user_path(), message)
        current = self._read()
        return current is not None and _home(current, address)

    def _read(self) -> Resource | None:
        status, current = self._send("GET", self._user_path())
        return current if status == 200 and isinstance(current, dict) else None

    def _reset(self, style: UpdateStyle, before: OktaUser) -> bool:
        """The app's user as BEFORE renders it, before a style's steps (a failed style may have
        left it otherwise): repaired with reconcile's PATCH, then with a PUT."""
        for _ in range(2):
            current = self._read()
            if current is None:
                break
            message = reconcile_message(self.ruleset.plan, current, self.ruleset.render(before))
            if message is None:
                return True
            self._send("PATCH", self._user_path(), message)
            current = self._read()
            if (
                current is not None
                and reconcile_message(self.ruleset.plan, current, self.ruleset.render(before)) is None
            ):
                return True
            if current is not None:
                self._send(
                    "PUT", self._user_path(), {**self.ruleset.put(current, before), "id": self.report.user_id}
                )
        self._check(
            f"crud.{style}.reset", None, "not tried: the user could not be brought back to its first state"
        )
        return False

    def _step(self, style: UpdateStyle, step: str, old: OktaUser, new: OktaUser, home: str | None) -> bool:
        name = f"crud.{style}.{step}"
        current = self._read()
        if current is None:
            return self._check(name, False, "the user could not be read back")
        body: Resource | None
        method = "PUT" if style is UpdateStyle.PUT else "PATCH"
        if step in ("deactivate", "reactivate"):  # as sync sends a status change in this style
            body = status_body(self.ruleset, style, step == "reactivate", current)
        elif style is UpdateStyle.PUT:
            body = self.ruleset.put(current, new)
        else:
            body = self.ruleset.patch(old, new, style.value)
        if body is None:  # not a failure of the style: nothing to send
            self._check(name, None, "nothing the ruleset maps changes")
            return True
        if method == "PUT":
            body = {**body, "id": self.report.user_id}
        status, answer = self._send(method, self._user_path(), body)
        if status not in (200, 204):
            said = answer.get("detail") if isinstance(answer, dict) else None
            return self._check(
                name, False, f"{method}: HTTP {status}" + (f": {str(said)[:120]}" if said else "")
            )
        after = self._read()
        if after is None:
            return self._check(name, False, "the user could not be read back")
        wrong = reconcile_message(self.ruleset.plan, after, self.ruleset.render(new))
        if wrong is not None:
            return self._check(name, False, f"{method} answered {status}, but the app holds other values for "
                               + ", ".join(sorted(touched(wrong))) + _lost(style))  # fmt: skip
        if home is not None and not _home(after, home):
            return self._check(name, False, f"{method} answered {status}, but the home email the app held is gone"
                               + _lost(style))  # fmt: skip
        return self._check(name, True, f"{method} applied exactly")

    # ---------------------------------------------------------------- cleanup

    def _cleanup(self) -> None:
        if self.report.user_id is None:
            return
        if self.keep:
            self._check("cleanup", None, f"--keep: the user {self.report.user_id} stays in the app")
            return
        try:
            status, _ = self._send("DELETE", self._user_path())
            if status in (200, 204, 404):
                self.report.left_in_app = False
                self._check("cleanup", True, "the user was deleted")
                return
            deactivated, _ = self._send("PATCH", self._user_path(), self.ruleset.deactivate())
            self._check("cleanup", False, f"DELETE: HTTP {status}; the user {self.report.user_id} was "
                        + ("deactivated" if deactivated in (200, 204) else "left active") + ": remove it in the app")  # fmt: skip
        except (AppError, httpx2.HTTPError, ValueError) as exc:
            reason = exc.message() if isinstance(exc, AppError) else str(exc)
            self._check("cleanup", False, f"{reason}: remove the user {self.report.user_id} in the app")


def _steps(before: OktaUser, after: OktaUser) -> Iterator[tuple[str, OktaUser, OktaUser]]:
    inactive = {**after, "status": "DEPROVISIONED"}
    yield "update", before, after
    yield "deactivate", after, inactive
    yield "reactivate", inactive, after
    yield "revert", after, before


_CONSEQUENCES = {
    UpdateStyle.RFC: " (RFC 7644 section 3.5.2: a sync in this style would leave these values behind)",
    UpdateStyle.NO_PATH: " (RFC 7644 section 3.5.2.3: a path-less replace; a sync in this style would lose them)",
    UpdateStyle.WHOLE_MULTIVALUED: " (a sync in this style would lose them)",
    UpdateStyle.PUT: " (RFC 7644 section 3.5.1: a sync by PUT would lose them)",
}


def _lost(style: UpdateStyle) -> str:
    return _CONSEQUENCES[style]


def _is_probe_user(resource: object, name: str) -> bool:
    """Whether RESOURCE is the probe's user NAME: never another user an ignored filter returns."""
    return (
        isinstance(resource, dict)
        and isinstance(resource.get("id"), str)
        and isinstance(resource.get("userName"), str)
        and resource["userName"].lower() == name.lower()
        and name.startswith("mapper-probe-")
    )


def _home(resource: Resource, address: str) -> bool:
    emails = resource.get("emails")
    return isinstance(emails, list) and any(isinstance(e, dict) and e.get("value") == address for e in emails)


def _list_response(document: object) -> list[Any] | None:
    if not isinstance(document, dict) or not isinstance(document.get("totalResults"), int):
        return None
    resources = document.get("Resources", [])
    return resources if isinstance(resources, list) else None


def _filter(attribute: str, value: str) -> str:
    from urllib.parse import quote

    return quote(f"{attribute} eq {json.dumps(value)}", safe="")


__all__ = ["Check", "Probe", "ProbeStopped", "Report", "probe_user_name", "profiles"]
