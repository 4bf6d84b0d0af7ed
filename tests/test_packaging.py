"""The installed package: the wheel carries the grammar and the built-in rulesets,
and the console script works from any folder. CI installs the project without
-e, so these run there; an editable install skips the wheel-content check."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "ada.json"


def _editable() -> bool:
    direct = metadata.distribution("okta-scim-mapper").read_text("direct_url.json")
    return bool(direct and json.loads(direct).get("dir_info", {}).get("editable"))


def test_wheel_carries_grammar_and_rulesets() -> None:
    if _editable():
        if os.environ.get("CI"):
            pytest.fail("CI must install mapper without -e")
        pytest.skip("editable install: the wheel layout is checked in CI")
    files = {str(f) for f in metadata.files("okta-scim-mapper") or ()}
    assert "mapper/_data/grammar/mapper.lark" in files
    assert "mapper/_data/grammar/mapper.lark.json" in files
    for name in ("okta-default", "appspace", "enterprise"):
        assert f"mapper/_data/rulesets/{name}.mapper" in files
    for asset in ("index.html", "app.js", "app.css"):  # mapper serve's page: no CDN, all in the wheel
        assert f"mapper/serve/static/{asset}" in files


def test_console_script_renders_from_an_unrelated_folder(tmp_path: Path) -> None:
    script = shutil.which("mapper", path=str(Path(sys.executable).parent))
    assert script is not None, "the mapper console script is not installed next to this Python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [script, "render", str(EXAMPLE), "--validate"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["userName"] == "ada.lovelace@example.com"
    listing = subprocess.run(
        [script, "check", "okta-default", "appspace", "enterprise"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert listing.returncode == 0, listing.stdout + listing.stderr


def test_nothing_executable_is_read_from_files() -> None:
    """The parser comes from a JSON table; no module may unpickle or unmarshal anything."""
    package = ROOT / "mapper"
    for source in package.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        for module in ("pickle", "marshal", "shelve", "dill"):
            assert f"import {module}" not in text, f"{source.name} imports {module}"
