"""What every Salesforce file reader shares: good rows in batches, rejects with where
they came from, and a note of the fields touchpoint does not read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from touchpoint.config import Settings
from touchpoint.sources.records import ParseReport, RecordError, RowBatches, empty_file

BATCH_ROWS = 50_000

# (where in the file, the record as received, the record or None when already rejected)
Records = Iterator[tuple[Any, Any, dict[str, Any] | None]]
RowOf = Callable[[dict[str, Any], Settings], dict[str, Any]]


def rows_in_batches(
    path: Path,
    records: Records,
    row_of: RowOf,
    settings: Settings,
    known: frozenset[str],
    origin: Callable[[Any, Any], tuple[str, str]],
    report: ParseReport,
    batches: RowBatches,
) -> Iterator[pa.Table]:
    """Arrow tables of the rows `row_of` makes of the records, `BATCH_ROWS` at a time.

    A record it refuses is a reject at `origin(place, received)`; a file with no
    records is a `FileProblem`.
    """
    unknown: set[str] = set()
    for place, received, record in records:
        report.seen += 1
        if record is None:
            continue
        if not known.issuperset(record):
            unknown |= record.keys() - known
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
    if report.seen == 0:
        raise empty_file(path)
    report.note_unused(path, unknown)
