"""Invariants of the pipeline over generated worlds (hypothesis).

- every call gets exactly one outcome, the one a plain reading of DESIGN §1 gives;
- sessions are where a plain reading of DESIGN §2 puts them;
- results do not depend on the order records arrive in;
- importing again changes nothing.

A build costs seconds whatever it holds, so each example builds several independent
worlds at once (visitor, event and call ids carry the world's number) and the
properties are checked world by world (support.examples gives the example counts).
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from support.examples import build_examples
from support.scenario import arrow_of, rows_of
from touchpoint.build.build import build
from touchpoint.config import load_settings
from touchpoint.importers import import_calls, import_events
from touchpoint.store import open_snapshot

DAY = datetime(2026, 3, 4, tzinfo=UTC)
WINDOW = timedelta(minutes=30)
CAMPAIGNS = [
    None,
    ("google", "cpc", "brand"),
    ("google", "cpc", "generic"),
    ("news", "email", None),
]

events_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),  # visitor
        st.integers(0, 6 * 3600),  # seconds into the day
        st.sampled_from(range(len(CAMPAIGNS))),  # how they arrived
        st.sampled_from(["page_view", "page_view", "form_submit"]),
    ),
    max_size=25,
)
calls_strategy = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c", "z", ""]), st.integers(0, 7 * 3600)),
    min_size=1,
    max_size=10,
)
# Worlds share nothing (their visitors differ), so one build checks them all.
worlds_strategy = st.lists(st.tuples(events_strategy, calls_strategy), min_size=1, max_size=4)
World = tuple[list, list]


def _visitor(world: int, visitor: str) -> str:
    return f"w{world}-{visitor}" if visitor else ""


def _write(directory: Path, worlds: list[World], order: random.Random | None) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    rows, tasks = [], []
    for world, (events, calls) in enumerate(worlds):
        for index, (visitor, second, arrival, kind) in enumerate(events):
            url = f"https://example.com/p{index}"
            campaign = CAMPAIGNS[arrival]
            if campaign:
                source, medium, name = campaign
                url += f"?utm_source={source}&utm_medium={medium}" + (
                    f"&utm_campaign={name}" if name else ""
                )
            moment = DAY + timedelta(seconds=second, microseconds=index)  # no ties
            rows.append(
                [f"e{world}-{index}", _visitor(world, visitor), kind, moment.isoformat(), url, ""]
            )
        tasks += [
            [
                f"00T{world:03d}{index:012d}",
                (DAY + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
                "Inbound Call",
                _visitor(world, visitor),
            ]
            for index, (visitor, second) in enumerate(calls)
        ]
    if order is not None:
        order.shuffle(rows)
        order.shuffle(tasks)
    events_file, tasks_file = directory / "events.csv", directory / "tasks.csv"
    with events_file.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_id", "visitor_id", "type", "occurred_at", "url", "referrer"])
        writer.writerows(rows)
    with tasks_file.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Id", "CreatedDate", "Type", "bizible2__BizibleId__c"])
        writer.writerows(tasks)
    return events_file, tasks_file


def _run(
    directory: Path, worlds: list[World], order: random.Random | None = None, times: int = 1
) -> dict[str, list[dict[str, Any]]]:
    configured = load_settings(None, db=directory / "touchpoint.duckdb")
    events_file, tasks_file = _write(directory / "in", worlds, order)
    for _ in range(times):
        if any(events for events, _calls in worlds):
            import_events(configured, [events_file])
        import_calls(configured, [tasks_file], "salesforce-csv")
    build(configured)
    with open_snapshot(configured) as con:
        return {
            name: rows_of(arrow_of(con, f"SELECT * FROM {name}"))
            for name in ("events", "sessions", "calls", "touchpoints")
        }


def _expected_sessions(events: list) -> set[tuple[str, int]]:
    """(visitor, start second) of each session, read plainly off DESIGN §2."""
    starts = set()
    by_visitor: dict[str, list] = {}
    for index, (visitor, second, arrival, _kind) in enumerate(events):
        by_visitor.setdefault(visitor, []).append((second, index, CAMPAIGNS[arrival]))
    for visitor, items in by_visitor.items():
        items.sort()
        previous, current_key = None, None
        for second, index, key in items:
            moment = second * 1_000_000 + index
            new_visit = previous is None or moment - previous > WINDOW.total_seconds() * 1e6
            if new_visit or (key is not None and key != current_key):
                starts.add((visitor, moment))
                current_key = key
            previous = moment
    return starts


def _seconds(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    delta = moment - DAY
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


@build_examples(ci=5, dev=60)
@given(worlds_strategy)
def test_each_call_gets_the_one_outcome_design_gives(tmp_path_factory, worlds) -> None:
    tables = _run(tmp_path_factory.mktemp("world"), worlds)
    assert len(tables["calls"]) == sum(len(calls) for _events, calls in worlds)
    for world, (events, calls) in enumerate(worlds):
        prefix = f"w{world}-"
        sessions = [s for s in tables["sessions"] if s["visitor_id"].startswith(prefix)]
        got = {(s["visitor_id"], _seconds(s["started_at"])) for s in sessions}
        expected_events = [(_visitor(world, v), *rest) for v, *rest in events]
        assert got == _expected_sessions(expected_events), world
        own = [c for c in tables["calls"] if int(c["call_id"][3:6]) == world]
        assert len(own) == len(calls), world
        for call in own:
            visitor, second = calls[int(call["call_id"][6:18])]
            visitor = _visitor(world, visitor)
            moment = second * 1_000_000
            earlier = [
                s
                for s in sessions
                if s["visitor_id"] == visitor and _seconds(s["started_at"]) <= moment
            ]
            if not visitor:
                expected = "no_visitor_id"
            elif not earlier:
                expected = "no_session"
            else:
                latest = max(earlier, key=lambda s: _seconds(s["started_at"]))
                gap = moment - _seconds(latest["started_at"])
                expected = "merged" if gap <= WINDOW.total_seconds() * 1e6 else "outside_window"
                assert call["session_id"] == latest["session_id"]
            assert call["outcome"] == expected
            assert (call["touchpoint_id"] is None) == (expected == "no_visitor_id")


def _canonical(tables: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
    return {
        name: sorted(repr(sorted(row.items())) for row in rows) for name, rows in tables.items()
    }


@build_examples(ci=3, dev=40)
@given(worlds_strategy, st.randoms(use_true_random=False))
def test_results_do_not_depend_on_input_order(tmp_path_factory, worlds, order) -> None:
    first = _run(tmp_path_factory.mktemp("in-order"), worlds)
    shuffled = _run(tmp_path_factory.mktemp("shuffled"), worlds, order)
    assert _canonical(first) == _canonical(shuffled)


@build_examples(ci=3, dev=40)
@given(worlds_strategy)
def test_importing_again_changes_nothing(tmp_path_factory, worlds) -> None:
    once = _run(tmp_path_factory.mktemp("once"), worlds)
    twice = _run(tmp_path_factory.mktemp("twice"), worlds, times=2)
    assert _canonical(once) == _canonical(twice)
