"""Vendor call files for `import calls --format ctm | callrail | invoca | calls-csv`.

JSON formats take one document (a call, an array, or the vendor's page object
such as `{"calls": [...]}`) or one JSON document per line, as saved webhook
bodies often are. Invoca's Transactions API also writes CSV (by extension, or
when the file does not start with `[` or `{`); `calls-csv` is CSV only.

Records that are not calls (CTM forms, Invoca signals) are skipped and counted
in a note; they are neither imported nor rejected.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from touchpoint.config import Settings
from touchpoint.sources.records import (
    FileProblem,
    ParseReport,
    RecordError,
    RowBatches,
    csv_records,
    empty_file,
    non_utf8_reason,
    open_text,
    to_us,
)
from touchpoint.sources.vendors.callrail import callrail_calls, callrail_row
from touchpoint.sources.vendors.calls import NotACall, record_json
from touchpoint.sources.vendors.calls_csv import KNOWN_COLUMNS, calls_csv_row
from touchpoint.sources.vendors.ctm import ctm_calls, ctm_row
from touchpoint.sources.vendors.invoca import invoca_row, invoca_transactions

BATCH_ROWS = 50_000
VENDOR_FORMATS = ("ctm", "callrail", "invoca", "calls-csv")
VENDOR_NAMES = {
    "ctm": "CallTrackingMetrics",
    "callrail": "CallRail",
    "invoca": "Invoca",
    "calls-csv": "calls-csv",
}

# A record → its row, given the settings and the microsecond it counts as received.
RowMaker = Callable[[Any, Settings, int], dict[str, Any]]
# (where in the file, the record as received, the record or None when already rejected)
Records = Iterator[tuple[str, str, Any]]

_ROWS: dict[str, RowMaker] = {
    "ctm": ctm_row,
    "callrail": callrail_row,
    "invoca": lambda record, settings, _received_us: invoca_row(record, settings),
    "calls-csv": calls_csv_row,
}
_DOCUMENT_CALLS = {"ctm": ctm_calls, "callrail": callrail_calls, "invoca": invoca_transactions}


def read_vendor_calls(
    path: Path,
    fmt: str,
    settings: Settings,
    report: ParseReport,
    batches: RowBatches,
    clock: Iterator[int],
) -> Iterator[pa.Table]:
    """Arrow tables of the good calls in one vendor file; rejects and notes go in `report`.

    `clock` gives each record the microsecond it counts as received (see `arrival_clock`):
    for a call without a modification time of its own, a later record wins.
    """
    make_row = _ROWS[fmt]
    skipped: Counter[str] = Counter()
    for source, raw, record in vendor_records(path, fmt, report):
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
        batches.add(row)
        if len(batches) >= BATCH_ROWS:
            yield batches.take()
    if len(batches):
        yield batches.take()
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


def vendor_records(path: Path, fmt: str, report: ParseReport) -> Records:
    """The records of a vendor file, JSON or CSV as the format and file say."""
    if fmt == "calls-csv" or (fmt == "invoca" and _is_csv(path)):
        yield from _csv_calls(path, fmt, report)
    else:
        yield from _json_calls(path, fmt, report)


def _is_csv(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv", ".txt"):
        return True
    if suffix in (".json", ".ndjson", ".jsonl"):
        return False
    with open_text(path) as handle:
        start = handle.read(4096).lstrip()
    return not start.startswith(("[", "{"))


def _csv_calls(path: Path, fmt: str, report: ParseReport) -> Records:
    unknown: set[str] = set()
    for line, raw, record in csv_records(path, report):
        if record is not None and fmt == "calls-csv":
            unknown.update(name for name in record if name not in KNOWN_COLUMNS)
        yield f"{path}:{line}", raw, record
    if unknown:
        shown = ", ".join(sorted(unknown)[:8]) + (" ..." if len(unknown) > 8 else "")
        report.notes.append(
            f"{path}: ignored {len(unknown)} columns touchpoint does not use ({shown})"
        )


def _json_calls(path: Path, fmt: str, report: ParseReport) -> Records:
    with open_text(path) as handle:
        content = handle.read()
    if not content.strip():
        raise empty_file(path)
    bad_bytes = non_utf8_reason(content)
    if bad_bytes:
        raise FileProblem(f"{path} is {bad_bytes}")
    split = _DOCUMENT_CALLS[fmt]
    try:
        document = json.loads(content)
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise FileProblem(
                f"{path} is not valid {VENDOR_NAMES[fmt]} JSON ({exc.msg} at line {exc.lineno})"
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
