"""Every command's output paths (issue 19, item 12): a path that cannot be used is exit 2
with one line before any work; a FIFO, a device or /dev/stdout is written in place, never
replaced by a regular file; a regular file is replaced all at once; an input is never an
output."""

from __future__ import annotations

import os
import shlex
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


# ------------------------------------------------ resources written behind the render


def test_written_behind_writes_every_chunk_in_order_and_holds_at_most_depth() -> None:
    from mapper.tools.files import written_behind

    written: list[bytes] = []
    release = threading.Event()

    def write(chunk: bytes) -> None:
        release.wait(30)
        written.append(chunk)

    handed: list[int] = []

    def caller() -> None:
        with written_behind(write, depth=2) as put:
            for i in range(50):
                put(b"%d\n" % i)
                handed.append(i)

    thread = threading.Thread(target=caller)
    thread.start()
    try:
        # One chunk in the writer's hands and two waiting: the fourth put waits for room.
        for _ in range(3000):
            if len(handed) >= 3:
                break
            threading.Event().wait(0.01)
        threading.Event().wait(0.2)
        assert len(handed) == 3  # a bounded queue: memory stays flat whatever the disk's speed
    finally:
        release.set()
        thread.join(30)
    assert b"".join(written) == b"".join(b"%d\n" % i for i in range(50))


def test_a_failed_write_is_raised_in_the_callers_thread_and_nothing_after_it_is_written() -> None:
    from mapper.tools.files import OutputError, written_behind

    written: list[bytes] = []

    def write(chunk: bytes) -> None:
        if chunk == b"3":
            raise OutputError("out.jsonl: No space left on device; nothing was written there")
        written.append(chunk)

    with pytest.raises(OutputError, match="No space left"), written_behind(write) as put:
        for i in range(1000):
            put(b"%d" % i)
    assert written == [b"0", b"1", b"2"]


def test_an_interrupted_caller_does_not_wait_for_a_write_that_hangs() -> None:
    from mapper.tools.files import written_behind

    stuck = threading.Event()
    entered = threading.Event()
    raised: list[BaseException] = []

    def write(chunk: bytes) -> None:  # a pipe nobody reads
        entered.set()
        stuck.wait(60)

    def caller() -> None:
        try:
            with written_behind(write) as put:
                for i in range(3):
                    put(b"%d" % i)
                entered.wait(60)
                raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raised.append(exc)

    thread = threading.Thread(target=caller)
    thread.start()
    thread.join(20)
    finished = not thread.is_alive()
    stuck.set()
    thread.join(60)
    assert finished, "the interrupted caller waited for the write"
    assert len(raised) == 1


def test_a_caller_that_fails_has_what_it_made_before_written_whole() -> None:
    """As without the thread: the resources rendered before an error (an input that cannot
    be read, say) are all written, whatever the writer's speed, and the error is raised."""
    from mapper.tools.files import written_behind

    written: list[bytes] = []

    def write(chunk: bytes) -> None:  # a slow disk
        threading.Event().wait(0.02)
        written.append(chunk)

    with pytest.raises(KeyError), written_behind(write) as put:
        for i in range(5):
            put(b"%d" % i)
        raise KeyError("the next input cannot be read")
    assert written == [b"0", b"1", b"2", b"3", b"4"]


def test_the_writer_thread_starts_with_the_first_chunk() -> None:
    """render --jobs forks its workers before the first block is written: from a process of
    one thread (Python 3.12 warns against forking one of several)."""
    from mapper.tools.files import written_behind

    def writers() -> int:
        return sum(t.name == "mapper-output" for t in threading.enumerate())

    before = writers()
    with written_behind(lambda chunk: None) as put:
        assert writers() == before
        put(b"x")
        assert writers() == before + 1
    with written_behind(lambda chunk: None):
        pass  # nothing written: no thread at all
    assert writers() == before


def test_resources_rendered_before_an_unreadable_input_are_all_written(tmp_path: Path) -> None:
    export = tmp_path / "users.jsonl"
    line = USERS.read_text(encoding="utf-8").splitlines()[0]
    export.write_text((line + "\n") * 20_000, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    with out.open("wb") as sink:
        done = subprocess.run(
            [*COMMAND, "render", str(export), str(tmp_path / "missing.jsonl"), "-q"],
            stdout=sink, stderr=subprocess.PIPE, text=True, check=False,
        )  # fmt: skip
    assert done.returncode == 2, done.stderr
    data = out.read_bytes()
    assert data.count(b"\n") == 20_000 and data.endswith(b"\n")


def test_a_stream_into_a_full_device_or_a_closed_pipe_is_one_line_and_exit_3(tmp_path: Path) -> None:
    export = tmp_path / "users.jsonl"
    line = USERS.read_text(encoding="utf-8").splitlines()[0]
    export.write_text((line + "\n") * 20_000, encoding="utf-8")
    command = shlex.join([*COMMAND, "render", str(export), "-q"])
    if Path("/dev/full").exists():
        full = subprocess.run(
            f"{command} > /dev/full", shell=True, capture_output=True, text=True, check=False
        )
        assert full.returncode == 3 and full.stderr.splitlines() == [
            "mapper: cannot write the output: No space left on device"
        ], full.stderr
    piped = subprocess.run(
        f"{command} | head -c 1 > /dev/null; exit ${{PIPESTATUS[0]}}",
        shell=True, executable="/bin/bash", capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert piped.returncode == 3 and piped.stderr.splitlines() == [
        "mapper: the output was closed before all of it was written (broken pipe)"
    ], piped.stderr
