"""Render speed: mapper's compiled rulesets against hand-written Python, jmespath
and jsonata-python, all measured in this one run; the inbound direction (app to
Okta) beside render and against a hand-written inbound function; and the cost of
loading a ruleset in a fresh process.

    python benchmarks/bench_render.py [--quick]

Prints microseconds per call and ratios to the hand-written function: the functions
compared take turns, and each figure is the best of its runs, so that a slow minute of a
shared machine does not fall on one of them alone (the ratios are taken in the same minute). Needs the dev extra (jmespath, jsonata-python).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from handwritten import BASELINES, appspace_inbound, okta_default_plain
from machine import describe

import mapper

USER = {
    "id": "00u1a2b3c4d5e6f7g8h9",
    "status": "ACTIVE",
    "profile": {
        "login": "ada.lovelace@example.com",
        "email": "ada.lovelace@example.com",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "displayName": "Ada Lovelace",
        "title": "Analyst",
        "department": "Research",
        "mobilePhone": "+44 20 7946 0958",
        "costCenter": "CC-1815",
        "employeeNumber": "1815",
        "organization": "Analytical Engines",
        "division": "R&D",
        "managerId": "00u0babbage",
    },
}

# The okta-default mapping in the two query languages (nulls are not pruned:
# neither language does that cheaply, so they do slightly less work than mapper).
JMESPATH = (
    "{schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', "
    "'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'], "
    "externalId: id, userName: profile.login, "
    "name: {givenName: profile.firstName, familyName: profile.lastName}, "
    "displayName: profile.displayName, title: profile.title, "
    "emails: [{value: profile.email, type: 'work', primary: `true`}], "
    "phoneNumbers: [{value: profile.primaryPhone || profile.mobilePhone, type: 'work', primary: `true`}], "
    "active: status != 'SUSPENDED' && status != 'DEPROVISIONED', "
    '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {department: profile.department}}'
)
JSONATA = """{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
  "externalId": id, "userName": profile.login,
  "name": {"givenName": profile.firstName, "familyName": profile.lastName},
  "displayName": profile.displayName, "title": profile.title,
  "emails": [{"value": profile.email, "type": "work", "primary": true}],
  "phoneNumbers": [{"value": profile.primaryPhone ? profile.primaryPhone : profile.mobilePhone, "type": "work", "primary": true}],
  "active": status != "SUSPENDED" and status != "DEPROVISIONED",
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": profile.department}
}"""


def interleaved_us(
    functions: dict[str, Callable[[], Any]], rounds: int, target_seconds: float
) -> dict[str, float]:
    """The best microseconds per call of each function over ROUNDS rounds in which they take
    turns (TARGET_SECONDS each): on a noisy machine the closest view of the code itself, and
    ratios between them are taken in the same minute."""
    timers = {name: timeit.Timer(function) for name, function in functions.items()}
    numbers = {name: max(1, int(t.autorange()[0] * target_seconds / 0.2)) for name, t in timers.items()}
    best = dict.fromkeys(functions, float("inf"))
    for _ in range(rounds):
        for name, timer in timers.items():
            best[name] = min(best[name], timer.timeit(numbers[name]) / numbers[name] * 1e6)
    return best


def fresh_process_ms(code: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        times.append(float(out.stdout))
    return statistics.median(times) * 1000


def timing_options(description: str | None) -> tuple[int, float]:
    """(repeats, seconds per repeat) from the command line: --quick for a smoke run."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repeats (for a smoke run)")
    return (3, 0.05) if parser.parse_args().quick else (7, 0.3)


def main() -> None:
    repeat, seconds = timing_options(__doc__)
    rounds, turn = repeat * 3, seconds / 3

    print(describe())
    print(f"interleaved, best of {rounds} runs each; µs per call\n")
    print(f"{'ruleset':<14}{'mapper':>9}{'by hand':>9}{'ratio':>8}")
    for name, baseline in BASELINES.items():
        ruleset = mapper.load(name)
        assert ruleset.render(USER) == baseline(USER), f"{name}: the baseline must build the same resource"
        best = interleaved_us(
            {"ours": lambda r=ruleset: r.render(USER), "theirs": lambda b=baseline: b(USER)},  # type: ignore[misc]
            rounds,
            turn,
        )
        ours, theirs = best["ours"], best["theirs"]
        print(f"{name:<14}{ours:>9.2f}{theirs:>9.2f}{ours / theirs:>7.2f}x")

    okta = mapper.load("okta-default")
    assert okta.render(USER) == okta_default_plain(USER), "the plain baseline must build the same resource"
    # The plain comparison apart from the other engines: their garbage slows whatever runs next.
    best = interleaved_us(
        {"mapper": lambda: okta.render(USER), "plain": lambda: okta_default_plain(USER)}, rounds, turn
    )
    ours, plain = best["mapper"], best["plain"]
    print("\nokta-default against the plainest hand-written function (no checks):")
    print(f"  mapper {ours:6.2f} µs   plain {plain:6.2f} µs   {ours / plain:5.2f}x plain")

    engines: dict[str, Callable[[], Any]] = {
        "mapper": lambda: okta.render(USER),
        "hand-written": lambda: BASELINES["okta-default"](USER),
    }
    try:
        import jmespath

        compiled = jmespath.compile(JMESPATH)
        engines["jmespath"] = lambda: compiled.search(USER)
    except ImportError:
        print("  jmespath not installed (pip install -e '.[dev]')")
    try:
        import jsonata

        expression = jsonata.Jsonata(JSONATA)
        engines["jsonata-python"] = lambda: expression.evaluate(USER)
    except ImportError:
        print("  jsonata-python not installed (pip install -e '.[dev]')")
    best = interleaved_us(engines, rounds, turn)
    hand = best["hand-written"]
    print("\nokta-default in other engines (same run):")
    for label in ("mapper", "jmespath", "jsonata-python"):
        if label in best:
            print(f"  {label:<16}{best[label]:>10.2f} µs  {best[label] / hand:>8.1f}x hand-written")

    appspace = mapper.load("appspace")
    resource = appspace.render(USER)
    assert appspace.inbound(resource) == appspace_inbound(resource), "the baseline must map the same"
    best = interleaved_us(
        {
            "inbound": lambda: appspace.inbound(resource),
            "by hand": lambda: appspace_inbound(resource),
            "render": lambda: appspace.render(USER),
        },
        rounds,
        turn,
    )
    inbound, by_hand, render = best["inbound"], best["by hand"], best["render"]
    print("\nappspace inbound (its resource back to an Okta profile), same run:")
    print(f"  inbound {inbound:6.2f} µs   by hand {by_hand:6.2f} µs   {inbound / by_hand:5.2f}x by hand")
    print(f"  render  {render:6.2f} µs   inbound / render {inbound / render:5.2f}")

    runs = repeat
    timed = "import time, mapper; t = time.perf_counter(); mapper.load('okta-default'{}); print(time.perf_counter() - t)"
    with_import = "import time; t = time.perf_counter(); import mapper; mapper.load('okta-default'); print(time.perf_counter() - t)"
    print("\nfresh process, okta-default (median of", runs, "processes):")
    print(
        f"  load + check + compile:          {fresh_process_ms(timed.format(', cache=False'), runs):6.1f} ms"
    )
    print(f"  load from the compile cache:     {fresh_process_ms(timed.format(''), runs):6.1f} ms")
    print(f"  the same plus `import mapper`:   {fresh_process_ms(with_import, runs):6.1f} ms")


if __name__ == "__main__":
    main()
