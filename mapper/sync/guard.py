"""The deactivation guard: how many users one run may deactivate or delete.

Entra's accidental-deletion threshold, Okta's import safeguard (20%), Microsoft's Group
Membership Management (20% of removals) and Adobe's User Sync (a required maximum) all hold
a cycle's removals once they pass a limit and wait for an admin. mapper does the same: by
default 20% of the users the app holds active (never fewer than 10), a count or another
percentage with ``--max-deactivations``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: A percentage allows at least this many, so a small directory can still lose a few users.
FLOOR = 10


@dataclass(frozen=True)
class DeactivationLimit:
    """At most COUNT users, or PERCENT of the active users (the default, 20%, at least FLOOR:
    an explicit percentage means exactly what it says, so 0% allows none)."""

    count: int | None = None
    percent: float = 20.0
    floor: int = FLOOR

    @classmethod
    def parse(cls, text: str) -> DeactivationLimit:
        """``N`` (a number of users) or ``P%`` (a percentage, 0 to 100); ValueError otherwise."""
        found = re.fullmatch(r"\s*(\d{1,9})(?:\.(\d{1,3}))?\s*(%?)\s*", text)
        if found is None:
            raise ValueError(f"{text!r}: expected a number of users (N) or a percentage (P%)")
        whole, fraction, percent = found.groups()
        if percent:
            value = float(f"{whole}.{fraction or 0}")
            if value > 100:
                raise ValueError(f"{text!r}: a percentage is at most 100%")
            return cls(None, value, floor=0)
        if fraction:
            raise ValueError(f"{text!r}: a number of users is a whole number")
        return cls(int(whole))

    def allowed(self, active: int) -> int:
        """How many deactivations a run may send when the app holds ACTIVE users active."""
        if self.count is not None:
            return self.count
        return max(self.floor, math.floor(active * self.percent / 100))

    def __str__(self) -> str:
        if self.count is not None:
            return str(self.count)
        return f"{self.percent:g}%"
