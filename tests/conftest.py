"""Shared fixtures and the Hypothesis profiles.

CI (where CI is set) uses the "ci" Hypothesis profile: derandomized, so every
run tries the same 100 examples per property (Hypothesis's own default count), and the
suite stays within its time goal; the "dev" profile tries 100 random ones, "soak" 3,000.
HYPOTHESIS_PROFILE=ci selects it anywhere.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

# The compile cache of the whole run and its key live in fresh folders, never the user's own (set before
# anything loads a ruleset; subprocesses inherit it).
os.environ["MAPPER_CACHE_DIR"] = tempfile.mkdtemp(prefix="mapper-test-cache-")
os.environ["MAPPER_CONFIG_DIR"] = tempfile.mkdtemp(prefix="mapper-test-config-")  # the cache key
os.environ.pop("MAPPER_NO_CACHE", None)

import pytest
from hypothesis import HealthCheck, settings

import mapper
from tests.support.scim_server import SharedServers

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
# A long hunt for bugs, by hand: HYPOTHESIS_PROFILE=soak pytest tests/test_patch_properties.py
settings.register_profile(
    "soak", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ("okta-default", "appspace", "enterprise")


@pytest.fixture(scope="session")
def shipped() -> dict[str, mapper.Ruleset]:
    return {name: mapper.load(name) for name in SHIPPED}


@pytest.fixture(scope="session")
def scim_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedServers]:
    """The scim2-servers this test process started, shared by configuration (see server_fixtures)."""
    servers = SharedServers(tmp_path_factory)
    try:
        yield servers
    finally:
        servers.close()


def compile_rules(body: str, header: str = "ruleset test") -> mapper.Ruleset:
    """A ruleset from rule lines; adds userName when the test does not set it."""
    text = header + "\n" + body
    if "userName" not in body:
        text += "\nuserName <- user.login\n"
    return mapper.loads(text, "test.mapper")


def diagnostics(text: str) -> list[str]:
    """The head lines of every diagnostic a ruleset text produces (errors and warnings)."""
    try:
        ruleset = mapper.loads(text, "t.mapper")
    except mapper.RulesetError as exc:
        return [d.one_line() for d in exc.diagnostics]
    return [d.one_line() for d in ruleset.warnings]
