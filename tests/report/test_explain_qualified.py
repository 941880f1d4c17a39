"""`explain call` on calls the `[calls]` rules leave out and on vendor-attributed calls
without a visitor id (DESIGN §12), from a real DuckDB build."""

from __future__ import annotations

import pytest

from support.raw_calls import land_raw_calls
from support.scenario import Case, import_case
from touchpoint.build.build import build
from touchpoint.config import Settings
from touchpoint.report.explain import explain_call

EVENTS = """
visitor_id,type,occurred_at,url,referrer
e01,page_view,2026-05-04T10:00:00Z,https://example.com/,https://www.bing.com/
e02,page_view,2026-05-04T11:00:00Z,https://example.com/?utm_source=google&utm_medium=cpc,
e03,page_view,2026-05-04T12:00:00Z,https://example.com/contact,
e03,form_submit,2026-05-04T12:01:00Z,https://example.com/contact,
"""
RAW_CALLS = """
call_id,visitor_id,called_at,activity_type,duration_s,direction,kind,caller_number,vendor_source,vendor_medium
short1,e01,2026-05-04T10:10:00Z,Inbound Call,12,inbound,call,,,
out1,e01,2026-05-04T10:20:00Z,Outbound Call,300,outbound,call,,,
text1,e02,2026-05-04T11:05:00Z,,,inbound,text,,,
form1,e03,2026-05-04T12:02:00Z,,,,form,,,
novis1,,2026-05-04T13:00:00Z,,200,inbound,call,+16175550177,google,cpc
novis2,,2026-05-04T13:10:00Z,,200,inbound,call,+16175550178,,
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Settings:
    case = Case("explain", "qualified", [EVENTS], [], {"calls": {"min_duration": "30s"}}, {})
    settings = import_case(case, tmp_path_factory.mktemp("explain-qualified"))
    land_raw_calls(settings, RAW_CALLS)
    build(settings)
    return settings


def _text(settings: Settings, call_id: str) -> str:
    (explained,) = explain_call(settings, call_id)
    return explained.text


def test_a_call_too_short_says_so_with_the_numbers_and_the_setting(built) -> None:
    text = _text(built, "short1")
    assert "so the call merged into that session" in text
    assert "Not counted: too short: 12 s < 30 s ([calls] min_duration)." in text
    assert "It keeps its outcome (merged) but makes no touchpoint and no conversion." in text
    assert "carries the call" not in text


def test_an_outbound_call_names_exclude_outbound(built) -> None:
    assert "Not counted: outbound ([calls] exclude_outbound)." in _text(built, "out1")


def test_a_text_is_named_a_text_and_gives_its_session_its_type(built) -> None:
    text = _text(built, "text1")
    assert text.startswith("Text message text1 (calltracker, blank activity type)")
    assert "The session's touchpoint (Text Message, Paid Search) carries the call." in text
    assert "It is the session's earliest conversion and gives the touchpoint its type." in text


def test_a_vendor_form_the_snippet_recorded_says_it_adds_nothing(built) -> None:
    text = _text(built, "form1")
    assert text.startswith("Form form1")
    assert "Not counted: duplicate of a form the snippet recorded." in text


def test_no_visitor_id_with_the_vendor_s_source_got_a_vendor_touchpoint(built) -> None:
    text = _text(built, "novis1")
    assert "its outcome is no_visitor_id" in text
    assert (
        "so it became a standalone touchpoint (Phone Call) in channel Paid Search with "
        "attribution_basis vendor ([merge] vendor_fallback)."
    ) in text
    assert "makes no touchpoint" not in text


def test_no_visitor_id_and_no_vendor_source_still_makes_no_touchpoint(built) -> None:
    text = _text(built, "novis2")
    assert "outcome no_visitor_id and makes no touchpoint" in text
    assert "vendor_fallback" not in text
