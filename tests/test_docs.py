"""The README stays true: every code block in it runs here, and every function, option,
command and style is documented.

A block's info string says what it is and how it is run: ``sh`` (commands), ``console``
(``$ command`` lines and the output they print), ``python`` (all blocks run in order, as a
newcomer pastes them), ``mapper FILE`` (a ruleset, loaded, and written to FILE for later
blocks), ``mapper-synopsis`` (syntax with placeholders, loaded with them filled in),
``synopsis`` (command lines, checked against the CLI), ``json FILE`` (an examples file, run
with `mapper test`), ``yaml FILE`` (pre-commit and GitHub Actions, whose hooks and commands
are checked and run), ``text architecture`` (the module map, checked against mapper/), ``text inbound-import`` (the
end of an imported ruleset, checked by tests/test_okta.py),
``mermaid layers`` (the layers diagram, checked against the imports by tests/test_layers.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import mapper
from mapper.cli.main import main
from mapper.core.functions import FUNCTIONS
from mapper.core.styles import UpdateStyle
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
KINDS = (
    "sh",
    "console",
    "python",
    "mapper",
    "mapper-synopsis",
    "synopsis",
    "json",
    "yaml",
    "text",
    "mermaid",
)


@dataclass(frozen=True)
class Block:
    kind: str
    name: str  # the file it stands for, or a word saying what it is; "" when none
    body: str
    line: int


def _blocks() -> list[Block]:
    blocks = []
    for match in re.finditer(r"^```([^\n]*)\n(.*?)^```$", README, re.S | re.M):
        info = match.group(1).split()
        line = README.count("\n", 0, match.start()) + 1
        blocks.append(Block(info[0] if info else "", " ".join(info[1:]), match.group(2), line))
    return blocks


BLOCKS = _blocks()


def _of(kind: str) -> list[Block]:
    return [b for b in BLOCKS if b.kind == kind]


def _ids(blocks: list[Block]) -> list[str]:
    return [f"README.md:{b.line}" for b in blocks]


def test_every_block_says_what_it_is() -> None:
    assert [f"line {b.line}: {b.kind!r}" for b in BLOCKS if b.kind not in KINDS] == []


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding every file the README's blocks name, as the blocks write them."""
    for block in BLOCKS:
        if block.kind in ("mapper", "json") and block.name:
            path = tmp_path / block.name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.body, encoding="utf-8")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---------------------------------------------------------------- rulesets and examples


@pytest.mark.parametrize("block", _of("mapper"), ids=_ids(_of("mapper")))
def test_ruleset_blocks_load(block: Block, workspace: Path) -> None:
    text = block.body
    if "userName" not in text and "extends" not in text:
        text += "userName <- user.login\n"  # a fragment (a declaration) inside a whole ruleset
    try:
        ruleset = mapper.loads(text, block.name or "readme.mapper", workspace / "rulesets")
    except mapper.RulesetError as exc:
        # A block may show a mistake, when a console block shows what check says of it.
        shown = [c.body for c in _of("console") if block.name and f"check {block.name}" in c.body]
        assert shown, str(exc)
        return
    assert ruleset.warnings == ()


_PLACEHOLDERS = {
    "NAME": "readme",
    "PARENT": "okta-default",
    "ALIAS": "x",
    '"URN"': '"urn:example:readme:2.0:User"',
    "TYPE": "string",
}


@pytest.mark.parametrize("block", _of("mapper-synopsis"), ids=_ids(_of("mapper-synopsis")))
def test_syntax_synopses_load_with_their_placeholders_filled(block: Block) -> None:
    for line in block.body.splitlines():
        if not line.strip() or line.startswith((" ", "}")):
            continue
        statement = (
            line if not line.endswith("{") else block.body[block.body.index(line) :].split("}")[0] + "}"
        )
        for placeholder, value in _PLACEHOLDERS.items():
            statement = statement.replace(placeholder, value)
        text = statement + "\n"
        if statement.startswith("schema") and "{" not in statement:
            # An alias names a schema already known.
            text = 'schema known = "urn:example:readme:2.0:User" { a: string }\n' + text
        if (
            (statement.startswith("ruleset") and "extends" not in statement)
            or statement.startswith(("schema", "user."))  # an inbound rule alone sets no userName
        ):
            text += "userName <- user.login\n"
        mapper.loads(text, "readme.mapper")


@pytest.mark.parametrize("block", _of("json"), ids=_ids(_of("json")))
def test_examples_file_blocks_pass(block: Block, workspace: Path) -> None:
    path = workspace / block.name
    result = CliRunner().invoke(main, ["test", str(path)])  # an excerpt: it need not cover every rule
    assert result.exit_code == 0, result.output + result.stderr


# ---------------------------------------------------------------- commands


@pytest.mark.parametrize("block", _of("console"), ids=_ids(_of("console")))
def test_console_blocks_print_what_they_show(block: Block, workspace: Path) -> None:
    sessions = re.split(r"^\$ ", block.body, flags=re.M)[1:]
    for session in sessions:
        command, _, expected = session.partition("\n")
        args = command.split()
        assert args[0] == "mapper", command
        result = CliRunner().invoke(main, args[1:])
        assert result.stdout + result.stderr == expected, command


def _shell_blocks() -> list[Block]:
    return [b for b in _of("sh") if b.name != "try-sync"]


@pytest.mark.parametrize("block", _shell_blocks(), ids=_ids(_shell_blocks()))
def test_shell_blocks_run(block: Block, workspace: Path) -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    bin_dir = Path(sys.executable).parent
    for line in block.body.splitlines():
        for command in (c.strip() for c in line.split("&&")):
            if command.startswith(("python3 -m venv", ".venv/bin/pytest")):
                continue  # the set-up, and the test run this test is part of (.ci/run runs both)
            if command.startswith(".venv/bin/pip install"):
                wanted = re.findall(r"\[(\w+)\]", command)
                assert all(extra in extras for extra in wanted), command
                continue
            tool, *args = command.removeprefix(".venv/bin/").split()
            if tool == "mapper":
                result = CliRunner().invoke(main, args)
                assert result.exit_code == 0, result.output + result.stderr
                continue
            if shutil.which(tool, path=str(bin_dir)) is None:
                pytest.skip(f"{tool} is a development tool, not installed here (CI runs it after the tests)")
            ran = subprocess.run(
                [str(bin_dir / tool), *args], cwd=ROOT, capture_output=True, text=True, check=False
            )
            assert ran.returncode == 0, ran.stdout + ran.stderr


def _closed(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.slow
def test_the_try_sync_block_runs(workspace: Path) -> None:
    """The README's sync walk-through, as a newcomer pastes it into bash: scim2-server in the
    background (on a free port here), a saved plan, its apply, and a run with nothing to do."""
    import socket
    import time

    (block,) = [b for b in _of("sh") if b.name == "try-sync"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server_line, *commands = block.body.replace("8080", str(port)).splitlines()
    assert server_line.endswith(" &")
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    server = subprocess.Popen(server_line.removesuffix(" &").split(), cwd=workspace, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while _closed(port):
            assert time.monotonic() < deadline and server.poll() is None, "scim2-server did not start"
            time.sleep(0.05)
        ran = subprocess.run(["bash", "-e", "-c", "\n".join(commands)], cwd=workspace, env=env,
                             capture_output=True, text=True, check=False)  # fmt: skip
    finally:
        server.terminate()
        server.wait()
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "+ create" in ran.stdout and "Plan: 3 to create" in ran.stderr
    assert (
        "0 created, 0 adopted, 0 updated, 0 deactivated, 0 reactivated, 0 deleted, 4 unchanged" in ran.stderr
    )


@pytest.mark.parametrize("block", _of("synopsis"), ids=_ids(_of("synopsis")))
def test_command_synopses_match_the_cli(block: Block) -> None:
    for line in block.body.splitlines():
        words = line.split()
        assert words[0] == "mapper"
        command = main.commands[words[1]]
        if isinstance(command, click.Group):  # mapper import okta, mapper export okta
            command = command.commands[words[2]]
        options = {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
        for option in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", line):
            assert option in options, f"{line}: {option} is not an option of mapper {words[1]}"


def test_pre_commit_block_names_real_hooks() -> None:
    (block,) = [b for b in _of("yaml") if b.name == ".pre-commit-config.yaml"]
    hooks = set(re.findall(r"^- id: (\S+)", (ROOT / ".pre-commit-hooks.yaml").read_text(), re.M))
    assert set(re.findall(r"- id: (\S+)", block.body)) <= hooks


def test_github_actions_block_runs(tmp_path: Path) -> None:
    """Each mapper step, run in this repository as the job would run it on a pull request
    (the base branch is HEAD here, the sample profiles are examples/)."""
    (block,) = [b for b in _of("yaml") if b.name.startswith(".github/")]
    steps = re.findall(r"- run: (mapper .*)$", block.body, re.M)
    loop = re.search(r"- run: \|\n(.*?)\n\s+if:", block.body, re.S)
    assert steps and loop is not None
    script = "\n".join(steps) + "\n" + loop.group(1)
    script = script.replace("origin/${{ github.base_ref }}", "HEAD").replace(
        "--profiles samples", "--profiles examples"
    )
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "summary.md")
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    ran = subprocess.run(
        ["bash", "-e", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "## Ruleset review" in (tmp_path / "summary.md").read_text()


# ---------------------------------------------------------------- Python


@pytest.mark.parametrize("block", _of("python"), ids=_ids(_of("python")))
def test_each_python_block_runs_alone(block: Block, workspace: Path) -> None:
    """As a newcomer pastes one block into a fresh interpreter, in a folder of their own: every
    import and every file it needs is in it."""
    alone = workspace / "alone"
    alone.mkdir()
    ran = subprocess.run([sys.executable, "-c", block.body], cwd=alone, capture_output=True, text=True,
                         check=False)  # fmt: skip
    assert ran.returncode == 0, ran.stderr


def test_python_blocks_run_in_order(workspace: Path) -> None:
    source = "\n".join(b.body for b in _of("python"))
    exec(compile(source, "README.md python blocks", "exec"), {"__name__": "__readme__"})


# ---------------------------------------------------------------- the rest stays true


def test_the_architecture_names_every_module() -> None:
    (block,) = [b for b in _of("text") if b.name == "architecture"]
    named: set[str] = set()
    folder = ""
    for line in block.body.splitlines():
        heading = re.match(r"(mapper/\w*/?)", line)
        if heading:
            folder = heading.group(1).rstrip("/") + "/"
        named.update(folder + name for name in re.findall(r"(\w+\.py)", line))
    package = ROOT / "mapper"
    modules = {
        str(p.relative_to(ROOT))
        for p in package.rglob("*.py")
        if p.name != "__init__.py" or p.parent == package
    }
    assert named - modules == set(), "the README names modules that do not exist (or in the wrong folder)"
    assert modules - named == set(), "modules the README's architecture does not mention"


def test_every_function_is_in_the_reference() -> None:
    assert [name for name in FUNCTIONS if f"`{name}(" not in README] == []


@pytest.mark.parametrize("word", ["on create", "primary", "default", "extends", "schema", "profile", "?:"])
def test_every_construct_and_option_is_documented(word: str) -> None:
    assert f"`{word}" in README


def test_every_command_and_style_is_documented() -> None:
    for command in main.commands:
        assert f"mapper {command}" in README
    for style in UpdateStyle:
        assert f"`{style}`" in README


def test_ci_runs_the_readme_test_command() -> None:
    test_command = next(b.body.strip() for b in _of("sh") if "[test]" in b.body)
    assert test_command in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_install_line_names_this_project_and_real_extras() -> None:
    """`mapper` on the package index is another project: every pip install in the README
    installs from a clone (`.`) or names okta-scim-mapper, with extras pyproject.toml has."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["name"] == "okta-scim-mapper"
    extras = set(project["optional-dependencies"])
    lines = re.findall(r"pip install ([^`\n]+)", README)
    assert len(lines) >= 5
    for line in lines:
        target = line.split()[-1] if line.split()[0] == "-e" else line.split("&&")[0].split()[0]
        if target.startswith("-e"):
            target = line.split()[1]
        target = target.strip("'\"")
        assert target.startswith((".", "okta-scim-mapper")), line
        for named in re.findall(r"\[([\w,]+)\]", target):
            assert set(named.split(",")) <= extras, line


def test_the_first_screen_and_the_contents() -> None:
    """A newcomer sees in the first 30 lines what mapper is for, the two set-up commands and
    what render prints; the contents list every section, each link to its heading."""
    first = "\n".join(README.splitlines()[:30])
    assert "Okta" in first and "SCIM" in first and "Appspace" in first
    assert first.count("python3 -m venv .venv && .venv/bin/pip install") == 2
    assert "$ mapper render examples/ada.json" in first and '"userName":"ada.lovelace@example.com"' in first
    sections = [h for h in re.findall(r"^## (.+)$", README, re.M) if h != "Contents"]
    listed = re.findall(
        r"^- \[(.+)\]\(#([\w-]+)\)$", README.split("## Contents", 1)[1].split("\n## ", 1)[0], re.M
    )
    assert [title for title, _ in listed] == sections

    def anchor(title: str) -> str:  # GitHub's: lower case, punctuation dropped, spaces to dashes
        return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")

    assert all(link == anchor(title) for title, link in listed)
