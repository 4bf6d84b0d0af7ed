"""mapper sync against scim2-server on loopback, in one run: a first sync as Okta makes it (a
search and a create per user, each request alone: --no-list --no-bulk), the same with the
app's users listed once (--no-bulk), the default (listed once, the creates carried in /Bulk
requests, RFC 7644 section 3.7), then an incremental sync (a tenth of the users changed) and
one with nothing to do. Each first sync starts on an empty app; the last column is the first
row's time over the row's.

    python benchmarks/bench_sync.py [--users 3000] [--concurrency 4]

The server (scim2-server, pure Python, in-memory) is the bottleneck here, as an app's rate
limit is in production: the figures say what mapper adds, not what an app allows.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from machine import describe

import mapper
from tests.support.scim_server import running_server


def export(path: Path, users: int, changed: int = 0) -> None:
    with path.open("w") as out:
        for i in range(users):
            title = "Boss" if i < changed else "Engineer"
            profile = {"login": f"u{i}@example.com", "email": f"u{i}@example.com", "firstName": "Ada",
                       "lastName": f"L{i}", "title": title, "costCenter": "C1"}  # fmt: skip
            out.write(json.dumps({"id": f"00u{i:07d}", "status": "ACTIVE", "profile": profile}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    ruleset = mapper.load("appspace")
    extension = ruleset.plan.schemas["urn:ietf:params:scim:schemas:extension:appspace:2.0:User"]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        users = work / "users.jsonl"
        # Each first sync starts on an empty app: a server of its own.
        for runs, extra in (
            (
                (("first sync, searched, each request alone (--no-list --no-bulk)", None),),
                ["--no-list", "--no-bulk"],
            ),
            ((("first sync, listed, each request alone (--no-bulk)", None),), ["--no-bulk"]),
            (
                (
                    ("first sync, listed, creates in /Bulk (the default)", None),
                    ("10% changed", args.users // 10),
                    ("nothing to do", args.users // 10),
                ),
                [],
            ),
        ):
            place = work / f"server{len(rows)}"
            place.mkdir()
            with running_server([extension], place) as server:
                state = work / f"state{len(rows)}.sqlite"
                command = [sys.executable, "-m", "mapper.cli", "sync", str(users), "--to", server.base_url,
                           "-r", "appspace", "--state", str(state), "--concurrency", str(args.concurrency),
                           "--report", str(work / "report.json"), "-q", *extra]  # fmt: skip
                for name, changed in runs:
                    export(users, args.users, changed or 0)
                    start = time.perf_counter()
                    subprocess.run(command, check=True, env={**os.environ, "SCIM_TOKEN": "bench"})
                    seconds = time.perf_counter() - start
                    report = json.loads((work / "report.json").read_text())
                    rows.append(
                        (name, seconds, report["requests"], report["bulkRequests"], report["bulkOperations"])
                    )
    print(describe())
    print(f"{args.users:,} users, concurrency {args.concurrency}, scim2-server on loopback, wall clock\n")
    print("| run | s | users/s | requests | vs the first row |")
    print("|---|---|---|---|---|")
    anchor = rows[0][1]
    for name, seconds, requests, bulk, operations in rows:
        carried = f"{requests:,}" + (f" ({bulk:,} /Bulk carrying {operations:,})" if bulk else "")
        print(
            f"| {name} | {seconds:.2f} | {args.users / seconds:,.0f} | {carried} | {anchor / seconds:.2f}x |"
        )


if __name__ == "__main__":
    main()
