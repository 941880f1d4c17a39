"""`explain call` for calls to pool numbers (DESIGN §15): the pool, the number, the
candidates with their holds, and why a call found one visitor, several or none."""

from __future__ import annotations

import pytest

from support.number_assignments import import_with_numbers
from support.scenario import Case
from touchpoint.build.build import build
from touchpoint.config import Settings
from touchpoint.report.explain import explain_call

EVENTS = """
visitor_id,type,occurred_at,url,referrer
e1,page_view,2026-06-01T10:00:00Z,https://example.com/?gclid=g1,https://www.google.com/
"""
HOLDS = """
pool,number,visitor_id,assigned_at,held_until,fallback
main,+15125550101,e1,2026-06-01T10:00:00Z,2026-06-01T10:30:00Z,false
main,+15125550102,e2,2026-06-01T10:00:00Z,2026-06-01T10:30:00Z,false
main,+15125550102,e3,2026-06-01T10:40:00Z,2026-06-01T11:10:00Z,false
main,+15125550199,e4,2026-06-01T10:00:00Z,2026-06-01T10:30:00Z,true
"""
CALLS = """
call_id,source_system,called_at,activity_type,tracking_number
x1,twilio,2026-06-01T10:10:00Z,Inbound Call,+15125550101
x2,twilio,2026-06-01T10:50:00Z,Inbound Call,+15125550102
x3,twilio,2026-06-01T10:10:00Z,Inbound Call,+15125550199
x4,twilio,2026-06-01T15:00:00Z,Inbound Call,+15125550101
"""
POOLS = {
    "numbers": {
        "pools": [
            {
                "name": "main",
                "numbers": ["+15125550101", "+15125550102"],
                "replace": "+15125550100",
                "hold": "20m",
                "fallback": "+15125550199",
            }
        ]
    }
}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    case = Case("numbers", "explain", [EVENTS], [], POOLS, {})
    settings = import_with_numbers(case, CALLS, HOLDS, tmp_path_factory.mktemp("explain"))
    build(settings)
    return settings


def _text(settings: Settings, call_id: str) -> str:
    (explanation,) = explain_call(settings, call_id)
    return explanation.text


def test_a_matched_call_names_its_one_holder_and_then_merges_as_usual(built) -> None:
    text = _text(built, "x1")
    assert "It rang +15125550101 of pool main" in text
    assert "e1 (held 2026-06-01 10:00:00 UTC until 2026-06-01 10:30:00 UTC)" in text
    assert "within the pool's hold (20 minutes)" in text
    assert "Its visitor id is e1." in text and "merged into that session" in text


def test_an_ambiguous_call_lists_every_candidate_and_why(built) -> None:
    (explanation,) = explain_call(built, "x2")
    assert explanation.outcome == "ambiguous" and explanation.touchpoint_id is None
    text = explanation.text
    assert "which 2 visitors held" in text
    assert "e2 (held 2026-06-01 10:00:00 UTC until 2026-06-01 10:30:00 UTC)" in text
    assert "e3 (held 2026-06-01 10:40:00 UTC until 2026-06-01 11:10:00 UTC)" in text
    assert "its outcome is ambiguous: no session gets the call and it makes no touchpoint" in text
    assert "visitor cookie" not in text


def test_a_fallback_call_says_the_pool_was_exhausted(built) -> None:
    text = _text(built, "x3")
    assert "pool exhausted: the visitor saw the fallback number" in text
    assert "outcome no_visitor_id and makes no touchpoint" in text
    assert "visitor cookie" not in text


def test_an_unassigned_call_says_no_visitor_held_the_number(built) -> None:
    text = _text(built, "x4")
    assert "no visitor held that number at the call or within the pool's hold (20 minutes)" in text
    assert "outcome no_visitor_id" in text
