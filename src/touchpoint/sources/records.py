"""What every input format shares: rejects, file reading, times and ids.

A record that cannot be used becomes a `Reject` with a reason a person can act
on and the record exactly as received; the good records around it still land.
Problems with a whole file (empty, not UTF-8 at all) are `FileProblem`s.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa

from touchpoint.sources.delimited import DelimitedReader
from touchpoint.sources.files import (
    AUTO,
    Dialect,
    FileProblem,
    as_received,
    codec_name,
    first_text_is_bad,
    non_text_reason,
    not_utf8,
    open_text,
)
from touchpoint.sources.urls import WHITESPACE

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_ONE_US = timedelta(microseconds=1)


class RecordError(ValueError):
    """Why one record was rejected; the message is the reason users read."""


@dataclass(frozen=True, slots=True)
class Reject:
    source: str  # the file and line (or endpoint) it came from
    record: str  # the raw record as received
    reason: str


@dataclass
class ParseReport:
    """What a parser saw besides the good rows: rejects, notes for the user, row counts.

    `seen` counts every record read, the skipped ones too: a record skipped is
    valid but not of the kind imported (a Salesforce Task that is an email), so
    neither a row nor a reject.
    """

    rejects: list[Reject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seen: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # by reason

    def reject(self, source: str, record: str, reason: str) -> None:
        self.rejects.append(Reject(source=source, record=record, reason=reason))

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1

    def note_unused(self, path: Path, names: set[str], what: str = "fields") -> None:
        """Tell the user which fields (or columns) of a file touchpoint does not read."""
        if names:
            shown = ", ".join(sorted(names)[:8]) + (" ..." if len(names) > 8 else "")
            self.notes.append(
                f"{path}: ignored {len(names)} {what} touchpoint does not use ({shown})"
            )

    @property
    def good(self) -> int:
        return self.seen - len(self.rejects) - self.skipped.total()


class RowBatches:
    """Collects rows of one raw table into Arrow tables of its layout.

    `fixed` gives the columns every row of this import shares (origin, arrival time).
    """

    def __init__(self, schema: pa.Schema, **fixed: Any):
        self.schema = schema
        self.fixed = fixed
        self.rows: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, row: dict[str, Any]) -> None:
        # Rows are turned into columns in `take`, one column at a time: far
        # cheaper than appending to every column for every row.
        self.rows.append(row)

    def take(self) -> pa.Table:
        rows, self.rows = self.rows, []
        present = set().union(*rows)
        columns: dict[str, list[Any]] = {}
        for name in self.schema.names:
            default = self.fixed.get(name)
            if name in present:
                columns[name] = [row.get(name, default) for row in rows]
            else:  # a column no row gives: the fixed value (or None) throughout
                columns[name] = [default] * len(rows)
        return pa.table(columns, schema=self.schema)


def stable_hash(*parts: object) -> str:
    """The MD5 hex digest of the parts joined by U+001F, as SQL's `md5(concat_ws(chr(31), ...))`.

    Not for security: a stable id that DuckDB and Spark can compute too.
    """
    text = "\x1f".join(["" if p is None else str(p) for p in parts])
    return hashlib.md5(text.encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()


def csv_records(
    path: Path, report: ParseReport, dialect: Dialect = AUTO
) -> Iterator[tuple[int, str, dict[str, Any] | None]]:
    """(line number, raw record, record) for each data record of a CSV file with a header.

    The raw record is its text as in the file (line ends removed). Records that
    cannot be records (bytes the encoding cannot read, the wrong number of
    fields, a stray quote, a field too long) are rejected here and come through
    with record None. Empty cells are None.
    """
    for line, _fields, text, record in _csv_records(path, report, dialect):
        yield line, text if record is not None else as_received(text), record


def csv_rows(
    path: Path, report: ParseReport, dialect: Dialect = AUTO
) -> Iterator[tuple[int, list[str], dict[str, Any] | None]]:
    """(line number, fields, record) for each data record of a CSV file with a header.

    As `csv_records`, for readers that need the raw row only for the records
    they reject: `csv_line(fields)` writes it.
    """
    for line, fields, _text, record in _csv_records(path, report, dialect):
        yield line, fields, record


def _csv_records(
    path: Path, report: ParseReport, dialect: Dialect
) -> Iterator[tuple[int, list[str], str, dict[str, Any] | None]]:
    with open_text(path, dialect) as handle:
        codec = handle.encoding
        try:
            yield from _decoded_records(path, report, DelimitedReader(handle, dialect.delimiter))
        except UnicodeDecodeError as exc:  # only codecs whose errors escape no bytes (UTF-16)
            raise FileProblem(f"{path} is not {codec_name(codec)} text ({exc.reason})") from None


def _decoded_records(
    path: Path, report: ParseReport, reader: DelimitedReader
) -> Iterator[tuple[int, list[str], str, dict[str, Any] | None]]:
    codec = reader.handle.encoding
    records = iter(reader)
    first = next(records, None)
    if first is None:
        return
    header_line, header_fields, header_text, header_problem = first
    if header_fields is None:
        raise FileProblem(
            f"{path}: the header on line {header_line} cannot be read ({header_problem})"
        )
    header = [name.strip() for name in header_fields]
    width = len(header)
    text_seen = not header_text.isascii()
    for line, fields, text, problem in records:
        if text.isascii():
            bad_bytes = None
        else:
            # Undecodable bytes arrive as surrogate escapes, never ASCII.
            bad_bytes = non_text_reason(text, codec)
            if bad_bytes and not text_seen and codec == "utf-8" and first_text_is_bad(text):
                raise not_utf8(path, line, text)
            text_seen = True
        if bad_bytes or fields is None:
            report.reject(f"{path}:{line}", as_received(text), bad_bytes or str(problem))
            yield line, fields or [], text, None
            continue
        if len(fields) != width:
            reason = f"row has {len(fields)} fields, the header has {width}"
            report.reject(f"{path}:{line}", text, reason)
            yield line, fields, text, None
            continue
        yield (
            line,
            fields,
            text,
            {name: value or None for name, value in zip(header, fields, strict=True)},
        )


def csv_line(row: list[str]) -> str:
    """A row written back as one CSV record (fields with line breaks stay quoted)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(row)
    return out.getvalue().removesuffix("\r\n")


def empty_file(path: Path) -> FileProblem:
    """The problem of a file that held no records at all."""
    return FileProblem(f"{path} is empty: there are no records to import")


def whole_text(path: Path, dialect: Dialect = AUTO) -> str:
    """A file's whole text, for a JSON reader; `FileProblem` when it is empty or not text."""
    with open_text(path, dialect) as handle:
        codec = handle.encoding
        try:
            text = handle.read()
        except UnicodeDecodeError as exc:
            raise FileProblem(f"{path} is not {codec_name(codec)} text ({exc.reason})") from None
    if not text.strip():
        raise empty_file(path)
    bad_bytes = non_text_reason(text, codec)
    if bad_bytes:
        if codec == "utf-8" and first_text_is_bad(text):
            first = next(i for i, ch in enumerate(text) if "\udc80" <= ch <= "\udcff")
            line = text.count("\n", 0, first) + 1
            raise not_utf8(path, line, text.splitlines()[line - 1])
        raise FileProblem(f"{path} is {bad_bytes}")
    return text


def to_us(moment: datetime) -> int:
    """Whole microseconds since the epoch of an aware datetime (exact, no float)."""
    return (moment - EPOCH) // _ONE_US


def from_us(us: int) -> datetime:
    """The naive UTC datetime of epoch microseconds (how raw tables keep times)."""
    return _NAIVE_EPOCH + timedelta(microseconds=us)


# Times are read by the same rules in Python and in SQL (see events_bulk.py).
RFC3339 = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])"
)
NAIVE_TIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
INTEGER = r"-?[0-9]+"
DECIMAL = r"-?[0-9]+\.[0-9]+"
EARLIEST_US = 631_152_000_000_000  # 1990-01-01
LATEST_US = 7_258_118_400_000_000  # 2200-01-01
_RFC3339 = re.compile(RFC3339)
_NAIVE_TIME = re.compile(NAIVE_TIME)
_INTEGER = re.compile(INTEGER)
_DECIMAL = re.compile(DECIMAL)


_DECIMAL_COMMA = re.compile(r"-?[0-9]+,[0-9]{1,2}|-?[0-9]{1,3}(\.[0-9]{3})+,[0-9]+")


def decimal_point(text: str) -> str:
    """A number as European spreadsheets write it (`12500,5`, `1.250.000,50`) with a
    decimal point; other text as it is. A comma before one or two digits can only be
    a decimal comma (thousands come in threes), so `1,250` stays as it is.

    >>> decimal_point("12500,5"), decimal_point("1.250.000,50"), decimal_point("1,250")
    ('12500.5', '1250000.50', '1,250')
    """
    if "," not in text or not _DECIMAL_COMMA.fullmatch(text):
        return text
    return text.replace(".", "").replace(",", ".")


def parse_time(value: Any, field_name: str, *, naive_is_utc: bool = False) -> int:
    """Epoch microseconds of an RFC 3339 time with offset, or of epoch milliseconds.

    Salesforce's `2026-03-04T20:21:30.000+0000` (no colon in the offset) is read
    too. `naive_is_utc` is for native timestamps without a zone (Parquet), never
    for text.

    >>> parse_time("2026-03-04T12:17:00-05:00", "occurred_at")
    1772644620000000
    >>> parse_time(1772644620000, "occurred_at")
    1772644620000000
    """
    if isinstance(value, str):  # the usual case first
        text = value.strip(WHITESPACE)
        if not text:
            raise RecordError(f"{field_name} is missing")
        # No text matches more than one of these patterns.
        if _RFC3339.fullmatch(text):
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise RecordError(f"{field_name} {value!r} is not a valid date and time") from None
            return _in_range(to_us(moment), field_name, text)
        if _INTEGER.fullmatch(text):
            return _epoch_ms(int(text) * 1000, int(text), field_name)
        if _DECIMAL.fullmatch(text):
            return _epoch_ms(round(float(text) * 1000), float(text), field_name)
        if _NAIVE_TIME.fullmatch(text):
            raise RecordError(f"{field_name} {value!r} has no UTC offset; add Z or one like +01:00")
        raise RecordError(
            f"{field_name} {value!r} is not an RFC 3339 time (like 2026-03-04T12:17:00Z) "
            "or epoch milliseconds"
        )
    if value is None:
        raise RecordError(f"{field_name} is missing")
    if isinstance(value, bool):
        raise RecordError(f"{field_name} must be a time, not true or false")
    if isinstance(value, int):
        return _epoch_ms(value * 1000, value, field_name)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RecordError(f"{field_name} {value} is not a time")
        return _epoch_ms(round(value * 1000), value, field_name)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            if not naive_is_utc:
                raise RecordError(f"{field_name} {value.isoformat()} has no UTC offset")
            value = value.replace(tzinfo=UTC)
        return _in_range(to_us(value), field_name, value.isoformat())
    raise RecordError(f"{field_name} must be a time, not {type(value).__name__}")


def _epoch_ms(us: int, shown: int | float, field_name: str) -> int:
    if shown and abs(shown) < 10**11 and EARLIEST_US <= us * 1000 < LATEST_US:
        raise RecordError(f"{field_name} {shown} looks like epoch seconds; give milliseconds")
    return _in_range(us, field_name, str(shown))


def _in_range(us: int, field_name: str, shown: str) -> int:
    if not EARLIEST_US <= us < LATEST_US:
        raise RecordError(f"{field_name} {shown} is outside the years 1990-2199")
    return us


def compact_json(record: Any) -> str:
    """A record as one line of JSON, keys in the order received."""
    if _is_flat_text(record):
        try:
            # msgspec writes text exactly as `json.dumps` does here, many times faster.
            return _MSGSPEC_JSON(record).decode()
        except UnicodeEncodeError:  # a lone surrogate: json.dumps writes it as is
            pass
    return _COMPACT_JSON(record)


def sorted_json(record: Any) -> str:
    """A record as `json.dumps(record, sort_keys=True, default=str)` writes it (records' hashes)."""
    return _SORTED_JSON(record)


# What json.dumps does with these arguments, without making an encoder per call.
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode
_SORTED_JSON = json.JSONEncoder(sort_keys=True, default=str).encode
_MSGSPEC_JSON = msgspec.json.Encoder().encode
_TEXT_TYPES = frozenset((str, type(None)))
_STR_TYPE = frozenset((str,))


def _is_flat_text(record: Any) -> bool:
    """Whether a record is a dict of text keys to text or None, as CSV rows are."""
    return (
        type(record) is dict
        and _TEXT_TYPES.issuperset(map(type, record.values()))
        and _STR_TYPE.issuperset(map(type, record))
    )


def text_or_none(value: Any) -> str | None:
    """A string without surrounding ASCII whitespace, or None for missing and blank values."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    value = value.strip(WHITESPACE)
    return value or None
