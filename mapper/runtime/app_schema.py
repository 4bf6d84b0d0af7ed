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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from mapper.core.schema import CORE_USER
from mapper.errors import Diagnostic, ExitCode, MapperError, Severity, Span
from mapper.runtime.ruleset import Ruleset

T = TypeVar("T")

SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPE_URN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
LIST_RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

#: The seed's rule, quoted when an extension URN differs from the app's only in case.
EXACT_NAMESPACE = (
    'Okta\'s External Namespace "must be entered exactly as shown above, including capitalization"'
)


class DiscoveryError(MapperError, ValueError):
    """A document that is not SCIM discovery mapper can read."""

    exit_code = ExitCode.FAILED  # bad data, as the README says


@dataclass(frozen=True, slots=True)
class AppAttribute:
    """An attribute as the app's /Schemas declares it, with its canonical values and sub-attributes."""

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
            kinds = _typed(resource, "schemas", list, [])
            if RESOURCE_TYPE_URN in kinds or ("endpoint" in resource and "schema" in resource):
                name = _typed(resource, "name", str, "")
                if name.lower() == "user" or resource.get("schema") == CORE_USER:
                    extensions = {}
                    for e in _typed(resource, "schemaExtensions", list, []):
                        if not isinstance(e, dict) or not isinstance(e.get("schema"), str):
                            raise DiscoveryError(
                                "a schemaExtensions entry without a 'schema' (RFC 7643 section 6)"
                            )
                        extensions[e["schema"]] = _typed(e, "required", bool, False)
                continue
            urn = resource.get("id")
            if not isinstance(urn, str) or not isinstance(resource.get("attributes"), list):
                raise DiscoveryError(
                    "a Schema resource without an 'id' and 'attributes' (RFC 7643 section 7)"
                )
            schemas[urn] = {a.name: a for a in (_attribute(x, 1) for x in resource["attributes"])}
    if not schemas:
        raise DiscoveryError("no Schema resources (give the app's GET /Schemas response)")
    return AppSchemas(schemas, extensions)


def _resources(document: object) -> Iterable[dict[str, Any]]:
    if isinstance(document, list):
        items: list[Any] = document
    elif isinstance(document, dict) and (
        LIST_RESPONSE_URN in _typed(document, "schemas", list, []) or "Resources" in document
    ):
        items = _typed(document, "Resources", list, [])
    elif isinstance(document, dict):
        items = [document]
    else:
        raise DiscoveryError("not a SCIM ListResponse or resource")
    for item in items:
        if not isinstance(item, dict):
            raise DiscoveryError("a resource that is not a JSON object")
        yield item


#: Attributes nest this deep at most (RFC 7643: a complex attribute's sub-attributes are
#: simple, so 2; some apps nest further); deeper is refused, not recursed into.
MAX_ATTRIBUTE_DEPTH = 8


def _attribute(data: object, depth: int) -> AppAttribute:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise DiscoveryError("an attribute without a name (RFC 7643 section 7)")
    if depth > MAX_ATTRIBUTE_DEPTH:
        raise DiscoveryError(f"attributes nested more than {MAX_ATTRIBUTE_DEPTH} levels deep")
    subs = _typed(data, "subAttributes", list, [])
    canonical = _typed(data, "canonicalValues", list, [])
    return AppAttribute(
        data["name"],
        _typed(data, "type", str, "string"),
        _typed(data, "multiValued", bool, False),
        _typed(data, "mutability", str, "readWrite"),
        _typed(data, "required", bool, False),
        tuple(str(v) for v in canonical if isinstance(v, str)),
        {a.name: a for a in (_attribute(s, depth + 1) for s in subs)},
    )


def _typed(data: dict[str, Any], key: str, kind: type[T], default: T) -> T:
    """DATA[KEY] when it has the JSON type RFC 7643 gives it, DEFAULT when absent (or null);
    a DiscoveryError naming the key otherwise (never a coercion: "no" is not false)."""
    value = data.get(key)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        shown = {str: "a string", bool: "true or false", list: "a list"}.get(kind, kind.__name__)
        raise DiscoveryError(f"{key!r} is not {shown} (RFC 7643 section 7)")
    return value


#: RFC 7643 section 3.1: attributes of every resource, which /Schemas need not list.
_COMMON = {
    "externalId": AppAttribute("externalId", "string", False, "readWrite", False),
    "id": AppAttribute("id", "string", False, "readOnly", False),
}


def check_app_schema(ruleset: Ruleset, app: AppSchemas) -> list[Diagnostic]:
    """What the app would refuse or miss of RULESET: errors and warnings, by rule."""
    out: list[Diagnostic] = []
    written: dict[str, set[str]] = {}
    misspelled: set[str] = set()  # URNs the app spells otherwise: one error each, at the declaration
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
            if same and t.urn in misspelled:
                continue  # said once, where the URN is spelled
            if same:
                misspelled.add(t.urn)
                declared = ruleset.plan.schemas.get(t.urn)
                users = sum(r.target.urn == t.urn for r in ruleset.plan.rules)
                at = declared.span if declared is not None and declared.span is not None else where
                source = _declaration_line(at) if at is not where else _line(ruleset, where)
                out.append(Diagnostic(Severity.ERROR, f"the app spells this schema {same[0]!r}, not {t.urn!r}",
                                      at, source, f"schema URNs must match exactly: {EXACT_NAMESPACE} "
                                      f"({users} rule{'s' if users != 1 else ''} write{'' if users != 1 else 's'} it)"))  # fmt: skip
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


def _declaration_line(span: Span) -> str:
    """The source line SPAN points into (a declaration, which no rule holds), for the caret; ""
    when the file cannot be read again."""
    from mapper.language.resources import builtin_path

    name = span.file
    path = (
        builtin_path(name.removeprefix("<builtin>/").removesuffix(".mapper"))
        if name.startswith("<builtin>/")
        else Path(name)
    )
    try:
        lines = path.read_text(encoding="utf-8").splitlines() if path is not None else []
    except (OSError, UnicodeDecodeError):
        return ""
    return lines[span.line - 1] if 0 < span.line <= len(lines) else ""


def fetch_discovery(
    base_url: str, token: str | None, timeout: float = 10.0, max_bytes: int | None = None
) -> list[object]:
    """GET BASE_URL/Schemas and BASE_URL/ResourceTypes (the latter when the app has it),
    with the bearer TOKEN; DiscoveryError for anything else than SCIM JSON. Each answer is
    held to MAX_BYTES and to TIMEOUT seconds from request to last byte (mapper.core.http), and
    no redirect is followed (the token would travel with it)."""
    import httpx2

    from mapper.core import http, jsonio, urls
    from mapper.markup import visible

    problem = urls.base_url_problem(base_url)
    if problem:
        raise DiscoveryError(f"{urls.shown_url(base_url)}: {problem}")
    limit = max_bytes or http.MAX_RESPONSE_BYTES
    documents: list[object] = []
    with http.client(base_url, token, timeout=timeout, max_bytes=limit) as client:
        for endpoint, optional in (("Schemas", False), ("ResourceTypes", True)):
            url = base_url.rstrip("/") + "/" + endpoint
            try:
                answer = client.get(url)
            except httpx2.HTTPError as exc:
                raise DiscoveryError(f"{url}: {http.reason(exc)}") from None
            if answer.is_redirect:
                where = visible(answer.headers.get("Location", "?"))[:200]
                raise DiscoveryError(f"{url}: redirected to {where}; give that URL if it is the app's")
            if optional and answer.status_code == 404:
                continue
            if answer.status_code >= 300:
                raise DiscoveryError(
                    f"{url}: HTTP {answer.status_code} {visible(answer.reason_phrase)[:100]}"
                )
            try:
                documents.append(jsonio.parse(answer.content, url))
            except jsonio.JsonInputError as exc:
                raise DiscoveryError(str(exc)) from None
    return documents
