"""A ruleset against the app's own SCIM schema (RFC 7644 section 4 discovery).

mapper's checker knows RFC 7643 and the ruleset's ``schema`` declarations; only the app
knows what it really accepts. Given the app's ``GET /Schemas`` (and, when there,
``GET /ResourceTypes``), every target must exist there spelled exactly as the app spells it
(the seed's warning: Okta's External Namespace "must be entered exactly as shown above,
including capitalization", and the app's property "must match exactly ... (case
sensitive)"), with a compatible type; read-only targets are errors; attributes the app
requires and the ruleset never sets are warnings. Gateways run :func:`check_app_schema` at
start-up; ``mapper check --schemas`` runs it from the command line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mapper.errors import Diagnostic, Severity, Span
from mapper.language.schema import CORE_USER
from mapper.runtime.ruleset import Ruleset

SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPE_URN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
LIST_RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

#: The seed's rule, quoted when an extension URN differs from the app's only in case.
EXACT_NAMESPACE = (
    'Okta\'s External Namespace "must be entered exactly as shown above, including capitalization"'
)


class DiscoveryError(ValueError):
    """A document that is not SCIM discovery mapper can read."""


@dataclass(frozen=True, slots=True)
class AppAttribute:
    name: str
    type: str
    multi: bool
    mutability: str
    required: bool
    canonical: tuple[str, ...] = ()
    subs: Mapping[str, AppAttribute] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AppSchemas:
    """What the app declared: its schemas by URN, and (from /ResourceTypes) the extensions
    its User resource type takes, when known."""

    schemas: Mapping[str, Mapping[str, AppAttribute]]
    user_extensions: Mapping[str, bool] | None = None  # URN -> required


def read_discovery(*documents: object) -> AppSchemas:
    """The app's schemas from DOCUMENTS: ListResponses (or single resources) of Schema and
    ResourceType resources, as GET /Schemas and GET /ResourceTypes return them."""
    schemas: dict[str, dict[str, AppAttribute]] = {}
    extensions: dict[str, bool] | None = None
    for document in documents:
        for resource in _resources(document):
            kinds = resource.get("schemas") or []
            if RESOURCE_TYPE_URN in kinds or ("endpoint" in resource and "schema" in resource):
                if str(resource.get("name", "")).lower() == "user" or resource.get("schema") == CORE_USER:
                    extensions = {
                        str(e.get("schema")): bool(e.get("required", False))
                        for e in resource.get("schemaExtensions") or []
                        if isinstance(e, dict)
                    }
                continue
            urn = resource.get("id")
            if not isinstance(urn, str) or not isinstance(resource.get("attributes"), list):
                raise DiscoveryError(
                    "a Schema resource without an 'id' and 'attributes' (RFC 7643 section 7)"
                )
            schemas[urn] = {a.name: a for a in (_attribute(x) for x in resource["attributes"])}
    if not schemas:
        raise DiscoveryError("no Schema resources (give the app's GET /Schemas response)")
    return AppSchemas(schemas, extensions)


def _resources(document: object) -> Iterable[dict[str, Any]]:
    if isinstance(document, list):
        items: list[Any] = document
    elif isinstance(document, dict) and (
        LIST_RESPONSE_URN in (document.get("schemas") or []) or "Resources" in document
    ):
        items = document.get("Resources") or []
    elif isinstance(document, dict):
        items = [document]
    else:
        raise DiscoveryError("not a SCIM ListResponse or resource")
    for item in items:
        if not isinstance(item, dict):
            raise DiscoveryError("a resource that is not a JSON object")
        yield item


def _attribute(data: object) -> AppAttribute:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise DiscoveryError("an attribute without a name (RFC 7643 section 7)")
    subs = data.get("subAttributes") or []
    canonical = data.get("canonicalValues") or []
    return AppAttribute(
        data["name"],
        str(data.get("type", "string")),
        bool(data.get("multiValued", False)),
        str(data.get("mutability", "readWrite")),
        bool(data.get("required", False)),
        tuple(str(v) for v in canonical if isinstance(v, str)),
        {a.name: a for a in (_attribute(s) for s in subs)} if isinstance(subs, list) else {},
    )


#: RFC 7643 section 3.1: attributes of every resource, which /Schemas need not list.
_COMMON = {
    "externalId": AppAttribute("externalId", "string", False, "readWrite", False),
    "id": AppAttribute("id", "string", False, "readOnly", False),
}


def check_app_schema(ruleset: Ruleset, app: AppSchemas) -> list[Diagnostic]:
    """What the app would refuse or miss of RULESET: errors and warnings, by rule."""
    out: list[Diagnostic] = []
    written: dict[str, set[str]] = {}
    for rule in ruleset.plan.rules:
        t = rule.target
        target = rule.text.split("<-")[0].rstrip() or t.path
        where = Span(
            rule.span.file, rule.span.line, rule.span.col, rule.span.line, rule.span.col + len(target)
        )

        def report(severity: Severity, message: str, hint: str = "", where: Any = where) -> None:
            out.append(Diagnostic(severity, message, where, _line(ruleset, where), hint))

        schema = app.schemas.get(t.urn)
        if schema is None:
            same = [u for u in app.schemas if u.lower() == t.urn.lower()]
            if same:
                report(Severity.ERROR, f"the app spells this schema {same[0]!r}, not {t.urn!r}",
                       f"schema URNs must match exactly: {EXACT_NAMESPACE}")  # fmt: skip
            else:
                report(
                    Severity.ERROR,
                    f"the app has no schema {t.urn!r}",
                    "its schemas: " + ", ".join(sorted(app.schemas)),
                )
            continue
        if t.urn != CORE_USER and app.user_extensions is not None and t.urn not in app.user_extensions:
            report(Severity.ERROR, f"the app's User resource type does not take the extension {t.urn!r}",
                   "its /ResourceTypes lists: " + (", ".join(app.user_extensions) or "no extensions"))  # fmt: skip
        written.setdefault(t.urn, set()).add(t.attr)
        attr = _exact({**_COMMON, **schema} if t.urn == CORE_USER else schema, t.attr, t.urn, report)
        if attr is None:
            continue
        leaf = attr
        if t.entry_type is not None or t.sub is not None:
            if attr.type != "complex":
                report(Severity.ERROR, f"{t.attr} is {attr.type} in the app, not complex")
                continue
            if t.entry_type is not None:
                if not attr.multi:
                    report(
                        Severity.ERROR, f"{t.attr} is single-valued in the app: it has no entries to select"
                    )
                    continue
                kind = attr.subs.get("type")
                if kind is None:
                    report(Severity.ERROR, f"{t.attr} entries have no 'type' in the app to select by")
                elif kind.canonical and t.entry_type not in kind.canonical:
                    report(Severity.WARNING, f"{t.attr} type {t.entry_type!r} is not one the app lists",
                           "the app's types: " + ", ".join(kind.canonical))  # fmt: skip
                if rule.primary and "primary" not in attr.subs:
                    report(Severity.WARNING, f"{t.attr} entries have no 'primary' in the app")
            if t.sub is None:
                continue
            found = _exact(attr.subs, t.sub, f"{t.urn} {t.attr}", report)
            if found is None:
                continue
            leaf = found
        _types(leaf, t.scim_type, t.multi_simple, t.path, rule.create_only, report)
    for urn, attributes in app.schemas.items():
        if urn != CORE_USER and urn not in written:
            continue
        for attr in attributes.values():
            if attr.required and attr.mutability != "readOnly" and attr.name not in written.get(urn, set()):
                out.append(
                    Diagnostic(
                        Severity.WARNING, f"the app requires {attr.name!r} ({urn}), which no rule sets", None
                    )
                )
    for urn, required in (app.user_extensions or {}).items():
        if required and urn not in written:
            out.append(
                Diagnostic(
                    Severity.WARNING, f"the app requires the extension {urn!r}, which no rule writes", None
                )
            )
    return out


def _exact(table: Mapping[str, AppAttribute], name: str, where: str, report: Any) -> AppAttribute | None:
    found = table.get(name)
    if found is not None:
        return found
    same = [n for n in table if n.lower() == name.lower()]
    if same:
        report(Severity.ERROR, f"the app spells this attribute {same[0]!r}, not {name!r}",
               "write it exactly as the app does (case included): Okta sends the External Name as written")  # fmt: skip
        return None
    from mapper.language.diagnostics import did_you_mean

    report(
        Severity.ERROR,
        f"the app's schema has no attribute {name!r} ({where})",
        did_you_mean(name, list(table)) or "",
    )
    return None


_COMPATIBLE = {
    # What a value of the rule's SCIM type may be sent as.
    "string": {"string", "reference", "binary", "dateTime"},
    "reference": {"reference", "string"},
    "dateTime": {"dateTime", "string"},
    "binary": {"binary", "string"},
    "integer": {"integer", "decimal"},
    "decimal": {"decimal"},
    "boolean": {"boolean"},
}


def _types(
    leaf: AppAttribute, scim_type: str, multi: bool, path: str, create_only: bool, report: Any
) -> None:
    if leaf.type == "complex":
        report(Severity.ERROR, f"{path} is complex in the app: write one of its sub-attributes")
        return
    if leaf.type not in _COMPATIBLE.get(scim_type, {scim_type}):
        report(Severity.ERROR, f"{path} is {leaf.type} in the app; the rule writes {scim_type}")
    if multi != leaf.multi:
        report(Severity.ERROR, f"{path} is {'multi' if leaf.multi else 'single'}-valued in the app")
    if leaf.mutability == "readOnly":
        report(Severity.ERROR, f"{path} is read-only in the app: it ignores or refuses the value",
               "remove the rule")  # fmt: skip
    elif leaf.mutability == "immutable" and not create_only:
        report(Severity.WARNING, f"{path} is immutable in the app: updates to it will be refused",
               "write the rule `on create`")  # fmt: skip


def _line(ruleset: Ruleset, span: Span) -> str:
    """The rule's source line, for the caret (a rule's text is its lines joined)."""
    rules = [r for r in ruleset.rules if r.location == f"{span.file}:{span.line}"]
    return rules[0].text if rules else ""


def clear_text_to_another_host(url: str) -> bool:
    """Whether URL is plain http to a host other than this machine (127.0.0.0/8, ::1,
    localhost): a bearer token sent there crosses the network in clear text."""
    import ipaddress
    from urllib.parse import urlsplit

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


def fetch_discovery(base_url: str, token: str | None, timeout: float = 10.0) -> list[object]:
    """GET BASE_URL/Schemas and BASE_URL/ResourceTypes (the latter when the app has it),
    with the bearer TOKEN; DiscoveryError for anything else than SCIM JSON."""
    import urllib.error
    import urllib.request

    if not base_url.startswith(("http://", "https://")):
        raise DiscoveryError(f"{base_url}: not an http or https URL")

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        # A redirect would carry the bearer token to wherever it points: refuse, and say where.
        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
            fp.close()
            raise DiscoveryError(f"{req.full_url}: redirected to {newurl}; give that URL if it is the app's")

    opener = urllib.request.build_opener(NoRedirect)
    documents: list[object] = []
    for endpoint, optional in (("Schemas", False), ("ResourceTypes", True)):
        url = base_url.rstrip("/") + "/" + endpoint
        headers = {"Accept": "application/scim+json, application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http(s) only, checked above
        try:
            with opener.open(request, timeout=timeout) as response:
                body = response.read(16 * 1024 * 1024 + 1)
        except urllib.error.HTTPError as exc:
            exc.close()
            if optional and exc.code == 404:
                continue
            raise DiscoveryError(f"{url}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DiscoveryError(f"{url}: {reason}") from None
        if len(body) > 16 * 1024 * 1024:
            raise DiscoveryError(f"{url}: the response is larger than 16 MB")
        try:
            documents.append(json.loads(body))
        except (ValueError, RecursionError):
            raise DiscoveryError(f"{url}: the response is not JSON") from None
    return documents
