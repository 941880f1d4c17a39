"""The scenario tables on a local Spark session: the same expectations, and the same
tables as DuckDB gives for the same raw input.

Cases that share settings run together as one world (visitor ids carry a per-case
prefix), so that the suite needs a few Spark builds, not one per case.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from support.scenario import batches, check, load_cases, run_duckdb, run_spark

BATCHES = batches(load_cases())
pytestmark = [
    pytest.mark.spark,
    # With pytest-xdist, every Spark test runs on one worker: one Spark session a run.
    pytest.mark.xdist_group("spark"),
    # py4j leaves its gateway sockets to the garbage collector.
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning"),
]


def _key(row: dict) -> str:
    return repr(sorted(row.items(), key=lambda item: item[0]))


@pytest.mark.parametrize(
    "batch", BATCHES, ids=[f"{b.cases[0].file}+{len(b.cases)}" for b in BATCHES]
)
def test_scenarios_on_spark_match_duckdb(batch, tmp_path: Path, spark) -> None:
    on_spark = run_spark(batch.combined, tmp_path / "spark", spark)
    on_duckdb = run_duckdb(batch.combined, tmp_path / "duckdb")
    for name, rows in on_duckdb.items():
        assert sorted(map(_key, on_spark[name])) == sorted(map(_key, rows)), name
    for case, tables in zip(batch.cases, batch.split(on_spark), strict=True):
        check(case, tables)


def test_build_on_the_spark_engine_publishes_what_duckdb_does(tmp_path: Path, spark) -> None:
    """`touchpoint build --engine spark`: the same snapshot tables as a DuckDB build."""
    from support.scenario import arrow_of, import_case, rows_of
    from touchpoint.build.build import build
    from touchpoint.stages.pipeline import PUBLISHED_TABLES
    from touchpoint.store import open_snapshot

    case = next(b for b in BATCHES if b.cases[0].file == "merge").combined
    tables = {}
    for engine in ("duckdb", "spark"):
        configured = import_case(case, tmp_path / engine)
        build(configured, engine=engine)
        with open_snapshot(configured) as con:
            names = {
                row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
            }
            assert names == {*PUBLISHED_TABLES, "rejects", "build_info"}, engine
            tables[engine] = {
                name: sorted(map(_key, rows_of(arrow_of(con, f'SELECT * FROM "{name}"'))))
                for name in PUBLISHED_TABLES
            }
    assert tables["spark"] == tables["duckdb"]
