"""Loading the intake log into the store: each closed segment exactly once.

`touchpoint build` calls `load_intake` first, with the store open. Every
closed segment not loaded before is read, its rows staged by the raw table
each record names, and landed through the store's idempotent `land`; a
checkpoint per segment is committed in the same transaction as the rows.
Only then are the segments moved to `loaded/`, where they stay for
`[collector] log_retention`. A build that dies between the commit and the
move finds the checkpoint next time and only moves the file; a segment loaded
twice anyway changes nothing, because rows collapse by their keys.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from touchpoint.collect.frames import BadRecord, decode_record, scan
from touchpoint.collect.segments import (
    LOADED,
    closed_segments,
    fsync_dir,
    intake_dir,
    recover_abandoned,
)
from touchpoint.privacy.segments import write_without
from touchpoint.privacy.suppression import Suppressed, load_list
from touchpoint.schema import RAW_TABLES, TS
from touchpoint.sources.records import compact_json, stable_hash
from touchpoint.stages.info import StageInfo  # not .pipeline: no Ibis on a no-op build
from touchpoint.store import Staging, Store

CHECKPOINT = "intake:"
BATCH_ROWS = 50_000


@dataclass
class IntakeInfo:
    """What loading the intake log did."""

    segments: int = 0  # closed segments loaded by this build
    records: int = 0  # records read from them
    landed: dict[str, int] = field(default_factory=dict)  # new rows per raw table
    recovered: int = 0  # segments of a crashed server closed on the way
    dropped_bytes: int = 0  # torn tails and damage skipped
    removed: int = 0  # loaded segments past retention, deleted
    suppressed: int = 0  # records of erased people dropped (DESIGN §16)
    rewritten: set[str] = field(default_factory=set)  # segments moved without those records
    seconds: float = 0.0

    def stage_info(self) -> StageInfo:
        """The intake as the first line of the build's stage table."""
        return StageInfo("intake", self.records, sum(self.landed.values()), self.seconds)


def load_intake(store: Store) -> IntakeInfo:
    """Land every closed, not yet loaded segment of the intake log in the store."""
    started = time.perf_counter()
    directory = intake_dir(store.settings)
    info = IntakeInfo()
    if not directory.is_dir():
        return info
    recovery = recover_abandoned(directory)
    info.recovered, info.dropped_bytes = recovery.segments, recovery.torn_bytes
    segments = closed_segments(directory)
    listed = load_list(store.con, store.settings.phone.default_region)
    if segments:
        with store.transaction(), _RowsByTable(store) as rows:
            loaded_at = datetime.now(UTC).isoformat()
            for segment in segments:
                if store.get_checkpoint(CHECKPOINT + segment.name) is not None:
                    continue  # loaded by a build that died before moving it
                _read_segment(segment, rows, info, listed)
                store.set_checkpoint(CHECKPOINT + segment.name, loaded_at)
                info.segments += 1
            info.landed = rows.land()
        _move_loaded(store, directory, segments, _dropper(listed), info.rewritten)
    info.removed = remove_expired(
        directory / LOADED, store.settings.collector.log_retention.total_seconds()
    )
    info.seconds = time.perf_counter() - started
    return info


def _read_segment(
    segment: Path, rows: _RowsByTable, info: IntakeInfo, listed: Suppressed | None
) -> None:
    found = scan(segment.read_bytes())
    info.dropped_bytes += found.damaged + found.torn
    drop = _dropper(listed)
    for payload in found.payloads:
        info.records += 1
        if drop is not None and drop(payload):
            info.suppressed += 1  # an erased person: not kept, and not in loaded/ either
            info.rewritten.add(segment.name)
            continue
        try:
            table, row = decode_record(payload)
            if table not in RAW_TABLES:
                raise BadRecord(f"no raw table {table!r}")
        except BadRecord as exc:
            rows.add("rejects", _intake_reject(segment, payload, str(exc)))
            continue
        rows.add(table, row)


def _intake_reject(segment: Path, payload: bytes, reason: str) -> dict[str, Any]:
    """A log record that cannot become a row, kept as a reject rather than failing the build."""
    record = payload.decode("utf-8", "backslashreplace")
    source = f"intake:{segment.name}"
    return {
        "source": source,
        "record": record,
        "reason": f"intake log record unusable: {reason}",
        "rejected_at": datetime.now(UTC).replace(tzinfo=None).isoformat(),
        "kind": "intake",
        "record_hash": stable_hash("intake", source, record),
    }


class _RowsByTable:
    """Log rows gathered per raw table into staging tables of the store."""

    def __init__(self, store: Store):
        self.store = store
        self.stack = contextlib.ExitStack()
        self.staged: dict[str, Staging] = {}
        self.pending: dict[str, list[dict[str, Any]]] = {}

    def __enter__(self) -> _RowsByTable:
        self.stack.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.__exit__(*exc)  # type: ignore[arg-type]

    def add(self, table: str, row: dict[str, Any]) -> None:
        pending = self.pending.setdefault(table, [])
        pending.append(row)
        if len(pending) >= BATCH_ROWS:
            self._stage(table)

    def land(self) -> dict[str, int]:
        for table in list(self.pending):
            self._stage(table)
        return {table: self.store.land(staged) for table, staged in self.staged.items()}

    def _stage(self, table: str) -> None:
        rows = self.pending.pop(table, [])
        if not rows:
            return
        if table not in self.staged:
            self.staged[table] = self.stack.enter_context(self.store.staging(table))
        good, bad = _arrow_rows(table, rows)
        self.staged[table].append(good)
        for row, reason in bad:
            self.add("rejects", _bad_row_reject(table, row, reason))
        if table != "rejects" and "rejects" in self.pending:
            self._stage("rejects")


def _arrow_rows(table: str, rows: list[dict[str, Any]]) -> tuple[pa.Table, list[tuple[dict, str]]]:
    """Rows in the raw table's Arrow layout, and the rows whose values do not fit it."""
    schema = RAW_TABLES[table]
    try:
        return _columns(schema, rows), []
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        pass
    good: list[dict[str, Any]] = []
    bad: list[tuple[dict, str]] = []
    for row in rows:  # only when a batch fails: find the rows at fault
        try:
            _columns(schema, [row])
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
            bad.append((row, str(exc).splitlines()[0] if str(exc) else type(exc).__name__))
        else:
            good.append(row)
    return _columns(schema, good), bad


def _columns(schema: pa.Schema, rows: list[dict[str, Any]]) -> pa.Table:
    # The log keeps times as ISO 8601 text (see `frames.encode_record`): read them as
    # text, then cast, which parses them.
    loose = pa.schema([pa.field(f.name, pa.string() if f.type == TS else f.type) for f in schema])
    return pa.Table.from_pylist(rows, schema=loose).cast(schema)


def _bad_row_reject(table: str, row: dict[str, Any], reason: str) -> dict[str, Any]:
    record = compact_json(row)
    source = f"intake:{table}"
    return {
        "source": source,
        "record": record,
        "reason": f"intake log row does not fit {table}: {reason}",
        "rejected_at": datetime.now(UTC).replace(tzinfo=None).isoformat(),
        "kind": "intake",
        "record_hash": stable_hash("intake", source, record),
    }


def _dropper(listed: Suppressed | None) -> Callable[[bytes], bool] | None:
    """Whether a log record names a person on the suppression list (None: the list is empty)."""
    if listed is None:
        return None
    return lambda payload: listed.matches({"payload": payload.decode("utf-8", "replace")})


def _move_loaded(
    store: Store,
    directory: Path,
    segments: list[Path],
    drop: Callable[[bytes], bool] | None = None,
    rewritten: frozenset[str] | set[str] = frozenset(),
) -> None:
    """Move committed segments to `loaded/` (without erased people's records, when `drop`
    names some), then forget their checkpoints."""
    loaded = directory / LOADED
    loaded.mkdir(exist_ok=True)
    now = time.time()
    for segment in segments:
        target = loaded / segment.name
        if drop is not None and segment.name in rewritten:
            write_without(segment, target, drop)
        else:
            os.replace(segment, target)
        os.utime(target, (now, now))  # retention counts from loading, not from writing
    fsync_dir(loaded)
    fsync_dir(directory)
    with store.transaction():
        for segment in segments:
            store.con.execute("DELETE FROM checkpoints WHERE name = ?", [CHECKPOINT + segment.name])


def remove_expired(loaded: Path, retention_seconds: float) -> int:
    """Delete loaded segments older than the retention; return how many."""
    if not loaded.is_dir():
        return 0
    cutoff = time.time() - retention_seconds
    removed = 0
    for segment in loaded.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if segment.stat().st_mtime <= cutoff:
                segment.unlink()
                removed += 1
    return removed
