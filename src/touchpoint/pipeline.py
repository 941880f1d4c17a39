"""The stages in order, on any backend: raw tables in, result tables out.

Each stage is a pure function from Ibis tables to an Ibis table; the backend
decides how a result is kept (a table in the snapshot file on DuckDB, a cached
view on Spark). Every stage reports a small `StageInfo`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import ibis
import ibis.expr.types as ir

from touchpoint.calls import current_calls
from touchpoint.merge import merge_calls
from touchpoint.params import BuildParams
from touchpoint.schema import OUTPUT_COLUMNS
from touchpoint.sessions import referrer_lookup, sessionize, sessions
from touchpoint.touchpoints import touchpoints

RESULT_TABLES = ("events", "sessions", "calls", "touchpoints", "attribution")


class Backend(Protocol):
    """Where stage results are kept between stages."""

    name: str

    def materialize(self, name: str, expr: ir.Table) -> ir.Table: ...

    def count(self, table: ir.Table) -> int: ...


@dataclass(frozen=True)
class StageInfo:
    stage: str
    rows_in: int
    rows_out: int
    seconds: float


def contract_first(table: ir.Table, name: str) -> ir.Table:
    """The table's contract columns (DESIGN §8) in order, then the rest."""
    contract = OUTPUT_COLUMNS[name]
    rest = [column for column in table.columns if column not in contract]
    return table.select(*contract, *rest)


def empty_attribution() -> ir.Table:
    """The attribution table's layout, before the models fill it."""
    schema = ibis.schema(
        {
            "touchpoint_id": "string",
            "conversion_id": "string",
            "conversion_type": "string",
            "model": "string",
            "weight": "float64",
            "revenue": "float64",
            "channel": "string",
            "positions": "string",
        }
    )
    return ibis.memtable({name: [] for name in schema.names}, schema=schema)


def run_stages(
    backend: Backend,
    raw_events: ir.Table,
    raw_calls: ir.Table,
    params: BuildParams,
    on_stage: Callable[[str], None] = lambda _name: None,
) -> tuple[dict[str, ir.Table], list[StageInfo]]:
    """Run every stage; return the result tables by name and what each stage did."""
    infos: list[StageInfo] = []
    rows: dict[str, int] = {}

    def stage(name: str, rows_in: int, expr: ir.Table, keep_as: str | None = None) -> ir.Table:
        on_stage(name)
        started = time.perf_counter()
        table = backend.materialize(keep_as or name, expr)
        rows[name] = backend.count(table)
        infos.append(StageInfo(name, rows_in, rows[name], time.perf_counter() - started))
        return table

    rows["raw_events"] = backend.count(raw_events)
    rows["raw_calls"] = backend.count(raw_calls)
    referrers = stage(
        "referrers", rows["raw_events"], referrer_lookup(raw_events), "referrer_sources"
    )
    events = stage(
        "events",
        rows["raw_events"],
        contract_first(sessionize(raw_events, referrers, params), "events"),
    )
    sessions_table = stage(
        "sessions", rows["events"], contract_first(sessions(events, params), "sessions")
    )
    current = stage("calls", rows["raw_calls"], current_calls(raw_calls), "current_calls")
    calls = stage(
        "merge",
        rows["calls"],
        contract_first(merge_calls(current, sessions_table, events, params), "calls"),
        "calls",
    )
    touchpoints_table = stage(
        "touchpoints",
        rows["sessions"] + rows["merge"],
        contract_first(touchpoints(sessions_table, calls, params), "touchpoints"),
    )
    attribution = stage("attribution", rows["touchpoints"], empty_attribution())
    results = {
        "events": events,
        "sessions": sessions_table,
        "calls": calls,
        "touchpoints": touchpoints_table,
        "attribution": attribution,
    }
    return results, infos
