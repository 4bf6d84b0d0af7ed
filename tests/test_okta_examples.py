"""Okta's own Expression Language examples, with the outputs Okta documents
(tests/okta/expression_language_examples.json): each supported one must render
to Okta's value; each one marked unsupported must be refused when the ruleset
loads (and is moved to supported when mapper learns it)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

import mapper
from mapper.core import helpers as runtime
from tests.conftest import ROOT

DATA = json.loads((ROOT / "tests" / "okta" / "expression_language_examples.json").read_text(encoding="utf-8"))
URN = "urn:example:okta-el:2.0:User"
_SLOTS = {"string": "s", "boolean": "b", "integer": "i", "decimal": "d", "integer[]": "ia", "string[]": "sa"}
_HEADER = (
    "ruleset okta-el\nuserName <- user.login\n"
    f'schema x = "{URN}" {{\n  s: string\n  b: boolean\n  i: integer\n  d: decimal\n  ia: integer[]\n  sa: string[]\n}}\n'
    "profile {\n  groupCode: integer\n  salary: integer\n  isContractor: boolean\n}\n"
)


def _ids(examples: list[dict[str, Any]]) -> list[str]:
    return [e["expression"][:60] for e in examples]


SUPPORTED = [e for e in DATA["examples"] if "unsupported" not in e]
UNSUPPORTED = [e for e in DATA["examples"] if "unsupported" in e]


@pytest.mark.parametrize("example", SUPPORTED, ids=_ids(SUPPORTED))
def test_okta_examples_render_to_oktas_value(
    example: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    slot = _SLOTS[example["type"]]
    option = ""
    if "clock" in example:  # Time.now(): create-only, on a clock set to the page's time
        moment = datetime.fromisoformat(example["clock"].replace("Z", "+00:00"))
        monkeypatch.setattr(runtime, "clock", lambda: moment)
        option = " on create"
    ruleset = mapper.loads(f"{_HEADER}x:{slot} <- {example['expression']}{option}\n", "okta-el.mapper")
    user = {**DATA["user"], **example.get("user", {})}
    resource = ruleset.render(user)
    output = example["output"]
    # An empty string or array is sent as no value (see the README); the rest as Okta gives it.
    expected = None if output in ("", []) else output
    assert resource.get(URN, {}).get(slot) == expected


@pytest.mark.parametrize("example", UNSUPPORTED, ids=_ids(UNSUPPORTED))
def test_unsupported_okta_examples_are_refused_with_a_ruleset_error(example: dict[str, Any]) -> None:
    slot = _SLOTS[example["type"]]
    with pytest.raises(mapper.RulesetError):
        mapper.loads(f"{_HEADER}x:{slot} <- {example['expression']}\n", "okta-el.mapper")


def test_the_suite_is_mostly_supported() -> None:
    assert len(SUPPORTED) >= 74 and len(UNSUPPORTED) <= 2
