"""Which calls count (DESIGN §12): the scenario table tests/fixtures/scenarios/calls/qualify.toml
through real DuckDB builds, and invariants of the `[calls]` rules over generated records."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.examples import build_examples
from support.paths import SCENARIOS
from support.raw_calls import run_with_raw_calls
from support.scenario import (
    CRM_KINDS,
    Case,
    check,
)

QUALIFY = SCENARIOS / "calls" / "qualify.toml"


def _cases() -> list[tuple[Case, str]]:
    document = tomllib.loads(QUALIFY.read_text())
    cases = []
    for raw in document["case"]:
        case = Case(
            file="calls/qualify",
            title=raw["title"],
            events=[raw["events"]] if "events" in raw else [],
            tasks=[],
            settings=raw.get("settings", {}),
            expect=raw.get("expect", {}),
            crm={key: raw[key] for key in CRM_KINDS if key in raw},
        )
        cases.append((case, raw["raw_calls"]))
    return cases


CASES = _cases()


@pytest.mark.parametrize(("case", "raw_calls"), CASES, ids=[case.id for case, _ in CASES])
def test_which_calls_count(case: Case, raw_calls: str, tmp_path: Path) -> None:
    check(case, run_with_raw_calls(case, raw_calls, tmp_path))


def test_a_caller_known_to_no_one_is_a_person_by_number_or_by_the_call(tmp_path: Path) -> None:
    """Vendor fallback: a touchpoint always lands on a person, so it can make a journey."""
    case = Case("calls", "no one", [], [], {}, {})
    tables = run_with_raw_calls(
        case,
        """
call_id,called_at,caller_number,vendor_source
n01,2026-05-04T15:00:00Z,+16175550191,google
n02,2026-05-04T15:30:00Z,+16175550191,bing
n03,2026-05-04T15:00:00Z,,google
""",
        tmp_path,
    )
    people = {row["call_id"]: row["person_id"] for row in tables["touchpoints"]}
    ids = {row["call_id"]: row["touchpoint_id"] for row in tables["calls"]}
    assert people == {
        "n01": "phone:+16175550191",
        "n02": "phone:+16175550191",
        "n03": f"call:{ids['n03']}",
    }
    positions = {row["call_id"]: row["positions"] for row in tables["touchpoints"]}
    assert positions == {"n01": "FT,LC", "n02": "PostLC", "n03": "FT,LC"}


_record = st.fixed_dictionaries(
    {
        "visitor_id": st.sampled_from(["h1", "h2", ""]),
        "minute": st.integers(0, 120),
        "kind": st.sampled_from(["", "call", "text", "form"]),
        "direction": st.sampled_from(["", "inbound", "outbound"]),
        "status": st.sampled_from(["", "answered", "missed"]),
        "duration_s": st.sampled_from(["", "0", "12", "30", "300"]),
        "first_time_caller": st.sampled_from(["", "true", "false"]),
        "lead_status": st.sampled_from(["", "Good Lead", "Bad"]),
        "spam": st.sampled_from(["", "true", "false"]),
        "vendor_source": st.sampled_from(["", "google"]),
    }
)
_rules = st.fixed_dictionaries(
    {
        "min_duration": st.sampled_from(["0s", "30s"]),
        "answered_only": st.booleans(),
        "first_time_only": st.booleans(),
        "lead_statuses": st.sampled_from([[], ["Good Lead"]]),
        "exclude_spam": st.booleans(),
    }
)


def _csv(worlds: list[list[dict[str, Any]]]) -> str:
    """Every world's records; a world's visitors and call ids carry its number."""
    header = ["call_id", "called_at", *(name for name in worlds[0][0] if name != "minute")]
    lines = [",".join(header)]
    for world, records in enumerate(worlds):
        for index, record in enumerate(records):
            hour, minute = divmod(record["minute"], 60)
            called = f"2026-05-04T{10 + hour:02d}:{minute:02d}:00Z"
            cells = {**record, "visitor_id": _visitor(world, record["visitor_id"])}
            row = [f"p{world}-{index}", called, *(str(cells[name]) for name in header[2:])]
            lines.append(",".join(row))
    return "\n".join(lines)


def _visitor(world: int, visitor: str) -> str:
    return f"w{world}-{visitor}" if visitor else ""


# A build costs seconds whatever it holds: each example builds up to four worlds
# (the same page views, their own records) under one set of rules.
@build_examples(ci=4, dev=50)
@given(st.lists(st.lists(_record, min_size=1, max_size=8), min_size=1, max_size=4), _rules)
def test_every_unqualified_call_has_a_reason_and_no_touchpoint(
    tmp_path_factory, worlds, rules
) -> None:
    directory = tmp_path_factory.mktemp("qualify")
    events = "visitor_id,type,occurred_at,url,referrer\n" + "\n".join(
        line.format(h1=_visitor(world, "h1"), h2=_visitor(world, "h2"))
        for world in range(len(worlds))
        for line in [
            "{h1},page_view,2026-05-04T10:00:00Z,https://example.com/,https://www.google.com/",
            "{h1},form_submit,2026-05-04T10:20:00Z,https://example.com/,",
            "{h2},page_view,2026-05-04T11:00:00Z,https://example.com/,",
        ]
    )
    case = Case("calls", "generated", [events], [], {"calls": rules}, {})
    tables = run_with_raw_calls(case, _csv(worlds), directory)
    calls = tables["calls"]
    # every record is listed, counted or not
    assert len(calls) == sum(len(records) for records in worlds)
    counted = {row["call_id"] for row in calls if row["qualified"]}
    for row in calls:
        assert row["qualified"] == (row["disqualified_reason"] is None), row
        if not row["qualified"]:
            assert row["touchpoint_id"] is None, row
    touched = {row["call_id"] for row in tables["touchpoints"] if row["call_id"]}
    assert touched <= counted
    tied = {row["touchpoint_id"] for row in calls if row["touchpoint_id"]}
    assert tied <= {row["touchpoint_id"] for row in tables["touchpoints"]}
