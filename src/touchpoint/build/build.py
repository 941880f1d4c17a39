"""`touchpoint build`: the store's raw tables → a published snapshot of every result.

The only writer of results. It runs the stages into a new snapshot file and
publishes it atomically; if anything fails, the snapshot is discarded and the
previous one stays readable.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from touchpoint.build.backends import DuckDBBackend
from touchpoint.build.intake import load_intake
from touchpoint.build.phones import current_lookup, refresh_phone_numbers
from touchpoint.config import Settings, without_secrets
from touchpoint.errors import TouchpointError
from touchpoint.privacy.retention import apply_retention
from touchpoint.schema import CRM_TABLES
from touchpoint.stages.params import BuildParams
from touchpoint.stages.pipeline import (
    RESULT_TABLES,
    SCRATCH_TABLES,
    STAGES,
    StageInfo,
    run_stages,
)
from touchpoint.store import Store

ENGINES = ("duckdb", "spark")


def build_steps(engine: str = "duckdb") -> tuple[str, ...]:
    """Every name `build` reports through `on_stage`, in order, for a progress bar."""
    collect = ("collect results",) if engine == "spark" else ()
    return (*(stage.name for stage in STAGES), *collect, "publish")


@dataclass(frozen=True)
class BuildResult:
    build_id: str
    snapshot: Path
    stages: list[StageInfo]
    rows: dict[str, int]
    seconds: float
    retention: dict[str, int] = field(default_factory=dict)  # raw rows deleted, per table
    suppressed: int = 0  # collected records of erased people dropped (DESIGN §16)


def build(
    settings: Settings,
    on_stage: Callable[[str], None] = lambda _n: None,
    engine: str = "duckdb",
) -> BuildResult:
    """Run every stage over the store and publish the results as the current snapshot.

    `engine` is where the stages run: "duckdb" (in this process) or "spark"
    (`[spark] master`); the results are published the same way.
    """
    started = time.perf_counter()
    params = BuildParams.from_settings(settings)  # reads the rules file before taking the lock
    if engine not in ENGINES:
        raise TouchpointError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    with Store.open(settings) as store:
        # The collector's log first: its rows and checkpoints commit together.
        intake = load_intake(store)
        # DESIGN §16: raw rows past `[retention]` go before any stage reads them.
        retention, dropped = apply_retention(store, settings)
        backend = DuckDBBackend(store.con)
        # Numbers as written → E.164 for this build's region, before the stages read them.
        phones = refresh_phone_numbers(store, backend, params, settings.phone.default_region)
        snapshot = store.new_snapshot()
        build_id = snapshot.path.stem
        try:
            if engine == "spark":
                from touchpoint.build.spark import build_on_spark

                stages = build_on_spark(store, settings, params, settings.spark.master, on_stage)
            else:
                stages = _build_on_duckdb(backend, settings, params, on_stage)
            stages = [intake.stage_info(), retention, phones, *stages]
            on_stage("publish")
            store.con.execute("CREATE TABLE snap.main.rejects AS SELECT * FROM rejects")
            rows = {name: store.count(f'snap.main."{name}"') for name in RESULT_TABLES}
            seconds = time.perf_counter() - started
            _write_build_info(store, build_id, settings, stages, seconds)
        except BaseException:
            store.discard(snapshot)
            raise
        store.publish(snapshot)
    seconds = time.perf_counter() - started
    return BuildResult(build_id, snapshot.path, stages, rows, seconds, dropped, intake.suppressed)


def _build_on_duckdb(
    backend: DuckDBBackend,
    settings: Settings,
    params: BuildParams,
    on_stage: Callable[[str], None],
) -> list[StageInfo]:
    """Every stage in this process, each result a table of the attached `snap` database."""
    _results, stages = run_stages(
        backend,
        backend.raw("raw_events"),
        backend.raw("raw_calls"),
        params,
        on_stage,
        raw_crm={name: backend.raw(name) for name in CRM_TABLES.values()},
        phone_numbers=current_lookup(backend, settings.phone.default_region),
        number_assignments=backend.raw("raw_number_assignments"),
    )
    for name in SCRATCH_TABLES:
        backend.drop(name)
    return stages


def _write_build_info(
    store: Store, build_id: str, settings: Settings, stages: list[StageInfo], seconds: float
) -> None:
    """What this build was and did, kept in the snapshot for explain, report and serve."""
    built_at = datetime.now(UTC).replace(tzinfo=None)
    info = pa.table(
        {
            "build_id": [build_id],
            "built_at": pa.array([built_at], pa.timestamp("us")),
            "seconds": [seconds],
            "settings": [json.dumps(without_secrets(settings.model_dump(mode="json")))],
            "stages": [json.dumps([stage.__dict__ for stage in stages])],
        }
    )
    with store.registered(info) as view:
        store.con.execute(f"CREATE TABLE snap.main.build_info AS SELECT * FROM {view}")
