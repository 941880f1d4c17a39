"""Which calls count (DESIGN §12): the scenario table tests/fixtures/scenarios/calls/qualify.toml
through real DuckDB builds, and invariants of the `[calls]` rules over generated records."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.paths import SCENARIOS
from support.raw_calls import land_raw_calls
from support.scenario import (
    CRM_KINDS,
    TABLES,
    Case,
    arrow_of,
    check,
    import_case,
    rows_of,
    with_touchpoint_facts,
)
from touchpoint.build.build import build
from touchpoint.store import open_snapshot

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


def run_with_raw_calls(case: Case, raw_calls: str, directory: Path) -> dict[str, list[dict]]:
    """Import the case's files, land its raw call records, build on DuckDB, read the results."""
    configured = import_case(case, directory)
    land_raw_calls(configured, raw_calls)
    build(configured)
    with open_snapshot(configured) as con:
        tables = {name: rows_of(arrow_of(con, f"SELECT * FROM {name}")) for name in TABLES}
    return with_touchpoint_facts(tables)


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


def _csv(records: list[dict[str, Any]]) -> str:
    header = ["call_id", "called_at", *(name for name in records[0] if name != "minute")]
    lines = [",".join(header)]
    for index, record in enumerate(records):
        hour, minute = divmod(record["minute"], 60)
        called = f"2026-05-04T{10 + hour:02d}:{minute:02d}:00Z"
        cells = [f"p{index}", called, *(str(record[name]) for name in header[2:])]
        lines.append(",".join(cells))
    return "\n".join(lines)


@settings(max_examples=10, deadline=None)
@given(st.lists(_record, min_size=1, max_size=8), _rules)
def test_every_unqualified_call_has_a_reason_and_no_touchpoint(
    tmp_path_factory, records, rules
) -> None:
    directory = tmp_path_factory.mktemp("qualify")
    events = "visitor_id,type,occurred_at,url,referrer\n" + "\n".join(
        [
            "h1,page_view,2026-05-04T10:00:00Z,https://example.com/,https://www.google.com/",
            "h1,form_submit,2026-05-04T10:20:00Z,https://example.com/,",
            "h2,page_view,2026-05-04T11:00:00Z,https://example.com/,",
        ]
    )
    case = Case("calls", "generated", [events], [], {"calls": rules}, {})
    tables = run_with_raw_calls(case, _csv(records), directory)
    calls = tables["calls"]
    assert len(calls) == len(records)  # every record is listed, counted or not
    counted = {row["call_id"] for row in calls if row["qualified"]}
    for row in calls:
        assert row["qualified"] == (row["disqualified_reason"] is None), row
        if not row["qualified"]:
            assert row["touchpoint_id"] is None, row
    touched = {row["call_id"] for row in tables["touchpoints"] if row["call_id"]}
    assert touched <= counted
    tied = {row["touchpoint_id"] for row in calls if row["touchpoint_id"]}
    assert tied <= {row["touchpoint_id"] for row in tables["touchpoints"]}


SPARK_EVENTS = """
visitor_id,type,occurred_at,url,referrer
k01,page_view,2026-05-04T10:00:00Z,https://example.com/?utm_source=google&utm_medium=cpc,
k02,page_view,2026-05-04T11:00:00Z,https://example.com/contact,
k02,form_submit,2026-05-04T11:01:00Z,https://example.com/contact,
"""
SPARK_CALLS = """
call_id,visitor_id,called_at,kind,duration_s,direction,call_type,status,first_time_caller,lead_status,spam,caller_number,vendor_source
k1,k01,2026-05-04T10:05:00Z,text,,inbound,,,,,,,
k2,k01,2026-05-04T10:06:00Z,call,12,inbound,,answered,true,Good Lead,false,,
k3,k01,2026-05-04T10:07:00Z,call,95,,Outbound,answered,true,Good Lead,false,,
k4,k02,2026-05-04T11:02:00Z,form,,,,,,,,,
k5,k02,2026-05-04T11:04:00Z,form,,,,,,,,,
k6,,2026-05-04T12:00:00Z,call,95,inbound,,missed,false,Bad,false,+16175550160,google
k7,,2026-05-04T12:00:00Z,call,95,inbound,,answered,,,,+16175550161,google
k8,k03,2026-05-04T12:00:00Z,call,95,inbound,,answered,true,good lead,true,,
"""


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
def test_the_calls_rules_give_the_same_tables_on_spark(tmp_path: Path, spark) -> None:
    """The rules, texts, forms and vendor fallback as Spark runs them: DuckDB's tables."""
    from support.scenario import raw_tables
    from touchpoint.build.backends import SparkBackend
    from touchpoint.stages.params import BuildParams
    from touchpoint.stages.pipeline import run_stages

    rules = {"min_duration": "30s", "answered_only": True, "lead_statuses": ["Good Lead"]}
    case = Case("calls", "spark", [SPARK_EVENTS], [], {"calls": rules}, {})
    on_duckdb = run_with_raw_calls(case, SPARK_CALLS, tmp_path / "duckdb")
    configured = import_case(case, tmp_path / "spark")
    land_raw_calls(configured, SPARK_CALLS)
    raw = raw_tables(configured)
    backend = SparkBackend(spark)
    loaded = {
        name: backend.load(f"q{abs(hash(str(tmp_path))) % 10**8}_{name}", raw[name]) for name in raw
    }
    crm = {name: table for name, table in loaded.items() if name not in ("raw_events", "raw_calls")}
    results, _ = run_stages(
        backend,
        loaded["raw_events"],
        loaded["raw_calls"],
        BuildParams.from_settings(configured),
        raw_crm=crm,
    )
    for name in ("calls", "touchpoints"):
        on_spark = rows_of(backend.ibis.to_pyarrow(results[name]))
        assert sorted(map(repr, map(sorted_items, on_spark))) == sorted(
            map(repr, map(sorted_items, on_duckdb[name]))
        ), name
    reasons = {row["call_id"]: row["disqualified_reason"] for row in on_duckdb["calls"]}
    assert reasons == {
        "k1": None,
        "k2": "too short: 12 s < 30 s",
        "k3": "outbound",
        "k4": "duplicate of a form the snippet recorded",
        "k5": None,
        "k6": "not answered",
        "k7": None,
        "k8": "spam",
    }


def sorted_items(row: dict[str, Any]) -> list[tuple[str, Any]]:
    return sorted(row.items())
