"""The scenario tables of tests/scenarios, end to end on DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.scenario import check, load_cases, run_duckdb

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_scenario(case, tmp_path: Path) -> None:
    check(case, run_duckdb(case, tmp_path))
