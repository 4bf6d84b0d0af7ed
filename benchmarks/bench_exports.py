"""The whole-export tools against `mapper render` of the same export, in the same run:
`mapper review OLD NEW --profiles users.jsonl` and `mapper plan OLD_EXPORT NEW_EXPORT`, each with one process and with --jobs.

    python benchmarks/bench_exports.py [--users 200000] [--jobs 2] [--repeat 3]

Generates an export of Okta Users API users (and a second one in which a tenth changed
title and a hundredth left), a ruleset change (title defaulted, department added), then
times each command, wall clock with start-up, output to a file, the best of --repeat runs
(the commands take turns, so that a slow minute of a shared machine slows all of them);
the last column is the command's time over `mapper render`'s with as many processes.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_stream import export
from machine import describe


def changed(source: Path, target: Path) -> None:
    """SOURCE with a tenth of the users' title changed and a hundredth gone."""
    with source.open() as old, target.open("w") as new:
        for i, line in enumerate(old):
            if i % 100 == 99:
                continue
            new.write(line.replace('"Engineer"', '"Staff engineer"') if i % 10 == 0 else line)


def timed(command: list[str], out: Path) -> float:
    start = time.perf_counter()
    with out.open("wb") as sink:
        subprocess.run(command, stdout=sink, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.users < 1 or args.jobs < 1 or args.repeat < 1:
        parser.error("--users, --jobs and --repeat must be at least 1")
    mapper = [sys.executable, "-m", "mapper.cli"]
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        users, later = work / "users.jsonl", work / "later.jsonl"
        export(users, args.users)
        changed(users, later)
        new = work / "new.mapper"
        new.write_text(
            'ruleset new extends okta-default\ntitle <- user.title ?: "Staff"\n'
            "enterprise:costCenter <- user.department\n"
        )
        out = work / "out"
        commands: dict[str, list[str]] = {}
        for jobs in sorted({1, args.jobs}):
            commands[f"render, --jobs {jobs}"] = [
                *mapper,
                "render",
                str(users),
                "-o",
                str(out),
                "-q",
                "--jobs",
                str(jobs),
            ]
            commands[f"review --profiles, --jobs {jobs}"] = [
                *mapper, "review", "okta-default", str(new), "--profiles", str(users), "--jobs", str(jobs),
            ]  # fmt: skip
            commands[f"plan, --jobs {jobs} (two exports)"] = [
                *mapper, "plan", str(users), str(later), "-o", str(out), "-q", "--jobs", str(jobs),
            ]  # fmt: skip
        best = dict.fromkeys(commands, float("inf"))
        for _ in range(args.repeat):
            for name, command in commands.items():
                best[name] = min(best[name], timed(command, out.with_suffix(".txt")))
        rows = []
        for name, seconds in best.items():
            jobs = name.split("--jobs ")[1].split()[0]
            rows.append((name, seconds, best[f"render, --jobs {jobs}"]))
    print(describe())
    print(f"{args.users:,} users, wall clock with start-up, best of {args.repeat}\n")
    print("| command | s | users/s | vs render |")
    print("|---|---|---|---|")
    for name, seconds, anchor in rows:
        print(f"| {name} | {seconds:.2f} | {args.users / seconds:,.0f} | {seconds / anchor:.2f}x |")


if __name__ == "__main__":
    main()
