"""The stages in order, on any backend: raw tables in, result tables out.

`STAGES` declares every stage: the table it makes (its name), the tables it
reads (raw tables or earlier stages), how it makes it, and whether the table is
a published result or scratch. `run_stages` is one loop over them. Each stage
is a pure function from Ibis tables to an Ibis table; the backend decides how a
result is kept (a table in the snapshot file on DuckDB, a cached view on
Spark). Every stage reports a small `StageInfo`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

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
from touchpoint.stages.crm import current_records_of
from touchpoint.stages.current_calls import current_calls
from touchpoint.stages.identity import (
    MAX_ROUNDS,
    changed_labels,
    identity_edges,
    initial_labels,
    propagate,
)
from touchpoint.stages.identity import people as identity_people
from touchpoint.stages.info import StageInfo
from touchpoint.stages.journeys import journeys
from touchpoint.stages.merge import merge_calls
from touchpoint.stages.numbers import matched_calls, number_candidates, number_holds, pools_table
from touchpoint.stages.params import BuildParams
from touchpoint.stages.phones import (
    PERSON_TABLES,
    empty_lookup,
    numbered_call_records,
    people_with_phones,
)
from touchpoint.stages.sessions import referrer_lookup, sessionize, sessions
from touchpoint.stages.touchpoints import touchpoints, with_positions


class Backend(Protocol):
    """Where stage results are kept between stages."""

    name: str

    def materialize(self, name: str, expr: ir.Table) -> ir.Table: ...

    def count(self, table: ir.Table) -> int: ...

    def drop(self, name: str) -> None: ...


Kept = Literal["result", "published", "scratch"]


@dataclass(frozen=True)
class Stage:
    """One stage: the table it makes, the tables it reads, and how it makes it.

    `fn` takes the `inputs` tables in order, then the `BuildParams`, and returns
    the table's expression (`on_backend`: the backend comes first, for a stage
    that keeps tables on the way; those are dropped once its own table is kept).
    """

    name: str
    inputs: tuple[str, ...]
    fn: Callable[..., ir.Table]
    # "result": a contract table (DESIGN §8; its contract columns first); "published":
    # in the snapshot beside them for readers; "scratch": only later stages read it.
    kept: Kept
    # The leading inputs whose rows are this stage's rows in (the rest are lookups).
    rows_from: int = 1
    on_backend: bool = False


def _events(raw_events: ir.Table, referrers: ir.Table, params: BuildParams) -> ir.Table:
    return sessionize(raw_events, referrers, params)


def _identity_edges(
    events: ir.Table, calls: ir.Table, leads: ir.Table, contacts: ir.Table, params: BuildParams
) -> ir.Table:
    return identity_edges(events, calls, leads, contacts, params.max_visitors_per_phone)


def _people(backend: Backend, edges: ir.Table, _params: BuildParams) -> ir.Table:
    """Label rounds until the components settle, then one row per visitor or CRM record."""
    labels = backend.materialize("identity_labels_0", initial_labels(edges))
    for round_number in range(1, MAX_ROUNDS + 1):
        relabelled = backend.materialize(
            f"identity_labels_{round_number}", propagate(labels, edges)
        )
        settled = int(changed_labels(labels, relabelled).to_pyarrow().as_py()) == 0
        labels = relabelled
        if settled:
            return identity_people(labels)
    raise TouchpointError(
        f"identity stitching did not settle in {MAX_ROUNDS} rounds; please report it"
    )


def _journeys(
    person_touchpoints: ir.Table,
    people: ir.Table,
    leads: ir.Table,
    contacts: ir.Table,
    opportunities: ir.Table,
    contact_roles: ir.Table,
    params: BuildParams,
) -> ir.Table:
    return journeys(
        person_touchpoints,
        people,
        leads,
        contacts,
        opportunities,
        contact_roles,
        params.opportunity_contacts,
    )


def _touchpoints(person_touchpoints: ir.Table, journeys: ir.Table, _p: BuildParams) -> ir.Table:
    return with_positions(person_touchpoints, journeys)


def _journey_paths(journeys: ir.Table, person_touchpoints: ir.Table, _p: BuildParams) -> ir.Table:
    return journey_paths(journeys, person_touchpoints)


def _markov_transitions(paths: ir.Table, params: BuildParams) -> ir.Table:
    return markov_transitions(paths, params.markov_order)


def _markov_credits(transitions: ir.Table, _params: BuildParams) -> ir.Table:
    """The Markov solve: the chain is small, so numpy solves it outside the backend."""
    return credits_table(markov_credits(transitions.to_pyarrow().to_pylist()))


def _attribution(
    journeys: ir.Table, markov: ir.Table, shapley: ir.Table, params: BuildParams
) -> ir.Table:
    ft, lc, oc, closed, middle = params.custom_shares
    return attribution(
        journeys, markov, shapley, params.half_life_us, custom_model(ft, lc, oc, closed, middle)
    )


def _one_input(fn: Callable[[ir.Table], ir.Table]) -> Callable[[ir.Table, BuildParams], ir.Table]:
    """A stage function of one table that needs no settings."""
    return lambda table, _params: fn(table)


# Every stage in order; a stage's name is the table it makes.
STAGES: tuple[Stage, ...] = (
    Stage("referrer_sources", ("raw_events",), _one_input(referrer_lookup), "scratch"),
    Stage("events", ("raw_events", "referrer_sources"), _events, "result"),
    Stage("sessions", ("events",), sessions, "result"),
    # Kept on the way: `current_calls` reads these rows several times.
    Stage("call_records", ("raw_calls", "phone_numbers"), numbered_call_records, "scratch"),
    Stage("current_calls", ("call_records",), current_calls, "scratch"),
    # DESIGN §15: calls to pool numbers find their visitor by who held the number; the
    # rest of the build reads that id as it reads a vendor's (`stages.numbers`).
    Stage("number_holds", ("raw_number_assignments",), number_holds, "published"),
    Stage(
        "number_candidates",
        ("current_calls", "number_holds", "number_pools"),
        number_candidates,
        "published",
    ),
    Stage(
        "matched_calls",
        ("current_calls", "number_candidates", "number_pools"),
        matched_calls,
        "scratch",
    ),
    Stage("calls", ("matched_calls", "sessions", "events"), merge_calls, "result"),
    *(
        # Leads and contacts read their `phone` from the lookup (stages.phones).
        Stage(
            raw.removeprefix("raw_"),
            (raw, "phone_numbers"),
            people_with_phones(current_records_of(raw)),
            "published",
        )
        if raw in PERSON_TABLES
        else Stage(raw.removeprefix("raw_"), (raw,), current_records_of(raw), "published")
        for raw in CRM_TABLES.values()
    ),
    Stage(
        "identity_edges",
        ("events", "matched_calls", "leads", "contacts"),
        _identity_edges,
        "scratch",
    ),
    Stage("people", ("identity_edges",), _people, "published", on_backend=True),
    Stage(
        "person_touchpoints",
        ("sessions", "calls", "people", "campaign_members", "leads", "contacts"),
        touchpoints,
        "scratch",
        rows_from=2,
    ),
    Stage(
        "journeys",
        ("person_touchpoints", "people", "leads", "contacts", "opportunities", "contact_roles"),
        _journeys,
        "published",
    ),
    Stage("touchpoints", ("person_touchpoints", "journeys"), _touchpoints, "result"),
    Stage("journey_paths", ("journeys", "person_touchpoints"), _journey_paths, "scratch"),
    Stage("markov_transitions", ("journey_paths",), _markov_transitions, "scratch"),
    Stage("markov_credits", ("markov_transitions",), _markov_credits, "scratch"),
    Stage("shapley_credits", ("journey_paths",), _one_input(shapley_credits), "scratch"),
    Stage("attribution", ("journeys", "markov_credits", "shapley_credits"), _attribution, "result"),
)
# The contract tables (DESIGN §8), every table a build publishes, and the scratch ones.
RESULT_TABLES = tuple(stage.name for stage in STAGES if stage.kept == "result")
PUBLISHED_TABLES = tuple(stage.name for stage in STAGES if stage.kept != "scratch")
SCRATCH_TABLES = tuple(stage.name for stage in STAGES if stage.kept == "scratch")


def contract_first(table: ir.Table, name: str) -> ir.Table:
    """The table's contract columns (DESIGN §8) in order, then the rest."""
    contract = OUTPUT_COLUMNS[name]
    rest = [column for column in table.columns if column not in contract]
    return table.select(*contract, *rest)


def empty_crm() -> dict[str, ir.Table]:
    """Empty CRM tables, for runs given no CRM records."""
    return {table: ibis.memtable(RAW_TABLES[table].empty_table()) for table in CRM_TABLES.values()}


class _KeptOnTheWay:
    """The backend as an `on_backend` stage sees it: it remembers what the stage keeps."""

    def __init__(self, backend: Backend):
        self.backend = backend
        self.name = backend.name
        self.kept: list[str] = []

    def materialize(self, name: str, expr: ir.Table) -> ir.Table:
        self.kept.append(name)
        return self.backend.materialize(name, expr)

    def count(self, table: ir.Table) -> int:
        return self.backend.count(table)

    def drop(self, name: str) -> None:
        self.backend.drop(name)


def run_stages(
    backend: Backend,
    raw_events: ir.Table,
    raw_calls: ir.Table,
    params: BuildParams,
    on_stage: Callable[[str], None] = lambda _name: None,
    raw_crm: Mapping[str, ir.Table] | None = None,
    phone_numbers: ir.Table | None = None,
    number_assignments: ir.Table | None = None,
) -> tuple[dict[str, ir.Table], list[StageInfo]]:
    """Run every stage; return the published tables by name and what each stage did.

    `raw_crm` holds the raw CRM tables by name (`raw_leads`, ...); missing ones are empty.
    `phone_numbers` is the build's lookup of numbers as written (`stages.phones`);
    without it every number keeps the value of its import. `number_assignments` is
    `raw_number_assignments` (none: empty); the pools come from `params` as the table
    `number_pools` (`stages.numbers`).
    """
    tables = {
        "raw_events": raw_events,
        "raw_calls": raw_calls,
        **empty_crm(),
        **(raw_crm or {}),
        "phone_numbers": empty_lookup() if phone_numbers is None else phone_numbers,
        "raw_number_assignments": (
            ibis.memtable(RAW_TABLES["raw_number_assignments"].empty_table())
            if number_assignments is None
            else number_assignments
        ),
        "number_pools": pools_table(params),
    }
    rows: dict[str, int] = {}

    def rows_of(name: str) -> int:
        if name not in rows:
            rows[name] = backend.count(tables[name])
        return rows[name]

    infos: list[StageInfo] = []
    for stage in STAGES:
        on_stage(stage.name)
        rows_in = sum(rows_of(name) for name in stage.inputs[: stage.rows_from])
        started = time.perf_counter()
        inputs = [tables[name] for name in stage.inputs]
        if stage.on_backend:
            on_the_way = _KeptOnTheWay(backend)
            expr = stage.fn(on_the_way, *inputs, params)
        else:
            expr = stage.fn(*inputs, params)
        if stage.kept == "result":
            expr = contract_first(expr, stage.name)
        tables[stage.name] = backend.materialize(stage.name, expr)
        if stage.on_backend:
            for name in on_the_way.kept:
                backend.drop(name)
        rows_out = rows_of(stage.name)
        infos.append(StageInfo(stage.name, rows_in, rows_out, time.perf_counter() - started))
    return {name: tables[name] for name in PUBLISHED_TABLES}, infos
