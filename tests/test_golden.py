"""Golden cases: tests/golden/*.json, each a profile in and a resource (or error) out.

Format: {"ruleset": NAME-or-path, "description": ..., "input": {...},
"output": {...}} or "error": "the ProfileError message". Any implementation of
the language can run these files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import mapper

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(GOLDEN.glob("*.json"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_golden(path: Path, shipped: dict[str, mapper.Ruleset]) -> None:
    case: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    ruleset = shipped.get(case["ruleset"]) or mapper.load(case["ruleset"])
    if "error" in case:
        with pytest.raises(mapper.ProfileError) as caught:
            ruleset.render(case["input"])
        assert str(caught.value) == case["error"]
    else:
        assert ruleset.render(case["input"]) == case["output"]
        assert list(ruleset.render(case["input"])) == list(case["output"]), "key order is part of the output"


def test_there_are_golden_cases_for_every_shipped_ruleset() -> None:
    rulesets = {json.loads(p.read_text(encoding="utf-8"))["ruleset"] for p in CASES}
    assert {"okta-default", "appspace", "enterprise"} <= rulesets
