"""Number assignments (DESIGN §15) written into a real store as `POST /numbers` lands them.

A CSV block with `pool, number, visitor_id, assigned_at, held_until` and optional
`fallback`, one row per hold the server gave or renewed; times are RFC 3339. The
rows go into `raw_number_assignments` as the intake log lands them, so the build
tests need no running server.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from support.raw_calls import land_raw_calls
from support.scenario import TABLES, Case, arrow_of, import_case, rows_of, with_touchpoint_facts
from touchpoint.build.build import build
from touchpoint.config import Settings
from touchpoint.schema import RAW_TABLES
from touchpoint.store import Store, open_snapshot

# What the number stages publish besides the contract tables.
NUMBER_TABLES = ("number_holds", "number_candidates")


def _moment(text: str) -> tuple[datetime, int]:
    moment = datetime.fromisoformat(text).astimezone(UTC)
    return moment.replace(tzinfo=None), int(moment.timestamp() * 1_000_000)


def assignment_rows(text: str) -> pa.Table:
    """The `raw_number_assignments` rows a CSV block describes."""
    schema = RAW_TABLES["raw_number_assignments"]
    rows: list[dict[str, Any]] = []
    for record in csv.DictReader(io.StringIO(text.strip())):
        cells = {name.strip(): (value or "").strip() for name, value in record.items()}
        assigned_at, assigned_us = _moment(cells["assigned_at"])
        held_until, held_until_us = _moment(cells["held_until"])
        key = "|".join((cells["pool"], cells["number"], cells["visitor_id"], str(assigned_us)))
        rows.append(
            {
                "assignment_id": hashlib.sha256(key.encode()).hexdigest()[:32],
                "pool": cells["pool"],
                "number": cells["number"],
                "visitor_id": cells["visitor_id"],
                "assigned_at": assigned_at,
                "assigned_us": assigned_us,
                "held_until": held_until,
                "held_until_us": held_until_us,
                "fallback": cells.get("fallback", "").lower() == "true",
                "channel": cells.get("channel") or None,
                "received_at": assigned_at,
                "origin": "tests",
            }
        )
    return pa.Table.from_pylist(rows, schema=schema)


def land_assignments(settings: Settings, text: str) -> int:
    """Put the rows into the store's `raw_number_assignments`; return how many landed."""
    with Store.open(settings) as store:
        return store.insert_new("raw_number_assignments", [assignment_rows(text)])


def import_with_numbers(case: Case, raw_calls: str, assignments: str, directory: Path) -> Settings:
    """Import the case's files, then land its raw calls and number assignments."""
    configured = import_case(case, directory)
    if raw_calls.strip():
        land_raw_calls(configured, raw_calls)
    if assignments.strip():
        land_assignments(configured, assignments)
    return configured


def run_with_numbers(
    case: Case, raw_calls: str, assignments: str, directory: Path
) -> dict[str, list[dict[str, Any]]]:
    """Import and land everything, build on DuckDB, read the results and the number tables."""
    configured = import_with_numbers(case, raw_calls, assignments, directory)
    build(configured)
    with open_snapshot(configured) as con:
        names = (*TABLES, *NUMBER_TABLES)
        tables = {name: rows_of(arrow_of(con, f"SELECT * FROM {name}")) for name in names}
    return with_touchpoint_facts(tables)
