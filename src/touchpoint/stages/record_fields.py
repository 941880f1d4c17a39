"""Values read again at build from the record a raw table keeps as the source sent it.

A value that depends on a setting (which Task field holds the visitor id, which
opportunity field the revenue, the site's time zone for a date-only field) is
derived here, in SQL, from the kept record, so a changed setting applies to
everything already imported at the next build (DESIGN §11).

The stages call a few Spark SQL functions by name (`get_json_object`,
`timestamp_micros`, `to_utc_timestamp`); the DuckDB backend declares them as
macros (`build.backends.SQL_FUNCTIONS`), so the same stage code runs on both.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

_US_PER_SECOND = 1_000_000
_US_PER_DAY = 86_400 * _US_PER_SECOND
EARLIEST_US = 631_152_000_000_000  # 1990-01-01, as the importers accept times
LATEST_US = 7_258_118_400_000_000  # 2200-01-01
# An RFC 3339 time as the importers accept it (Salesforce's `+0000` too): date, time,
# up to six fraction digits, and Z or an offset. The date and time are fixed-width.
_RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]{1,6})?(Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])$"
)
_EPOCH_MS = r"^[0-9]{1,16}$"
DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


@ibis.udf.scalar.builtin
def get_json_object(record: str, path: str) -> str:  # type: ignore[empty-body]
    """A JSON document's value at a path, as text (strings unquoted; null when absent)."""


@ibis.udf.scalar.builtin
def timestamp_micros(us: int) -> dt.timestamp:
    """The UTC timestamp of epoch microseconds."""


@ibis.udf.scalar.builtin
def to_utc_timestamp(local: dt.timestamp, zone: str) -> dt.timestamp:
    """A wall-clock time in a time zone, as the UTC timestamp of that moment."""


@ibis.udf.scalar.builtin
def unix_micros(moment: dt.timestamp) -> int:  # type: ignore[empty-body]
    """Epoch microseconds of a UTC timestamp (DuckDB's `epoch_us`, which Ibis writes for it)."""


def record_text(record: ir.StringValue, field: str) -> ir.StringValue:
    """The record's field as trimmed text, null when absent or blank (like `text_or_none`).

    `Campaign.Name` reads the nested object a REST result holds.
    """
    value = get_json_object(record, "$." + field).strip()
    return value.nullif("")


def _digits(text: ir.StringValue, start: int, length: int) -> ir.IntegerValue:
    return text.substr(start, length).cast("int64")


def _days_from_civil(
    year: ir.IntegerValue, month: ir.IntegerValue, day: ir.IntegerValue
) -> ir.IntegerValue:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm, years ≥ 0)."""
    y = year - (month <= 2).cast("int64")
    era = y // 400
    year_of_era = y - era * 400
    shifted_month = (month + 9) % 12  # March is 0
    day_of_year = (153 * shifted_month + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return (era * 146_097 + day_of_era - 719_468).cast("int64")


def _in_range(us: ir.IntegerValue) -> ir.IntegerValue:
    return ibis.ifelse((us >= EARLIEST_US) & (us < LATEST_US), us, ibis.null("int64"))


def time_us(text: ir.StringValue) -> ir.IntegerValue:
    """Epoch microseconds of an RFC 3339 time or of epoch milliseconds, as the importers
    read them; null for anything else (blank, epoch seconds, outside 1990-2199)."""
    rfc3339 = ibis.ifelse(text.re_search(_RFC3339), text, ibis.null("string"))
    days = _days_from_civil(_digits(rfc3339, 0, 4), _digits(rfc3339, 5, 2), _digits(rfc3339, 8, 2))
    hours, minutes, seconds = (_digits(rfc3339, start, 2) for start in (11, 14, 17))
    fraction = rfc3339.re_extract(_RFC3339, 2).substr(1).rpad(6, "0")
    offset = rfc3339.re_extract(_RFC3339, 3)
    offset_s = _digits(offset, 1, 2) * 3600 + offset.right(2).cast("int64") * 60
    offset_s = ibis.ifelse(
        offset == "Z", 0, ibis.ifelse(offset.startswith("-"), -offset_s, offset_s)
    )
    local_s = days * 86_400 + hours * 3600 + minutes * 60 + seconds
    moment_us = (local_s - offset_s) * _US_PER_SECOND + fraction.cast("int64")
    epoch_ms = ibis.ifelse(text.re_search(_EPOCH_MS), text, ibis.null("string"))
    return _in_range(ibis.coalesce(moment_us, epoch_ms.cast("int64") * 1000))


def day_start_us(date_text: ir.StringValue, zone: str) -> ir.IntegerValue:
    """The first microsecond of a `YYYY-MM-DD` day in a time zone (null for other text)."""
    local_midnight = _local_midnight_us(date_text, 0)
    return _utc_us(local_midnight, zone)


def day_end_us(date_text: ir.StringValue, zone: str) -> ir.IntegerValue:
    """The last microsecond of a `YYYY-MM-DD` day in a time zone (null for other text)."""
    next_midnight = _local_midnight_us(date_text, 1)
    return _utc_us(next_midnight, zone) - 1


def _local_midnight_us(date_text: ir.StringValue, days_later: int) -> ir.IntegerValue:
    day = ibis.ifelse(date_text.re_search(DATE), date_text, ibis.null("string"))
    days = _days_from_civil(_digits(day, 0, 4), _digits(day, 5, 2), _digits(day, 8, 2))
    return (days + days_later) * _US_PER_DAY


def _utc_us(wall_clock_us: ir.IntegerValue, zone: str) -> ir.IntegerValue:
    """The UTC moment of a wall-clock time (as epoch microseconds) in a zone."""
    moment = to_utc_timestamp(timestamp_micros(wall_clock_us), zone)
    return unix_micros(moment)


def timestamp_of(us: ir.IntegerValue) -> ir.TimestampValue:
    """The UTC timestamp (without zone, as the raw tables keep it) of epoch microseconds."""
    return timestamp_micros(us)
