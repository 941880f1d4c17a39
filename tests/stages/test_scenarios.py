"""The scenario tables of tests/fixtures/scenarios, end to end on DuckDB.

A build costs seconds whatever it holds, so the cases that share settings are built
once a run as one world (support.scenario.batches: visitor ids carry a per-case
prefix); each case is still its own test, checked against its own rows, and every
row of a world belongs to exactly one case, so no row escapes the checks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from support.scenario import Batch, batches, check, load_cases, run_duckdb

CASES = load_cases()
BATCHES = batches(CASES)
# Where each case sits: its batch and its place in it.
PLACE = {case.id: (b, i) for b, batch in enumerate(BATCHES) for i, case in enumerate(batch.cases)}
assert len(PLACE) == len(CASES), "two cases have one title"
Tables = dict[str, list[dict[str, Any]]]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], Tables]:
    """A batch's world, built on first use and kept for the module's tests."""
    worlds: dict[int, Tables] = {}

    def world(index: int) -> Tables:
        if index not in worlds:
            directory = tmp_path_factory.mktemp(f"scenario-batch-{index}")
            worlds[index] = run_duckdb(BATCHES[index].combined, directory)
        return worlds[index]

    return world


def _group(batch: int) -> pytest.MarkDecorator:
    # Under pytest-xdist a batch's cases run on one worker, so each world is built once.
    return pytest.mark.xdist_group(f"scenario-batch-{batch}")


@pytest.mark.parametrize(
    "case",
    [pytest.param(case, marks=_group(PLACE[case.id][0]), id=case.id) for case in CASES],
)
def test_scenario(case, built) -> None:
    index, place = PLACE[case.id]
    check(case, BATCHES[index].split(built(index))[place])


@pytest.mark.parametrize(
    "index",
    [
        pytest.param(i, marks=_group(i), id=f"{b.cases[0].file}+{len(b.cases)}")
        for i, b in enumerate(BATCHES)
    ],
)
def test_every_row_of_a_world_belongs_to_one_case(index: int, built) -> None:
    batch: Batch = BATCHES[index]
    unowned = batch.unowned(built(index))
    assert not unowned, unowned[:5]
