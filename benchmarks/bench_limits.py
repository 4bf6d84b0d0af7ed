"""Worst cases under mapper's limits: the figures behind the README's "Guarantees under bad input".

    python benchmarks/bench_limits.py

Part 1 renders the slowest inputs we know for each function, at the value limit (10,000
characters), and prints the time of one call. Part 2 checks rulesets of about 1 MB (the
file limit) in the shapes that cost the checker most, and prints the time of one load.
Each case runs in this process, one after the other; the figures are the best of three.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable

import mapper
from mapper.core.helpers import MAX_VALUE_CHARS
from mapper.language.loader import MAX_FILE_BYTES

N = MAX_VALUE_CHARS
_random = random.Random(7)
_AB = "".join(_random.choice("ab") for _ in range(N))

# (what, rule expression, title value)
RENDER_CASES = [
    ("replace, a match every other character, 4,000 characters", 'String.replace(user.title, " +", " ")',
     "a " * 2_000),
    ("replace, a match every other character (past the step budget)", 'String.replace(user.title, " +", " ")',
     "a " * (N // 2)),
    ("replace, output amplified 16x, 3,000 characters (stops at the limit)",
     'String.replace(user.title, "a", "' + "$0" * 16 + '")', "a" * 3_000),
    ("replace, quadratic: each search scans to the end", 'String.replace(user.title, "a.*b|a", "x")', "a" * N),
    ("replace, quadratic on RE2's NFA (stops at the step budget)",
     'String.replace(user.title, "a(?:[ab]*a[ab]{200}c)?", "x")', _AB),
    ("replace, the largest pattern allowed", 'String.replace(user.title, "(a|aa|aaa|aaaa){1,100}b", "x")', "a" * N),
    ("replaceFirst, one search over the whole value", 'String.replaceFirst(user.title, "[ab]*a[ab]{1000}c", "x")', _AB),
    ("toUpperCase, doubling ß (stops at the limit)", "String.toUpperCase(user.title)", "ß" * N),
    ("fromStringToIso8601, ten text fields side by side", 'Time.fromStringToIso8601(user.title, "'
     + "MMMEEE" * 5 + '")', "a" * 99),
    ("Convert.toInt of a 10,000-digit number", "Convert.toInt(user.title) + \"\"", "9" * N),
    ("Convert.toInt of 1e999999999", "Convert.toInt(user.title) + \"\"", "1e999999999"),
    ("Convert.toNum of a 10,000-digit number", "Convert.toNum(user.title) + \"\"", "9" * N),
    ("stringSwitch with 200 keys", "String.stringSwitch(user.title, \"d\", "
     + ", ".join(f'"{"a" * 40}{i}", "v{i}"' for i in range(200)) + ")", "a" * N),
]  # fmt: skip


def _best(action: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - start)
    return best


def _render_once(ruleset: mapper.Ruleset, title: str) -> Callable[[], object]:
    def action() -> object:
        try:
            return ruleset.render({"login": "a@example.com", "title": title})
        except mapper.ProfileError as exc:
            return exc

    return action


def render_cases() -> None:
    print(f"Render, one call, values of {N:,} characters")
    print(f"| {'case':60} | ms | outcome |")
    print(f"|{'-' * 62}|---|---|")
    for what, expression, title in RENDER_CASES:
        ruleset = mapper.loads(f"userName <- user.login\ntitle <- {expression}\n", "limits.mapper")
        outcome = _render_once(ruleset, title)()
        shown = outcome.problem if isinstance(outcome, mapper.ProfileError) else "renders"
        print(f"| {what:60} | {_best(_render_once(ruleset, title)) * 1000:.1f} | {shown} |")


def _fill(line: Callable[[int], str], header: str = "userName <- user.login\n") -> str:
    """HEADER, then LINE(i) for i = 0, 1, ... while the text stays within the file limit."""
    parts = [header]
    size = len(header)
    i = 0
    while True:
        piece = line(i)
        if size + len(piece.encode()) > MAX_FILE_BYTES:
            return "".join(parts)
        parts.append(piece)
        size += len(piece.encode())
        i += 1


CHECK_CASES = [
    ("2,000 valid rules, each a 120-argument stringSwitch", lambda: _fill(
        lambda i: f"hr:a{i} <- String.stringSwitch(user.department, \"x\", "
        + ", ".join(f'"k{j}", "v{j}"' for j in range(60)) + ")\n" if i < 2000 else "",
        "userName <- user.login\nschema hr = \"urn:example:hr:2.0:User\" {\n"
        + "".join(f"  a{i}: string\n" for i in range(2000)) + "}\n")),
    ("rules nested 90 parentheses deep", lambda: _fill(lambda i: "title <- " + "(" * 90 + "user.a" + ")" * 90 + "\n")),
    ("30,000 rules with one error each", lambda: _fill(lambda i: f'titel <- user.title + "{i}"\n')),
    ("one line of 40,000 unknown attributes", lambda: "userName <- user.login\ntitle <- String.join(\",\", "
     + ", ".join(f"user.u{i}" for i in range(80_000))[: MAX_FILE_BYTES - 100].rsplit(",", 1)[0] + ")\n"),
    ("40,000 syntax errors", lambda: _fill(lambda i: f"title <- user.a{i} +\n")),
]  # fmt: skip


def check_cases() -> None:
    print(f"\nCheck, one load of a file within the {MAX_FILE_BYTES:,}-byte limit")
    print(f"| {'case':50} | KB | s | diagnostics shown |")
    print(f"|{'-' * 52}|---|---|---|")
    for what, build in CHECK_CASES:
        text = build()

        def load(text: str = text) -> object:
            try:
                return mapper.loads(text, "big.mapper")
            except mapper.RulesetError as exc:
                return exc

        outcome = load()
        shown = len(outcome.diagnostics) if isinstance(outcome, mapper.RulesetError) else 0
        seconds = _best(load, repeat=1)
        print(f"| {what:50} | {len(text.encode()) // 1000} | {seconds:.2f} | {shown} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=["render", "check", "all"], default="all")
    args = parser.parse_args()
    if args.part in ("render", "all"):
        render_cases()
    if args.part in ("check", "all"):
        check_cases()


if __name__ == "__main__":
    main()
