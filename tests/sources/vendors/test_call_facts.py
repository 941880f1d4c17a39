"""DESIGN §12's call columns from each vendor's own fields, on the vendors' examples.

Each case reads one record (a fixture kept verbatim, or a documented variant of
one) and asserts the exact columns that land: kind, direction, status,
first_time_caller, value, lead_status, tags, spam, and for texts and forms the
time, numbers and the missing duration.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.paths import VENDOR_FIXTURES
from touchpoint.config import load_settings
from touchpoint.schema import CALL_VENDOR_COLUMNS
from touchpoint.sources.records import RecordError
from touchpoint.sources.vendors.call_facts import (
    DIRECTIONS,
    STATUSES,
    direction_of,
    money,
    status_of,
    tag_names,
)
from touchpoint.sources.vendors.callrail import callrail_row
from touchpoint.sources.vendors.calls_csv import calls_csv_row
from touchpoint.sources.vendors.ctm import CTM, ctm_row
from touchpoint.sources.vendors.invoca import invoca_row
from touchpoint.sources.vendors.twilio import twilio_status_row

FIXTURES = VENDOR_FIXTURES
RECEIVED_US = 1_780_000_000_000_000
FACTS = CALL_VENDOR_COLUMNS  # DESIGN §12's columns, as the readers fill them


@pytest.fixture
def settings(workdir):
    return load_settings(None)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def facts(row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[name] for name in FACTS)


def twilio(name: str, **changed: str) -> dict[str, str]:
    return {**dict(parse_qsl((FIXTURES / name).read_text())), **changed}


# -- CallRail ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # answered true, first_call "true", voicemail "false", value "", lead_status "", tags []
        ("callrail-post-call.json", ("call", "inbound", "answered", True, None, None, None, None)),
        # CallRail's signed docs vector: a voicemail from a repeat caller
        (
            "callrail-post-call-docs-vector.json",
            (
                "call",
                "inbound",
                "voicemail",
                False,
                None,
                "previously_marked_good_lead",
                None,
                None,
            ),
        ),
        # captured deliveries: an abandoned call marked not spam, an unanswered outbound call
        (
            "callrail-post-call-abandoned.json",
            ("call", "inbound", "abandoned", False, None, None, "goodtag", False),
        ),
        (
            "callrail-outbound-post-call.json",
            ("call", "outbound", "missed", False, None, None, "goodtag,asdf", False),
        ),
        # call modified: a value, a lead status and a tag object were added
        (
            "callrail-call-modified.json",
            ("call", "inbound", "answered", True, 189.0, "good_lead", "booked", None),
        ),
    ],
)
def test_callrail_calls(settings, name: str, expected: tuple[Any, ...]) -> None:
    assert facts(callrail_row(fixture(name), settings, RECEIVED_US)) == expected


def test_callrail_api_listing_says_not_answered(settings) -> None:
    for call in fixture("callrail-api-calls.json")["calls"]:  # answered: false, voicemail: false
        assert facts(callrail_row(call, settings, RECEIVED_US))[:3] == ("call", "inbound", "missed")


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        ({"answered": False, "call_type": "missed", "duration": 0}, "missed"),  # pre-call webhook
        ({"answered": "false", "call_type": "abandoned"}, "abandoned"),
        ({"answered": "", "voicemail": "true"}, "voicemail"),
        ({"answered": "", "call_type": "first_call"}, None),  # first_call is no outcome
        ({}, None),
    ],
)
def test_callrail_status(settings, fields: dict[str, Any], status: str | None) -> None:
    call = {"resource_id": "CAL1", "start_time": "2026-03-04T10:20:07-05:00", **fields}
    assert callrail_row(call, settings, RECEIVED_US)["status"] == status


def test_callrail_tags_value_spam_and_outbound(settings) -> None:
    call = {
        "resource_id": "CAL2",
        "start_time": "2026-03-04T10:20:07-05:00",
        "direction": "outbound",
        "tags": [{"name": "Quote", "color": "blue1"}, "Quote", "spam, maybe"],
        "value": "$1,250.00",
        "spam": "true",
    }
    row = callrail_row(call, settings, RECEIVED_US)
    assert (row["direction"], row["tags"], row["value"], row["spam"]) == (
        "outbound",
        "Quote,spam maybe",
        1250.0,
        True,
    )


def test_callrail_marketing_source_is_source_never_source_name(settings) -> None:
    call = {"resource_id": "CAL3", "start_time": "2026-03-04T10:20:07-05:00"}
    named = callrail_row({**call, "source_name": "Google Ads Number"}, settings, RECEIVED_US)
    assert (named["vendor_source"], named["vendor_medium"]) == (None, None)
    sourced = {**call, "source_name": "Main Line", "source": "Google Organic"}
    row = callrail_row(sourced, settings, RECEIVED_US)
    assert (row["vendor_source"], row["vendor_medium"]) == ("google", "organic")


def test_callrail_form_submission_without_timestamp_lands_as_a_form(settings) -> None:
    form = fixture("callrail-form-submission.json")
    assert "timestamp" not in form and "start_time" not in form
    row = callrail_row(form, settings, RECEIVED_US)
    assert facts(row) == ("form", "inbound", None, True, None, None, None, None)
    assert row["call_id"] == "FOR8c2d1e0f3a4b5c6d7e8f9a0b1c2d3e4f"
    assert row["called_at"] == datetime(2026, 3, 4, 15, 42, 18, 221000)  # submitted_at
    assert (row["duration_s"], row["tracking_number"]) == (None, None)
    assert row["caller_number"] == "+17815550143"  # the phone the sender gave in form_data
    assert (row["vendor_source"], row["vendor_medium"]) == ("google", "cpc")
    assert row["vendor_campaign"] == "spring-ac-tuneup"
    assert row["vendor_click_id"] == "EAIaIQobChMI9sUa"  # from the landing page


def test_callrail_form_submission_as_delivered_is_timed_by_submitted_at(settings) -> None:
    form = fixture("callrail-form-submission-webhook.json")
    row = callrail_row(form, settings, RECEIVED_US)
    assert facts(row) == ("form", "inbound", None, False, None, None, None, None)
    assert row["call_id"] == "FRMdcd4509d27ac457f85f337a3aa1b960b"  # resource_id, no id
    # submitted_at 16:18:46.266 -05:00, not the delivery's timestamp (16:18:46.290)
    assert row["called_at"] == datetime(2023, 1, 24, 21, 18, 46, 266000)
    assert row["caller_number"] == "+17142395588"  # form_data's phone_number (the last given)
    assert (row["vendor_source"], row["vendor_medium"]) == ("offline", "direct")
    assert row["vendor_campaign"] == "Radio Ad"


def test_callrail_form_without_an_id_is_a_reject_that_says_so(settings) -> None:
    form = {"form_data": {}, "submitted_at": "2023-01-24T16:18:46.266-05:00"}
    with pytest.raises(RecordError, match="resource_id"):
        callrail_row(form, settings, RECEIVED_US)
    with pytest.raises(RecordError, match="submitted_at"):
        callrail_row({"resource_id": "FRM1", "form_data": {}}, settings, RECEIVED_US)


def test_callrail_text_received_and_sent(settings) -> None:
    received = callrail_row(fixture("callrail-text-received.json"), settings, RECEIVED_US)
    assert facts(received) == ("text", "inbound", None, None, None, "good_lead", None, None)
    assert (received["call_id"], received["external_id"]) == (
        "SMS5b9e1c2d3f4a5b6c7d8e9f0a1b2c3d4e",
        "418833902",
    )
    assert received["called_at"] == datetime(2026, 3, 4, 16, 5, 44, 102000)
    assert (received["caller_number"], received["tracking_number"]) == (
        "+17815550143",  # the sender
        "+16175550111",  # the tracking number texted
    )
    assert received["duration_s"] is None
    sent = callrail_row(fixture("callrail-text-sent.json"), settings, RECEIVED_US)
    assert facts(sent) == ("text", "outbound", None, None, None, None, None, None)
    assert (sent["caller_number"], sent["tracking_number"]) == ("+17815550143", "+16175550111")


def test_callrail_text_time_is_its_own(settings) -> None:
    text = {**fixture("callrail-text-received.json"), "created_at": "2026-03-04T11:05:40-05:00"}
    assert callrail_row(text, settings, RECEIVED_US)["called_at"] == datetime(2026, 3, 4, 16, 5, 40)
    del text["created_at"], text["timestamp"]
    with pytest.raises(RecordError, match="text message's time"):
        callrail_row(text, settings, RECEIVED_US)


# -- CallTrackingMetrics ---------------------------------------------------------------


def test_ctm_calls_of_the_api_page(settings) -> None:
    calls = [ctm_row(c, settings, RECEIVED_US) for c in CTM.records(fixture("ctm-calls.json"))]
    assert [facts(row) for row in calls] == [
        ("call", "inbound", "answered", True, None, None, "new patient", None),  # call_status
        ("call", "inbound", "answered", False, None, None, None, None),  # dial_status completed
        ("form", "inbound", None, None, None, None, None, None),
        ("call", "inbound", "answered", None, None, None, None, None),
    ]


def test_ctm_text_message(settings) -> None:
    row = ctm_row(fixture("ctm-sms-inbound.json"), settings, RECEIVED_US)
    assert facts(row) == ("text", "inbound", None, False, None, None, "sms lead", None)
    assert (row["caller_number"], row["tracking_number"]) == ("+16175550199", "+18885550152")
    assert row["called_at"] == datetime(2026, 1, 20, 14, 12)
    assert (row["duration_s"], row["visitor_id"]) == (None, "e61b0a9f2c7d4b3a8e5f1c2d3b4a5968")
    outbound = ctm_row(
        {**fixture("ctm-sms-inbound.json"), "direction": "msg_outbound"}, settings, 0
    )
    assert (outbound["kind"], outbound["direction"]) == ("text", "outbound")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"call_status": "no answer"}, ("missed", None, None)),
        ({"dial_status": "busy", "sale": {"value": "350.00"}}, ("busy", 350.0, None)),
        ({"call_status": "Voicemail", "value": 0, "spam": True}, ("voicemail", 0.0, True)),
        ({"call_status": "transferred", "dial_status": "failed"}, ("failed", None, None)),
        ({"status": "in progress"}, (None, None, None)),
    ],
)
def test_ctm_status_value_spam(settings, fields: dict[str, Any], expected: tuple) -> None:
    row = ctm_row({"id": 7, "unix_time": 1768842000, **fields}, settings, RECEIVED_US)
    assert (row["status"], row["value"], row["spam"]) == expected


# -- Twilio ----------------------------------------------------------------------------


def test_twilio_published_parameters(settings) -> None:
    completed = twilio_status_row(twilio("twilio-status-completed.form"), settings)
    assert facts(completed) == ("call", "inbound", "answered", None, None, None, None, None)
    ringing = twilio_status_row(twilio("twilio-status-ringing.form"), settings)
    assert (ringing["status"], ringing["direction"]) == (None, "inbound")  # not over yet


@pytest.mark.parametrize(
    ("call_status", "direction", "expected"),
    [
        ("no-answer", "inbound", ("missed", "inbound")),
        ("busy", "outbound-api", ("busy", "outbound")),
        ("failed", "outbound-dial", ("failed", "outbound")),
        ("canceled", "inbound", ("abandoned", "inbound")),
        ("in-progress", "inbound", (None, "inbound")),
        ("completed", "trunking-originating", ("answered", None)),
    ],
)
def test_twilio_call_status_and_direction(settings, call_status, direction, expected) -> None:
    params = twilio("twilio-status-completed.form", CallStatus=call_status, Direction=direction)
    row = twilio_status_row(params, settings)
    assert (row["status"], row["direction"]) == expected


# -- Invoca ----------------------------------------------------------------------------


def test_invoca_transactions(settings) -> None:
    calls = [t for t in fixture("invoca-transactions.json") if t["transaction_type"] == "Call"]
    for transaction in calls:  # Connected, repeat_calling_phone_number: No, revenue: null
        row = invoca_row(transaction, settings)
        assert facts(row) == ("call", "inbound", "answered", True, None, None, None, None)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"revenue": "129.99", "repeat_calling_phone_number": "Yes"}, ("answered", False, 129.99)),
        ({"revenue": None, "sale_amount": 40}, ("answered", True, 40.0)),
        ({"call_result_description_detail": "Busy"}, ("busy", True, None)),
        ({"call_result_description_detail": "No Answer"}, ("missed", True, None)),
        ({"call_result_description_detail": "IVR Hang Up"}, ("abandoned", True, None)),
        ({"call_result_description_detail": "Transfer Queue"}, (None, True, None)),
    ],
)
def test_invoca_status_first_time_value(settings, fields: dict[str, Any], expected) -> None:
    transaction = {**fixture("invoca-transactions.json")[0], **fields}
    row = invoca_row(transaction, settings)
    assert (row["status"], row["first_time_caller"], row["value"]) == expected


# -- calls-csv -------------------------------------------------------------------------


def test_calls_csv_reads_the_columns_by_their_names(settings) -> None:
    record = {
        "call_id": "PBX-9",
        "called_at": "2026-03-04T14:14:00Z",
        "kind": "Text",
        "direction": "OUTBOUND",
        "status": "",
        "first_time_caller": "true",
        "value": "1250.5",
        "lead_status": "qualified",
        "tags": "quote, booked",
        "spam": "false",
        "qualified": "false",
        "disqualified_reason": "outbound",
    }
    row = calls_csv_row(record, settings, RECEIVED_US)
    assert facts(row) == (
        "text",
        "outbound",
        None,
        True,
        1250.5,
        "qualified",
        "quote,booked",
        False,
    )
    plain = calls_csv_row({"call_id": "PBX-10", "called_at": "2026-03-04T14:14:00Z"}, settings, 0)
    assert facts(plain) == ("call", None, None, None, None, None, None, None)
    with pytest.raises(RecordError, match="kind 'chat'"):
        calls_csv_row({**record, "kind": "chat"}, settings, 0)


# -- the readers themselves ------------------------------------------------------------


@given(st.text(max_size=20) | st.integers() | st.none() | st.booleans())
def test_directions_and_statuses_are_ours_or_none(value) -> None:
    assert direction_of(value) in (*DIRECTIONS, None)
    assert status_of(value) in (*STATUSES, None)


@given(st.text(max_size=20) | st.floats() | st.integers() | st.none())
def test_money_is_finite_or_none(value) -> None:
    found = money(value)
    assert found is None or math.isfinite(found)


@given(st.lists(st.text(max_size=8) | st.fixed_dictionaries({"name": st.text(max_size=8)})))
def test_tags_are_distinct_trimmed_and_comma_free(value) -> None:
    names = tag_names(value)
    assert len(set(names)) == len(names)
    assert all(name and "," not in name and name == name.strip() for name in names)
