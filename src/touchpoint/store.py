"""The DuckDB store: raw tables in, published build snapshots out.

The store file (`--db`) holds what importers and the intake log bring: raw
events, raw call records and rejects. Only one process writes it at a time;
DuckDB's file lock enforces that and `Store.open` turns a conflict into one
clear line.

`build` writes its results into a new snapshot file beside the store and then
points `CURRENT` at it with an atomic rename. Readers (`export`, `explain`,
`report`, `serve`) open the current snapshot read-only, so they never wait for
a build, and a build that fails leaves the previous snapshot in place.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from touchpoint.config import Settings
from touchpoint.errors import TouchpointError
from touchpoint.privacy.suppression import drop_suppressed
from touchpoint.schema import RAW_TABLES, duckdb_type

# Which columns make a raw record the same record again (re-import is a no-op).
RAW_KEYS = {
    "raw_events": ("event_id",),
    "raw_calls": ("record_hash",),
    "rejects": ("record_hash",),
    "raw_leads": ("record_hash",),
    "raw_contacts": ("record_hash",),
    "raw_opportunities": ("record_hash",),
    "raw_contact_roles": ("record_hash",),
    "raw_campaign_members": ("record_hash",),
    "raw_number_assignments": ("assignment_id",),
}


def snapshot_dir(db: Path) -> Path:
    """Where published builds of the store at `db` live."""
    return db.with_name(db.name + ".snapshots")


def _connect(path: Path, settings: Settings, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    config: dict[str, str | bool | int | float | list[str]] = {
        "memory_limit": settings.store.memory_limit
    }
    if settings.store.threads:
        config["threads"] = settings.store.threads
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        raise TouchpointError(describe_lock(path, exc)) from None
    except duckdb.Error as exc:
        raise TouchpointError(f"cannot open {path}: {first_line(exc)}") from None
    # DuckDB draws its own progress bar on stdout for long queries: stdout is for data.
    con.execute("SET enable_progress_bar = false")
    return con


def describe_lock(path: Path, exc: Exception) -> str:
    """One line for a store another process holds, naming that process when DuckDB says."""
    text = str(exc)
    if "lock" not in text.lower():
        return f"cannot open {path}: {first_line(exc)}"
    pid = re.search(r"PID (\d+)", text)
    holder = f" (process {pid.group(1)})" if pid else ""
    return f"{path} is in use by another touchpoint command{holder}; try again when it has finished"


def first_line(exc: BaseException) -> str:
    """An exception's message without its continuation lines."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class Store:
    """A writable connection to the store, with the schema in place."""

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection, settings: Settings):
        self.path = path
        self.con = con
        self.settings = settings

    @classmethod
    @contextlib.contextmanager
    def open(cls, settings: Settings) -> Iterator[Store]:
        """Open the store for writing (creating it and its schema on first use)."""
        path = settings.db
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        con = _connect(path, settings, read_only=False)
        try:
            store = cls(path, con, settings)
            store.ensure_schema()
            yield store
        finally:
            con.close()

    def ensure_schema(self) -> None:
        """Create missing raw tables and columns; existing data is never touched."""
        for table, schema in RAW_TABLES.items():
            columns = ", ".join(f'"{f.name}" {duckdb_type(f.type)}' for f in schema)
            self.con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({columns})")
            for f in schema:
                self.con.execute(
                    f'ALTER TABLE {table} ADD COLUMN IF NOT EXISTS "{f.name}" {duckdb_type(f.type)}'
                )
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS checkpoints (name VARCHAR PRIMARY KEY, value VARCHAR)"
        )

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All or nothing: used by imports (`--strict`) and by loading the intake log."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")

    @contextlib.contextmanager
    def staging(self, table: str) -> Iterator[Staging]:
        """A temporary table shaped like `table` (plus `_seq`) to gather one import in."""
        schema = RAW_TABLES[table]
        staged = Staging(self, table, f"staged_{uuid.uuid4().hex}")
        columns = ", ".join(f'"{f.name}" {duckdb_type(f.type)}' for f in schema)
        self.con.execute(
            f"CREATE TEMP TABLE {staged.name} ({columns}, _seq BIGINT, _ok BOOLEAN DEFAULT true)"
        )
        try:
            yield staged
        finally:
            self.con.execute(f"DROP TABLE IF EXISTS {staged.name}")

    def land(self, staged: Staging) -> int:
        """Move staged rows not already present (by the table's key) into the table.

        One comparison with the existing rows per import, however many batches it
        was staged in. Among staged rows sharing a key, the lowest `_seq` wins.
        The winners are chosen on the narrow key columns alone (an aggregate, which
        spills to disk), so that ten million wide rows fit in `memory_limit`.
        Rows of erased people (the suppression list, DESIGN §16) are dropped first
        and counted in `staged.suppressed`. Returns how many rows landed.
        """
        table = staged.table
        region = self.settings.phone.default_region
        staged.suppressed += drop_suppressed(self.con, staged.name, table, region)
        keys = RAW_KEYS[table]
        names = ", ".join(f'"{name}"' for name in RAW_TABLES[table].names)
        join = " AND ".join(f"r.{k} IS NOT DISTINCT FROM s.{k}" for k in keys)
        before = self.count(table)
        self.con.execute(
            f"""
            INSERT INTO {table} ({names})
            SELECT {names} FROM {staged.name}
            WHERE _seq IN (
                SELECT min(_seq) FROM {staged.name} AS s
                WHERE NOT EXISTS (SELECT 1 FROM {table} AS r WHERE {join})
                GROUP BY {", ".join(keys)}
            )
            """
        )
        return self.count(table) - before

    def insert_new(self, table: str, batches: Iterable[pa.Table]) -> int:
        """Stage Arrow batches and land the new rows; return how many landed."""
        with self.staging(table) as staged:
            for batch in batches:
                staged.append(batch)
            return self.land(staged)

    @contextlib.contextmanager
    def registered(self, rows: pa.Table) -> Iterator[str]:
        """Arrow rows visible to SQL under a fresh name, for as long as the block runs."""
        name = f"arrow_{uuid.uuid4().hex}"
        self.con.register(name, rows)
        try:
            yield name
        finally:
            self.con.unregister(name)

    def count(self, table: str) -> int:
        row = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()
        return int(row[0]) if row else 0

    def get_checkpoint(self, name: str) -> str | None:
        row = self.con.execute("SELECT value FROM checkpoints WHERE name = ?", [name]).fetchone()
        return None if row is None else str(row[0])

    def set_checkpoint(self, name: str, value: str) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO checkpoints (name, value) VALUES (?, ?)", [name, value]
        )

    # -- snapshots -----------------------------------------------------------

    def new_snapshot(self) -> Snapshot:
        """A fresh, unpublished snapshot file attached as `snap` for a build to fill."""
        directory = snapshot_dir(self.path)
        directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = directory / f"build-{stamp}-{uuid.uuid4().hex[:8]}.duckdb"
        self.con.execute(f"ATTACH '{path}' AS snap")
        return Snapshot(path=path)

    def publish(self, snapshot: Snapshot) -> None:
        """Make `snapshot` the one readers see, atomically; prune old ones."""
        self.con.execute("DETACH snap")
        _fsync(snapshot.path)
        directory = snapshot.path.parent
        pointer = directory / "CURRENT"
        temporary = directory / f".CURRENT.{uuid.uuid4().hex}"
        temporary.write_text(snapshot.path.name + "\n")
        _fsync(temporary)
        os.replace(temporary, pointer)
        _fsync(directory)
        prune_snapshots(directory, keep=self.settings.store.keep_snapshots)

    def discard(self, snapshot: Snapshot) -> None:
        """Drop a snapshot whose build failed; the published one stays."""
        with contextlib.suppress(duckdb.Error):
            self.con.execute("DETACH snap")
        for leftover in (snapshot.path, snapshot.path.with_name(snapshot.path.name + ".wal")):
            leftover.unlink(missing_ok=True)


class Staging:
    """Rows of one import on their way into a raw table."""

    def __init__(self, store: Store, table: str, name: str):
        self.store = store
        self.table = table
        self.name = name
        self.rows = 0
        self.suppressed = 0  # rows of erased people dropped when landing

    def append(self, batch: pa.Table) -> None:
        """Stage Arrow rows in the raw table's layout, after those staged before."""
        if batch.num_rows == 0:
            return
        schema = RAW_TABLES[self.table]
        rows = batch.select(schema.names).cast(schema)
        seq = pa.array(range(self.rows, self.rows + rows.num_rows), pa.int64())
        with self.store.registered(rows.append_column("_seq", seq)) as view:
            self.store.con.execute(f"INSERT INTO {self.name} SELECT *, true FROM {view}")
        self.rows += rows.num_rows

    def append_sql(self, select: str, params: dict[str, object] | None = None) -> int:
        """Stage the rows of a SELECT giving the layout's columns, `_seq` and `_ok`."""
        before = self.store.count(self.name)
        self.store.con.execute(f"INSERT INTO {self.name} {select}", params or {})
        added = self.store.count(self.name) - before
        self.rows += added
        return added


@dataclass(frozen=True)
class Snapshot:
    path: Path


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def prune_snapshots(directory: Path, keep: int) -> None:
    """Remove all but the newest `keep` published snapshots (readers keep open files alive)."""
    current = current_snapshot_path(directory.parent / directory.name.removesuffix(".snapshots"))
    builds = sorted(directory.glob("build-*.duckdb"))
    for old in builds[:-keep]:
        if old != current:
            old.unlink(missing_ok=True)
            old.with_name(old.name + ".wal").unlink(missing_ok=True)


def current_snapshot_path(db: Path) -> Path | None:
    """The published snapshot of the store at `db`, or None before the first build."""
    pointer = snapshot_dir(db) / "CURRENT"
    try:
        name = pointer.read_text().strip()
    except FileNotFoundError:
        return None
    path = pointer.parent / name
    return path if path.exists() else None


@contextlib.contextmanager
def open_snapshot(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the latest published build."""
    for _attempt in range(3):
        path = current_snapshot_path(settings.db)
        if path is None:
            raise TouchpointError(
                f"nothing has been built yet for {settings.db}: run `touchpoint build` first"
            )
        try:
            con = _connect(path, settings, read_only=True)
        except TouchpointError:
            continue  # pruned between reading CURRENT and opening it: read CURRENT again
        try:
            yield con
        finally:
            con.close()
        return
    raise TouchpointError(f"cannot open the latest build of {settings.db}")


@contextlib.contextmanager
def open_store_readonly(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """The store for reading, or None when another process is writing it right now."""
    if not settings.db.exists():
        yield None
        return
    try:
        con = _connect(settings.db, settings, read_only=True)
    except TouchpointError:
        yield None
        return
    try:
        yield con
    finally:
        con.close()
