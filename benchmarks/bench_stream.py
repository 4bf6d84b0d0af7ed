"""Whole exports, end to end: `mapper render users.jsonl` against `jq -c` doing a comparable
projection of the same file, in the same run.

    python benchmarks/bench_stream.py [--users 200000]

Generates an export of Okta Users API users, then times (best of three, wall clock, output
to a file): mapper with one process and with --jobs 2, and jq mapping each user to the
okta-default resource's shape (the same attributes; no checks). Needs jq on the PATH.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe

# okta-default's mapping as a jq program: the same output shape, none of mapper's checks.
JQ = (
    '{schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], externalId: .id, userName: .profile.login,'
    " name: {givenName: .profile.firstName, familyName: .profile.lastName},"
    " displayName: .profile.displayName, title: .profile.title, locale: .profile.locale,"
    ' emails: [{value: .profile.email, type: "work", primary: true}],'
    ' phoneNumbers: [{value: .profile.primaryPhone, type: "work", primary: true}],'
    ' active: (.status != "DEPROVISIONED"),'
    ' "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {department: .profile.department}}'
)


def export(path: Path, users: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for i in range(users):
            profile = {
                "login": f"user{i}@example.com", "email": f"user{i}@example.com", "firstName": "Ada",
                "lastName": f"L{i}", "displayName": f"Ada L{i}", "title": "Engineer", "department": "R&D",
                "primaryPhone": "+1 555 0100", "locale": "en-US",
            }  # fmt: skip
            out.write(json.dumps({"id": f"00u{i:08d}", "status": "ACTIVE", "profile": profile}) + "\n")


def best(command: list[str], output: Path, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        with output.open("wb") as out:
            start = time.perf_counter()
            subprocess.run(command, stdout=out, stderr=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=200_000)
    args = parser.parse_args()
    jq = shutil.which("jq")
    mapper = shutil.which("mapper", path=str(Path(sys.executable).parent))
    if jq is None or mapper is None:
        sys.exit("needs jq on the PATH and mapper installed next to this Python")
    with tempfile.TemporaryDirectory() as folder:
        users = Path(folder) / "users.jsonl"
        export(users, args.users)
        out = Path(folder) / "out.jsonl"
        rows = [
            ("mapper render (1 process)", best([mapper, "render", str(users), "-q"], out)),
            ("mapper render --jobs 2", best([mapper, "render", str(users), "--jobs", "2", "-q"], out)),
            ("jq -c (same shape, no checks)", best([jq, "-c", JQ, str(users)], out)),
        ]
    print(describe())
    print(f"{args.users:,} users, best of 3, wall clock")
    print(f"| {'':32} | s | users/s |")
    print(f"|{'-' * 34}|---|---|")
    for name, seconds in rows:
        print(f"| {name:32} | {seconds:.2f} | {args.users / seconds:,.0f} |")
    print()
    json_libraries()


def json_libraries() -> None:
    """The JSON part of a record: read one Users API line, write one resource, per library."""
    import timeit

    import mapper

    line = _one_line()
    resource = mapper.load("okta-default").render(json.loads(line))
    candidates: dict[str, tuple[object, object]] = {
        "json": (json.loads, lambda r: (json.dumps(r, ensure_ascii=False) + "\n").encode())
    }
    try:
        import orjson

        candidates["orjson"] = (orjson.loads, lambda r: orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE))
    except ImportError:
        pass
    try:
        import msgspec

        decoder, encoder = msgspec.json.Decoder(), msgspec.json.Encoder()
        candidates["msgspec"] = (decoder.decode, lambda r: encoder.encode(r) + b"\n")
    except ImportError:
        pass
    print("| library | read a line, µs | write a resource, µs |")
    print("|---|---|---|")
    for name, (loads, dumps) in candidates.items():
        read = min(timeit.repeat(lambda: loads(line), number=100_000, repeat=3)) * 10  # noqa: B023
        write = min(timeit.repeat(lambda: dumps(resource), number=100_000, repeat=3)) * 10  # noqa: B023
        print(f"| {name} | {read:.2f} | {write:.2f} |")


def _one_line() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "one.jsonl"
        export(path, 1)
        return path.read_bytes().strip()


if __name__ == "__main__":
    main()
