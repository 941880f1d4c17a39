"""The number assigner (DESIGN §15), pure: the scenario table, undo, replay, invariants."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from touchpoint.collect.frames import encode_record
from touchpoint.collect.numbers import assignment_row, assignment_rows
from touchpoint.collect.numbers_state import Assigner, PoolState
from touchpoint.config.durations import parse_duration

CASES = Path(__file__).parents[1] / "fixtures" / "scenarios" / "numbers" / "assign.toml"
REPLACE, FALLBACK = "+15125550100", "+15125550199"
DAY = datetime(2026, 12, 7, tzinfo=UTC)
MINUTE_US = 60_000_000
HOLD_US = 30 * MINUTE_US


def _us(clock: str) -> int:
    parts = [int(p) for p in clock.split(":")]
    hours, minutes, seconds = (*parts, 0)[:3]
    moment = DAY + timedelta(hours=hours, minutes=minutes, seconds=seconds)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _cases() -> list[Any]:
    cases = tomllib.loads(CASES.read_text())["case"]
    return [pytest.param(case, id=case["title"]) for case in cases]


@pytest.mark.parametrize("case", _cases())
def test_assignment_scenarios(case: dict[str, Any]) -> None:
    fallback = FALLBACK if case.get("fallback") else ""
    pool = PoolState("main", case["numbers"], REPLACE, fallback)
    hold_us = parse_duration(case.get("hold", "30m")) // timedelta(microseconds=1)
    for request in case["requests"]:
        got = pool.assign(request["visitor"], _us(request["at"]), hold_us)
        expected = {"fallback": FALLBACK, "replace": REPLACE}.get(request["get"], request["get"])
        assert got.number == expected, request
        assert got.fallback == (request["get"] == "fallback"), request
        assert got.logged == (request["get"] != "replace"), request
        assert got.held_until_us == _us(request["at"]) + hold_us


def test_undo_gives_the_number_back_as_it_was() -> None:
    pool = PoolState("main", ["+15125550101", "+15125550102"], REPLACE)
    first = pool.assign("a", _us("10:00"), HOLD_US)
    renewed = pool.assign("a", _us("10:10"), HOLD_US)
    pool.undo(renewed)  # the renewal could not be logged: the first hold stands
    assert pool.holds["+15125550101"].until_us == first.held_until_us
    lost = pool.assign("b", _us("10:11"), HOLD_US)
    pool.undo(lost)  # never logged: b holds nothing and the number is free again
    assert pool.held_number("b", _us("10:12")) is None
    assert pool.assign("c", _us("10:12"), HOLD_US).number == lost.number


def _sequence(draw: st.DrawFn) -> tuple[int, list[tuple[str, int]]]:
    size = draw(st.integers(1, 4))
    steps = draw(
        st.lists(
            st.tuples(st.sampled_from("abcdefg"), st.integers(0, 45 * 60)), min_size=1, max_size=60
        )
    )
    now, requests = _us("09:00"), []
    for visitor, gap_s in steps:
        now += gap_s * 1_000_000
        requests.append((visitor, now))
    return size, requests


sequences = st.composite(_sequence)()


@given(sequences, st.booleans())
def test_no_number_is_held_by_two_visitors_and_renewals_keep_it(
    drawn: tuple[int, list[tuple[str, int]]], with_fallback: bool
) -> None:
    size, requests = drawn
    numbers = [f"+1512555{200 + i:04d}" for i in range(size)]
    pool = PoolState("main", numbers, REPLACE, FALLBACK if with_fallback else "")
    holds: dict[str, list[tuple[str, int, int]]] = {n: [] for n in numbers}
    last: dict[str, tuple[str, int]] = {}  # visitor -> (number, held until)
    for visitor, now in requests:
        got = pool.assign(visitor, now, HOLD_US)
        kept = last.get(visitor)
        if kept is not None and kept[0] in numbers and now <= kept[1]:
            assert got.number == kept[0], "a visitor renewing within its hold keeps its number"
        if got.number in holds:
            holds[got.number].append((visitor, now, got.held_until_us))
        else:
            # Only an exhausted pool gives the fallback or replace.
            assert pool.held_count(now) == size
        last[visitor] = (got.number, got.held_until_us)
    for number, intervals in holds.items():
        for i, (visitor, start, _end) in enumerate(intervals):
            for other, _other_start, other_end in intervals[:i]:
                if other != visitor:
                    assert start > other_end, f"{number} held by {other} and {visitor} at once"


@given(sequences)
def test_the_state_replayed_from_the_logged_rows_is_the_live_state(
    drawn: tuple[int, list[tuple[str, int]]],
) -> None:
    size, requests = drawn
    numbers = [f"+1512555{200 + i:04d}" for i in range(size)]
    live = Assigner([PoolState("main", numbers, REPLACE, FALLBACK)])
    log = b""
    for visitor, now in requests:
        got = live.pools["main"].assign(visitor, now, HOLD_US)
        log += encode_record("raw_number_assignments", assignment_row(got, visitor, now, None))
        log += encode_record("raw_events", {"visitor_id": visitor, "url": "raw_number_assignments"})
    replayed = Assigner([PoolState("main", numbers, REPLACE, FALLBACK)])
    # The log's order is not the requests' (segments are read by name): reversed here.
    rows = list(assignment_rows(log))
    assert len(rows) == len(requests)
    replayed.replay(reversed(rows))
    later = requests[-1][1] + MINUTE_US
    for visitor in "abcdefgh":
        assert replayed.pools["main"].held_number(visitor, later) == live.pools["main"].held_number(
            visitor, later
        )
    assert replayed.pools["main"].holds == live.pools["main"].holds
