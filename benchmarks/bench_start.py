"""Start-up: what one small command costs, against `python -c pass` and `jq`, in the same run.

    python benchmarks/bench_start.py [--runs 30]

Times (median wall clock of RUNS, after warm-up runs that also write the bytecode a wheel
install would have) `import mapper`, `mapper.load("okta-default")` in a new process with the
compile cache and without it, and `mapper render one.json` with and without the cache,
next to `python -c pass` and `jq -c . one.json`. The cache lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe

PROFILE = {"login": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"}


def median_ms(command: list[str], env: dict[str, str], runs: int) -> float:
    for _ in range(3):  # warm-up: the page cache, bytecode, the compile cache
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    script = Path(sys.executable).parent / "mapper"
    mapper_cli = [str(script)] if script.exists() else [sys.executable, "-m", "mapper.cli"]
    with tempfile.TemporaryDirectory() as folder:
        one = Path(folder) / "one.json"
        one.write_text(json.dumps(PROFILE))
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "MAPPER_NO_CACHE")}
        env["MAPPER_CACHE_DIR"] = str(Path(folder) / "cache")
        no_cache = {**env, "MAPPER_NO_CACHE": "1"}
        load = "import mapper; mapper.load('okta-default')"
        rows = [
            ("python -c pass", [sys.executable, "-c", "pass"], env),
            ("import mapper", [sys.executable, "-c", "import mapper"], env),
            ("import mapper; load('okta-default'), cached", [sys.executable, "-c", load], env),
            ("import mapper; load('okta-default'), no cache", [sys.executable, "-c", load], no_cache),
            ("mapper render one.json, cached", [*mapper_cli, "render", str(one)], env),
            ("mapper render one.json, no cache", [*mapper_cli, "render", str(one)], no_cache),
        ]
        if shutil.which("jq"):
            rows.append(("jq -c . one.json", ["jq", "-c", ".", str(one)], env))
        results = [(name, median_ms(command, e, args.runs)) for name, command, e in rows]
    base = results[0][1]
    print(describe())
    print(f"median of {args.runs} runs\n")
    print("| command | ms | over `python -c pass` |")
    print("|---|---|---|")
    for name, ms in results:
        print(f"| {name} | {ms:.1f} | {ms - base:+.1f} |")


if __name__ == "__main__":
    main()
