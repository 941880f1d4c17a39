"""Invoca Signals carry revenue into their call's `value` (DESIGN §12): the scenario table
tests/fixtures/scenarios/calls/signals.toml, each case imported with the real
`import calls --format invoca` and built on DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.scenario import check, load_cases, run_duckdb

CASES = load_cases("calls/signals")


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_signals_add_to_their_call(case, tmp_path: Path) -> None:
    check(case, run_duckdb(case, tmp_path))


def test_the_scenarios_cover_the_orders_and_corrections() -> None:
    """The table keeps its hard cases: a signal before its call, a correction first."""
    titles = " / ".join(case.title for case in CASES)
    for words in ("before its call", "correction", "never got", "imported twice", "CSV"):
        assert words in titles, words
