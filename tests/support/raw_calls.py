"""Call records as the raw table keeps them, written into a real store and built.

For the `[calls]` rules (DESIGN §12) the tests need records that say what they
are and how the call went (kind, direction, status, spam, ...) whatever each
vendor's reader fills today: a CSV block whose header names raw-calls columns,
one row a record; missing columns are empty. Times are RFC 3339.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from support.scenario import TABLES, Case, arrow_of, import_case, rows_of, with_touchpoint_facts
from touchpoint.build.build import build
from touchpoint.config import Settings
from touchpoint.schema import RAW_CALLS
from touchpoint.store import Store, open_snapshot

DEFAULT_SOURCE = "calltracker"
_BOOLEAN = {"true": True, "false": False}


def _value(field: pa.Field, text: str) -> Any:
    if text == "":
        return None
    if pa.types.is_boolean(field.type):
        return _BOOLEAN[text.lower()]
    if pa.types.is_integer(field.type):
        return int(text)
    if pa.types.is_floating(field.type):
        return float(text)
    if pa.types.is_timestamp(field.type):
        return datetime.fromisoformat(text).astimezone(UTC).replace(tzinfo=None)
    return text


def raw_call_rows(text: str) -> pa.Table:
    """The raw-calls rows a CSV block describes."""
    rows = []
    for record in csv.DictReader(io.StringIO(text.strip())):
        row: dict[str, Any] = {f.name: None for f in RAW_CALLS}
        for name, cell in record.items():
            row[name.strip()] = _value(RAW_CALLS.field(name.strip()), (cell or "").strip())
        row["source_system"] = row["source_system"] or DEFAULT_SOURCE
        called = row["called_at"]
        row["called_us"] = int(called.replace(tzinfo=UTC).timestamp() * 1_000_000)
        row["version_us"] = row["version_us"] or row["called_us"]
        row["is_deleted"] = bool(row["is_deleted"])
        row["record"] = row["record"] or "{}"
        row["record_hash"] = f"{row['source_system']}:{row['call_id']}"
        row["received_at"] = called
        row["origin"] = "tests"
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=RAW_CALLS)


def land_raw_calls(settings: Settings, text: str) -> int:
    """Put the records into the store's `raw_calls`, as an import lands them."""
    with Store.open(settings) as store:
        return store.insert_new("raw_calls", [raw_call_rows(text)])


def run_with_raw_calls(case: Case, raw_calls: str, directory: Path) -> dict[str, list[dict]]:
    """Import the case's files, land its raw call records, build on DuckDB, read the results."""
    configured = import_case(case, directory)
    land_raw_calls(configured, raw_calls)
    build(configured)
    with open_snapshot(configured) as con:
        tables = {name: rows_of(arrow_of(con, f"SELECT * FROM {name}")) for name in TABLES}
    return with_touchpoint_facts(tables)
