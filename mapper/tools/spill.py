"""Outcomes spilled to files with their sort keys and merged back in key order: how a
whole-export tool (``mapper plan``) puts the outcomes of its buckets and processes back in
the order of its exports while holding only a few of them in memory."""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from mapper.tools.bulk import FailureCode, RecordFailure

#: Where an outcome goes in the output, compared as a tuple: (phase, position, sequence). For
#: ``mapper plan``, phase 0 is OLD's failures by record, 1 NEW's outcomes by record, 2 the users
#: gone, by Okta id (as the state lists them).
Key = tuple[int, Any, int]

#: The most spill files merged at once (each is an open file).
FANIN = 64


class Spill:
    """Outcomes written as JSON lines of [Key, kind, outcome] (a failure without its value: the
    command prints the message), to be merged in Key order; read back by outcomes."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.stream: Any = None

    def __enter__(self) -> Spill:
        self.stream = open(self.path, "wb")  # closed by __exit__
        return self

    def __exit__(self, *_: object) -> None:
        self.stream.close()

    def write(self, key: Key, outcome: dict[str, Any] | RecordFailure) -> None:
        written: list[Any] = [key, "request", outcome]
        if isinstance(outcome, RecordFailure):
            failure = [outcome.source, outcome.line, outcome.okta_id, outcome.code.value, outcome.message]
            written = [key, "failure", failure]
        try:
            line = orjson.dumps(written, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # a lone surrogate the export held, an integer past 64 bits
            line = b"null"
        if b"null" in line:
            # orjson's text would not read back the same (it writes an infinite float, from
            # 1e400 in the export, as null), or holds a null that may be one: the standard
            # library's JSON, marked by a leading space for outcomes() to read it with the
            # reader that keeps all three.
            line = b" " + json.dumps(written).encode("ascii") + b"\n"
        self.stream.write(line)


def outcomes(path: str) -> Iterator[tuple[Key, dict[str, Any] | RecordFailure]]:
    """The (Key, outcome) pairs a Spill wrote to PATH (this run's own file)."""
    with open(path, "rb") as stream:
        for line in stream:
            key, kind, outcome = json.loads(line) if line[:1] == b" " else orjson.loads(line)
            if kind == "failure":
                source, number, okta_id, code, message = outcome
                yield tuple(key), RecordFailure(source, number, okta_id, FailureCode(code), message)
            else:
                yield tuple(key), outcome


def merged(folder: str, paths: list[str]) -> Iterator[tuple[Key, dict[str, Any] | RecordFailure]]:
    """The outcomes of the spill files PATHS (each in Key order) in Key order: merged FANIN
    files at a time, through further spill files, so that a plan never holds more files open."""
    level = 0
    while len(paths) > FANIN:
        level += 1
        merged = []
        for start in range(0, len(paths), FANIN):
            with Spill(Path(folder) / f"merge.{level}.{start}.jsonl") as out:
                for key, outcome in heapq.merge(*map(outcomes, paths[start : start + FANIN]), key=_first):
                    out.write(key, outcome)
            merged.append(out.path)
        paths = merged
    yield from heapq.merge(*map(outcomes, paths), key=_first)


def _first(item: tuple[Key, Any]) -> Key:
    return item[0]
