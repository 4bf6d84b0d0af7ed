"""Option types the commands share: numbers that click's own types let through wrongly."""

from __future__ import annotations

import math
from typing import Any

import click


class FiniteRange(click.FloatRange):
    """A FloatRange that also refuses NaN (which compares false with both bounds, so click's
    range lets it pass) and infinities: a usage error, exit 2."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """VALUE as click's FloatRange converts it, a NaN or an infinity refused."""
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number
