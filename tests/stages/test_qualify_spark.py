"""The `[calls]` rules, texts, forms and vendor fallback on a local Spark session: the
same calls and touchpoints tables as DuckDB (DESIGN §12; one world, Spark is slow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.raw_calls import land_raw_calls, run_with_raw_calls
from support.scenario import Case, import_case, spark_tables

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
    rules = {"min_duration": "30s", "answered_only": True, "lead_statuses": ["Good Lead"]}
    case = Case("calls", "spark", [SPARK_EVENTS], [], {"calls": rules}, {})
    on_duckdb = run_with_raw_calls(case, SPARK_CALLS, tmp_path / "duckdb")
    configured = import_case(case, tmp_path / "spark")
    land_raw_calls(configured, SPARK_CALLS)
    on_spark = spark_tables(configured, spark, ("calls", "touchpoints"))
    for name in ("calls", "touchpoints"):
        assert sorted(map(repr, map(sorted_items, on_spark[name]))) == sorted(
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
