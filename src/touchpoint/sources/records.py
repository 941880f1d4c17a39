"""What every input format shares: rejects, file reading, times and ids.

A record that cannot be used becomes a `Reject` with a reason a person can act
on and the record exactly as received; the good records around it still land.
Problems with a whole file (empty, not UTF-8 at all) are `FileProblem`s.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import msgspec
import pyarrow as pa

from touchpoint.errors import TouchpointError
from touchpoint.sources.urls import WHITESPACE

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_ONE_US = timedelta(microseconds=1)


class RecordError(ValueError):
    """Why one record was rejected; the message is the reason users read."""


class FileProblem(TouchpointError):
    """A whole file that cannot be read as records of its format."""


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


def open_text(path: Path) -> IO[str]:
    """A text file opened for streaming as UTF-8, a byte-order mark skipped.

    Bytes that are not UTF-8 come through as surrogate escapes, so the rows that
    hold them can be rejected one by one (see `non_utf8_reason`) while the rest
    land. A UTF-16 file is a `FileProblem`.
    """
    try:
        with path.open("rb") as handle:
            start = handle.read(4)
    except FileNotFoundError:
        raise FileProblem(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FileProblem(f"{path} is a directory, not a file") from None
    except OSError as exc:
        raise FileProblem(f"{path}: cannot read it ({exc.strerror})") from None
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise FileProblem(f"{path} is UTF-16 text; save it as UTF-8 and import it again")
    return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")


def csv_records(
    path: Path, report: ParseReport
) -> Iterator[tuple[int, str, dict[str, Any] | None]]:
    """(line number, raw row, record) for each data row of a CSV file with a header.

    Rows that cannot be records (bytes that are not UTF-8, the wrong number of
    fields) are rejected here and come through with record None. Empty cells
    are None.
    """
    written: list[str] = []
    # `writerow` hands the whole line to `write` in one call.
    writer = csv.writer(_Appender(written.append), lineterminator="\r\n")
    for line, fields, record in csv_rows(path, report):
        writer.writerow(fields)
        raw = written.pop()[:-2]
        yield line, raw if record is not None else as_received(raw), record


def csv_rows(
    path: Path, report: ParseReport
) -> Iterator[tuple[int, list[str], dict[str, Any] | None]]:
    """(line number, fields, record) for each data row of a CSV file with a header.

    As `csv_records`, for readers that need the raw row only for the records
    they reject: `csv_line(fields)` writes it.
    """
    with open_text(path) as handle:
        rows = csv.reader(handle)
        try:
            header = [name.strip() for name in next(rows)]
        except StopIteration:
            return
        width = len(header)
        for row in rows:
            if not any(map(str.strip, row)):
                continue
            line = rows.line_num
            # Undecodable bytes arrive as surrogate escapes, never ASCII.
            bad_bytes = None if "".join(row).isascii() else non_utf8_reason(csv_line(row))
            if bad_bytes:
                report.reject(f"{path}:{line}", as_received(csv_line(row)), bad_bytes)
                yield line, row, None
                continue
            if len(row) != width:
                reason = f"row has {len(row)} fields, the header has {width}"
                report.reject(f"{path}:{line}", csv_line(row), reason)
                yield line, row, None
                continue
            yield line, row, {name: value or None for name, value in zip(header, row, strict=True)}


def csv_line(row: list[str]) -> str:
    """A row written back as one CSV record (fields with line breaks stay quoted)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(row)
    return out.getvalue().removesuffix("\r\n")


@dataclass(frozen=True, slots=True)
class _Appender:
    write: Callable[[str], Any]


def empty_file(path: Path) -> FileProblem:
    """The problem of a file that held no records at all."""
    return FileProblem(f"{path} is empty: there are no records to import")


def non_utf8_reason(text: str) -> str | None:
    """The reason to reject text that held bytes which are not UTF-8, or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        byte = ord(text[exc.start]) - 0xDC00
        return f"not valid UTF-8: byte 0x{byte:02x} at character {exc.start + 1}"
    return None


def whole_text(path: Path) -> str:
    """A file's whole text, for a JSON reader; `FileProblem` when it is empty or not UTF-8."""
    with open_text(path) as handle:
        text = handle.read()
    if not text.strip():
        raise empty_file(path)
    bad_bytes = non_utf8_reason(text)
    if bad_bytes:
        raise FileProblem(f"{path} is {bad_bytes}")
    return text


def as_received(text: str) -> str:
    """Text with any non-UTF-8 bytes shown as \\xNN, safe to store."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


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
