"""``mapper plan`` trusts a record of NEW unparsed when it is byte for byte OLD's record of
the same Okta id, and sends each process the users whose id a record begins with: both held
to the plan first written (tests/support/plan_reference.py), for exports holding every kind
of record (the same user written other ways, ids escaped or not first, two ids in one
record, broken records, profile errors, duplicates, users gone, new and deprovisioned)."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

import mapper
from mapper.tools import plan_exports, spill
from mapper.tools.bulk import Block, Record, RecordFailure
from mapper.tools.plan_exports import Summary, _hint, _user, plan
from tests.support.plan_reference import reference_plan

RULESET = mapper.load("okta-default")
IDS = ["00u1", "00u2", "00u3", "00u4", "00u5"]

user = st.fixed_dictionaries(
    {
        "id": st.sampled_from(IDS),
        "status": st.sampled_from(["ACTIVE", "DEPROVISIONED", "SUSPENDED"]),
        "profile": st.fixed_dictionaries(
            {"login": st.sampled_from(["a@x.io", "b@x.io"])},
            optional={"title": st.sampled_from(["T", "Boss", 7]), "department": st.sampled_from(["D", ""])},
        ),
    }
)


def _written(document: dict[str, Any], how: str) -> str:
    """DOCUMENT as one record, in one of the ways an export may write it (or break it)."""
    if how == "compact":
        return json.dumps(document, separators=(",", ":"))
    if how == "spaced":
        return "  " + json.dumps(document, indent=None)
    if how == "id-last":
        rest = {k: v for k, v in document.items() if k != "id"}
        return json.dumps({**rest, "id": document["id"]})
    if how == "escaped":
        return json.dumps(document).replace('"00u', '"\\u0030\\u0030u', 1)
    if how == "two-ids":
        return json.dumps(document).replace("{", '{"id": "00u9", ', 1)
    if how == "broken":
        return json.dumps(document)[:-1]
    return "[1]"


record_text = st.builds(
    _written,
    user,
    st.sampled_from(["compact", "compact", "spaced", "id-last", "escaped", "two-ids", "broken", "x"]),
)


@st.composite
def exports(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    old = draw(st.lists(record_text, max_size=8))
    new = draw(st.lists(st.one_of(record_text, st.sampled_from(old) if old else record_text), max_size=8))
    return old, new


def _blocks(lines: list[str], source: str, size: int = 2) -> list[Block]:
    """LINES as an export read in blocks of SIZE lines (a blank line after every third)."""
    text = [line + ("\n\n" if n % 3 == 2 else "\n") for n, line in enumerate(lines)]
    blocks, first = [], 1
    for start in range(0, len(text), size):
        data = "".join(text[start : start + size]).encode()
        blocks.append(Block(source, first, data, True))
        first += data.count(b"\n")
    return blocks


def _numbered(lines: list[str], source: str) -> list[Record]:
    """The records _blocks makes of LINES, with their line numbers (the reference reads these)."""
    return [Record(source, n + 1 + n // 3, line.encode()) for n, line in enumerate(lines)]


def _plain(outcome: dict[str, Any] | RecordFailure) -> Any:
    if isinstance(outcome, RecordFailure):
        return ("failure", outcome.source, outcome.line, outcome.okta_id, outcome.code, outcome.message)
    return outcome


STYLES = st.sampled_from(["rfc", "no-path", "whole-multivalued"])
#: Buckets the users are spread over: one holds every user; several split duplicates' and
#: OLD's and NEW's records of a user only if the hash disagreed.
BUCKETS = st.sampled_from([1, 2, 3, 64])


def _reference(old: list[str], new: list[str], style: str) -> tuple[list[Any], Summary]:
    summary = Summary()
    planned = reference_plan(RULESET, _numbered(old, "old"), _numbered(new, "new"), style, summary)
    return list(map(_plain, planned)), summary


@given(exports(), STYLES, BUCKETS, st.integers(min_value=1, max_value=3))
def test_plan_is_the_reference_plan(
    generated: tuple[list[str], list[str]], style: str, buckets: int, size: int
) -> None:
    old, new = generated
    expected, expected_summary = _reference(old, new, style)
    summary = Summary()
    planned = list(
        map(
            _plain,
            plan(RULESET, _blocks(old, "old", size), _blocks(new, "new", size), style, summary, buckets),
        )
    )
    assert planned == expected
    assert summary == expected_summary


@given(
    exports(), st.integers(min_value=2, max_value=4), STYLES, BUCKETS, st.integers(min_value=1, max_value=3)
)
def test_the_shares_of_a_plan_merge_into_the_reference_plan(
    generated: tuple[list[str], list[str]], shares: int, style: str, buckets: int, size: int
) -> None:
    """Cut in shares as plan_parallel cuts it for as many processes (each spreading a
    contiguous share of each export's bytes, then planning every Nth bucket), done here one
    after the other."""
    old, new = generated
    expected, expected_summary = _reference(old, new, style)
    summary = Summary()
    blocks = _blocks(old, "old", size), _blocks(new, "new", size)
    planned = [_plain(outcome) for outcome in plan(RULESET, *blocks, style, summary, buckets, shares)]
    assert planned == expected
    assert summary == expected_summary


@given(exports(), STYLES, st.integers(min_value=1, max_value=3))
def test_buckets_too_large_are_spread_again_and_many_spills_merged_in_stages(
    generated: tuple[list[str], list[str]], style: str, parts: int
) -> None:
    """A bucket past BUCKET_MOST (a pipe, a size that lied) is spread again, by another hash,
    up to three times; spill files are merged FANIN at a time: still the reference plan."""
    old, new = generated
    expected, expected_summary = _reference(old, new, style)
    summary = Summary()
    with (
        mock.patch.object(plan_exports, "BUCKET_MOST", 150),
        mock.patch.object(plan_exports, "BUCKET_BYTES", 60),
        mock.patch.object(spill, "FANIN", 2),
    ):
        blocks = _blocks(old, "old"), _blocks(new, "new")
        planned = [_plain(outcome) for outcome in plan(RULESET, *blocks, style, summary, 2, parts)]
    assert planned == expected
    assert summary == expected_summary


@given(
    st.lists(
        st.one_of(
            st.sampled_from(
                ["{", '"id"', '"00u1"', '"00u2"', ":", ",", " ", "\t", "\\", '"', "}", '"\\u0030"', "é"]
            ),
            st.text(max_size=3),
        ),
        max_size=14,
    )
)
def test_a_record_that_parses_has_the_id_it_begins_with(pieces: list[str]) -> None:
    """The hint that sends a record to a process and finds OLD's record is the id the record
    parses with, whenever it parses (a key given twice is refused by the reader)."""
    record = Record("f", 1, "".join(pieces).encode("utf-8", "surrogatepass"))
    hint, parsed = _hint(record), _user(record)
    if hint is not None and not isinstance(parsed, RecordFailure):
        assert parsed[0] == hint


def test_an_unchanged_record_is_neither_parsed_nor_rendered(monkeypatch: Any) -> None:
    """The point of the shortcut: NEW's records that are OLD's cost a lookup, not a decision."""
    lines = [
        json.dumps({"id": f"00u{i}", "status": "ACTIVE", "profile": {"login": f"u{i}@x.io"}})
        for i in range(50)
    ]
    changed = [*lines[:49], lines[49].replace("u49@", "v49@")]
    calls = []
    real = plan_exports.decide
    monkeypatch.setattr(plan_exports, "decide", lambda *args: calls.append(args[3]) or real(*args))
    summary = Summary()
    requests = list(plan(RULESET, _blocks(lines, "old"), _blocks(changed, "new"), "rfc", summary))
    assert [r["okta_id"] for r in requests if isinstance(r, dict)] == ["00u49"]
    assert sorted(calls) == sorted([f"00u{i}" for i in range(50)] + ["00u49"])  # OLD's 50, NEW's one change
    assert summary.kinds["unchanged"] == 49


def test_spilled_outcomes_read_back_as_they_were_written(tmp_path: Any) -> None:
    """Outcomes go through spill files as orjson's JSON, or the standard library's where
    orjson's would not read back the same: text with a lone surrogate, an integer past 64
    bits, an infinite float (1e400 in an export), which orjson writes as null."""
    from mapper.tools.bulk import FailureCode

    outcomes: list[Any] = [
        {"okta_id": "00u1", "body": {"title": "Boss", "x": [1, 2.5, True]}},
        {"okta_id": "00u2", "body": {"title": "\ud800 lone"}},
        {"okta_id": "00u3", "body": {"employeeNumber": 2**70}},
        {"okta_id": "00u4", "body": {"x": float("inf"), "y": float("-inf")}},
        {"okta_id": "00u5", "method": "DELETE", "body": None},
        {"okta_id": "00u6", "body": {"displayName": "Zoë ☃ \u2028"}},
        RecordFailure("new.jsonl", 3, None, FailureCode.INVALID_JSON, "invalid JSON: no value"),
    ]
    with spill.Spill(tmp_path / "spill.jsonl") as spilled:
        for index, outcome in enumerate(outcomes):
            spilled.write((1, index, 0), outcome)
    assert list(spill.outcomes(spilled.path)) == [((1, i, 0), o) for i, o in enumerate(outcomes)]


def test_shares_split_the_blocks_by_their_bytes_a_record_too_large_counting_its_own() -> None:
    """Every record goes to exactly one share, the shares one after the other in the export's
    order; a record too large to read stands for its size (one share would get all else)."""
    from mapper.tools.plan_exports import _block_lines

    line = b'{"id": "00u1", "profile": {"login": "a@x.io"}}\n'
    blocks = [Block("e", 1, b"\n", True, 40 << 20), *(Block("e", 2 + i, line, True) for i in range(40))]
    blocks.insert(20, Block("e", 21, b"\n", True, 40 << 20))
    total = sum(b.dropped or len(b.data) for b in blocks)
    shares = [[place for place, *_ in _block_lines(blocks, k, 2, total)] for k in range(2)]
    assert all(shares) and shares[0] + shares[1] == [place for place, *_ in _block_lines(blocks, 0, 1, 0)]
    assert max(shares[0]) < min(shares[1])


def test_a_worker_that_cannot_read_an_export_fails_the_plan_clearly(tmp_path: Any) -> None:
    """plan --jobs reads the exports in its worker processes: a file that cannot be read there
    (here one that says it is a regular file and then fails every read) is one clear line and
    exit code 2, as with one process, not a pool waiting for ever."""
    import os
    import subprocess

    from tests.support.cli import mapper_process

    if not os.path.exists("/proc/self/mem"):
        import pytest

        pytest.skip("needs Linux's /proc/self/mem")
    broken = tmp_path / "old.jsonl"
    broken.symlink_to("/proc/self/mem")
    new = tmp_path / "new.jsonl"
    new.write_text('{"id": "00u1", "status": "ACTIVE", "profile": {"login": "a@x.io"}}\n')
    for jobs in ("1", "2"):
        try:
            done = mapper_process("plan", str(broken), str(new), "--jobs", jobs, "-q", timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"plan --jobs {jobs} did not end") from None
        assert done.returncode == 2, done.stderr
        assert done.stderr.decode().strip().endswith("old.jsonl: Input/output error")


@given(
    outcome=st.dictionaries(
        st.text(max_size=8), st.one_of(st.text(), st.integers(), st.booleans(), st.none())
    )
)
def test_a_plan_line_is_the_standard_librarys_json_and_any_integer_is_written(
    outcome: dict[str, Any],
) -> None:
    """plan writes its lines with orjson, and with the standard library what orjson refuses
    (an integer past 64 bits): either way one line of compact JSON that reads back the same."""
    from mapper.cli.plan import _line

    line = _line(outcome)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line) == outcome
    assert _line({"big": 2**70}) == b'{"big":1180591620717411303424}\n'
