"""PATCH speed: Ruleset.patch for a one-attribute change against a hand-written
diff of the same mapping, and against rendering both profiles and running
jsonpatch.make_patch, all in this one run: the three take turns, and each figure is
the best of its runs, so that a slow minute of a shared machine does not fall on one
of them alone.

    python benchmarks/bench_patch.py [--quick]
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jsonpatch
from bench_render import USER, interleaved_us, timing_options
from handwritten import okta_default_patch
from machine import describe

import mapper


def main() -> None:
    repeat, seconds = timing_options(__doc__)

    ruleset = mapper.load("okta-default")
    old = USER
    cases = {
        "one attribute (title)": ("title", "Senior Analyst"),
        "filtered entry (email)": ("email", "ada@example.org"),
        "nothing mapped changed": ("nickName", "Ada"),
    }
    print(describe())
    print(f"interleaved, best of {repeat * 3} runs each; µs per call\n")
    print(
        f"{'okta-default, change':<28}{'mapper':>9}{'by hand':>9}{'ratio':>8}{'render+jsonpatch':>18}{'speed-up':>10}"
    )
    for label, (key, value) in cases.items():
        new = copy.deepcopy(old)
        new["profile"][key] = value
        assert ruleset.patch(old, new) == okta_default_patch(old, new), label

        def render_and_diff(new: dict = new) -> object:  # type: ignore[type-arg]
            return jsonpatch.make_patch(ruleset.render(old), ruleset.render(new)).patch

        best = interleaved_us(
            {
                "ours": lambda new=new: ruleset.patch(old, new),  # type: ignore[misc]
                "hand": lambda new=new: okta_default_patch(old, new),  # type: ignore[misc]
                "generic": render_and_diff,
            },
            repeat * 3,
            seconds / 3,
        )
        ours, hand, generic = best["ours"], best["hand"], best["generic"]
        print(
            f"{label:<28}{ours:>9.2f}{hand:>9.2f}{ours / hand:>7.2f}x{generic:>18.2f}{generic / ours:>9.0f}x"
        )


if __name__ == "__main__":
    main()
