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
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from touchpoint.build.fingerprint import fingerprint
from touchpoint.build.intake import load_intake
from touchpoint.config import Settings, without_secrets
from touchpoint.errors import TouchpointError
from touchpoint.privacy.retention import apply_retention
from touchpoint.schema import OUTPUT_COLUMNS
from touchpoint.stages.info import StageInfo
from touchpoint.store import Store, current_snapshot_path

if TYPE_CHECKING:
    from touchpoint.build.backends import DuckDBBackend
    from touchpoint.stages.params import BuildParams

ENGINES = ("duckdb", "spark")
# The contract tables (DESIGN §8) a build makes (`stages.pipeline.RESULT_TABLES`, which
# imports Ibis; tests check the two agree).
RESULT_TABLES = tuple(name for name in OUTPUT_COLUMNS if name != "rejects")


# The names of `stages.pipeline.STAGES` in order, here so that the progress bar of a
# build with nothing new needs no Ibis (tests/build/test_nothing_new.py checks they agree).
STAGE_NAMES = (
    *("referrer_sources", "events", "sessions", "call_records", "current_calls"),
    *("number_holds", "number_candidates", "matched_calls", "calls"),
    *("leads", "contacts", "opportunities", "contact_roles", "campaign_members"),
    *("identity_edges", "people", "person_touchpoints", "journeys", "touchpoints"),
    *("journey_paths", "markov_transitions", "markov_credits", "shapley_credits"),
    "attribution",
)


def build_steps(engine: str = "duckdb") -> tuple[str, ...]:
    """Every name `build` reports through `on_stage`, in order, for a progress bar."""
    collect = ("collect results",) if engine == "spark" else ()
    return (*STAGE_NAMES, *collect, "publish")


@dataclass(frozen=True)
class BuildResult:
    build_id: str
    snapshot: Path
    stages: list[StageInfo]
    rows: dict[str, int]
    seconds: float
    retention: dict[str, int] = field(default_factory=dict)  # raw rows deleted, per table
    suppressed: int = 0  # collected records of erased people dropped (DESIGN §16)
    # Nothing the results depend on changed since the published build (`fingerprint`),
    # so this build published nothing and `build_id` is the published one's.
    nothing_new: bool = False


def build(
    settings: Settings,
    on_stage: Callable[[str], None] = lambda _n: None,
    engine: str = "duckdb",
    full: bool = False,
) -> BuildResult:
    """Run every stage over the store and publish the results as the current snapshot.

    `engine` is where the stages run: "duckdb" (in this process) or "spark"
    (`[spark] master`); the results are published the same way. When nothing the
    results depend on changed since the published build, nothing is built or
    published (`nothing_new`), unless `full`.
    """
    started = time.perf_counter()
    if engine not in ENGINES:
        raise TouchpointError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    with Store.open(settings) as store:
        # The collector's log first: its rows and checkpoints commit together.
        intake = load_intake(store)
        # DESIGN §16: raw rows past `[retention]` go before any stage reads them.
        retention, dropped = apply_retention(store, settings)
        made_from = fingerprint(store.con, settings, engine)
        published = None if full else _published(store, made_from)
        if published is not None:
            build_id, path, rows = published
            seconds = time.perf_counter() - started
            stages = [intake.stage_info(), retention]
            return BuildResult(
                build_id, path, stages, rows, seconds, dropped, intake.suppressed, nothing_new=True
            )
        # Ibis, the stages and the phone lookup: only now, a build with nothing new needs none.
        from touchpoint.build.backends import DuckDBBackend
        from touchpoint.build.phones import refresh_phone_numbers
        from touchpoint.stages.params import BuildParams

        params = BuildParams.from_settings(settings)
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
            _write_build_info(store, build_id, settings, stages, seconds, made_from)
        except BaseException:
            store.discard(snapshot)
            raise
        store.publish(snapshot)
    seconds = time.perf_counter() - started
    return BuildResult(build_id, snapshot.path, stages, rows, seconds, dropped, intake.suppressed)


def _published(store: Store, made_from: str) -> tuple[str, Path, dict[str, int]] | None:
    """The published build's id, file and result rows, when it was made from `made_from`."""
    path = current_snapshot_path(store.path)
    if path is None:
        return None
    quoted = str(path).replace("'", "''")
    try:
        store.con.execute(f"ATTACH '{quoted}' AS published (READ_ONLY)")
    except duckdb.Error:
        return None  # pruned or unreadable: build
    try:
        row = store.con.execute(
            "SELECT build_id, fingerprint FROM published.main.build_info"
        ).fetchone()
        if row is None or row[1] != made_from:
            return None
        rows = {name: store.count(f'published.main."{name}"') for name in RESULT_TABLES}
        return str(row[0]), path, rows
    except duckdb.Error:
        return None  # a snapshot from before fingerprints, or not whole: build
    finally:
        store.con.execute("DETACH published")


def _build_on_duckdb(
    backend: DuckDBBackend,
    settings: Settings,
    params: BuildParams,
    on_stage: Callable[[str], None],
) -> list[StageInfo]:
    """Every stage in this process, each result a table of the attached `snap` database."""
    from touchpoint.build.phones import current_lookup
    from touchpoint.schema import CRM_TABLES
    from touchpoint.stages.pipeline import SCRATCH_TABLES, run_stages

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
    store: Store,
    build_id: str,
    settings: Settings,
    stages: list[StageInfo],
    seconds: float,
    made_from: str,
) -> None:
    """What this build was and did, kept in the snapshot for explain, report and serve;
    `made_from` is its fingerprint, for the next build to compare."""
    built_at = datetime.now(UTC).replace(tzinfo=None)
    info = pa.table(
        {
            "build_id": [build_id],
            "built_at": pa.array([built_at], pa.timestamp("us")),
            "seconds": [seconds],
            "settings": [json.dumps(without_secrets(settings.model_dump(mode="json")))],
            "stages": [json.dumps([stage.__dict__ for stage in stages])],
            "fingerprint": [made_from],
        }
    )
    with store.registered(info) as view:
        store.con.execute(f"CREATE TABLE snap.main.build_info AS SELECT * FROM {view}")
