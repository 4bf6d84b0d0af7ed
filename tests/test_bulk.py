"""Whole exports: JSON Lines through mapper render, a line per resource, failures by line."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mapper
from tests.support.cli import mapper_cli, mapper_process

SENTINEL = "SENTINEL-123-45-6789"


def _mapper(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return mapper_process(*args, input=stdin)


def _export(path: Path, count: int, bad: dict[int, str] | None = None) -> Path:
    """COUNT Users API users, one a line; BAD replaces the lines it names (1-based)."""
    with path.open("w", encoding="utf-8") as out:
        for i in range(1, count + 1):
            if bad and i in bad:
                out.write(bad[i] + "\n")
                continue
            user = {
                "id": f"00u{i}",
                "status": "ACTIVE",
                "profile": {"login": f"u{i}@example.com", "title": "T"},
            }
            out.write(json.dumps(user) + "\n")
    return path


def test_a_bad_record_does_not_stop_the_run(tmp_path: Path) -> None:
    export = _export(
        tmp_path / "users.jsonl",
        6,
        {2: json.dumps({"id": "00u2", "profile": {"login": 7, "title": SENTINEL}}), 4: "{not json", 5: ""},
    )
    errors = tmp_path / "errors.jsonl"
    result = _mapper("render", str(export), "--errors", str(errors))
    assert result.returncode == 1  # some failed: documented
    lines = result.stdout.decode().splitlines()
    assert [json.loads(line)["externalId"] for line in lines] == ["00u1", "00u3", "00u6"]  # input order
    stderr = result.stderr.decode().splitlines()
    assert stderr[:2] == [
        f"mapper: {export}:2: profile attribute 'login': expected a string, got a number",
        f"mapper: {export}:4: invalid JSON: Expecting property name enclosed in double quotes",
    ]
    assert stderr[-1].startswith("mapper: rendered 3, failed 2 in ")
    assert SENTINEL not in result.stderr.decode()
    records = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [(r["line"], r["id"], r["code"]) for r in records] == [
        (2, "00u2", "profile"),
        (4, None, "invalid-json"),
    ]


def test_fail_fast_writes_nothing(tmp_path: Path) -> None:
    export = _export(tmp_path / "users.jsonl", 5, {3: "[]"})
    out = tmp_path / "out.jsonl"
    result = _mapper("render", str(export), "-o", str(out), "--fail-fast")
    assert result.returncode == 1 and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["users.jsonl"]  # no temporary file left
    to_stdout = _mapper("render", str(export), "--fail-fast")
    assert to_stdout.returncode == 1 and to_stdout.stdout == b""


def test_folders_stdin_and_json_files_stream_too(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    _export(folder / "a.jsonl", 2)
    (folder / "b.json").write_text(json.dumps({"login": "solo@example.com"}))
    (folder / "notes.txt").write_text("not a profile")
    result = _mapper("render", str(folder), "--quiet")
    assert result.returncode == 0 and result.stderr == b""
    assert [json.loads(line)["userName"] for line in result.stdout.decode().splitlines()] == [
        "u1@example.com", "u2@example.com", "solo@example.com",
    ]  # fmt: skip
    piped = _mapper("render", "-", "--jsonl", stdin=(folder / "a.jsonl").read_bytes())
    assert piped.returncode == 0 and len(piped.stdout.splitlines()) == 2


@pytest.mark.slow
def test_a_hundred_thousand_lines_to_a_file(tmp_path: Path) -> None:
    export = _export(tmp_path / "users.jsonl", 100_000)
    out = tmp_path / "out.jsonl"
    result = _mapper("render", str(export), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stderr.decode().startswith("mapper: rendered 100,000, failed 0 in ")
    with out.open(encoding="utf-8") as rendered:
        first = json.loads(rendered.readline())
        count = 1 + sum(1 for _ in rendered)
    assert count == 100_000 and first["externalId"] == "00u1"


def test_show_values_adds_the_value(tmp_path: Path) -> None:
    export = _export(tmp_path / "users.jsonl", 1, {1: json.dumps({"login": "a", "title": 42})})
    result = _mapper("render", str(export), "--show-values")
    assert "(value: 42)" in result.stderr.decode()


def test_rulesets_are_safe_to_share_between_threads() -> None:
    """32 threads render and patch with one Ruleset; every result equals a single thread's."""
    ruleset = mapper.load("appspace")
    users = [
        {"id": f"00u{i}", "status": "ACTIVE", "profile": {"login": f"u{i}@x.io", "title": f"T{i % 7}",
                                                           "costCenter": f"C{i % 3}", "email": f"u{i}@x.io"}}
        for i in range(200)
    ]  # fmt: skip
    expected = [(ruleset.render(u), ruleset.patch(users[0], u)) for u in users]
    results: dict[int, list[object]] = {}

    def work(n: int) -> None:
        results[n] = [(ruleset.render(u), ruleset.patch(users[0], u)) for u in users]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[n] == expected for n in range(32))


def test_progress_shows_on_a_terminal_and_never_on_a_pipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from mapper.cli import common as cli

    export = _export(tmp_path / "users.jsonl", 20_000)
    piped = _mapper("render", str(export), "-o", str(tmp_path / "a.jsonl"))
    assert piped.stderr.decode().count("\n") == 1  # the summary alone: no bar on a pipe

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

        def fileno(self) -> int:
            raise OSError("no descriptor")  # the bar falls back to 80 columns

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    advance, done = cli.progress_bar(total=1_000_000, quiet=False)
    for _ in range(2000):
        advance(500)
    done()
    drawn = terminal.getvalue()
    assert "mapper" in drawn and "B/s" in drawn and "/977k" in drawn  # the size is known: a total, an ETA
    monkeypatch.setattr(sys, "stderr", Terminal())
    quiet_advance, quiet_done = cli.progress_bar(total=10, quiet=True)
    quiet_advance(5)
    quiet_done()
    assert sys.stderr.getvalue() == ""


# ---------------------------------------------------------------- mapper plan


def _user_line(okta_id: str, status: str = "ACTIVE", **profile: object) -> str:
    return json.dumps({"id": okta_id, "status": status, "profile": {"login": f"{okta_id}@x.io", **profile}})


def test_plan_between_two_exports(tmp_path: Path) -> None:
    old = tmp_path / "old.jsonl"
    new = tmp_path / "new.jsonl"
    old.write_text("\n".join([_user_line("00u1", title="A"), _user_line("00u2", title="B"), _user_line("00u3"),
                              _user_line("00u5"), _user_line("00u6", "DEPROVISIONED")]) + "\n")  # fmt: skip
    new.write_text("\n".join([_user_line("00u1", title="A2"), _user_line("00u2", title="B"), _user_line("00u4"),
                              _user_line("00u5", "DEPROVISIONED"), _user_line("00u1", title="again")]) + "\n")  # fmt: skip
    result = _mapper("plan", str(old), str(new))
    requests = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [(r["okta_id"], r["method"], r["path"]) for r in requests] == [
        ("00u1", "PATCH", "/Users/{id}"),
        ("00u4", "POST", "/Users"),
        ("00u5", "PATCH", "/Users/{id}"),
        ("00u3", "PATCH", "/Users/{id}"),  # gone from the new export: deactivated, never deleted
    ]
    assert requests[0]["body"]["Operations"] == [{"op": "replace", "path": "title", "value": "A2"}]
    assert requests[2]["body"] == mapper.load("okta-default").deactivate(
        "rfc"
    )  # --style rfc: replace active with a path
    assert requests[1]["body"]["externalId"] == "00u4"
    stderr = result.stderr.decode().splitlines()
    assert stderr == [
        f"mapper: {new}:5: this Okta id is in the export twice",
        "mapper: plan: 1 create, 1 update, 2 deactivate, 0 reactivate, 1 unchanged, 1 failed",
        "mapper:   title: 1 user",
    ]
    assert result.returncode == 1


def test_plan_is_the_same_in_any_number_of_processes(tmp_path: Path) -> None:
    """--jobs splits the users by Okta id: the requests, the failures (by line, in order) and the
    summary are those of one process."""
    old, new = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    before, after = [], []
    for i in range(400):
        title = {"title": "T"} if i % 3 else {}
        before.append(_user_line(f"00u{i}", "DEPROVISIONED" if i % 41 == 0 else "ACTIVE", **title))
        if i % 17 == 5:
            continue  # gone from the new export
        status = "DEPROVISIONED" if i % 23 == 0 else "ACTIVE"
        after.append(
            _user_line(
                f"00u{i}", status, title="Boss" if i % 4 == 0 else "T", department="D" if i % 5 else ""
            )
        )
    before[10:10] = [
        "{broken",
        json.dumps({"profile": {"login": "x"}}),
        _user_line("00u3"),
        _user_line("00u9", title=7),
    ]
    after[20:20] = [_user_line("00u7"), "[1]", _user_line("00u999", title=["a"])]
    after += [_user_line(f"00n{i}") for i in range(30)]
    old.write_text("\n".join(before) + "\n")
    new.write_text("\n".join(after) + "\n")
    one = _mapper("plan", str(old), str(new))
    three = _mapper("plan", str(old), str(new), "--jobs", "3")
    assert one.returncode == three.returncode == 1
    assert one.stdout == three.stdout and one.stderr == three.stderr
    assert len(one.stdout.splitlines()) > 100 and one.stderr.count(b"twice") == 3


@pytest.mark.slow
def test_plan_streams_tens_of_thousands_of_users(tmp_path: Path) -> None:
    old, new = tmp_path / "old.jsonl", tmp_path / "new.jsonl"
    with old.open("w") as before, new.open("w") as after:
        for i in range(20_000):
            before.write(_user_line(f"00u{i}", title="T") + "\n")
            after.write(_user_line(f"00u{i}", title="T" if i % 10 else "Boss") + "\n")
    out = tmp_path / "plan.jsonl"
    result = _mapper("plan", str(old), str(new), "-o", str(out), "--style", "no-path")
    assert result.returncode == 0, result.stderr
    assert result.stderr.decode().splitlines() == [
        "mapper: plan: 0 create, 2,000 update, 0 deactivate, 0 reactivate, 18,000 unchanged, 0 failed",
        "mapper:   title: 2,000 users",
    ]
    with out.open() as plan:
        first = json.loads(plan.readline())
        assert 1 + sum(1 for _ in plan) == 2_000
    assert first["body"]["Operations"] == [{"op": "replace", "value": {"title": "Boss"}}]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_folder_of_more_files_than_descriptors_renders(tmp_path: Path, jobs: str) -> None:
    """Spans come file by file, and a reader keeps only the current file open: a folder of
    more files than the process may open renders whole (--jobs 2 ran out of descriptors)."""
    import resource

    folder = tmp_path / "export"
    folder.mkdir()
    for i in range(300):
        (folder / f"part{i:03d}.jsonl").write_text(f'{{"login": "u{i}@x.io"}}\n{{broken\n')

    def few_descriptors() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (100, 100))

    done = mapper_process("render", str(folder), "--jobs", jobs, "-q", preexec_fn=few_descriptors)
    assert done.returncode == 1, done.stderr  # the broken lines
    assert [json.loads(line)["userName"] for line in done.stdout.splitlines()] == [
        f"u{i}@x.io" for i in range(300)
    ]
    assert done.stderr.decode().splitlines() == [
        f"mapper: {folder / f'part{i:03d}.jsonl'}:2: invalid JSON: Expecting property name enclosed in double quotes"
        for i in range(300)
    ]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_input_that_fails_while_read_is_one_clear_line(
    tmp_path: Path, jobs: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file whose size says nothing of its content (/proc/self/mem: 0 bytes, and an I/O error
    when read) and a read that fails midway end with exit 2 and one line naming the file, as a
    file that cannot be opened; never nothing rendered and exit 0, never an internal error."""
    import os

    from mapper.tools import bulk

    if not os.path.exists("/proc/self/mem"):
        pytest.skip("needs Linux's /proc/self/mem")
    broken = tmp_path / "users.jsonl"
    broken.symlink_to("/proc/self/mem")
    done = mapper_process("render", str(broken), "--jobs", jobs, "-q", timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.decode().splitlines() == [f"mapper: {broken}: Input/output error"]
    if jobs == "1":  # a read that fails midway, in this process
        export = _export(tmp_path / "ok.jsonl", 10)

        def failing(fd: int, size: int, offset: int) -> bytes:
            raise OSError(5, "Input/output error")

        monkeypatch.setattr(bulk.os, "pread", failing)
        ran = mapper_cli("render", str(export), "-q")
        assert (ran.returncode, ran.stderr.splitlines()) == (2, [f"mapper: {export}: Input/output error"])


def test_a_render_stopped_by_fail_fast_leaves_no_file_open(tmp_path: Path) -> None:
    """--fail-fast leaves the loop over the outcomes early: the spans' file is closed then,
    not when the process ends (a gateway or a test calls the command many times)."""
    import os

    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("needs /proc/self/fd")
    export = _export(tmp_path / "users.jsonl", 20_000, {2: "{broken"})  # several spans

    def open_here() -> list[str]:
        links = []
        for fd in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):  # one closed meanwhile
                links.append(os.readlink(f"/proc/self/fd/{fd}"))
        return [link for link in links if link == str(export)]

    ran = mapper_cli("render", str(export), "--fail-fast", "-q")
    assert ran.returncode == 1 and ran.stdout == ""
    assert open_here() == []


def test_forked_workers_render_with_the_parents_ruleset_whatever_became_of_its_file(tmp_path: Path) -> None:
    """The ruleset checked and loaded is the one every worker uses: rewriting its file while
    the render runs changes nothing (workers used to load it again by name)."""
    from mapper.tools import bulk

    if not bulk.can_fork():
        pytest.skip("workers are forked only where processes can fork")
    path = tmp_path / "t.mapper"
    path.write_text('ruleset t\nuserName <- user.login\ntitle <- "loaded"\n')
    loaded = mapper.load(str(path))
    path.write_text('ruleset t\nuserName <- user.login\ntitle <- "rewritten"\n')
    blocks = [bulk.Block("x.jsonl", 1, b'{"login": "a%d"}\n' % i, True) for i in range(6)]
    outcomes = list(bulk.render_parallel(loaded, str(path), False, blocks, 2))
    assert [json.loads(o.data)["title"] for o in outcomes] == ["loaded"] * 6


def test_a_ruleset_that_fails_in_the_workers_fails_the_render_and_never_hangs(tmp_path: Path) -> None:
    """Where workers cannot be forked they load the ruleset again (by name): if it changed
    since and no longer loads, the render fails with its error (a RulesetError pickles whole),
    where the pool used to start a failing worker again and again, for ever (the pickling of
    RulesetError: tests/test_exit_codes.py)."""
    gone = tmp_path / "gone.mapper"
    code = (
        "import mapper\n"
        "from mapper.tools import bulk\n"
        "bulk.can_fork = lambda: False  # workers spawned: they load the ruleset by name\n"
        f"blocks = [bulk.Block('x', 1, b'{{\"login\": \"a\"}}\\n', True)]\n"
        f"list(bulk.render_parallel(mapper.load('okta-default'), {str(gone)!r}, False, blocks, 2))\n"
    )
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        raise AssertionError("render_parallel did not end") from None
    assert done.returncode == 1
    assert done.stderr.decode().strip().endswith(f"RulesetError: mapper: {gone}: no such file")


def test_jobs_keep_the_order_and_report_the_same_failures(tmp_path: Path) -> None:
    bad = {i: "{broken" for i in range(7, 30_000, 9_973)}
    export = _export(tmp_path / "users.jsonl", 30_000, bad)
    one = _mapper("render", str(export), "--jobs", "1", "--errors", str(tmp_path / "e1.jsonl"), "-q")
    two = _mapper("render", str(export), "--jobs", "2", "--errors", str(tmp_path / "e2.jsonl"), "-q")
    assert one.returncode == two.returncode == 1
    assert one.stdout == two.stdout and len(one.stdout.splitlines()) == 30_000 - len(bad)
    assert one.stderr == two.stderr
    assert (tmp_path / "e1.jsonl").read_text() == (tmp_path / "e2.jsonl").read_text()
    assert [json.loads(line)["line"] for line in (tmp_path / "e2.jsonl").read_text().splitlines()] == sorted(
        bad
    )
    # Workers read the file by position; the second time through, lines count from 1 again.
    twice = [_mapper("render", str(export), str(export), "--jobs", str(n), "-q") for n in (1, 2)]
    assert twice[0].stdout == twice[1].stdout == one.stdout * 2
    assert twice[0].stderr == twice[1].stderr == one.stderr * 2


def test_blocks_end_at_line_ends(tmp_path: Path) -> None:
    import io

    from mapper.tools import bulk

    data = b"".join(b'{"login": "u%d@x.io"}\n' % i for i in range(1000)) + b'{"login": "last@x.io"}'
    blocks = list(bulk.blocks("f.jsonl", io.BytesIO(data), lines=True, size=1000))
    assert len(blocks) > 10 and all(b.data.endswith(b"\n") for b in blocks[:-1])
    records = [r for b in blocks for r in bulk.block_records(b)]
    assert [r.line for r in records] == list(range(1, 1002))
    assert b"\n".join(r.data for r in records) == data
    # Only \n ends a line: a lone \r (JSON whitespace) stays in its record, and the numbers hold.
    crlf = b'{"login": "a@x.io"}\r\n{"login":\r"b@x.io"}\n\n{"login": "c@x.io"}\n'
    (block,) = bulk.blocks("g.jsonl", io.BytesIO(crlf), lines=True)
    assert [r.line for r in bulk.block_records(block)] == [1, 2, 4]
    outcome = bulk.render_block(mapper.load("okta-default").render, block)
    assert (outcome.count, outcome.failures) == (3, [])
    assert [json.loads(x)["userName"] for x in outcome.data.splitlines()] == ["a@x.io", "b@x.io", "c@x.io"]


_LINES = st.sampled_from(
    [
        b"", b"   ", b"\t\r", b"{broken", b'{"login": "a@x.io"}', b'{"profile": {"login": "b@x.io"}}',
        b'{"login": 7}', b'{"login": "c@x.io", "login": "d@x.io"}', b'{"firstName": "Ada"}',
        # Either side of render_short's bound: a title of 10,000 characters (allowed) and of
        # 10,001 (too long) in records over 10,000 bytes; a record of exactly 10,000 bytes.
        b'{"login": "e@x.io", "title": "%s"}' % (b"t" * 10_000),
        b'{"login": "f@x.io", "title": "%s"}' % (b"t" * 10_001),
        b'{"login": "g@x.io", "title": "%s"}' % (b"t" * (10_000 - 32)),
    ]
)  # fmt: skip


@given(lines=st.lists(_LINES, max_size=40), piece=st.integers(1, 64), final_newline=st.booleans())
def test_a_block_renders_the_same_in_pieces_of_any_size(
    lines: list[bytes], piece: int, final_newline: bool
) -> None:
    """render_block works through a block a piece at a time, and records of at most 10,000
    bytes through render_short: the resources, their count and the failures (with their line
    numbers) are those of the whole block at once, and of render a line at a time."""
    from mapper.core import jsonio
    from mapper.errors import ProfileError
    from mapper.tools import bulk

    data = b"\n".join(lines) + (b"\n" if final_newline else b"")
    block = bulk.Block("p.jsonl", 5, data, True)
    ruleset = mapper.load("okta-default")
    render = ruleset.render
    whole = bulk.render_block(render, block)
    original, bulk.PIECE_BYTES = bulk.PIECE_BYTES, piece
    try:
        assert b"\n".join(bulk._pieces(data)) == data
        cut = bulk.render_block(render, block, render_short=ruleset.render_short)
    finally:
        bulk.PIECE_BYTES = original
    assert cut == whole
    resources, failed = [], []
    for number, line in enumerate(data.split(b"\n"), start=5):  # the oracle: a line at a time
        if not line.strip():
            continue
        try:
            resources.append(
                orjson.dumps(render(jsonio.parse(line, "p.jsonl")), option=orjson.OPT_APPEND_NEWLINE)
            )
        except (jsonio.JsonInputError, ProfileError):
            failed.append(number)
    assert (whole.data, whole.count) == (b"".join(resources), len(resources))
    assert [f.line for f in whole.failures] == failed


# ---------------------------------------------------------------- records too long to read

LIMIT = 64 << 10  # the maximum record size in these tests (16 MiB in use)


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from mapper.core import jsonio

    monkeypatch.setattr(jsonio, "MAX_RECORD_BYTES", LIMIT)  # worker processes fork with it


def _long_line(size: int) -> bytes:
    return b'{"id": "00uLONG", "profile": {"login": "x@x.io", "title": "' + b"t" * size + b'"}}'


@pytest.mark.usefixtures("small_limit")
@pytest.mark.parametrize("how", ["one-process", "jobs", "stdin", "plan", "sync"])
def test_a_record_longer_than_the_maximum_fails_alone(tmp_path: Path, how: str) -> None:
    """Lines just past the maximum, and many times it (across many reads), fail with their
    line number; every other record is read; the last line may have no newline."""

    good = [json.dumps({"id": f"00u{i}", "profile": {"login": f"u{i}@x.io"}}).encode() for i in range(6)]
    lines = [good[0], _long_line(LIMIT), good[1], _long_line(3 << 20), good[2], good[3], _long_line(2 << 20)]
    export = tmp_path / "users.jsonl"
    export.write_bytes(b"\n".join(lines))
    too_long = [2, 4, 7]
    if how in ("one-process", "jobs", "stdin"):
        args = [
            "render",
            str(export),
            "-o",
            str(tmp_path / "out.jsonl"),
            "--errors",
            str(tmp_path / "e.jsonl"),
        ]
        if how == "jobs":
            args += ["--jobs", "2"]
        if how == "stdin":
            args[1:2] = ["-", "--jsonl"]
        result = mapper_cli(*args, input=export.read_bytes() if how == "stdin" else None)
        errors = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
        assert [(e["line"], e["code"]) for e in errors] == [(n, "too-large") for n in too_long]
        assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 4
    elif how == "plan":
        result = mapper_cli(*["plan", str(export), str(export), "-o", str(tmp_path / "p.jsonl")])
    else:
        from tests.support.fake_app import Behaviour, fake_app

        with fake_app(Behaviour()) as url:
            result = mapper_cli(*["sync", str(export), "--to", url, "--state",
                                               str(tmp_path / "s.sqlite")], env={"SCIM_TOKEN": "t"})  # fmt: skip
    assert result.exit_code == 1, result.stderr
    for n in too_long:
        assert f"users.jsonl:{n}: " in result.stderr.replace("<stdin>", "users.jsonl")
    assert result.stderr.count("longer than the maximum of 65,536 bytes; not read") == (
        6 if how == "plan" else 3
    )


@pytest.mark.usefixtures("small_limit")
def test_a_json_file_longer_than_the_maximum_is_not_read(tmp_path: Path) -> None:

    (tmp_path / "big.json").write_bytes(_long_line(2 << 20))
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "big.json").write_bytes(_long_line(2 << 20))
    for args in (["big.json"], ["folder", "-o", "o.jsonl"]):
        result = mapper_cli(*["render", *(a if a == "-o" else str(tmp_path / a) for a in args)])
        assert result.exit_code == 1 and "the record is 2,097,214 bytes, longer" in result.stderr


def test_reading_a_line_far_past_the_maximum_keeps_memory_flat() -> None:
    """A 64 MB line, read from a stream that holds none of it: the reader keeps at most the
    maximum (16 MiB) and a read's worth, and says how long the line was."""
    import io
    import tracemalloc

    from mapper.core import jsonio
    from mapper.tools import bulk

    class Endless(io.RawIOBase):
        def __init__(self, size: int) -> None:
            self.left = size

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            n = min(len(buffer), self.left)
            buffer[:n] = b"x" * n
            self.left -= n
            return n

    size = 64 << 20
    tracemalloc.start()
    try:
        stream = io.BufferedReader(Endless(size), 1 << 20)
        found = list(bulk.blocks("big.jsonl", stream, lines=True))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(b.first_line, b.dropped) for b in found] == [(1, size)]
    assert peak < jsonio.MAX_RECORD_BYTES + (4 << 20)


# ---------------------------------------------------------------- the fast reader


def _both(data: bytes) -> tuple[object, object]:
    from mapper.core import jsonio

    outcomes = []
    for reader in (jsonio.parse, jsonio.parse_fast):
        try:
            outcomes.append(("ok", reader(data, "f.jsonl")))
        except jsonio.JsonInputError as exc:
            outcomes.append(("error", str(exc)))
    return outcomes[0], outcomes[1]


@pytest.mark.parametrize(
    "data",
    [b'{"a":1,"a":2}', b'{"a" : 1, "a" : 2}', b'{"a":{"b":1,"b":2}}', b'{"a":"x\\":","a":1}', b'{"a":"\\":"}',
     b'{"n": 123456789012345678901234567890}', b'{"n": -9223372036854775809}', b'{"f": 1e300}', b"NaN",
     b'{"s":"\\ud800"}', b"\xef\xbb\xbf{}", b"[" * 150 + b"]" * 150, b"7", b'"x"', b"null", b"", b"  ", b"{",
     b'{"a":1}\x00', b"\xff", b'{"a":18446744073709551616}', b'{"a":1e20}', b'{"a":-0}', b'{"a":5e-324}',
     b'{"id":"a","id":"b"}', b'{"a":[{"b":1,"b":1}]}', b'{ "a" : "x y" , "a" : "x y" }', b'[' * 101 + b']' * 101, b'[' * 100 + b']' * 100, b'[' * 99 + b']' * 99,
     b"18446744073709551616", b"-9223372036854775809", b"1e20", b"1.5",
     # the bound on depth from the bytes deleted, and the count when they are more
     b"[ " * 100 + b"]" * 100, b"[ " * 101 + b"]" * 101, b'{ "a" : ' * 100 + b"1" + b"}" * 100,
     b"[" * 300 + b"]" * 300, b"[ " * 300 + b"]" * 300, b"[" * 1100 + b"]" * 1100,  # past orjson's limits
     b'{ "a" : ' * 101 + b"1" + b"}" * 101,
     b"[ " * 100 + b'"' + b" " * 150 + b'"' + b" ]" * 100, b"[ " * 101 + b'"' + b" " * 150 + b'"' + b" ]" * 101,
     b"[" * 100 + b'"' + b" " * 150 + b'"' + b"]" * 100, b"[" * 101 + b'"' + b" " * 150 + b'"' + b"]" * 101,
     b'{ "a" : "' + b"{" * 150 + b'" }', b'{"a":"' + b"[" * 150 + b'"}', b'{ "a" : "' + b"{ " * 60 + b'", "a": 1 }',
     # escapes orjson writes as the characters a key is made of, around a key given twice
     b'{"a":"\\u0022","a":"\\u0022"}', b'{"a" : "\\u003a\\u002c", "a" : 1}', b'{"a":"\\"","a":"x"}',
     b'{ "a" : "\\u0022a\\u0022\\u003a1\\u002c" }', b'{ "\\u007b" : [ "\\u005b" ] }'],
)  # fmt: skip
def test_the_fast_reader_reads_as_the_strict_one(data: bytes) -> None:
    strict, fast = _both(data)
    assert fast == strict


def _orjson_can(value: object) -> bool:
    try:
        orjson.dumps(value)
    except TypeError:  # an integer past 64 bits, a lone surrogate
        return False
    return True


@given(
    value=st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
        lambda children: st.one_of(
            st.lists(children, max_size=4), st.dictionaries(st.text(max_size=4), children, max_size=4)
        ),
        max_leaves=12,
    ),
    duplicate=st.booleans(),
    spaced=st.booleans(),
    ascii_only=st.booleans(),
    depth=st.integers(0, 2) | st.integers(96, 101),
    padding=st.sampled_from(["", " " * 120, "{" * 120, "[ " * 60, '"' * 40]),
)
def test_the_fast_reader_agrees_on_any_document(
    value: object, duplicate: bool, spaced: bool, ascii_only: bool, depth: int, padding: str
) -> None:
    """Whatever the record, written compact (orjson's own text: the reader's shortcut) or
    spaced, escaped or not, with a key given twice or not, nested near the limit or not,
    with a string of many spaces, brackets or quotes or not."""
    text = json.dumps(value, separators=(",", " : ") if spaced else (",", ":"), ensure_ascii=ascii_only)
    if not spaced and not ascii_only:  # orjson's own text, floats as it writes them: the shortcut
        text = orjson.dumps(value).decode() if _orjson_can(value) else text
    if duplicate and text.startswith("{") and len(text) > 2:
        text = text.replace("{", '{"dup":1,"dup":2,', 1)
    if padding:
        text = f"[{text},{json.dumps(padding)}]"
    text = ("[ " if spaced else "[") * depth + text + "]" * depth
    strict, fast = _both(text.encode())
    assert fast == strict


def test_every_failure_code_is_documented() -> None:
    from mapper.tools.bulk import FailureCode
    from tests.conftest import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert [code.value for code in FailureCode if f"`{code.value}`" not in readme] == []
