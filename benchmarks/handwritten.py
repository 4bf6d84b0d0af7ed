"""Hand-written Python for the shipped rulesets: the baseline the compiled code is
measured against. Written as a careful developer would, with the same checks
(strings must be strings of at most 10,000 characters, empty strings count as
missing, userName required),
so the comparison is like for like."""

from __future__ import annotations

from typing import Any

from mapper.errors import ProfileError

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
APPSPACE = "urn:ietf:params:scim:schemas:extension:appspace:2.0:User"


def _text(source: dict[str, Any], key: str) -> str | None:
    value = source.get(key)
    if value is None or value == "":
        return None
    if type(value) is not str:
        raise ProfileError("expected a string", attribute=key)
    if len(value) > 10_000:
        raise ProfileError("longer than 10,000 characters", attribute=key)
    return value


def _split(user: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    if not isinstance(user, dict):
        raise ProfileError("expected a JSON object")
    inner = user.get("profile")
    return (inner, user) if isinstance(inner, dict) else (user, {})


def okta_default(user: dict[str, Any]) -> dict[str, Any]:
    profile, fields = _split(user)
    return _okta(profile, fields, {})


def _okta(profile: dict[str, Any], fields: dict[str, Any], enterprise: dict[str, Any]) -> dict[str, Any]:
    login = _text(profile, "login")
    if login is None:
        raise ProfileError("required", attribute="login", target="userName")
    schemas = [CORE]
    resource: dict[str, Any] = {"schemas": schemas}
    external_id = _text(fields, "id")
    if external_id is not None:
        resource["externalId"] = external_id
    resource["userName"] = login
    name = {}
    given = _text(profile, "firstName")
    if given is not None:
        name["givenName"] = given
    family = _text(profile, "lastName")
    if family is not None:
        name["familyName"] = family
    if name:
        resource["name"] = name
    display = _text(profile, "displayName")
    if display is not None:
        resource["displayName"] = display
    title = _text(profile, "title")
    if title is not None:
        resource["title"] = title
    locale = _text(profile, "locale")
    if locale is not None:
        resource["locale"] = locale
    email = _text(profile, "email")
    if email is not None:
        resource["emails"] = [{"value": email, "type": "work", "primary": True}]
    phone = _text(profile, "primaryPhone")
    if phone is not None:
        resource["phoneNumbers"] = [{"value": phone, "type": "work", "primary": True}]
    status = _text(fields, "status")
    resource["active"] = status != "DEPROVISIONED"
    department = _text(profile, "department")
    if department is not None:
        enterprise = {"department": department, **enterprise}
    if enterprise:
        resource[ENTERPRISE] = enterprise
        schemas.append(ENTERPRISE)
    return resource


def appspace(user: dict[str, Any]) -> dict[str, Any]:
    profile, fields = _split(user)
    resource = _okta(profile, fields, {})
    extension = {}
    cost_center = _text(profile, "costCenter")
    if cost_center is not None:
        extension["costCenter"] = cost_center
    employee_number = _text(profile, "employeeNumber")
    if employee_number is not None:
        extension["employeeNumber"] = employee_number
    if extension:
        resource[APPSPACE] = extension
        resource["schemas"].append(APPSPACE)
    return resource


def enterprise(user: dict[str, Any]) -> dict[str, Any]:
    profile, fields = _split(user)
    extension: dict[str, Any] = {}
    for key in ("employeeNumber", "costCenter", "organization", "division"):
        value = _text(profile, key)
        if value is not None:
            extension[key] = value
    manager = _text(profile, "managerId")
    if manager is not None:
        extension["manager"] = {"value": manager}
    return _okta(profile, fields, extension)


BASELINES = {"okta-default": okta_default, "appspace": appspace, "enterprise": enterprise}


def okta_default_plain(user: dict[str, Any]) -> dict[str, Any]:
    """okta-default as the plainest hand-written function: the same resource for a well-formed
    user, without a check (a number, a list or a 50 MB string goes into the resource as it is;
    a missing login is a KeyError): what a gateway without mapper often ships."""
    profile, fields = user["profile"], user
    get = profile.get
    resource: dict[str, Any] = {"schemas": [CORE], "externalId": fields["id"], "userName": profile["login"]}
    name = {k: v for k, v in (("givenName", get("firstName")), ("familyName", get("lastName"))) if v}
    if name:
        resource["name"] = name
    for key, target in (("displayName", "displayName"), ("title", "title"), ("locale", "locale")):
        if get(key):
            resource[target] = get(key)
    if get("email"):
        resource["emails"] = [{"value": get("email"), "type": "work", "primary": True}]
    if get("primaryPhone"):
        resource["phoneNumbers"] = [{"value": get("primaryPhone"), "type": "work", "primary": True}]
    resource["active"] = fields.get("status") != "DEPROVISIONED"
    if get("department"):
        resource[ENTERPRISE] = {"department": get("department")}
        resource["schemas"].append(ENTERPRISE)
    return resource


# ---------------------------------------------------------------- PATCH


def _op(path: str, old: Any, new: Any) -> dict[str, Any]:
    if new is None:
        return {"op": "remove", "path": path}
    return {"op": "add" if old is None else "replace", "path": path, "value": new}


def okta_default_patch(old_user: dict[str, Any], new_user: dict[str, Any]) -> dict[str, Any] | None:
    """The PatchOp for okta-default, written by hand: compare each mapped attribute,
    validate only what changed, one operation per changed target."""
    old, old_fields = _split(old_user)
    new, new_fields = _split(new_user)
    ops: list[dict[str, Any]] = []
    if old_fields.get("id") != new_fields.get("id"):
        ops.append(_op("externalId", _text(old_fields, "id"), _text(new_fields, "id")))
    if old.get("login") != new.get("login"):
        login = _text(new, "login")
        if login is None:
            raise ProfileError("required", attribute="login", target="userName")
        ops.append(_op("userName", _text(old, "login"), login))
    for key, path in (("firstName", "name.givenName"), ("lastName", "name.familyName"),
                      ("displayName", "displayName"), ("title", "title"), ("locale", "locale")):  # fmt: skip
        if old.get(key) != new.get(key):
            before, after = _text(old, key), _text(new, key)
            if before != after:
                ops.append(_op(path, before, after))
    if old.get("email") != new.get("email"):
        before, after = _text(old, "email"), _text(new, "email")
        if before != after:
            ops.append(_entry_op("emails", before, after))
    if old.get("primaryPhone") != new.get("primaryPhone"):
        before, after = _text(old, "primaryPhone"), _text(new, "primaryPhone")
        if before != after:
            ops.append(_entry_op("phoneNumbers", before, after))
    if old.get("department") != new.get("department"):
        before, after = _text(old, "department"), _text(new, "department")
        if before != after:
            ops.append(_op(ENTERPRISE + ":department", before, after))
    if old_fields.get("status") != new_fields.get("status"):
        before_status, after_status = _text(old_fields, "status"), _text(new_fields, "status")
        before_active, after_active = before_status != "DEPROVISIONED", after_status != "DEPROVISIONED"
        if before_active != after_active:
            ops.append({"op": "replace", "path": "active", "value": after_active})
    if not ops:
        return None  # no request
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}


def _entry_op(attr: str, before: str | None, after: str | None) -> dict[str, Any]:
    if before is None:
        return {"op": "add", "path": attr, "value": [{"value": after, "type": "work", "primary": True}]}
    if after is None:
        return {"op": "remove", "path": f'{attr}[type eq "work"]'}
    return {"op": "replace", "path": f'{attr}[type eq "work"].value', "value": after}


# ---------------------------------------------------------------- inbound (app to Okta)


def _object(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        return {}
    if type(value) is not dict:
        raise ProfileError("expected an object", attribute=path)
    return value


def _work_entry(items: Any, path: str) -> dict[str, Any]:
    """The entry of type work: the primary one where several are, else the first."""
    if items is None:
        return {}
    if type(items) is not list:
        raise ProfileError("expected an array of objects", attribute=path)
    found: dict[str, Any] = {}
    for item in items:
        if type(item) is not dict:
            raise ProfileError("expected an array of objects", attribute=path)
        if item.get("type") == "work":
            if item.get("primary") is True:
                return item
            found = found or item
    return found


def appspace_inbound(resource: dict[str, Any]) -> dict[str, Any]:
    """appspace's inbound direction (its plain copies back), written by hand with the same
    checks as the generated function, but attribute names matched exactly."""
    if type(resource) is not dict:
        raise ProfileError("expected a JSON object")
    name = _object(resource.get("name"), "name")
    enterprise = _object(resource.get(ENTERPRISE), ENTERPRISE)
    extension = _object(resource.get(APPSPACE), APPSPACE)
    return {
        "login": _text(resource, "userName"),
        "firstName": _text(name, "givenName"),
        "lastName": _text(name, "familyName"),
        "displayName": _text(resource, "displayName"),
        "title": _text(resource, "title"),
        "locale": _text(resource, "locale"),
        "email": _text(_work_entry(resource.get("emails"), "emails"), "value"),
        "primaryPhone": _text(_work_entry(resource.get("phoneNumbers"), "phoneNumbers"), "value"),
        "department": _text(enterprise, "department"),
        "costCenter": _text(extension, "costCenter"),
        "employeeNumber": _text(extension, "employeeNumber"),
    }
