"""What every Salesforce file reader shares: the header's API names, good rows in
batches, rejects with where they came from, records skipped as not of the kind
imported (kept aside, so a build can decide again), and a note of the fields
touchpoint does not read."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from touchpoint.config import Settings
from touchpoint.sources.records import FileProblem, ParseReport, RecordError, RowBatches, empty_file

BATCH_ROWS = 50_000

# (where in the file, the record as received, the record or None when already rejected)
Records = Iterator[tuple[Any, Any, dict[str, Any] | None]]
RowOf = Callable[[dict[str, Any], Settings], dict[str, Any]]
# Why a valid record is not of the kind imported (an email among Tasks), or None.
SkipOf = Callable[[dict[str, Any], Settings], str | None]


@dataclass(frozen=True)
class KeptAside:
    """Rows kept raw that do not count as imported: records skipped as not of the kind
    imported (a Task that is an email), which the build decides on again (DESIGN §11)."""

    rows: pa.Table


def rows_in_batches(
    path: Path,
    records: Records,
    row_of: RowOf,
    settings: Settings,
    known: frozenset[str],
    origin: Callable[[Any, Any], tuple[str, str]],
    report: ParseReport,
    batches: RowBatches,
    skip_of: SkipOf | None = None,
    kept_of: RowOf | None = None,
) -> Iterator[pa.Table | KeptAside]:
    """Arrow tables of the rows `row_of` makes of the records, `BATCH_ROWS` at a time.

    A record it refuses is a reject at `origin(place, received)`; one `skip_of`
    gives a reason for is counted as skipped, and its row by `kept_of` (when
    given, and when the record makes one) comes `KeptAside`; a file with no
    records is a `FileProblem`.
    """
    unknown: set[str] = set()
    aside = RowBatches(batches.schema, **batches.fixed)
    for place, received, record in records:
        report.seen += 1
        if record is None:
            continue
        if not known.issuperset(record):
            unknown |= record.keys() - known
        reason = None if skip_of is None else skip_of(record, settings)
        if reason is not None:
            report.skip(reason)
            if kept_of is not None:
                _add_row(aside, kept_of, record, settings)
            if len(aside) >= BATCH_ROWS:
                yield KeptAside(aside.take())
            continue
        try:
            row = row_of(record, settings)
        except RecordError as exc:
            report.reject(*origin(place, received), str(exc))
            continue
        batches.add(row)
        if len(batches) >= BATCH_ROWS:
            yield batches.take()
    if len(batches):
        yield batches.take()
    if len(aside):
        yield KeptAside(aside.take())
    if report.seen == 0:
        raise empty_file(path)
    report.note_unused(path, unknown)


def _add_row(
    batches: RowBatches, row_of: RowOf, record: dict[str, Any], settings: Settings
) -> None:
    """Add the record's row, if it makes one (a skipped record is never a reject)."""
    with contextlib.suppress(RecordError):
        batches.add(row_of(record, settings))


def api_named(
    path: Path, records: Records, what: str, known: frozenset[str], required: tuple[str, ...]
) -> Records:
    """A CSV file's records with its header read as Salesforce API names in any case.

    Data Loader writes `ID`, `CREATEDDATE`: each column that is a field touchpoint
    reads, whatever its case, takes the field's own spelling (so the record kept
    in the raw table reads as the API does). A header without a required field
    is a `FileProblem` before any record lands, and says whether it holds a
    report's labels (`Activity ID`, `Created Date`) instead of API names.
    """
    renames: dict[str, str] | None = None
    for place, received, record in records:
        if record is not None:
            if renames is None:
                renames = header_renames(path, list(record), what, known, required)
            if renames:
                record = {renames.get(name, name): value for name, value in record.items()}
        yield place, received, record


def header_renames(
    path: Path, header: list[str], what: str, known: frozenset[str], required: tuple[str, ...]
) -> dict[str, str]:
    """The header's columns that are known fields in another case, to their API names."""
    spelling = {name.lower(): name for name in known}
    renames = {
        column: spelling[column.lower()]
        for column in header
        if column not in known and column.lower() in spelling
    }
    present = {renames.get(column, column) for column in header}
    missing = [name for name in required if name not in present]
    if not missing:
        return renames
    expected = ", ".join([*required, *sorted(known - set(required))])
    labels = [column for column in header if " " in column.strip()]
    if labels:
        shown = ", ".join(labels[:4]) + (", ..." if len(labels) > 4 else "")
        raise FileProblem(
            f"{path}: the header has a report's column labels ({shown}), not Salesforce API "
            f"names; export the {what} with API names (Data Loader, Workbench, sf data export): "
            f"{expected}"
        )
    raise FileProblem(
        f"{path}: no {', '.join(missing)} column, which {what} need; the header should have "
        f"Salesforce API names (any case): {expected}"
    )
