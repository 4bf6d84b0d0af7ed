"""Hostile rulesets and hostile profiles: nothing crashes, hangs, runs code or
leaks a value; limits give clear errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

import mapper
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


_NUMBERS = mapper.loads(
    "ruleset numbers\nuserName <- user.login\n"
    "profile {\n  n: integer\n  f: number\n}\n"
    'schema x = "urn:example:numbers:2.0:User" {\n  i: integer\n  d: decimal\n  s: string\n}\n'
    "x:i <- user.n + user.n\nx:d <- user.f + user.f\nx:s <- Convert.toInt(user.nickName)\n",
    "numbers.mapper",
)


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        ({"n": 2**63}, "profile attribute 'n': out of the range of a SCIM integer (64 bits)"),
        ({"n": 2**62}, "profile attribute 'n' for SCIM attribute 'urn:example:numbers:2.0:User:i': "
                       "the sum is out of the range of a SCIM integer (64 bits)"),
        ({"f": 1e308}, "profile attribute 'f' for SCIM attribute 'urn:example:numbers:2.0:User:d': "
                       "the sum is not a finite number"),
        ({"nickName": "9" * 30}, "profile attribute 'nickName' for SCIM attribute 'urn:example:numbers:2.0:User:s': "
                                 "out of the range of a SCIM integer (64 bits)"),
        ({"nickName": "9" * 5000}, "profile attribute 'nickName' for SCIM attribute 'urn:example:numbers:2.0:User:s': "
                                   "out of the range of a SCIM integer (64 bits)"),
    ],
)  # fmt: skip
def test_numbers_scim_cannot_carry_are_profile_errors(profile: dict[str, object], message: str) -> None:
    for call in (
        lambda: _NUMBERS.render({"login": "a", **profile}),
        lambda: _NUMBERS.patch({"login": "a"}, {"login": "a", **profile}),
    ):
        with pytest.raises(mapper.ProfileError) as caught:
            call()
        assert str(caught.value) == message


def test_integer_literals_beyond_64_bits_are_ruleset_errors() -> None:
    with pytest.raises(mapper.RulesetError, match="number out of range"):
        mapper.loads(f"userName <- user.login\nx <- {2**63}\n", "big.mapper")
