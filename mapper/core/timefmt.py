"""Okta's Time functions: timestamps between ISO 8601, Windows (LDAP) and Unix forms, and
Joda-Time patterns (``yyyy-MM-dd HH:mm:ss``), which Okta's functions take.

Only the pattern letters a profile date needs are supported (``y Y M d H h m s S a Z E``
and quoted text); any other letter is refused when the ruleset loads, never guessed.
Everything is computed in UTC, and written as Okta writes it: RFC 3339 with
milliseconds, ``2015-07-31T17:18:37.979Z``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

#: 100-nanosecond intervals from 1601-01-01 (Windows FILETIME, LDAP) to 1970-01-01.
_WINDOWS_EPOCH_TICKS = 116_444_736_000_000_000

_MONTHS = [calendar.month_name[i] for i in range(1, 13)]
_DAYS = list(calendar.day_name)


#: Joda-Time's old three-letter zone IDs, which Okta accepts, as the zones they stand for
#: (Okta's page shows Time.now("EST") in July at -04:00: New York's time, not a fixed offset).
OLD_ZONE_IDS = {
    "EST": "America/New_York",
    "CST": "America/Chicago",
    "MST": "America/Denver",
    "PST": "America/Los_Angeles",
    "AST": "America/Halifax",
    "HST": "Pacific/Honolulu",
}


def zone_name(zone: str) -> str:
    """The time zone ZONE stands for: an old three-letter Joda ID as its zone, any other as written."""
    return OLD_ZONE_IDS.get(zone, zone)


class TimePatternError(ValueError):
    """A Joda pattern mapper cannot use; the message says why."""


class TimeValueError(ValueError):
    """A timestamp that does not parse or is out of range."""


@dataclass(frozen=True)
class _Field:
    letter: str
    width: int


def iso(moment: datetime) -> str:
    """RFC 3339 in UTC with milliseconds, as Okta writes times."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_iso(text: str) -> datetime:
    """An ISO 8601 date and time as an aware datetime; one without a zone is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise TimeValueError("not an ISO 8601 date and time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _integer(text: str, what: str) -> int:
    text = text.strip()
    if not re.fullmatch(r"-?\d{1,20}", text):
        raise TimeValueError(f"not a {what} timestamp")
    return int(text)


def from_windows(text: str) -> str:
    """A Windows (LDAP) timestamp, 100-nanosecond ticks since 1601, as ISO 8601 in UTC."""
    ticks = _integer(text, "Windows")
    try:
        return iso(
            datetime.fromtimestamp(0, UTC) + timedelta(microseconds=(ticks - _WINDOWS_EPOCH_TICKS) // 10)
        )
    except OverflowError:
        raise TimeValueError("a Windows timestamp out of range") from None


def from_unix(text: str) -> str:
    """A Unix timestamp in whole seconds as ISO 8601 in UTC."""
    seconds = _integer(text, "Unix")
    try:
        return iso(datetime.fromtimestamp(seconds, UTC))
    except (OverflowError, OSError, ValueError):
        raise TimeValueError("a Unix timestamp out of range") from None


def to_windows(text: str) -> str:
    """An ISO 8601 time as a Windows (LDAP) timestamp: 100-nanosecond ticks since 1601, as text."""
    moment = parse_iso(text)
    delta = moment - datetime.fromtimestamp(0, UTC)
    ticks = (delta.days * 86_400 + delta.seconds) * 10_000_000 + delta.microseconds * 10
    return str(ticks + _WINDOWS_EPOCH_TICKS)


def to_unix(text: str) -> str:
    """An ISO 8601 time as a Unix timestamp: whole seconds (the fraction cut toward zero), as text."""
    return str(int(parse_iso(text).timestamp()))


# ---------------------------------------------------------------- Joda patterns


@cache
def compile_pattern(pattern: str) -> tuple[str | _Field, ...]:
    """A Joda-Time pattern as literal text and fields; refuses letters it does not support."""
    parts: list[str | _Field] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "'":
            end = pattern.find("'", i + 1)
            if end < 0:
                raise TimePatternError("a quote in the time pattern is not closed")
            parts.append(pattern[i + 1 : end] or "'")
            i = end + 1
            continue
        if char.isascii() and char.isalpha():
            j = i
            while j < len(pattern) and pattern[j] == char:
                j += 1
            if char not in "yYMdHhmsSaZE":
                raise TimePatternError(f"the time pattern letter {char!r} is not supported")
            parts.append(_Field(char, j - i))
            i = j
            continue
        parts.append(char)
        i += 1
    if sum(isinstance(p, _Field) for p in parts) > MAX_TIME_FIELDS:
        raise TimePatternError(f"the time pattern has more than {MAX_TIME_FIELDS} fields")
    return tuple(parts)


def _field_regex(field: _Field) -> str:
    letter, width = field.letter, field.width
    if letter in "yY":
        return r"(\d{2})" if width == 2 else r"(\d{4})"
    if letter == "M" and width >= 3:
        return r"([A-Za-z]{3,9})"  # Sep .. September: bounded, so matching cannot backtrack for long
    if letter == "S":
        return rf"(\d{{{width}}})"
    if letter == "a":
        return r"([AaPp][Mm])"
    if letter == "Z":
        return r"(Z|[+-]\d{2}:?\d{2})"
    if letter == "E":
        return r"([A-Za-z]{3,9})"  # Mon .. Wednesday
    return r"(\d{2})" if width == 2 else r"(\d{1,2})"


#: The longest time value parse_with reads, and the most fields a pattern may have. The
#: match itself runs on RE2 (linear in the text): Python's re backtracked exponentially on
#: side-by-side text fields (``MMMEEEMMMEEE``: 25 s for 400 characters).
MAX_TIME_TEXT = 100
MAX_TIME_FIELDS = 12


def _regex_engine() -> Any:
    from mapper.core.regex import _engine

    return _engine()


def parse_with(text: str, pattern: str) -> datetime:
    """TEXT read with the Joda PATTERN, as a moment in UTC; fields the pattern lacks are those of
    1970-01-01T00:00Z, and a day name (E) is matched but not checked."""
    parts = compile_pattern(pattern)
    if len(text) > MAX_TIME_TEXT:
        raise TimeValueError(f"longer than {MAX_TIME_TEXT} characters, so not a time")
    fields = [p for p in parts if isinstance(p, _Field)]
    regex = "".join(_field_regex(p) if isinstance(p, _Field) else re.escape(p) for p in parts)
    match = _regex_engine().fullmatch(regex, text.strip())  # RE2: linear, never backtracks
    if match is None:
        raise TimeValueError("does not match the time pattern")
    values = dict(year=1970, month=1, day=1, hour=0, minute=0, second=0, micro=0)
    pm: bool | None = None
    offset = timedelta(0)
    for field, value in zip(fields, match.groups(), strict=True):
        letter = field.letter
        if letter in "yY":
            values["year"] = int(value) + (2000 if field.width == 2 else 0)
        elif letter == "M":
            if field.width >= 3:
                names = [m.lower() for m in _MONTHS]
                short = [m[:3] for m in names]
                lowered = value.lower()
                if lowered not in names and lowered not in short:
                    raise TimeValueError("not a month name")
                values["month"] = (names.index(lowered) if lowered in names else short.index(lowered)) + 1
            else:
                values["month"] = int(value)
        elif letter == "d":
            values["day"] = int(value)
        elif letter in "Hh":
            values["hour"] = int(value)
        elif letter == "m":
            values["minute"] = int(value)
        elif letter == "s":
            values["second"] = int(value)
        elif letter == "S":
            values["micro"] = int((value + "000000")[:6])
        elif letter == "a":
            pm = value.lower() == "pm"
        elif letter == "Z" and value != "Z":
            sign = -1 if value[0] == "-" else 1
            digits = value[1:].replace(":", "")
            offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    if pm is not None:
        values["hour"] = values["hour"] % 12 + (12 if pm else 0)
    try:
        moment = datetime(
            values["year"], values["month"], values["day"], values["hour"], values["minute"], values["second"],
            values["micro"], tzinfo=UTC,
        )  # fmt: skip
    except ValueError as exc:
        raise TimeValueError(f"not a date: {exc}") from None
    return moment - offset


def format_with(moment: datetime, pattern: str) -> str:
    """MOMENT (in its own time zone) written with a Joda pattern."""
    out: list[str] = []
    offset = moment.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    hours, minutes = divmod(abs(int(offset.total_seconds())) // 60, 60)
    writers: dict[str, Callable[[_Field], str]] = {
        "y": lambda f: f"{moment.year % 100:02d}" if f.width == 2 else f"{moment.year:04d}",
        "M": lambda f: (
            (_MONTHS[moment.month - 1][:3] if f.width == 3 else _MONTHS[moment.month - 1])
            if f.width >= 3
            else f"{moment.month:0{f.width}d}"
        ),
        "d": lambda f: f"{moment.day:0{f.width}d}",
        "H": lambda f: f"{moment.hour:0{f.width}d}",
        "h": lambda f: f"{(moment.hour % 12) or 12:0{f.width}d}",
        "m": lambda f: f"{moment.minute:0{f.width}d}",
        "s": lambda f: f"{moment.second:0{f.width}d}",
        "S": lambda f: f"{moment.microsecond:06d}"[: f.width].ljust(f.width, "0"),
        "a": lambda f: "PM" if moment.hour >= 12 else "AM",
        "Z": lambda f: (
            f"{sign}{hours:02d}:{minutes:02d}" if f.width >= 2 else f"{sign}{hours:02d}{minutes:02d}"
        ),
        "E": lambda f: _DAYS[moment.weekday()][:3] if f.width <= 3 else _DAYS[moment.weekday()],
    }
    writers["Y"] = writers["y"]
    for part in compile_pattern(pattern):
        out.append(writers[part.letter](part) if isinstance(part, _Field) else part)
    return "".join(out)
