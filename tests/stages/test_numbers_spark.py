"""Pool calls matched on a local Spark session: the same holds, candidates, calls and
touchpoints as DuckDB (DESIGN §15; one world, Spark is slow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from support.number_assignments import NUMBER_TABLES, import_with_numbers, run_with_numbers
from support.scenario import Case, spark_tables

EVENTS = """
visitor_id,type,occurred_at,url,referrer
s1,page_view,2026-06-01T10:00:00Z,https://example.com/?gclid=g1,https://www.google.com/
s2,page_view,2026-06-01T10:35:00Z,https://example.com/,https://www.bing.com/
s3,page_view,2026-06-01T10:00:00Z,https://example.com/?utm_source=newsletter&utm_medium=email,
"""
# s1 holds 101 and renews it; s2 gets 101 five minutes after s1's hold ended; s3 holds 102;
# s4 got the fallback.
HOLDS = """
pool,number,visitor_id,assigned_at,held_until,fallback
main,+15125550101,s1,2026-06-01T10:00:00Z,2026-06-01T10:30:00Z,false
main,+15125550101,s1,2026-06-01T10:10:00Z,2026-06-01T10:40:00Z,false
main,+15125550101,s2,2026-06-01T10:45:00Z,2026-06-01T11:15:00Z,false
main,+15125550102,s3,2026-06-01T10:00:00Z,2026-06-01T10:30:00Z,false
main,+15125550199,s4,2026-06-01T10:00:00Z,2026-06-01T10:30:00Z,true
"""
CALLS = """
call_id,source_system,visitor_id,called_at,activity_type,tracking_number
p1,twilio,,2026-06-01T10:20:00Z,Inbound Call,+15125550101
p2,twilio,,2026-06-01T11:00:00Z,Inbound Call,+15125550101
p3,twilio,,2026-06-01T10:50:00Z,,+15125550102
p4,twilio,,2026-06-01T10:05:00Z,,+15125550199
p5,twilio,,2026-06-01T12:00:00Z,,+15125550102
p6,calltracker,s3,2026-06-01T10:06:00Z,,+15125550101
p7,twilio,,2026-06-01T10:06:00Z,,+15125550123
"""
POOLS = {
    "numbers": {
        "pools": [
            {
                "name": "main",
                "numbers": ["+15125550101", "+15125550102"],
                "replace": "+15125550100",
                "hold": "30m",
                "fallback": "+15125550199",
            }
        ]
    }
}


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
def test_pool_calls_match_the_same_on_spark(tmp_path: Path, spark) -> None:
    case = Case("numbers", "spark", [EVENTS], [], POOLS, {})
    on_duckdb = run_with_numbers(case, CALLS, HOLDS, tmp_path / "duckdb")
    configured = import_with_numbers(case, CALLS, HOLDS, tmp_path / "spark")
    names = ("calls", "touchpoints", *NUMBER_TABLES)
    on_spark = spark_tables(configured, spark, names)
    for name in names:
        assert sorted(map(repr, map(sorted_items, on_spark[name]))) == sorted(
            map(repr, map(sorted_items, on_duckdb[name]))
        ), name
    matches = {
        row["call_id"]: (row["outcome"], row["number_match"], row["match_candidates"])
        for row in on_duckdb["calls"]
    }
    assert matches == {
        "p1": ("merged", "matched", 1),
        "p2": ("ambiguous", "ambiguous", 2),
        "p3": ("outside_window", "matched", 1),
        "p4": ("no_visitor_id", "fallback", 0),
        "p5": ("no_visitor_id", "unassigned", 0),
        "p6": ("merged", None, None),
        "p7": ("no_visitor_id", None, None),
    }


def sorted_items(row: dict[str, Any]) -> list[tuple[str, Any]]:
    return sorted(row.items())
