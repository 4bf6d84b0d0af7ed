"""Whole exports through a ruleset: JSON Lines in, one resource per line out.

Records come from JSON Lines files (``.jsonl``, ``.ndjson``: one Okta profile or
Users API user per line), from ``.json`` files (one record each), from folders of
those, or from standard input. They are read one line at a time, so memory does
not grow with the export. A record that cannot be read or mapped does not stop the
run: it becomes a :class:`RecordFailure` (file, line, Okta id, code, message) and the run
goes on; the caller decides what to print and which exit code that means.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NamedTuple

import orjson

from mapper.core import jsonio
from mapper.core.helpers import MAX_VALUE_CHARS
from mapper.errors import NO_VALUE, ExitCode, MapperError, ProfileError

if TYPE_CHECKING:
    from mapper.runtime.ruleset import Ruleset

LINE_SUFFIXES = (".jsonl", ".ndjson")
FILE_SUFFIXES = (".json", *LINE_SUFFIXES)


class EmptyFolder(MapperError):
    """A folder given as input that holds no profile file."""

    exit_code = ExitCode.FAILED  # bad data


class UnreadableInput(MapperError):
    """An input file that failed while it was read (an I/O error, removed meanwhile)."""

    exit_code = ExitCode.USAGE  # as a file that cannot be opened


class Record(NamedTuple):
    """One record of an input file: its bytes and where it starts, or the size of one too large to read.

    A named tuple: one is made for every line of every export a whole-export tool reads (a
    frozen dataclass took four times as long to make)."""

    source: str  # the file, or <stdin>
    line: int
    data: bytes
    dropped: int = 0  # a record longer than jsonio.MAX_RECORD_BYTES: its size (data is empty)

    def parse(self) -> Any:
        """The record's JSON document (jsonio.parse); JsonInputError when it cannot be read."""
        if self.dropped:
            raise jsonio.RecordTooLarge(self.source, jsonio.too_large(self.dropped))
        return jsonio.parse(self.data, self.source, first_line=self.line)


class FailureCode(StrEnum):
    """Why a record failed, as --errors files name it (documented in the README)."""

    INVALID_JSON = "invalid-json"  # not a JSON document mapper reads
    TOO_LARGE = "too-large"  # longer than a record may be
    PROFILE = "profile"  # the ruleset could not map it (a ProfileError)
    INVALID_SCIM = "invalid-scim"  # --validate refused the resource
    INVALID_OUTPUT = "invalid-output"  # the resource could not be written as JSON
    NO_ID = "no-id"  # mapper plan: not an Okta Users API user with its id
    DUPLICATE_ID = "duplicate-id"  # mapper plan: an Okta id the export holds twice


@dataclass(frozen=True)
class RecordFailure:
    """A record of an export that could not be read or mapped: reported by file and line."""

    source: str
    line: int
    okta_id: str | None
    code: FailureCode
    message: str  # never a profile value
    value: object = NO_VALUE  # the offending value, for --show-values

    def as_json(self) -> str:
        """The failure as one line of JSON Lines text (file, line, id, code and message; never the value)."""
        record = {"file": self.source, "line": self.line, "id": self.okta_id, "code": self.code.value}
        return json.dumps({**record, "message": self.message}, ensure_ascii=False) + "\n"


def expand(paths: Iterable[str]) -> Iterator[str]:
    """The files PATHS name: files as given, folders as the JSON and JSON Lines files in
    them (sorted, recursively), ``-`` as standard input."""
    for name in paths:
        path = Path(name)
        if name != "-" and path.is_dir():
            found = [str(p) for p in sorted(path.rglob("*")) if p.suffix in FILE_SUFFIXES and p.is_file()]
            if not found:
                raise EmptyFolder(f"{name}: no profile files ({', '.join(FILE_SUFFIXES)}) in this folder")
            yield from found
        else:
            yield name


def total_bytes(names: list[str]) -> int | None:
    """The size of all the input, for a progress bar's ETA; None when a part is a stream."""
    total = 0
    for name in names:
        if name == "-":
            return None
        try:
            total += Path(name).stat().st_size
        except OSError:
            return None
    return total


def records(name: str, stream: IO[bytes], lines: bool) -> Iterator[Record]:
    """The records in one file: every non-blank line of a JSON Lines file, else the whole file."""
    for block in blocks(name, stream, lines):
        yield from block_records(block)


# ---------------------------------------------------------------- several processes

_worker: dict[str, Any] = {}


def _start_worker(ruleset: str, validate: bool) -> None:
    """A worker's ruleset: the parent's own where the worker was forked from it (the very
    version the parent checked, whatever became of the file since), else RULESET loaded
    again. A ruleset that fails to load here fails the worker's first block: an error raised
    here would only make the pool start the worker again, for ever."""
    from mapper.runtime.ruleset import load

    try:
        compiled = _worker["ruleset"] = _worker.pop("inherited", None) or load(ruleset)
    except MapperError as exc:
        _worker["error"] = exc
        return
    if validate:
        from mapper.tools.validate import validate as check

        _worker["check"] = lambda resource: check(resource, compiled.plan)


@dataclass(frozen=True)
class Block:
    """Whole lines of one input file, read in one piece: what a worker process gets."""

    source: str
    first_line: int
    data: bytes
    lines: bool  # JSON Lines (else the block is one JSON document)
    dropped: int = 0  # one record longer than jsonio.MAX_RECORD_BYTES, not read: its size

    @property
    def size(self) -> int:
        """The block's length in bytes."""
        return len(self.data)


@dataclass(frozen=True)
class FileSpan:
    """Whole lines of a JSON Lines file by position: what a worker process reads itself, so
    that the data does not pass through a pipe. Line numbers count from the span's start."""

    source: str
    offset: int
    size: int
    dropped: int = 0  # one line longer than jsonio.MAX_RECORD_BYTES, not read: its size

    def read(self, files: dict[str, int]) -> Block:
        """The span's lines as a Block; a dropped span reads as one empty line that carries its
        size. FILES holds the file open for the next spans (the caller closes it, see
        close_files): spans come file by file, so only the current file is kept open (a folder
        of thousands of files would run out of descriptors)."""
        if self.dropped:
            return Block(self.source, 1, b"\n", True, self.dropped)
        try:
            fd = files.get(self.source)
            if fd is None:
                close_files(files)
                fd = files[self.source] = os.open(self.source, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            data = os.pread(fd, self.size, self.offset)
        except OSError as exc:
            raise UnreadableInput(f"{self.source}: {exc.strerror or 'cannot be read'}") from None
        return Block(self.source, 1, data, True)


def close_files(files: dict[str, int]) -> None:
    """Close the files FileSpan.read kept open in FILES."""
    for fd in files.values():
        os.close(fd)
    files.clear()


def file_spans(name: str, size: int = 1 << 20) -> Iterator[FileSpan]:
    """A JSON Lines file as spans of about SIZE bytes that end at a line's end (only the
    bytes around each boundary are read here). A line longer than the maximum record
    becomes a span of its own, marked dropped, that no process reads."""
    with open(name, "rb") as stream:
        total = os.fstat(stream.fileno()).st_size
        start = 0
        while start < total:
            end = min(start + size, total)
            stream.seek(end)
            scanned = 0
            while end < total:
                chunk = stream.read(1 << 16)
                newline = chunk.find(b"\n")
                if newline >= 0:
                    end += newline + 1
                    break
                end += len(chunk) if chunk else total - end
                scanned += len(chunk)
                if scanned > jsonio.MAX_RECORD_BYTES:
                    break
            if scanned > jsonio.MAX_RECORD_BYTES:
                line_start = _line_start(stream, start, min(start + size, total))
                if line_start > start:
                    yield FileSpan(name, start, line_start - start)
                newline = _next_newline(stream, end, total)
                end = min(newline + 1, total)
                yield FileSpan(name, line_start, end - line_start, dropped=newline - line_start)
            else:
                yield FileSpan(name, start, end - start)
            start = end


def _line_start(stream: IO[bytes], start: int, end: int) -> int:
    """Where the line that holds offset END - 1 begins, not before START (a line's start)."""
    stream.seek(start)
    found = stream.read(end - start).rfind(b"\n")  # at most one span
    return start + found + 1 if found >= 0 else start


def _next_newline(stream: IO[bytes], position: int, total: int) -> int:
    """The offset of the next newline at or after POSITION (TOTAL, the file's end, if none)."""
    stream.seek(position)
    while position < total:
        chunk = stream.read(1 << 16)
        if not chunk:
            break
        newline = chunk.find(b"\n")
        if newline >= 0:
            return position + newline
        position += len(chunk)
    return total


def blocks(name: str, stream: IO[bytes], lines: bool, size: int = 1 << 20) -> Iterator[Block]:
    """The file in blocks of about SIZE bytes that end at a line's end, in time linear in
    the file. A line (or a whole JSON file) longer than the maximum record is not kept: it
    becomes a block of its own, marked dropped, and reading goes on after it."""
    label = "<stdin>" if name == "-" else name
    limit = jsonio.MAX_RECORD_BYTES
    if not lines:
        data, size = jsonio.read_record(stream)
        yield Block(label, 1, data, False, 0 if size <= limit else size)
        return
    line = 1
    pending: list[bytes] = []  # the start of a line not ended yet
    pending_size = 0
    dropped = 0  # bytes of a line too long, dropped so far (then pending is empty)
    while chunk := stream.read(size):
        end = chunk.rfind(b"\n") + 1
        if end == 0:
            if dropped:
                dropped += len(chunk)
            else:
                pending.append(chunk)
                pending_size += len(chunk)
                if pending_size > limit:
                    dropped, pending, pending_size = pending_size, [], 0
            continue
        start = 0
        if dropped:
            first = chunk.find(b"\n") + 1
            yield Block(label, line, b"\n", True, dropped + first - 1)
            line, start, dropped = line + 1, first, 0
        if start < end:
            data = b"".join([*pending, memoryview(chunk)[start:end]])  # one copy, not two
            yield Block(label, line, data, True)
            line += data.count(b"\n")
        pending, pending_size = [chunk[end:]] if end < len(chunk) else [], len(chunk) - end
    if dropped:
        yield Block(label, line, b"\n", True, dropped)
    elif pending_size:
        yield Block(label, line, b"".join(pending), True)


def block_records(block: Block) -> Iterator[Record]:
    """The block's non-blank lines (only \\n ends a line, as blocks() counts them)."""
    if block.dropped:
        yield Record(block.source, block.first_line, b"", block.dropped)
        return
    if not block.lines:
        yield Record(block.source, block.first_line, block.data)
        return
    for offset, line in enumerate(block.data.split(b"\n")):
        if line and not line.isspace():
            yield Record(block.source, block.first_line + offset, line)


@dataclass(frozen=True, slots=True)
class Rendered:
    """A block's outcome: its resources as JSON lines (UTF-8), in input order, its failures,
    and the newlines it went through (how far the next block's line numbers are)."""

    data: bytes
    count: int
    failures: list[RecordFailure]
    lines: int


PIECE_BYTES = 16 << 10
"""How much of a block render_block reads and writes at a time: a piece's lines, their
documents and their output stay in the core's cache (half a megabyte each way did not, and
cost a third of the run)."""


def render_block(
    render: Callable[[Any], dict[str, Any]],
    block: Block,
    validate: Callable[[dict[str, Any]], list[Any]] | None = None,
    render_short: Callable[[Any], dict[str, Any]] | None = None,
) -> Rendered:
    """Every record of BLOCK through RENDER (and VALIDATE): one loop, no per-record objects,
    since at 180,000 profiles a second each microsecond is a sixth of the budget. A record
    of at most MAX_VALUE_CHARS bytes goes through RENDER_SHORT when given (the ruleset's
    render_short: the same output, a twentieth faster)."""
    source = block.source
    if block.dropped:
        return Rendered(
            b"",
            0,
            [
                RecordFailure(
                    source, block.first_line, None, FailureCode.TOO_LARGE, jsonio.too_large(block.dropped)
                )
            ],
            block.data.count(b"\n"),
        )
    parse = jsonio.parse_fast
    short = render if render_short is None else render_short
    dumps = orjson.dumps
    newline = orjson.OPT_APPEND_NEWLINE
    failures: list[RecordFailure] = []
    written: list[bytes] = []
    count = 0
    number = block.first_line - 1
    for piece in _pieces(block.data) if block.lines else [block.data]:
        out: list[bytes] = []
        for data in piece.split(b"\n") if block.lines else [piece]:
            number += 1
            if not data:
                continue
            try:
                document = parse(data, source, number)
            except jsonio.JsonInputError as exc:
                if data.isspace():  # a blank line (asked only here: it is never JSON)
                    continue
                code = (
                    FailureCode.TOO_LARGE
                    if isinstance(exc, jsonio.RecordTooLarge)
                    else FailureCode.INVALID_JSON
                )
                failures.append(RecordFailure(source, number, None, code, exc.reason))
                continue
            try:
                resource = (short if len(data) <= MAX_VALUE_CHARS else render)(document)
            except ProfileError as exc:
                failures.append(
                    RecordFailure(
                        source, number, _okta_id(document), FailureCode.PROFILE, str(exc), exc.value
                    )
                )
                continue
            if validate is not None:
                problems = validate(resource)
                if problems:
                    failures.extend(
                        RecordFailure(
                            source, number, _okta_id(document), FailureCode.INVALID_SCIM,
                            f"invalid SCIM: {problem}", getattr(problem, "value", NO_VALUE),
                        )
                        for problem in problems
                    )  # fmt: skip
                    continue
            try:
                out.append(dumps(resource, option=newline))
            except TypeError:  # orjson refuses a lone surrogate (from the input)
                failures.append(
                    RecordFailure(
                        source, number, _okta_id(document), FailureCode.INVALID_OUTPUT,
                        "the resource would hold text that is not valid Unicode",
                    )
                )  # fmt: skip
        count += len(out)
        written.append(b"".join(out))
    # The loop went through one line more than the block has newlines (a piece of k newlines
    # splits in k + 1, and the pieces leave out the newlines between them): counted for free.
    lines = number - block.first_line if block.lines else block.data.count(b"\n")
    return Rendered(b"".join(written), count, failures, lines)


def _pieces(data: bytes) -> Iterator[bytes]:
    """DATA cut at newlines into pieces of about PIECE_BYTES, those newlines left out: the
    pieces' lines are DATA's lines, in order."""
    start, size = 0, len(data)
    while True:
        end = data.find(b"\n", start + PIECE_BYTES) if start + PIECE_BYTES < size else -1
        if end < 0:
            yield data[start:] if start else data
            return
        yield data[start:end]
        start = end + 1


def _okta_id(document: object) -> str | None:
    okta_id = document.get("id") if isinstance(document, dict) else None
    return okta_id if isinstance(okta_id, str) else None


def can_fork() -> bool:
    """Whether worker processes can be forked, inheriting what this one loaded (rulesets, a git
    revision's text): Linux and macOS; elsewhere a whole-export tool works in one process."""
    import multiprocessing  # only where a tool is asked for several processes

    return "fork" in multiprocessing.get_all_start_methods()


def keep_freed_memory() -> None:
    """Ask glibc's malloc to keep freed memory instead of returning it to the system.

    A whole-export tool allocates and frees megabyte buffers (blocks read, rendered, passed
    between processes) many times a second; by default glibc gives each back (trimming the
    heap, or unmapping) and the next one faults its pages in again: with two workers that
    was 40% of the run in the kernel and ten times the page faults, in one process a tenth.
    Keeping up to 64 MB costs that much memory at most. Forked workers inherit the setting.
    Elsewhere (musl, macOS, Windows) nothing happens."""
    import ctypes

    if sys.platform != "linux":
        return
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_trim_threshold, 64 << 20)
    mallopt(m_mmap_threshold, 32 << 20)


def _render_work(
    work: Block | FileSpan,
    ruleset: Ruleset,
    check: Callable[[dict[str, Any]], list[Any]] | None,
    files: dict[str, int],
) -> tuple[Rendered, int | None]:
    """render_block of a block, or of a FileSpan read here (FILES: see FileSpan.read); with
    the span's offset (its failures are numbered from its own first line: see _numbered),
    None for a block."""
    if isinstance(work, FileSpan):
        block, offset = work.read(files), work.offset
    else:
        block, offset = work, None
    return render_block(ruleset.render, block, check, ruleset.render_short), offset


def _render_block(work: Block | FileSpan) -> tuple[Rendered, int | None]:
    """_render_work in a worker process, with the ruleset it loaded (its file open until the
    next file's span, or the worker's end)."""
    if "error" in _worker:
        raise _worker["error"]
    return _render_work(work, _worker["ruleset"], _worker.get("check"), _worker.setdefault("files", {}))


def _numbered(results: Iterable[tuple[Rendered, int | None]]) -> Iterator[Rendered]:
    """The outcomes of blocks and spans, in input order, the spans' failures numbered in
    their file (a span counts its lines from 1; the lines of the spans before it are added)."""
    lines_before = 0  # in the file the current spans come from
    for outcome, offset in results:
        if offset is None:
            yield outcome
            continue
        if offset == 0:  # a file's first span
            lines_before = 0
        if lines_before and outcome.failures:
            failures = [replace(f, line=f.line + lines_before) for f in outcome.failures]
            outcome = replace(outcome, failures=failures)
        lines_before += outcome.lines
        yield outcome


def render_serial(
    ruleset: Ruleset, check: Callable[[dict[str, Any]], list[Any]] | None, source: Iterable[Block | FileSpan]
) -> Generator[Rendered, None, None]:
    """Each block's rendering (as render_block) in this process, in input order: spans are
    read here, with no copy and no count of their lines but the render's own."""
    files: dict[str, int] = {}
    try:
        yield from _numbered(_render_work(work, ruleset, check, files) for work in source)
    finally:
        close_files(files)


def render_parallel(
    ruleset: Ruleset, name: str, validate: bool, source: Iterable[Block | FileSpan], jobs: int
) -> Generator[Rendered, None, None]:
    """Each block's rendering (as render_block), spread over JOBS processes, in input order.
    Forked workers render with RULESET itself; where processes cannot be forked, each loads
    the ruleset NAME again."""
    import multiprocessing

    keep_freed_memory()
    fork = can_fork()
    if fork:
        _worker["inherited"] = ruleset  # taken by _start_worker in each worker forked, even later
    try:
        context = multiprocessing.get_context("fork" if fork else None)
        with context.Pool(jobs, _start_worker, (name, validate)) as pool:
            yield from _numbered(pool.imap(_render_block, source))
    finally:
        _worker.pop("inherited", None)
