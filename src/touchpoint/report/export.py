"""`touchpoint export`: a table as CSV, JSON lines or Parquet, values verbatim.

The results (DESIGN §8), people, journeys and the CRM records come from the published
snapshot; leads and opportunities end with the channel each model credits most
(`channel_<model>`). `rejects` comes from the store itself when no other command is
writing it, so rejects show right after an import; the raw tables (`raw_events`,
`raw_calls`, ...) come only from the store. Timestamps are ISO 8601 in UTC with a `Z`
(DESIGN §8); Parquet keeps them as UTC timestamps.
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
from touchpoint.schema import CRM_TABLES, EXPORTABLE_TABLES, OUTPUT_COLUMNS, RAW_TABLES
from touchpoint.stages.attribution.rows import LEAD_MODELS, MODELS
from touchpoint.stages.journeys import LEAD, OPPORTUNITY
from touchpoint.store import open_snapshot, open_store_readonly

FORMATS = ("csv", "json", "parquet")
# `-o` file extensions and the format each means when `--format` is not given.
EXTENSIONS = {".csv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json"}
EXTENSIONS[".parquet"] = "parquet"

# The CRM records as the build keeps them (the `import crm --kind` name works too).
CRM_RECORDS = {kind: raw.removeprefix("raw_") for kind, raw in CRM_TABLES.items()}
# Read from the store only: the snapshot has no raw tables.
RAW = tuple(name for name in RAW_TABLES if name.startswith("raw_"))
TABLES = EXPORTABLE_TABLES
# Conversions of these tables' records, and the models that credit them.
CREDITED = {"leads": (LEAD, LEAD_MODELS), "opportunities": (OPPORTUNITY, MODELS)}

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
    # DESIGN §11: the touchpoint's channel and campaign, then the vendor's own attribution.
    "calls": (
        "subject",
        "who_id",
        "what_id",
        "call_type",
        "channel",
        "campaign",
        "vendor_source",
        "vendor_medium",
        "vendor_campaign",
    ),
    "touchpoints": ("conversion_kind",),
    "attribution": ("is_closed", "is_won"),
    "rejects": ("kind",),
}


def _column_sql(con: duckdb.DuckDBPyConnection, table: str, relation: str, fmt: str) -> str:
    described = con.execute(f"SELECT column_name, column_type FROM (DESCRIBE FROM {relation})")
    types = dict(described.fetchall())
    if table in OUTPUT_COLUMNS:
        wanted = [c for c in (*OUTPUT_COLUMNS[table], *EXTRA_COLUMNS[table]) if c in types]
        missing = [c for c in OUTPUT_COLUMNS[table] if c not in types]
    else:
        wanted, missing = list(types), []
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


def export_format(given: str | None, output: Path | None) -> str:
    """`--format` when given, else what the extension of `-o` says, else csv."""
    if given is not None:
        return given
    return EXTENSIONS.get(output.suffix.lower(), "csv") if output is not None else "csv"


def export_table(settings: Settings, table: str, fmt: str, output: Path | None) -> int:
    """Write `table` in `fmt` to `output` (stdout when None); return the row count."""
    table = CRM_RECORDS.get(table, table)
    if table not in TABLES:
        raise TouchpointError(f"unknown table {table!r}; use one of {', '.join(TABLES)}")
    if fmt not in FORMATS:
        raise TouchpointError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    with _reader(settings, table) as con:
        con.execute("SET TimeZone = 'UTC'")
        relation = _relation(table)
        order = ORDER_BY.get(table, "ALL")
        select = f"SELECT {_column_sql(con, table, relation, fmt)} FROM {relation} ORDER BY {order}"
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


def _relation(table: str) -> str:
    """What to select from: the table; calls with their touchpoint's channel and campaign;
    leads and opportunities with the channel each model credits most (the largest summed
    weight; ties by channel name)."""
    if table == "calls":
        return """(
            SELECT c.*, t.channel, t.campaign FROM calls AS c
            LEFT JOIN touchpoints AS t ON t.touchpoint_id = c.touchpoint_id
        ) AS calls"""
    if table not in CREDITED:
        return table
    kind, models = CREDITED[table]
    channels = ", ".join(
        f"max(channel) FILTER (WHERE model = '{m}') AS channel_{m}" for m in models
    )
    return f"""(
        SELECT r.*, c.* EXCLUDE (conversion_id) FROM {table} AS r LEFT JOIN (
            SELECT conversion_id, {channels} FROM (
                SELECT conversion_id, model, channel, sum(weight) AS credit FROM attribution
                WHERE conversion_type = '{kind}' GROUP BY conversion_id, model, channel
                QUALIFY row_number() OVER (
                    PARTITION BY conversion_id, model ORDER BY credit DESC, channel NULLS LAST
                ) = 1
            ) GROUP BY conversion_id
        ) AS c ON c.conversion_id = r.id
    ) AS {table}"""


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


@contextlib.contextmanager
def _reader(settings: Settings, table: str) -> Iterator[duckdb.DuckDBPyConnection]:
    if table == "rejects" or table in RAW:
        with open_store_readonly(settings) as store:
            if store is not None:
                yield store
                return
    if table in RAW:
        if not settings.db.exists():
            raise TouchpointError(f"nothing has been imported into {settings.db} yet")
        raise TouchpointError(
            f"{settings.db} is being written by another touchpoint command; "
            f"export {table} when it has finished"
        )
    with open_snapshot(settings) as snapshot:
        yield snapshot
