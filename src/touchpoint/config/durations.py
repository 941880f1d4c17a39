"""Durations as settings write them (`30m`, `1h30m`, `7d`), read and written back."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any) -> timedelta:
    """Read a duration such as ``30m``, ``1h30m`` or ``7d``; a bare number has no unit.

    >>> parse_duration("1h30m")
    datetime.timedelta(seconds=5400)
    >>> parse_duration("45")
    Traceback (most recent call last):
    ValueError: 45 has no unit: write 45s, 45m, 45h or 45d
    """
    if isinstance(value, timedelta):
        return value
    # A bare number is refused: `window = 45` could mean seconds or minutes.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(_no_unit(f"{value:g}"))
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            raise ValueError(_no_unit(text))
        parts = _DURATION_PART.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))
    raise ValueError(f"{value!r} is not a duration like 30m, 1h30m or 7d")


def _no_unit(number: str) -> str:
    return f"{number} has no unit: write {number}s, {number}m, {number}h or {number}d"


def format_duration(value: timedelta) -> str:
    """Write a duration the way settings read it (``30m``, ``7d``, ``90s``).

    >>> format_duration(timedelta(minutes=90)), format_duration(timedelta(0))
    ('90m', '0s')
    """
    seconds = value.total_seconds()
    if seconds == 0:
        return "0s"
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]


def _optional_duration(value: Any) -> str:
    """A duration setting where empty means off: kept as written, checked on load."""
    if isinstance(value, str) and not value.strip():
        return ""
    parsed = parse_duration(value)  # its ValueError names the bad value
    return value if isinstance(value, str) else format_duration(parsed)


OptionalDuration = Annotated[str, BeforeValidator(_optional_duration)]


_MONTHS = re.compile(r"(\d+)\s*(months?|mo|years?|y)")
FOREVER = "forever"


def retention_months_or_duration(value: Any) -> int | timedelta | None:
    """A retention period: whole calendar months, a duration, or None for keep forever.

    ``forever`` (or any zero duration, ``0s``) keeps records forever; months and
    years count calendar months (``25 months``, ``2y``); anything else is a
    duration (``90d``).

    >>> retention_months_or_duration("25 months"), retention_months_or_duration("2y")
    (25, 24)
    >>> retention_months_or_duration("90d")
    datetime.timedelta(days=90)
    >>> retention_months_or_duration("forever") is None, retention_months_or_duration("0s") is None
    (True, True)
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text == FOREVER:
            return None
        found = _MONTHS.fullmatch(text)
        if found:
            months = int(found.group(1)) * (12 if found.group(2).startswith("y") else 1)
            return months or None
    try:
        parsed = parse_duration(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a retention period like 25 months, 2 years, 90d or forever"
        ) from None
    return parsed if parsed.total_seconds() > 0 else None


def _retention(value: Any) -> str:
    retention_months_or_duration(value)  # its ValueError names the bad value
    return value.strip() if isinstance(value, str) else format_duration(parse_duration(value))


# How long records are kept (`[retention]`): kept as written, checked on load.
RetentionPeriod = Annotated[str, BeforeValidator(_retention)]
