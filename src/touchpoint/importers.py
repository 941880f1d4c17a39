"""`touchpoint import`: files → raw tables, with rejects kept and re-import a no-op.

Each file lands in one transaction (all files in one with `--strict`, which
lands nothing when anything is rejected). Records already present count as
accepted; rejected records are kept in `rejects` with their reason.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from touchpoint.config import Settings
from touchpoint.errors import TouchpointError
from touchpoint.privacy.suppression import SUPPRESSED
from touchpoint.schema import CRM_TABLES, RAW_CALLS, RAW_TABLES, REJECTS
from touchpoint.sources import events as event_files
from touchpoint.sources.events_bulk import import_event_file
from touchpoint.sources.files import AUTO, Dialect, files_to_import
from touchpoint.sources.records import FileProblem, ParseReport, Reject, RowBatches, stable_hash
from touchpoint.sources.salesforce import crm as salesforce_crm
from touchpoint.sources.salesforce import tasks as salesforce_tasks
from touchpoint.sources.salesforce.reading import KeptAside
from touchpoint.sources.vendors import files as vendor_files
from touchpoint.store import Staging, Store

CALL_FORMATS = ("salesforce-csv", "salesforce-json", *vendor_files.VENDOR_FORMATS)


@dataclass
class ImportResult:
    """What an import did, for the summary line and `--json`."""

    kind: str
    seen: int = 0
    landed: int = 0
    rejected: int = 0
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    first_rejects: list[Reject] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # by reason: not of this kind
    files: list[FileImported] = field(default_factory=list)  # each file, in import order

    @property
    def accepted(self) -> int:
        return self.seen - self.rejected - self.skipped.total()

    @property
    def already_present(self) -> int:
        return self.accepted - self.landed

    @property
    def failed(self) -> bool:
        """Exit 1: a file could not be read, or every record was rejected."""
        return bool(self.problems) or (self.rejected > 0 and self.accepted == 0)


@dataclass(frozen=True)
class FileImported:
    """What one file of an import gave: records read, new, rejected, or why it gave none."""

    path: Path
    seen: int = 0
    landed: int = 0
    rejected: int = 0
    problem: str | None = None


class StrictRejected(TouchpointError):
    """`--strict` met a reject: nothing landed."""


# Stages one file's good rows (and, in the second staging, rows kept that are not of the
# kind imported) and records its rejects and notes in the report; may say how many of
# the file's bytes it has read so far (the rest is counted when it returns).
FileLoader = Callable[[Staging, Path, ParseReport, datetime, Callable[[int], None], Staging], None]


# Reads one file's good rows into Arrow tables of its raw table, filling these batches
# (of the import's arrival time and the file); rejects and notes go in the report.
TableReader = Callable[[Path, ParseReport, RowBatches, datetime], Iterator[pa.Table | KeptAside]]


def total_bytes(paths: list[Path]) -> int:
    """The size of the files to import (directories and globs expanded), for a progress bar."""
    return sum(path.stat().st_size for path in files_to_import(paths)[0] if path.is_file())


def reject_rows(kind: str, rejects: Iterable[Reject], at: datetime) -> pa.Table:
    """Rejects in the `rejects` table's layout (the same reject twice is one row)."""
    rows = list(rejects)
    return pa.table(
        {
            "source": [r.source for r in rows],
            "record": [r.record for r in rows],
            "reason": [r.reason for r in rows],
            "rejected_at": pa.array([at] * len(rows), pa.timestamp("us")),
            "kind": [kind] * len(rows),
            "record_hash": [stable_hash(kind, r.source, r.record) for r in rows],
        },
        schema=REJECTS,
    )


def _import(
    settings: Settings,
    kind: str,
    table: str,
    paths: list[Path],
    load: FileLoader,
    strict: bool,
    on_bytes: Callable[[int], None] = lambda _n: None,
) -> ImportResult:
    result = ImportResult(kind=kind)
    received_at = datetime.now(UTC).replace(tzinfo=None)
    paths, unmatched = files_to_import(paths)
    result.problems.extend(unmatched)
    with Store.open(settings) as store:
        whole = store.transaction() if strict else contextlib.nullcontext()
        with whole:
            for path in paths:
                report = ParseReport()
                per_file = contextlib.nullcontext() if strict else store.transaction()
                read = [0]

                def tell(count: int, read: list[int] = read) -> None:
                    read[0] += count
                    on_bytes(count)

                try:
                    # Staging happens before the file's transaction opens: inside one,
                    # DuckDB keeps every Arrow chunk it scanned alive until the commit.
                    with store.staging(table) as staged, store.staging(table) as aside:
                        load(staged, path, report, received_at, tell, aside)
                        with per_file:
                            landed = store.land(staged)
                            store.land(aside)  # kept, and counted as skipped
                            if staged.suppressed:  # erased people's records (DESIGN §16)
                                report.skipped[SUPPRESSED] += staged.suppressed
                            store.insert_new(
                                "rejects", [reject_rows(kind, report.rejects, received_at)]
                            )
                except FileProblem as exc:
                    if strict:
                        raise
                    result.problems.append(str(exc))
                    result.files.append(FileImported(path, problem=str(exc)))
                    continue
                finally:
                    size = path.stat().st_size if path.is_file() else 0
                    on_bytes(max(0, size - read[0]))
                result.seen += report.seen
                result.landed += landed
                result.rejected += len(report.rejects)
                result.skipped.update(report.skipped)
                result.notes.extend(report.notes)
                result.first_rejects.extend(report.rejects[: 5 - len(result.first_rejects)])
                result.files.append(FileImported(path, report.seen, landed, len(report.rejects)))
            if strict and result.rejected:
                first = result.first_rejects[0]
                raise StrictRejected(
                    f"{result.rejected} of {result.seen} {kind} rejected, so with --strict "
                    f"nothing was imported; first: {first.source}: {first.reason}"
                )
    return result


def import_events(
    settings: Settings,
    paths: list[Path],
    fmt: str | None = None,
    strict: bool = False,
    on_bytes: Callable[[int], None] = lambda _n: None,
    dialect: Dialect = AUTO,
) -> ImportResult:
    """Import web-event files (NDJSON, CSV, Parquet; maybe gzip) into the store.

    A directory or glob imports every file in it; `dialect` says how to read text files.
    """
    if fmt:
        event_files.format_of(Path(), fmt)  # an unknown --format is one error up front

    def load(
        staged: Staging,
        path: Path,
        report: ParseReport,
        received_at: datetime,
        tell: Callable[[int], None],
        _aside: Staging,
    ) -> None:
        file_format = event_files.format_of(path, fmt)
        privacy = event_files.Privacy.of(settings.collector)  # DESIGN §16, as collected
        import_event_file(staged, path, file_format, report, received_at, tell, dialect, privacy)

    return _import(settings, "events", "raw_events", paths, load, strict, on_bytes)


def import_calls(
    settings: Settings,
    paths: list[Path],
    fmt: str,
    strict: bool = False,
    on_bytes: Callable[[int], None] = lambda _n: None,
    dialect: Dialect = AUTO,
) -> ImportResult:
    """Import call records in one of the `CALL_FORMATS` into the store."""
    _known("calls format", fmt, CALL_FORMATS)
    load = _table_loader(RAW_CALLS, _call_reader(fmt, settings, dialect))
    return _import(settings, "calls", "raw_calls", paths, load, strict, on_bytes)


def _call_reader(fmt: str, settings: Settings, dialect: Dialect) -> TableReader:
    """How one import reads its call files: a vendor's format, or Salesforce Tasks."""
    if fmt not in vendor_files.VENDOR_FORMATS:
        return lambda path, report, batches, _received_at: salesforce_tasks.read_tasks(
            path, fmt, settings, report, batches, dialect
        )
    clocks: list[Iterator[int]] = []  # one arrival order across all files of this import

    def read(
        path: Path, report: ParseReport, batches: RowBatches, received_at: datetime
    ) -> Iterator[pa.Table]:
        clocks[:] = clocks or [vendor_files.arrival_clock(received_at)]
        return vendor_files.read_vendor_calls(
            path, fmt, settings, report, batches, clocks[0], dialect
        )

    return read


def import_crm(
    settings: Settings,
    paths: list[Path],
    kind: str,
    strict: bool = False,
    on_bytes: Callable[[int], None] = lambda _n: None,
    dialect: Dialect = AUTO,
) -> ImportResult:
    """Import Salesforce CRM exports of one kind (leads, contacts, ...) into the store."""
    _known("CRM kind", kind, CRM_TABLES)
    table = CRM_TABLES[kind]
    if kind in ("opportunities", "campaign-members"):
        salesforce_crm.site_zone(settings)  # a bad time zone is one error, not a reject per row

    def read(
        path: Path, report: ParseReport, batches: RowBatches, _received_at: datetime
    ) -> Iterator[pa.Table]:
        return salesforce_crm.read_crm(path, kind, settings, report, batches, dialect)

    load = _table_loader(RAW_TABLES[table], read)
    return _import(settings, kind, table, paths, load, strict, on_bytes)


def _known(what: str, name: str, known: Collection[str]) -> None:
    """Stop with one line when `name` is not one of the known formats or kinds."""
    if name not in known:
        raise TouchpointError(f"unknown {what} {name!r}; use one of {', '.join(known)}")


def _table_loader(schema: pa.Schema, read: TableReader) -> FileLoader:
    """A loader that stages the tables `read` makes of each file's rows."""

    def load(
        staged: Staging,
        path: Path,
        report: ParseReport,
        received_at: datetime,
        _tell: Callable[[int], None],
        aside: Staging,
    ) -> None:
        batches = RowBatches(schema, received_at=received_at, origin=f"file:{path.resolve()}")
        for batch in read(path, report, batches, received_at):
            if isinstance(batch, KeptAside):
                aside.append(batch.rows)
            else:
                staged.append(batch)

    return load
