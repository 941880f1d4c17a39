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


# A number as European spreadsheets write it (`12500,5`, `1.250.000,50`), as the
# importers read it (`sources.records.decimal_point`).
_DECIMAL_COMMA = r"^(-?[0-9]+,[0-9]{1,2}|-?[0-9]{1,3}(\.[0-9]{3})+,[0-9]+)$"


def record_number(record: ir.StringValue, field: str) -> ir.FloatingValue:
    """The record's field as a finite number (a decimal comma read), null otherwise."""
    text = record_text(record, field)
    european = text.re_search(_DECIMAL_COMMA)
    pointed = ibis.ifelse(european, text.replace(".", "").replace(",", "."), text)
    number = pointed.try_cast("float64")
    finite = number.notnull() & ~number.isnan() & ~number.isinf()
    return ibis.ifelse(finite, number, ibis.null("float64"))


def _digits(text: ir.StringValue, start: int, length: int) -> ir.IntegerValue:
    return text.substr(start, length).try_cast("int64")


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


@ibis.udf.scalar.builtin(name="coalesce")
def kept(value: int) -> int:  # type: ignore[empty-body]
    """The value itself (`coalesce` of one argument), computed once in its own step.

    Ibis inlines a projection's expressions into every later use; a function call
    stops that, so a value used many times is not computed many times.
    """


def with_time_us(table: ir.Table, name: str, text: ir.StringValue) -> ir.Table:
    """`table` with column `name`: epoch microseconds of `text`, an RFC 3339 time or epoch
    milliseconds as the importers read them; null for anything else (blank, epoch
    seconds, outside 1990-2199)."""
    t = table.mutate(_text=text)
    valid = t._text.re_search(_RFC3339)
    t = t.mutate(
        _local_s=kept(
            ibis.ifelse(
                valid,
                _days_from_civil(
                    _digits(t._text, 0, 4), _digits(t._text, 5, 2), _digits(t._text, 8, 2)
                )
                * 86_400
                + _digits(t._text, 11, 2) * 3600
                + _digits(t._text, 14, 2) * 60
                + _digits(t._text, 17, 2),
                ibis.null("int64"),
            )
        ),
        _fraction_us=kept(t._text.re_extract(_RFC3339, 2).substr(1).rpad(6, "0").try_cast("int64")),
        _offset=t._text.re_extract(_RFC3339, 3),
        _epoch_ms=kept(
            ibis.ifelse(t._text.re_search(_EPOCH_MS), t._text, ibis.null("string")).try_cast(
                "int64"
            )
        ),
    )
    offset_s = _digits(t._offset, 1, 2) * 3600 + t._offset.right(2).try_cast("int64") * 60
    sign = ibis.ifelse(t._offset.startswith("-"), -1, 1)
    t = t.mutate(_offset_s=kept(ibis.ifelse(t._offset == "Z", 0, sign * offset_s)))
    moment = (t._local_s - t._offset_s) * _US_PER_SECOND + t._fraction_us
    t = t.mutate(_us=kept(ibis.coalesce(moment, t._epoch_ms * 1000)))
    t = t.mutate(**{name: _in_range(t._us)})
    return t.drop("_text", "_local_s", "_fraction_us", "_offset", "_epoch_ms", "_offset_s", "_us")


def with_day_bounds(
    table: ir.Table, names: tuple[str, str], date_text: ir.StringValue, zone: str
) -> ir.Table:
    """`table` with columns `names`: the first and last microsecond of a `YYYY-MM-DD` day
    in a time zone (null for other text)."""
    t = table.mutate(_day=ibis.ifelse(date_text.re_search(DATE), date_text, ibis.null("string")))
    t = t.mutate(
        _midnight_us=_days_from_civil(
            _digits(t._day, 0, 4), _digits(t._day, 5, 2), _digits(t._day, 8, 2)
        )
        * _US_PER_DAY
    )
    start, end = names
    t = t.mutate(
        **{
            start: _utc_us(t._midnight_us, zone),
            end: _utc_us(t._midnight_us + _US_PER_DAY, zone) - 1,
        }
    )
    return t.drop("_day", "_midnight_us")


def _utc_us(wall_clock_us: ir.IntegerValue, zone: str) -> ir.IntegerValue:
    """The UTC moment of a wall-clock time (as epoch microseconds) in a zone."""
    moment = to_utc_timestamp(timestamp_micros(wall_clock_us), zone)
    return unix_micros(moment)


def timestamp_of(us: ir.IntegerValue) -> ir.TimestampValue:
    """The UTC timestamp (without zone, as the raw tables keep it) of epoch microseconds."""
    return timestamp_micros(us)
