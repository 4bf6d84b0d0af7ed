"""Checking a rendered resource: scim2-models' schema validation plus the shape
rules mapper promises (no nulls, no empty values, ``schemas`` exactly right).

Used by ``mapper render --validate`` and the tests; never on the hot path
(scim2-models costs 50 to 200 microseconds per User).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from mapper.core.plan import Plan
from mapper.core.schema import CORE_USER, to_scim_json
from mapper.errors import NO_VALUE, shown_value


def shape_problems(resource: dict[str, Any], plan: Plan) -> list[str]:
    """Problems with the resource's shape that a schema validator does not see."""
    problems: list[str] = []

    def walk(value: object, where: str) -> None:
        if value is None:
            problems.append(f"{where}: null value")
        elif value == "" or value == [] or value == {}:
            problems.append(f"{where}: empty value")
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}.{key}" if where else key)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{where}[{index}]")

    walk(resource, "")
    schemas = resource.get("schemas")
    present = [urn for urn in plan.extensions if urn in resource]
    if schemas != [CORE_USER, *present]:
        problems.append(f"schemas: {schemas!r} should be {[CORE_USER, *present]!r}")
    return problems


@dataclass(frozen=True)
class Problem:
    """Why a resource is not valid SCIM: where, what, and the value (shown only when asked:
    validators quote it, and it is personal data)."""

    where: str
    message: str
    value: object = NO_VALUE

    def describe(self, show_value: bool = False) -> str:
        """The problem in one line, ``where: message``, with the value only when SHOW_VALUE."""
        text = f"{self.where}: {self.message}"
        if show_value and self.value is not NO_VALUE:
            text += f" (value: {shown_value(self.value)})"
        return text

    def __str__(self) -> str:
        return self.describe()


def validate(resource: dict[str, Any], plan: Plan) -> list[Problem]:
    """Every problem scim2-models or the shape rules find; empty when the resource is valid."""
    from pydantic import ValidationError
    from scim2_models import Context

    problems = [Problem(*p.split(": ", 1)) for p in shape_problems(resource, plan)]
    model = _user_model(json.dumps([to_scim_json(plan.schemas[urn]) for urn in plan.extensions]))
    try:
        model.model_validate(resource, scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"]) or "resource"
            problems.append(Problem(where, _without_value(error), error.get("input", NO_VALUE)))
    return problems


def _without_value(error: Any) -> str:
    """Pydantic's message with the value taken out: scim2-models' validators write it into
    the message ("Value error, Invalid URI: ssn 123-45-6789"), and values are personal data."""
    message = str(error["msg"])
    if error.get("type") == "value_error":
        message = message.removeprefix("Value error, ").split(":", 1)[0]
    value = error.get("input")
    if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value) in message:
        message = message.replace(str(value), "(the value)")
    return message


@cache
def _user_model(extension_schemas: str) -> Any:
    """A scim2-models User class with the given extensions (RFC 7643 schema JSON, as text)."""
    from scim2_models import Extension, User
    from scim2_models import Schema as ScimSchema

    # The enterprise extension too is built from the RFC's schema rather than
    # scim2-models' EnterpriseUser class, which wrongly requires manager.$ref.
    extensions = [Extension.from_schema(ScimSchema.model_validate(s)) for s in json.loads(extension_schemas)]
    if not extensions:
        return User
    union: Any = extensions[0]
    for ext in extensions[1:]:
        union = union | ext
    return User[union]
