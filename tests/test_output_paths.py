"""Every command's output paths (issue 19, item 12): a path that cannot be used is exit 2
with one line before any work; a FIFO, a device or /dev/stdout is written in place, never
replaced by a regular file; a regular file is replaced all at once; an input is never an
output."""

from __future__ import annotations

import os
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.cli import COMMAND, mapper_cli

USERS = ROOT / "examples" / "okta" / "users.jsonl"
SCHEMA = ROOT / "examples" / "okta" / "appspace-app-user-schema.json"
MAPPING = ROOT / "examples" / "okta" / "appspace-profile-mapping.json"

#: Each command, with {out} where its output path goes and the inputs it reads.
COMMANDS = {
    "render -o": ["render", str(USERS), "-o", "{out}"],
    "render --errors": ["render", "{bad}", "-o", "{other}", "--errors", "{out}"],
    "plan -o": ["plan", "{first}", str(USERS), "-o", "{out}"],
    "export -o": ["export", "okta", "appspace", "-o", "{out}"],
    "import -o": ["import", "okta", "--schema", str(SCHEMA), "--mapping", str(MAPPING), "-o", "{out}"],
}
INPUT = {
    "render -o": USERS,
    "render --errors": None,
    "plan -o": USERS,
    "export -o": None,
    "import -o": MAPPING,
}


def _args(command: str, out: Path, tmp_path: Path) -> list[str]:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(USERS.read_text() + "{not json\n")
    first = tmp_path / "first.jsonl"
    first.write_text(USERS.read_text().splitlines()[0] + "\n")
    paths = {"out": out, "other": tmp_path / "other.jsonl", "bad": bad, "first": first}
    return [a.format(**paths) for a in COMMANDS[command]]


def _invoke(args: list[str]) -> tuple[int, str]:
    ran = mapper_cli(*args)
    return ran.returncode, ran.stderr


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("target", ["missing-folder", "a-folder", "an-input", "read-only-folder"])
def test_an_unusable_output_is_exit_2_before_any_work(tmp_path: Path, command: str, target: str) -> None:
    if target == "an-input" and INPUT[command] is None:
        pytest.skip("a built-in ruleset is not a file; the export is made here")
    if target == "read-only-folder" and os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    out = {
        "missing-folder": tmp_path / "nowhere" / "out",
        "a-folder": tmp_path,
        "an-input": INPUT[command],
        "read-only-folder": tmp_path / "ro" / "out",
    }[target]
    if target == "read-only-folder":
        (tmp_path / "ro").mkdir(mode=0o500)
    before = USERS.read_bytes(), MAPPING.read_bytes()
    code, err = _invoke(_args(command, out, tmp_path))  # type: ignore[arg-type]
    assert code == 2 and len(err.splitlines()) == 1 and str(out) in err
    assert (USERS.read_bytes(), MAPPING.read_bytes()) == before
    assert not (tmp_path / "other.jsonl").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_a_fifo_is_written_in_place(tmp_path: Path, command: str) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, err = _invoke(_args(command, fifo, tmp_path))
    reader.join(60)
    assert code in (0, 1), err  # import reports userName, render --errors has records to report
    assert stat.S_ISFIFO(fifo.stat().st_mode) and got and got[0]


@pytest.mark.parametrize("command", COMMANDS)
def test_dev_stdout_writes_to_what_the_shell_opened(tmp_path: Path, command: str) -> None:
    captured = tmp_path / "captured"
    with captured.open("wb") as stdout:
        inode = os.fstat(stdout.fileno()).st_ino
        ran = subprocess.run([*COMMAND, *_args(command, Path("/dev/stdout"), tmp_path)], stdout=stdout,
                             stderr=subprocess.PIPE, timeout=120, check=False)  # fmt: skip
    assert ran.returncode in (0, 1), ran.stderr
    assert captured.stat().st_ino == inode and captured.stat().st_size > 0


def test_a_regular_output_is_replaced_all_at_once(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")
    code, _ = _invoke(["render", str(USERS), "-o", str(out), "--fail-fast"])
    assert code == 0 and out.read_text() != "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temporary file left


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
@pytest.mark.parametrize("command", COMMANDS)
def test_a_write_that_fails_is_exit_3(tmp_path: Path, command: str) -> None:
    code, err = _invoke(_args(command, Path("/dev/full"), tmp_path))
    assert code == 3 and "/dev/full" in err, err
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


@pytest.mark.parametrize(
    ("command", "private"),
    [
        ("render -o", True),
        ("render --errors", True),
        ("plan -o", True),
        ("export -o", False),
        ("import -o", False),
    ],
)
def test_one_permission_policy(tmp_path: Path, command: str, private: bool) -> None:
    """A new output that can hold personal data (resources, plans, failure reports) is 0600;
    an exported ruleset or Terraform file follows the umask (it is meant for a repository)."""
    out = tmp_path / "new-output"
    old_umask = os.umask(0o022)
    try:
        code, err = _invoke(_args(command, out, tmp_path))
    finally:
        os.umask(old_umask)
    assert code in (0, 1), err
    assert stat.S_IMODE(out.stat().st_mode) == (0o600 if private else 0o644)
