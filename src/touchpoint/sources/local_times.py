"""Dates and times as web apps and spreadsheets write them: wall clocks in a time zone.

A vendor's web-app export and a file saved again by Excel write times without a UTC
offset, in the layouts of the app or of the spreadsheet's locale:

- ISO: `2026-03-31 14:05`, `2026-03-31T14:05:09`, `2026/03/31 14:05`;
- dotted, always day-first (German, Swiss, Scandinavian Excel): `31.03.2026 14:05`;
- slashed or dashed, day-first (`31/03/2026 14:05`, UK and French Excel) or
  month-first (`03/31/2026 02:05 PM`, `3/31/26 14:05`, the US apps and US Excel).

A slashed date whose first number is over 12 is day-first, whose second is over 12
month-first; `03/04/2026` can be either. `file_order` decides such dates for a whole
file from its other rows (a file is written in one locale); `local_time_us` reads one
time in the order decided. Nothing here guesses: an undecided date is a reject.

A time may end with its own offset or zone (`-05:00`, `Z`, `UTC`, `EST`): that wins
over the zone the caller gives. Hours run 0-23, or 1-12 with AM/PM; a date without a
time of day is no call time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from touchpoint.sources.records import EARLIEST_US, LATEST_US, RecordError, to_us

DateOrder = Literal["day-first", "month-first"]

_CLOCK = (
    r"(?:[ T]+(?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})"
    r"(?::(?P<second>[0-9]{2})(?:[.,](?P<fraction>[0-9]{1,6}))?)?"
    r"\s*(?P<half>[AaPp]\.?[Mm]\.?)?)?"
)
_ZONE = r"(?:\s*(?P<zone>Z|[+-][0-9]{2}:?[0-9]{2}|(?:UTC|GMT)(?:[+-][0-9]{1,2}(?::?[0-9]{2})?)?|[A-Z]{3,4}))?"
_ISO = re.compile(r"(?P<year>[0-9]{4})[-/](?P<a>[0-9]{1,2})[-/](?P<b>[0-9]{1,2})" + _CLOCK + _ZONE)
_DOTTED = re.compile(
    r"(?P<a>[0-9]{1,2})\.(?P<b>[0-9]{1,2})\.(?P<year>[0-9]{4}|[0-9]{2})" + _CLOCK + _ZONE
)
_SLASHED = re.compile(
    r"(?P<a>[0-9]{1,2})(?P<sep>[/-])(?P<b>[0-9]{1,2})(?P=sep)(?P<year>[0-9]{4}|[0-9]{2})"
    + _CLOCK
    + _ZONE
)
# Zone abbreviations a US web app writes after a time, and the offsets they stand for.
_ABBREVIATIONS = {
    "UTC": 0, "GMT": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6,
    "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10, "CET": 1, "CEST": 2, "BST": 1,
}  # fmt: skip
# Rails' names for US zones, as web apps built on it show a user's zone.
_RAILS_ZONES = {
    "eastern time (us & canada)": "America/New_York",
    "central time (us & canada)": "America/Chicago",
    "mountain time (us & canada)": "America/Denver",
    "pacific time (us & canada)": "America/Los_Angeles",
    "arizona": "America/Phoenix",
    "alaska": "America/Juneau",
    "hawaii": "Pacific/Honolulu",
    "indiana (east)": "America/Indiana/Indianapolis",
}


@dataclass(frozen=True)
class FileOrder:
    """How a file writes its ambiguous slashed dates, and why touchpoint reads them so.

    `order` None: the file writes dates both ways, so an ambiguous one is a reject.
    """

    order: DateOrder | None
    reason: str = ""  # for the import's note; empty when nothing was ambiguous


def self_evident(text: str) -> DateOrder | None:
    """The order a slashed date shows by itself (a number over 12), else None.

    >>> self_evident("31/03/2026 14:05"), self_evident("03/31/2026"), self_evident("03/04/2026")
    ('day-first', 'month-first', None)
    """
    found = _SLASHED.fullmatch(text.strip())
    if not found:
        return None
    first, second = int(found["a"]), int(found["b"])
    if first > 12 >= second:
        return "day-first"
    if second > 12 >= first:
        return "month-first"
    return None


def _is_ambiguous(text: str) -> bool:
    found = _SLASHED.fullmatch(text.strip())
    if found is None:
        return False
    first, second = int(found["a"]), int(found["b"])
    return first != second and max(first, second) <= 12


def file_order(values: Iterable[str], setting: str, native: DateOrder) -> FileOrder:
    """The order of a file's ambiguous slashed dates, from all of its date values.

    `setting` is `[site] date_order`: `day-first` or `month-first` decide; `auto`
    takes the order the file's self-evident dates show (`31/03/2026` makes
    `03/04/2026` the 3rd of April); a file that shows both leaves them undecided;
    a file that shows neither is read in the app's own `native` order, and the
    note says so.
    """
    if setting in ("day-first", "month-first"):
        return FileOrder(setting)  # type: ignore[arg-type]
    seen: dict[DateOrder, str] = {}
    ambiguous = ""
    for value in values:
        shown = value.strip()
        evident = self_evident(shown)
        if evident is not None:
            seen.setdefault(evident, shown)
        elif not ambiguous and _is_ambiguous(shown):
            ambiguous = shown
    if len(seen) == 2:
        return FileOrder(
            None,
            f"it writes dates both day-first ({seen['day-first']}) and month-first "
            f"({seen['month-first']}), so a date like {ambiguous or '03/04/2026'} is rejected; "
            "set [site] date_order to read them one way",
        )
    if seen:
        [(order, example)] = seen.items()
        why = f"read {ambiguous} as {order} like {example} in the same file" if ambiguous else ""
        return FileOrder(order, why)
    if ambiguous:
        return FileOrder(
            native,
            f"no date in it is over 12 in the day's place, so dates like {ambiguous} are read "
            f"{native} as the app writes them; set [site] date_order if the file was saved "
            "the other way",
        )
    return FileOrder(native)


def calendar_day(text: str, name: str) -> str | None:
    """A date-only field written day-first or month-first, as `YYYY-MM-DD`; None for other
    text (ISO dates, times). A slashed date whose order does not show is a reject: one
    field alone cannot tell `03/04/2026` apart.

    >>> calendar_day("31.03.2026", "CloseDate"), calendar_day("03/31/2026", "CloseDate")
    ('2026-03-31', '2026-03-31')
    >>> calendar_day("2026-03-31", "CloseDate") is None
    True
    """
    shown = text.strip()
    dotted, slashed = _DOTTED.fullmatch(shown), _SLASHED.fullmatch(shown)
    found = dotted or slashed
    if found is None or found["hour"] is not None or found["zone"] is not None:
        return None
    first, second = int(found["a"]), int(found["b"])
    order = "day-first" if dotted or first == second else self_evident(shown)
    if order is None:
        raise RecordError(
            f"{name} {shown!r} could be day-first or month-first; write it as YYYY-MM-DD"
        )
    day, month = (first, second) if order == "day-first" else (second, first)
    year = int(found["year"]) + (2000 if len(found["year"]) == 2 else 0)
    try:
        return datetime(year, month, day).date().isoformat()
    except ValueError:
        raise RecordError(f"{name} {shown!r} is not a valid date") from None


def zone_named(text: str) -> tzinfo | None:
    """A time zone as an export names it, or None when it is none touchpoint knows.

    IANA names (`America/New_York`), `UTC` and offsets (`-05:00`, `UTC+1`, `GMT-05:00`),
    US abbreviations (`EST`), and Rails' names (`Eastern Time (US & Canada)`, also
    with a `(GMT-05:00) ` prefix).

    >>> zone_named("(GMT-05:00) Eastern Time (US & Canada)")
    zoneinfo.ZoneInfo(key='America/New_York')
    """
    shown = re.sub(r"^\((?:GMT|UTC)[+-][0-9:]+\)\s*", "", text.strip())
    if not shown:
        return None
    fixed = _fixed_offset(shown)
    if fixed is not None:
        return fixed
    name = _RAILS_ZONES.get(shown.lower(), shown)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*", name):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _fixed_offset(text: str) -> tzinfo | None:
    upper = text.upper()
    if upper == "Z" or upper in _ABBREVIATIONS:
        return timezone(timedelta(hours=_ABBREVIATIONS.get(upper, 0)))
    found = re.fullmatch(r"(?:UTC|GMT)?([+-])([0-9]{1,2})(?::?([0-9]{2}))?", upper)
    if not found or int(found[2]) > 14 or int(found[3] or 0) > 59:
        return None
    minutes = int(found[2]) * 60 + int(found[3] or 0)
    return timezone(timedelta(minutes=-minutes if found[1] == "-" else minutes))


def local_time_us(text: str, name: str, zone: tzinfo, order: DateOrder | None) -> int:
    """Epoch microseconds of a wall-clock time in `zone` (or in the offset it ends with).

    `order` reads an ambiguous slashed date; None (undecided) rejects it.

    >>> from datetime import UTC
    >>> from zoneinfo import ZoneInfo
    >>> local_time_us("31.03.2026 14:05", "Start Time", ZoneInfo("Europe/Berlin"), None)
    1774958700000000
    >>> local_time_us("03/31/2026 02:05 PM", "Start Time", UTC, "month-first")
    1774965900000000
    """
    shown = text.strip()
    iso, dotted, slashed = (
        _ISO.fullmatch(shown),
        _DOTTED.fullmatch(shown),
        _SLASHED.fullmatch(shown),
    )
    found = iso or dotted or slashed
    if found is None:
        raise RecordError(
            f"{name} {shown!r} is not a date and time like 2026-03-31 14:05, "
            "31.03.2026 14:05 or 03/31/2026 02:05 PM"
        )
    first, second = int(found["a"]), int(found["b"])
    if iso or dotted:
        month, day = (first, second) if iso else (second, first)
    else:
        decided = self_evident(shown) or (None if first != second else "day-first") or order
        if decided is None:
            raise RecordError(
                f"{name} {shown!r} could be day-first or month-first, and the file writes "
                "dates both ways; set [site] date_order"
            )
        day, month = (first, second) if decided == "day-first" else (second, first)
    if found["hour"] is None:
        raise RecordError(f"{name} {shown!r} has a date but no time of day")
    year = int(found["year"])
    year += 2000 if year < 100 else 0
    hour = _hour(int(found["hour"]), found["half"], name, shown)
    fraction = (found["fraction"] or "").ljust(6, "0")
    try:
        wall = datetime(
            year, month, day, hour, int(found["minute"]), int(found["second"] or 0), int(fraction)
        )
    except ValueError:
        raise RecordError(f"{name} {shown!r} is not a valid date and time") from None
    own = found["zone"]
    if own is not None:
        fixed = _fixed_offset(own)
        if fixed is None:
            raise RecordError(f"{name} {shown!r} ends with {own!r}, which is not a time zone")
        zone = fixed
    us = to_us(wall.replace(tzinfo=zone))
    if not EARLIEST_US <= us < LATEST_US:
        raise RecordError(f"{name} {shown} is outside the years 1990-2199")
    return us


def _hour(hour: int, half: str | None, name: str, shown: str) -> int:
    if half is None:
        if hour > 23:
            raise RecordError(f"{name} {shown!r} is not a valid date and time")
        return hour
    if not 1 <= hour <= 12:
        raise RecordError(f"{name} {shown!r} has hour {hour} with AM/PM")
    pm = half[0] in "Pp"
    return hour % 12 + (12 if pm else 0)
