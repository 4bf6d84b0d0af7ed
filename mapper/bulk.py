"""Whole exports through a ruleset: JSON Lines in, one resource per line out.

Records come from JSON Lines files (``.jsonl``, ``.ndjson``: one Okta profile or
Users API user per line), from ``.json`` files (one record each), from folders of
those, or from standard input. They are read one line at a time, so memory does
not grow with the export. A record that cannot be read or mapped does not stop the
run: it becomes a :class:`Failure` (file, line, Okta id, code, message) and the run
goes on; the caller decides what to print and which exit code that means.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from mapper import jsonio
from mapper.errors import NO_VALUE, ProfileError

LINE_SUFFIXES = (".jsonl", ".ndjson")
FILE_SUFFIXES = (".json", *LINE_SUFFIXES)


class EmptyFolder(Exception):
    """A folder given as input that holds no profile file."""


@dataclass(frozen=True)
class Record:
    source: str  # the file, or <stdin>
    line: int
    data: bytes


@dataclass(frozen=True)
class Failure:
    source: str
    line: int
    okta_id: str | None
    code: str  # "invalid-json" | "profile" | "invalid-scim"
    message: str  # never a profile value
    value: object = NO_VALUE  # the offending value, for --show-values

    def as_json(self) -> str:
        record = {"file": self.source, "line": self.line, "id": self.okta_id, "code": self.code}
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


def encoded(outcomes: Iterable[dict[str, Any] | Failure]) -> Iterator[bytes | Failure]:
    """Resources as JSON lines (UTF-8); one that cannot be encoded (a lone surrogate from the
    input) becomes a Failure."""
    for outcome in outcomes:
        if isinstance(outcome, Failure):
            yield outcome
            continue
        try:
            yield orjson.dumps(outcome, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # orjson refuses a lone surrogate
            yield Failure(
                "", 0, None, "invalid-output", "the resource would hold text that is not valid Unicode"
            )


# ---------------------------------------------------------------- several processes

_worker: dict[str, Any] = {}


def _start_worker(ruleset: str, validate: bool) -> None:
    from mapper.ruleset import load

    compiled = _worker["ruleset"] = load(ruleset)
    if validate:
        from mapper.validate import validate as check

        _worker["check"] = lambda resource: check(resource, compiled.plan)


@dataclass(frozen=True)
class Block:
    """Whole lines of one input file, read in one piece: what a worker process gets."""

    source: str
    first_line: int
    data: bytes
    lines: bool  # JSON Lines (else the block is one JSON document)


def blocks(name: str, stream: IO[bytes], lines: bool, size: int = 1 << 20) -> Iterator[Block]:
    """The file in blocks of about SIZE bytes that end at a line's end."""
    label = "<stdin>" if name == "-" else name
    if not lines:
        yield Block(label, 1, stream.read(), False)
        return
    line = 1
    rest = b""
    while chunk := stream.read(size):
        data = rest + chunk
        end = data.rfind(b"\n") + 1
        if end == 0:
            rest = data
            continue
        yield Block(label, line, data[:end], True)
        line += data.count(b"\n", 0, end)
        rest = data[end:]
    if rest:
        yield Block(label, line, rest, True)


def block_records(block: Block) -> Iterator[Record]:
    if not block.lines:
        yield Record(block.source, block.first_line, block.data)
        return
    for offset, line in enumerate(block.data.splitlines(keepends=True)):
        if line.strip():
            yield Record(block.source, block.first_line + offset, line)


def _render_block(block: Block) -> tuple[bytes, list[Failure], int]:
    """One block in a worker: the resources as JSON lines, the failures, and how many rendered."""
    out: list[bytes] = []
    failures: list[Failure] = []
    for outcome in encoded(
        render_records(_worker["ruleset"].render, block_records(block), _worker.get("check"))
    ):
        if isinstance(outcome, Failure):
            failures.append(outcome)
        else:
            out.append(outcome)
    return b"".join(out), failures, len(out)


def render_parallel(
    ruleset: str, validate: bool, source: Iterable[Block], jobs: int
) -> Iterator[tuple[bytes, list[Failure], int]]:
    """Each block's rendering (as _render_block), spread over JOBS processes, in input order."""
    import multiprocessing

    with multiprocessing.get_context().Pool(jobs, _start_worker, (ruleset, validate)) as pool:
        yield from pool.imap(_render_block, source)


def render_records(
    render: Callable[[Any], dict[str, Any]],
    source: Iterable[Record],
    validate: Callable[[dict[str, Any]], list[Any]] | None = None,
) -> Iterator[dict[str, Any] | Failure]:
    """Each record's resource, or the Failure that says why there is none."""
    for record in source:
        try:
            document = jsonio.parse_fast(record.data, record.source, first_line=record.line)
        except jsonio.JsonInputError as exc:
            yield Failure(record.source, record.line, None, "invalid-json", exc.reason)
            continue
        okta_id = (
            document.get("id") if isinstance(document, dict) and isinstance(document.get("id"), str) else None
        )
        try:
            resource = render(document)
        except ProfileError as exc:
            yield Failure(record.source, record.line, okta_id, "profile", str(exc), exc.value)
            continue
        problems = validate(resource) if validate is not None else []
        if problems:
            for problem in problems:
                yield Failure(
                    record.source, record.line, okta_id, "invalid-scim", f"invalid SCIM: {problem}",
                    getattr(problem, "value", NO_VALUE),
                )  # fmt: skip
            continue
        yield resource
