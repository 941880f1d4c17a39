"""`touchpoint export`: a result table as CSV, JSON lines or Parquet, values verbatim.

Tables come from the published snapshot; `rejects` comes from the store itself
when no other command is writing it, so rejects show right after an import.
Timestamps are ISO 8601 in UTC with a `Z` (DESIGN §8); Parquet keeps them as
UTC timestamps.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb

from touchpoint.config import Settings
from touchpoint.errors import TouchpointError
from touchpoint.schema import EXPORT_TABLES, OUTPUT_COLUMNS
from touchpoint.store import open_snapshot, open_store_readonly

FORMATS = ("csv", "json", "parquet")

# The order rows are written in, so that two exports of one build are identical.
ORDER_BY = {
    "events": "visitor_id, occurred_at, event_id",
    "sessions": "visitor_id, started_at, session_id",
    "calls": "called_at, source_system, call_id",
    "touchpoints": "person_id, touchpoint_date, touchpoint_id",
    "attribution": "conversion_id, model, touchpoint_id",
    "rejects": "rejected_at, source",
}

# Columns exported after the contract's, per table.
EXTRA_COLUMNS: dict[str, tuple[str, ...]] = {
    "events": ("session_id", "source", "medium", "utm_campaign", "click_id", "title", "email"),
    "sessions": ("event_count",),
    "calls": ("subject", "who_id", "what_id", "call_type"),
    "touchpoints": ("conversion_kind",),
    "attribution": ("is_closed", "is_won"),
    "rejects": ("kind",),
}


def _column_sql(con: duckdb.DuckDBPyConnection, table: str, fmt: str) -> str:
    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {table})").fetchall())
    wanted = [c for c in (*OUTPUT_COLUMNS[table], *EXTRA_COLUMNS[table]) if c in types]
    missing = [c for c in OUTPUT_COLUMNS[table] if c not in types]
    if missing:
        raise TouchpointError(
            f"the last build has no column {missing[0]} in {table}: run `touchpoint build` again"
        )
    parts = []
    for column in wanted:
        quoted = f'"{column}"'
        if types[column].startswith("TIMESTAMP"):
            if fmt == "parquet":
                parts.append(f"timezone('UTC', {quoted}) AS {quoted}")
            else:
                parts.append(
                    f"strftime({quoted}, '%Y-%m-%dT%H:%M:%S') || CASE WHEN strftime({quoted}, '%f')"
                    f" = '000000' THEN '' ELSE '.' || strftime({quoted}, '%f') END || 'Z'"
                    f" AS {quoted}"
                )
        else:
            parts.append(quoted)
    return ", ".join(parts)


def _copy_options(fmt: str) -> str:
    return {
        "csv": "FORMAT csv, HEADER true",
        "json": "FORMAT json",
        "parquet": "FORMAT parquet",
    }[fmt]


def export_table(settings: Settings, table: str, fmt: str, output: Path | None) -> int:
    """Write `table` in `fmt` to `output` (stdout when None); return the row count."""
    if table not in EXPORT_TABLES:
        raise TouchpointError(f"unknown table {table!r}; use one of {', '.join(EXPORT_TABLES)}")
    if fmt not in FORMATS:
        raise TouchpointError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    with _reader(settings, table) as con:
        con.execute("SET TimeZone = 'UTC'")
        select = f"SELECT {_column_sql(con, table, fmt)} FROM {table} ORDER BY {ORDER_BY[table]}"
        rows = int((con.execute(f"SELECT count(*) FROM {table}").fetchone() or (0,))[0])
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            con.execute(f"COPY ({select}) TO '{_sql_path(output)}' ({_copy_options(fmt)})")
            return rows
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / f"{table}.{fmt}"
            con.execute(f"COPY ({select}) TO '{_sql_path(path)}' ({_copy_options(fmt)})")
            with path.open("rb") as handle, contextlib.suppress(BrokenPipeError):
                shutil.copyfileobj(handle, sys.stdout.buffer)
                sys.stdout.buffer.flush()
    return rows


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


@contextlib.contextmanager
def _reader(settings: Settings, table: str) -> Iterator[duckdb.DuckDBPyConnection]:
    if table == "rejects":
        with open_store_readonly(settings) as store:
            if store is not None:
                yield store
                return
    with open_snapshot(settings) as snapshot:
        yield snapshot
