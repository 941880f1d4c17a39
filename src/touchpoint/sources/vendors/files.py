"""Vendor call files for `import calls --format F`: every `CallFile` a vendor declares.

A `json` format takes one document (a call, an array, or the vendor's page
object such as `{"calls": [...]}`) or one JSON document per line, as saved
webhook bodies often are; a `csv` format a header of column names; a `json or
csv` format (Invoca's Transactions API writes both) is CSV by extension, or when
the file does not start with `[` or `{`.

Records that are not calls, texts or forms (CTM chats) are skipped and counted
in a note; they are neither imported nor rejected. Invoca's signals are kept raw
(`KeptAside`: the build adds their revenue to their call) and counted as skipped,
never as calls imported.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from touchpoint.config import Settings
from touchpoint.sources.files import AUTO, Dialect
from touchpoint.sources.records import (
    FileProblem,
    ParseReport,
    RecordError,
    RowBatches,
    csv_records,
    empty_file,
    open_text,
    to_us,
    whole_text,
)
from touchpoint.sources.salesforce.reading import KeptAside
from touchpoint.sources.vendors import VENDORS
from touchpoint.sources.vendors.call_facts import SIGNAL_KIND
from touchpoint.sources.vendors.calls import NotACall, record_json
from touchpoint.sources.vendors.vendor import CallFile, Vendor

BATCH_ROWS = 50_000
# --format → the vendor and the file format it declares.
_FORMATS: dict[str, tuple[Vendor, CallFile]] = {
    file.name: (vendor, file) for vendor in VENDORS for file in vendor.files
}
VENDOR_FORMATS = tuple(_FORMATS)

# (where in the file, the record as received, the record or None when already rejected)
Records = Iterator[tuple[str, str, Any]]


def read_vendor_calls(
    path: Path,
    fmt: str,
    settings: Settings,
    report: ParseReport,
    batches: RowBatches,
    clock: Iterator[int],
    dialect: Dialect = AUTO,
) -> Iterator[pa.Table | KeptAside]:
    """Arrow tables of the good calls in one vendor file; rejects and notes go in `report`.

    `clock` gives each record the microsecond it counts as received (see `arrival_clock`):
    for a call without a modification time of its own, a later record wins.
    """
    vendor, file = _FORMATS[fmt]
    make_row = file.row or vendor.row
    skipped: Counter[str] = Counter()
    aside = RowBatches(batches.schema, **batches.fixed)  # signals: kept, not calls
    records = (
        file.reader(path, report, dialect, settings)
        if file.reader is not None
        else vendor_records(path, fmt, report, dialect)
    )
    for source, raw, record in records:
        if record is None:  # rejected while reading
            report.seen += 1
            continue
        try:
            row = make_row(record, settings, next(clock))
        except NotACall as exc:
            skipped[str(exc)] += 1
            continue
        except RecordError as exc:
            report.seen += 1
            report.reject(source, raw, str(exc))
            continue
        report.seen += 1
        if row["kind"] == SIGNAL_KIND:
            report.skip(f"{vendor.title} signals, kept for their calls' value")
            aside.add(row)
            if len(aside) >= BATCH_ROWS:
                yield KeptAside(aside.take())
            continue
        batches.add(row)
        if len(batches) >= BATCH_ROWS:
            yield batches.take()
    if len(batches):
        yield batches.take()
    if len(aside):
        yield KeptAside(aside.take())
    if skipped:
        kinds = "; ".join(f"{count} × {what}" for what, count in sorted(skipped.items()))
        report.notes.append(
            f"{path}: skipped {sum(skipped.values())} records that are not calls ({kinds})"
        )
    if report.seen == 0 and not skipped:
        raise empty_file(path)


def arrival_clock(received_at: datetime) -> Iterator[int]:
    """Successive microseconds from an import's time: the order its records arrived in.

    One import's files and records are ordered as given, and a later import comes
    after them all.
    """
    start = received_at if received_at.tzinfo else received_at.replace(tzinfo=UTC)
    return itertools.count(to_us(start))


def vendor_records(path: Path, fmt: str, report: ParseReport, dialect: Dialect = AUTO) -> Records:
    """The records of a vendor file, JSON or CSV as the format and file say."""
    vendor, file = _FORMATS[fmt]
    if file.layout == "csv" or (file.layout == "json or csv" and _is_csv(path, dialect)):
        yield from _csv_calls(path, file, report, dialect)
    else:
        yield from _json_calls(path, vendor, report, dialect)


def _is_csv(path: Path, dialect: Dialect) -> bool:
    suffix = "." + path.name.lower().removesuffix(".gz").rpartition(".")[2]
    if suffix in (".csv", ".tsv", ".txt"):
        return True
    if suffix in (".json", ".ndjson", ".jsonl"):
        return False
    with open_text(path, dialect) as handle:
        start = handle.read(4096).lstrip()
    return not start.startswith(("[", "{"))


def _csv_calls(path: Path, file: CallFile, report: ParseReport, dialect: Dialect) -> Records:
    unknown: set[str] = set()
    for line, raw, record in csv_records(path, report, dialect):
        if record is not None and file.known_columns:
            unknown.update(name for name in record if name not in file.known_columns)
        yield f"{path}:{line}", raw, record
    if unknown:
        shown = ", ".join(sorted(unknown)[:8]) + (" ..." if len(unknown) > 8 else "")
        report.notes.append(
            f"{path}: ignored {len(unknown)} columns touchpoint does not use ({shown})"
        )


def _json_calls(path: Path, vendor: Vendor, report: ParseReport, dialect: Dialect) -> Records:
    content = whole_text(path, dialect)
    split = vendor.records
    try:
        document = json.loads(content)
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise FileProblem(
                f"{path} is not valid {vendor.title} JSON ({exc.msg} at line {exc.lineno})"
            ) from None
    else:
        for index, item in enumerate(split(document)):
            yield f"{path}:calls[{index}]", record_json(item), item
        return
    # One JSON document per line, as saved webhook bodies are.
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        source = f"{path}:{number}"
        try:
            document = json.loads(line)
        except json.JSONDecodeError as exc:
            report.reject(source, line, f"not valid JSON ({exc.msg})")
            yield source, line, None
            continue
        for index, item in enumerate(split(document)):
            yield f"{source}[{index}]" if index else source, record_json(item), item
