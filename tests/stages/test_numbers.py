"""Calls to pool numbers find their visitor (DESIGN §15): the scenario table
tests/fixtures/scenarios/numbers/match.toml through real DuckDB builds, and the
promise behind pool sizing: a pool as large as the peak of visitors counted over
[held_from, held_until + hold] matches every call a holder makes to that holder."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.number_assignments import assignment_rows, run_with_numbers
from support.paths import SCENARIOS
from support.scenario import Case, check
from touchpoint.collect.numbers_state import PoolState
from touchpoint.stages.numbers import (
    AMBIGUOUS,
    MATCHED,
    matched_calls,
    number_candidates,
    number_holds,
    pools_table,
)
from touchpoint.stages.params import BuildParams

MATCH = SCENARIOS / "numbers" / "match.toml"


def _cases() -> list[tuple[Case, str, str]]:
    document = tomllib.loads(MATCH.read_text())
    pools = {"numbers": {"pools": document["pools"]}}
    cases = []
    for raw in document["case"]:
        case = Case(
            file="numbers/match",
            title=raw["title"],
            events=[raw["events"]] if "events" in raw else [],
            tasks=[],
            settings=raw.get("settings", pools),
            expect=raw.get("expect", {}),
        )
        cases.append((case, raw.get("raw_calls", ""), raw.get("assignments", "")))
    return cases


CASES = _cases()


@pytest.mark.parametrize(
    ("case", "raw_calls", "assignments"), CASES, ids=[case.id for case, _, _ in CASES]
)
def test_a_pool_call_finds_its_visitor(
    case: Case, raw_calls: str, assignments: str, tmp_path: Path
) -> None:
    check(case, run_with_numbers(case, raw_calls, assignments, tmp_path))


# The property: a simulated site behind the collector's own assigner (`POST /numbers`,
# collect.numbers_state): the same visitor keeps its number while held and renews it;
# otherwise the least recently released free number; otherwise the fallback.
HOLD_US = 30 * 60 * 1_000_000
START_US = 1_780_300_000_000_000  # 2026-06-01
MINUTE_US = 60 * 1_000_000


def hold_spans(requests: list[tuple[int, str]]) -> list[tuple[str, int, int]]:
    """Each visitor's unbroken holds `(visitor, from_us, until_us)`: a request while held
    (at or before its end) renews it, one after starts another."""
    spans: dict[str, list[list[int]]] = {}
    for at, visitor in sorted(requests):
        own = spans.setdefault(visitor, [])
        if own and at <= own[-1][1]:
            own[-1][1] = at + HOLD_US
        else:
            own.append([at, at + HOLD_US])
    return [(visitor, a, b) for visitor, own in spans.items() for a, b in own]


def peak_concurrency(spans: list[tuple[str, int, int]]) -> int:
    """The most holds at one instant, each counted over [from, until + hold] (closed)."""
    edges = [(a, 0) for _, a, _ in spans] + [(b + HOLD_US, 1) for _, _, b in spans]
    peak = now = 0
    for _, kind in sorted(edges):  # at one instant, starts before ends: closed intervals
        now += 1 if kind == 0 else -1
        peak = max(peak, now)
    return peak


def lru_assign(
    requests: list[tuple[int, str]], numbers: list[str], fallback: str
) -> list[dict[str, Any]]:
    """The `raw_number_assignments` rows `POST /numbers`'s assigner writes for these requests."""
    pool = PoolState("main", numbers, "+15125550100", fallback)
    rows = []
    for at, visitor in sorted(requests):
        given = pool.assign(visitor, at, HOLD_US)
        rows.append(
            {
                "pool": "main",
                "number": given.number,
                "visitor_id": visitor,
                "assigned_us": at,
                "held_until_us": given.held_until_us,
                "fallback": given.fallback,
            }
        )
    return rows


def _csv_of(rows: list[dict[str, Any]]) -> str:
    from datetime import UTC, datetime

    def when(us: int) -> str:
        return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat()

    lines = ["pool,number,visitor_id,assigned_at,held_until,fallback"]
    for row in rows:
        lines.append(
            f"{row['pool']},{row['number']},{row['visitor_id']},{when(row['assigned_us'])},"
            f"{when(row['held_until_us'])},{str(row['fallback']).lower()}"
        )
    return "\n".join(lines)


_visits = st.lists(
    st.tuples(st.sampled_from([f"w{i}" for i in range(8)]), st.integers(0, 6 * 60)),
    min_size=1,
    max_size=20,
)


@given(_visits, st.integers(0, 2), st.data())
def test_a_pool_as_large_as_the_peak_matches_every_holder_s_call(visits, spare, data) -> None:
    requests = [(START_US + minute * MINUTE_US, visitor) for visitor, minute in visits]
    spans = hold_spans(requests)
    size = peak_concurrency(spans) + spare
    numbers = [f"+1512555{index:04d}" for index in range(size)]
    rows = lru_assign(requests, numbers, "+15125559999")
    assert not any(row["fallback"] for row in rows)  # the pool is never exhausted
    # Each visitor calls once during each of its holds, at a time the test draws.
    calls = []
    for index, (visitor, start, end) in enumerate(spans):
        at = data.draw(st.integers(start, end), label=f"call {index}")
        number = next(
            row["number"]
            for row in rows
            if row["visitor_id"] == visitor and start <= row["assigned_us"] <= end
        )
        calls.append((f"k{index}", visitor, at, number))
    params = BuildParams(
        session_timeout_us=HOLD_US,
        merge_window_us=HOLD_US,
        merge_anchor="session_start",
        internal_domains=(),
        number_pools=tuple(("main", number, False, HOLD_US) for number in numbers),
    )
    call_table = ibis.memtable(
        pa.table(
            {
                "source_system": ["twilio"] * len(calls),
                "call_id": [call_id for call_id, *_ in calls],
                "visitor_id": pa.array([None] * len(calls), pa.string()),
                "called_us": pa.array([at for _, _, at, _ in calls], pa.int64()),
                "tracking_number": [number for *_, number in calls],
            }
        )
    )
    assignments = ibis.memtable(assignment_rows(_csv_of(rows)))
    pools = pools_table(params)
    holds = number_holds(assignments, params)
    candidates = number_candidates(call_table, holds, pools, params)
    matched = matched_calls(call_table, candidates, pools, params)
    con = ibis.duckdb.connect()
    found = {row["call_id"]: row for row in con.to_pyarrow(matched).to_pylist()}
    for call_id, visitor, at, number in calls:
        row = found[call_id]
        assert row["number_match"] == MATCHED, (call_id, visitor, at, number, row, rows)
        assert row["visitor_id"] == visitor
        assert row["match_candidates"] == 1
    assert all(row["number_match"] != AMBIGUOUS for row in found.values())
