"""The README stays true: every function, option, command and style is documented,
and .ci/run runs the README's test command."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from mapper.cli import main
from mapper.functions import FUNCTIONS
from mapper.patch import STYLES
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_function_is_in_the_reference() -> None:
    assert [name for name in FUNCTIONS if f"`{name}(" not in README] == []


@pytest.mark.parametrize("word", ["on create", "primary", "default", "extends", "schema", "profile", "??"])
def test_every_construct_and_option_is_documented(word: str) -> None:
    assert f"`{word}" in README


def test_every_command_and_style_is_documented() -> None:
    for command in main.commands:
        assert f"mapper {command}" in README
    for style in STYLES:
        assert f"`{style}`" in README


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    test_command = next(c for c in commands if "[test]" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_quickstart_render_command_is_real() -> None:
    commands = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    render = next(c for c in commands if "mapper render" in c)
    args = render.split(".venv/bin/mapper ")[1].split()
    assert args[0] == "render"
    result = CliRunner().invoke(main, [args[0], str(ROOT / args[1])])
    assert result.exit_code == 0
