"""Invoca signals on a local Spark session: the last case of
tests/fixtures/scenarios/calls/signals.toml (a correction first, a signal for a call
never got, a call in two legs) gives DuckDB's calls and touchpoints tables, and the
values the case expects (DESIGN §12; one world, Spark is slow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.scenario import check, import_case, load_cases, run_duckdb, spark_tables

CASE = next(case for case in load_cases("calls/signals") if "Spark" in case.title)


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
def test_signals_add_to_their_call_on_spark(tmp_path: Path, spark) -> None:
    on_duckdb = run_duckdb(CASE, tmp_path / "duckdb")
    configured = import_case(CASE, tmp_path / "spark")
    on_spark = spark_tables(configured, spark, ("calls", "touchpoints"))
    for name, rows in on_spark.items():
        assert sorted(map(repr, map(sorted_items, rows))) == sorted(
            map(repr, map(sorted_items, on_duckdb[name]))
        ), name
    check(CASE, {**on_duckdb, **on_spark})


def sorted_items(row: dict[str, Any]) -> list[tuple[str, Any]]:
    return sorted(row.items())
