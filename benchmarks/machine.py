"""The line each benchmark prints first: which machine and Python its figures come from.

Ratios between two pieces of code timed in one run move with the processor (a
generic path of many small allocations against generated code that mostly reads
dictionaries), so a figure is only comparable with one from the same model.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path


def processor() -> str:
    """The processor's model name as the kernel reports it, or the platform's guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown processor"


def describe() -> str:
    """One line: processor, cores this process may use, system, Python, and the time (UTC)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return (
        f"{processor()}, {cores} cores, {platform.system()} {platform.release()}, "
        f"Python {sys.version.split()[0]}, {now}"
    )


if __name__ == "__main__":
    print(describe())
