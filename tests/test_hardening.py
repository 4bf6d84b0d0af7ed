"""Hostile rulesets and hostile profiles: nothing crashes, hangs, runs code or
leaks a value; limits give clear errors."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

_BACKTRACKING = """
import time, mapper
ruleset = mapper.loads(
    'userName <- user.login\\n'
    'title <- String.replace(user.title, "(a+)+$", "x")\\n'
    'nickName <- String.replaceFirst(user.nickName, "(x|x)*y", "z")\\n',
    "evil.mapper",
)
start = time.perf_counter()
resource = ruleset.render({"login": "a", "title": "a" * 100_000 + "!", "nickName": "x" * 100_000})
assert resource["title"] == "a" * 100_000 + "!"
assert resource["nickName"] == "x" * 100_000
print(time.perf_counter() - start)
"""


def test_regular_expressions_cannot_backtrack_catastrophically() -> None:
    # With a backtracking engine (Python's re, Java's) these patterns take
    # exponential time on these inputs; RE2 is linear. A subprocess with a
    # timeout keeps a regression from hanging the test run.
    result = subprocess.run(
        [sys.executable, "-c", _BACKTRACKING],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) < 5
