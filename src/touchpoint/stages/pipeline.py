"""The stages in order, on any backend: raw tables in, result tables out.

Each stage is a pure function from Ibis tables to an Ibis table; the backend
decides how a result is kept (a table in the snapshot file on DuckDB, a cached
view on Spark). Every stage reports a small `StageInfo`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import ibis
import ibis.expr.types as ir

from touchpoint.errors import TouchpointError
from touchpoint.schema import CRM_TABLES, OUTPUT_COLUMNS, RAW_TABLES
from touchpoint.stages.attribution import attribution
from touchpoint.stages.attribution.data_driven import credits_table
from touchpoint.stages.attribution.journey_paths import journey_paths
from touchpoint.stages.attribution.markov import markov_credits, markov_transitions
from touchpoint.stages.attribution.position_based import custom_model
from touchpoint.stages.attribution.shapley import shapley_credits
from touchpoint.stages.crm import current_records
from touchpoint.stages.current_calls import current_calls
from touchpoint.stages.identity import (
    MAX_ROUNDS,
    changed_labels,
    identity_edges,
    initial_labels,
    propagate,
)
from touchpoint.stages.identity import people as identity_people
from touchpoint.stages.journeys import journeys
from touchpoint.stages.merge import merge_calls
from touchpoint.stages.params import BuildParams
from touchpoint.stages.sessions import referrer_lookup, sessionize, sessions
from touchpoint.stages.touchpoints import touchpoints, with_positions

RESULT_TABLES = ("events", "sessions", "calls", "touchpoints", "attribution")
# Every name `run_stages` reports through `on_stage`, in order (progress bars count them).
STAGE_NAMES = (
    "referrers",
    "events",
    "sessions",
    "calls",
    "merge",
    "crm",
    "identity edges",
    "identity",
    "touchpoints",
    "positions",
    "touchpoint positions",
    "journey paths",
    "markov",
    "shapley",
    "attribution",
)
# Stage results only later stages read (kept: journeys, people and the current CRM records).
SCRATCH_TABLES = (
    "identity_edges",
    "person_touchpoints",
    "journey_paths",
    "markov_transitions",
    "shapley_credits",
)


class Backend(Protocol):
    """Where stage results are kept between stages."""

    name: str

    def materialize(self, name: str, expr: ir.Table) -> ir.Table: ...

    def count(self, table: ir.Table) -> int: ...

    def drop(self, name: str) -> None: ...


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


def empty_crm() -> dict[str, ir.Table]:
    """Empty CRM tables, for runs given no CRM records."""
    return {table: ibis.memtable(RAW_TABLES[table].empty_table()) for table in CRM_TABLES.values()}


def run_stages(
    backend: Backend,
    raw_events: ir.Table,
    raw_calls: ir.Table,
    params: BuildParams,
    on_stage: Callable[[str], None] = lambda _name: None,
    raw_crm: Mapping[str, ir.Table] | None = None,
) -> tuple[dict[str, ir.Table], list[StageInfo]]:
    """Run every stage; return the result tables by name and what each stage did.

    `raw_crm` holds the raw CRM tables by name (`raw_leads`, ...); missing ones are empty.
    """
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
    crm = {**empty_crm(), **(raw_crm or {})}
    raw_crm_rows = sum(backend.count(table) for table in crm.values())
    on_stage("crm")
    started = time.perf_counter()
    records = {
        raw.removeprefix("raw_"): backend.materialize(
            raw.removeprefix("raw_"), current_records(crm[raw])
        )
        for raw in CRM_TABLES.values()
    }
    infos.append(
        StageInfo(
            "crm",
            raw_crm_rows,
            sum(backend.count(table) for table in records.values()),
            time.perf_counter() - started,
        )
    )
    people = stitch_identities(backend, stage, events, current, records, params, infos, on_stage)
    journey_touchpoints = stage(
        "touchpoints",
        rows["sessions"] + rows["merge"],
        touchpoints(sessions_table, calls, people, records["campaign_members"], params),
        "person_touchpoints",
    )
    journeys_table = stage(
        "positions",
        rows["touchpoints"],
        journeys(
            journey_touchpoints,
            people,
            records["leads"],
            records["contacts"],
            records["opportunities"],
            records["contact_roles"],
            params.opportunity_contacts,
        ),
        "journeys",
    )
    touchpoints_table = stage(
        "touchpoint positions",
        rows["touchpoints"],
        contract_first(with_positions(journey_touchpoints, journeys_table), "touchpoints"),
        "touchpoints",
    )
    paths = stage(
        "journey paths",
        rows["positions"],
        journey_paths(journeys_table, journey_touchpoints),
        "journey_paths",
    )
    transitions = stage(
        "markov",
        rows["journey paths"],
        markov_transitions(paths, params.markov_order),
        "markov_transitions",
    )
    markov = credits_table(markov_credits(transitions.to_pyarrow().to_pylist()))
    shapley = stage("shapley", rows["journey paths"], shapley_credits(paths), "shapley_credits")
    ft, lc, oc, closed, middle = params.custom_shares
    attribution_table = stage(
        "attribution",
        rows["positions"],
        contract_first(
            attribution(
                journeys_table,
                markov,
                shapley,
                params.half_life_us,
                custom_model(ft, lc, oc, closed, middle),
            ),
            "attribution",
        ),
    )
    results = {
        "events": events,
        "sessions": sessions_table,
        "calls": calls,
        "touchpoints": touchpoints_table,
        "attribution": attribution_table,
    }
    return results, infos


def stitch_identities(
    backend: Backend,
    stage: Callable[..., ir.Table],
    events: ir.Table,
    calls: ir.Table,
    records: Mapping[str, ir.Table],
    params: BuildParams,
    infos: list[StageInfo],
    on_stage: Callable[[str], None],
) -> ir.Table:
    """The identity stage: label rounds until the components settle, then `people`."""
    edges = stage(
        "identity edges",
        backend.count(events),
        identity_edges(
            events, calls, records["leads"], records["contacts"], params.max_visitors_per_phone
        ),
        "identity_edges",
    )
    on_stage("identity")
    started = time.perf_counter()
    labels = backend.materialize("identity_labels_0", initial_labels(edges))
    scratch = ["identity_labels_0"]
    for round_number in range(1, MAX_ROUNDS + 1):
        name = f"identity_labels_{round_number}"
        relabelled = backend.materialize(name, propagate(labels, edges))
        scratch.append(name)
        settled = int(changed_labels(labels, relabelled).to_pyarrow().as_py()) == 0
        labels = relabelled
        if settled:
            break
    else:
        raise TouchpointError(
            f"identity stitching did not settle in {MAX_ROUNDS} rounds; please report it"
        )
    people = backend.materialize("people", identity_people(labels))
    for name in scratch:
        backend.drop(name)
    infos.append(
        StageInfo(
            "identity", backend.count(edges), backend.count(people), time.perf_counter() - started
        )
    )
    return people
