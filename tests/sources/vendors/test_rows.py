"""Each vendor's record → its raw-calls row: UTC times, E.164 numbers, visitor ids, ids."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from support.paths import VENDOR_FIXTURES
from touchpoint.config import load_settings
from touchpoint.sources.records import RecordError
from touchpoint.sources.vendors.attribution import Attribution, attribution_columns
from touchpoint.sources.vendors.callrail import callrail_row
from touchpoint.sources.vendors.calls import NotACall
from touchpoint.sources.vendors.calls_csv import calls_csv_row
from touchpoint.sources.vendors.ctm import CTM, ctm_row
from touchpoint.sources.vendors.fields import form_fields
from touchpoint.sources.vendors.invoca import invoca_row
from touchpoint.sources.vendors.twilio import twilio_status_row
from touchpoint.sources.vendors.webhooks import webhook_rows

FIXTURES = VENDOR_FIXTURES
RECEIVED_US = 1_780_000_000_000_000


@pytest.fixture
def settings(workdir):
    return load_settings(None)


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text())


def test_ctm_call_from_unix_time_with_its_numbers_and_visitor_id(settings) -> None:
    call = CTM.records(fixture("ctm-calls.json"))[0]
    row = ctm_row(call, settings, RECEIVED_US)
    assert row["source_system"] == "ctm"
    assert row["call_id"] == "2150371827"
    assert row["external_id"] == "CAL5D3B2A1F0E9C8B7A6F5E4D3C2B1A0F9E"
    assert row["called_at"] == datetime(2026, 1, 19, 17, 0)
    assert row["caller_number"] == "+16175550182"
    assert row["tracking_number"] == "+18885550147"
    assert row["duration_s"] == 184
    assert row["visitor_id"] == "3f9a2c1e8b7d4f60a1b2c3d4e5f60718"
    assert row["version_us"] == RECEIVED_US


def test_ctm_call_from_called_at_and_the_bizible_id(settings) -> None:
    call = CTM.records(fixture("ctm-calls.json"))[1]
    assert "unix_time" not in call
    row = ctm_row(call, settings, RECEIVED_US)
    assert row["called_at"] == datetime(2026, 1, 19, 19, 47)  # 2:47 PM -05:00
    assert row["caller_number"] == "+16175550199"  # written (617) 555-0199
    assert row["duration_s"] == 95  # written "95"
    assert row["visitor_id"] == "e61b0a9f2c7d4b3a8e5f1c2d3b4a5968"


@pytest.mark.parametrize(
    ("called_at", "expected"),
    [
        ("2026-01-19 12:00 PM -05:00", datetime(2026, 1, 19, 17, 0)),
        ("2026-01-19 12:00:31 AM +01:00", datetime(2026, 1, 18, 23, 0, 31)),
        ("2026-01-19T12:00:00-05:00", datetime(2026, 1, 19, 17, 0)),
    ],
)
def test_ctm_called_at_forms(settings, called_at: str, expected: datetime) -> None:
    row = ctm_row({"id": 1, "called_at": called_at}, settings, RECEIVED_US)
    assert row["called_at"] == expected


def test_ctm_called_at_without_offset_is_rejected(settings) -> None:
    with pytest.raises(RecordError, match="called_at"):
        ctm_row({"id": 1, "called_at": "2012-08-17 10:24 AM"}, settings, RECEIVED_US)


def test_ctm_forms_and_texts_land_as_their_kind_and_chats_are_skipped(settings) -> None:
    form = ctm_row(CTM.records(fixture("ctm-calls.json"))[2], settings, RECEIVED_US)
    assert (form["kind"], form["direction"], form["duration_s"]) == ("form", "inbound", None)
    assert form["caller_number"] == "+16175550123"
    text = ctm_row({"id": 9, "unix_time": 1768842000, "direction": "msg_inbound"}, settings, 0)
    assert (text["kind"], text["direction"], text["status"]) == ("text", "inbound", None)
    with pytest.raises(NotACall):
        ctm_row({"id": 10, "unix_time": 1768842000, "direction": "chat"}, settings, 0)


def test_ctm_visitor_id_fields_come_from_settings(workdir, monkeypatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_VENDORS__CTM_VISITOR_ID_FIELDS", '["custom_fields.visitor"]')
    custom = load_settings(None)
    call = {"id": 1, "unix_time": 1768842000, "custom_fields": {"tp_uid": "a1", "visitor": "b2"}}
    assert ctm_row(call, custom, 0)["visitor_id"] == "b2"


def test_callrail_docs_vector_numeric_id_string_duration_and_legacy_aliases(settings) -> None:
    row = callrail_row(fixture("callrail-post-call-docs-vector.json"), settings, RECEIVED_US)
    assert row["call_id"] == "766970532"
    assert row["external_id"] is None
    assert row["called_at"] == datetime(2018, 2, 19, 18, 41, 0, 236000)
    assert row["duration_s"] == 13  # "13"
    assert row["caller_number"] == "+12148654559"
    assert row["tracking_number"] == "+14045558514"
    assert row["visitor_id"] is None
    assert (row["vendor_source"], row["vendor_medium"]) == ("google", "cpc")
    assert row["vendor_campaign"] == "Google AdWords"
    assert row["vendor_landing_page"] is None  # "" is no landing page


def test_callrail_resource_id_with_the_numeric_id_beside_it(settings) -> None:
    row = callrail_row(fixture("callrail-post-call.json"), settings, RECEIVED_US)
    assert row["call_id"] == "CAL8f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f"
    assert row["external_id"] == "912345678"
    assert row["called_at"] == datetime(2026, 3, 4, 15, 20, 7, 512000)
    assert row["visitor_id"] == "9c1d7e2a4b6f48d0a3e5c7b9d1f20384"
    assert row["vendor_click_id_param"] == "gclid"
    assert row["vendor_referrer_host"] == "www.google.com"
    assert row["vendor_landing_host"] == "www.acmehvac.com"


def test_callrail_legacy_fields_alone(settings) -> None:
    legacy = {
        "id": 42,
        "datetime": "2012-08-22 20:44:43",
        "callernum": "+17451187568",
        "trackingnum": "+14047773734",
        "duration": "",
        "callsource": "google_paid",
        "landingpage": "https://example.com/?utm_campaign=fall",
        "referrer": "https://www.google.com/",
    }
    row = callrail_row(legacy, settings, RECEIVED_US)
    assert row["called_at"] == datetime(2012, 8, 22, 20, 44, 43)  # legacy datetime is UTC
    assert row["duration_s"] is None
    assert (row["vendor_source"], row["vendor_medium"]) == ("google", "cpc")
    assert row["vendor_campaign"] == "fall"


@pytest.mark.parametrize(
    "record",
    [
        {"start_time": "2026-03-04T10:20:07-05:00"},
        {"id": "", "start_time": "2026-03-04T10:20:07-05:00"},
        {"resource_id": "CAL1", "start_time": "tomorrow"},
        {"resource_id": "CAL1", "start_time": "2026-03-04T10:20:07-05:00", "duration": "long"},
        {"resource_id": "CAL1", "start_time": "2026-03-04T10:20:07-05:00", "duration": "-3"},
        ["not", "an", "object"],
    ],
)
def test_callrail_rejects_say_why(settings, record) -> None:
    with pytest.raises(RecordError):
        callrail_row(record, settings, RECEIVED_US)


def test_invoca_ringpool_visitor_id_and_epoch_milliseconds(settings) -> None:
    transaction = fixture("invoca-transactions.json")[0]
    row = invoca_row(transaction, settings)
    assert row["call_id"] == "B4F1A2C3-7D9E6F10"
    assert row["called_at"] == datetime(2026, 3, 4, 12, 45)
    assert row["caller_number"] == "+16175550177"  # 617-555-0177
    assert row["tracking_number"] == "+18885550166"
    assert row["visitor_id"] == "5b2e9d1c7a3f4e60b8c1d2e3f4a5b6c7"
    assert (row["vendor_source"], row["vendor_medium"]) == ("google", "cpc")
    assert row["vendor_click_id"] == "CjwKCAiAx9e8BhB"


def test_invoca_correction_is_a_later_version_of_the_original(settings) -> None:
    rows = {
        t["transaction_id"]: invoca_row(t, settings)
        for t in fixture("invoca-transactions.json")
        if t["transaction_type"] == "Call"
    }
    original, correction = rows["C7E2D9A0-11AB34CD"], rows["C7E2D9A0-11AB34CE"]
    assert correction["call_id"] == original["call_id"] == "C7E2D9A0-11AB34CD"
    assert correction["version_us"] > original["version_us"]
    assert (original["duration_s"], correction["duration_s"]) == (64, 71)


def test_invoca_signals_are_raw_rows_of_kind_signal_never_calls(settings) -> None:
    row = invoca_row(fixture("invoca-transactions.json")[1], settings)
    assert (row["kind"], row["call_id"], row["external_id"]) == (
        "signal",
        "B4F1A2C3-7D9E6F11",
        "3B81-6BEEE19C255F",  # the call's complete_call_id
    )
    assert (row["visitor_id"], row["caller_number"], row["duration_s"]) == (None, None, None)
    with pytest.raises(NotACall):
        invoca_row({**fixture("invoca-transactions.json")[1], "transaction_type": "Chat"}, settings)


def test_invoca_visitor_id_in_marketing_data(settings) -> None:
    transaction = {
        "transaction_id": "X1",
        "start_time_utc": "1772628300000",
        "custom_data": [{"name": "tp_uid", "data_type": "Short Text", "value": "vid-42"}],
    }
    assert invoca_row(transaction, settings)["visitor_id"] == "vid-42"


def test_twilio_status_callbacks(settings) -> None:
    ringing = form_fields((FIXTURES / "twilio-status-ringing.form").read_bytes())
    completed = form_fields((FIXTURES / "twilio-status-completed.form").read_bytes())
    first = twilio_status_row(ringing, settings)
    last = twilio_status_row(completed, settings)
    assert first["call_id"] == last["call_id"] == "CA5b6a79c8d7e6f5a4b3c2d1e0f9a8b7c6"
    assert first["called_at"] == datetime(2026, 3, 4, 15, 58, 2)
    assert last["called_at"] == datetime(2026, 3, 4, 15, 58, 2)  # 16:00:31 less 149 s
    assert last["duration_s"] == 149
    assert last["version_us"] > first["version_us"]
    assert last["caller_number"] == "+16175550144"
    assert last["tracking_number"] == "+16175550190"
    assert last["visitor_id"] is None


def test_twilio_without_timestamp_uses_the_time_received(settings) -> None:
    row = twilio_status_row({"CallSid": ["CA1"], "From": ["+16175550144"]}, settings, RECEIVED_US)
    assert row["called_us"] == RECEIVED_US
    with pytest.raises(RecordError, match="Timestamp"):
        twilio_status_row({"CallSid": "CA1"}, settings)


def test_calls_csv_row_trims_and_reads_epoch_milliseconds(settings) -> None:
    row = calls_csv_row(
        {
            "call_id": " PBX-1 ",
            "called_at": "1772640151000",
            "visitor_id": "  ",
            "caller_number": "  +1 617 555 0106 ",
            "duration_s": "58",
        },
        settings,
        RECEIVED_US,
    )
    assert row["call_id"] == "PBX-1"
    assert row["source_system"] == "calls-csv"
    assert row["called_at"] == datetime(2026, 3, 4, 16, 2, 31)
    assert row["visitor_id"] is None
    assert row["caller_number"] == "+16175550106"
    assert row["duration_s"] == 58


@pytest.mark.parametrize("value", ["undefined", "null", "a b", "x" * 65, "<script>"])
def test_what_is_not_a_visitor_id(settings, value: str) -> None:
    row = ctm_row(
        {"id": 1, "unix_time": 1768842000, "custom_fields": {"tp_uid": value}}, settings, 0
    )
    assert row["visitor_id"] is None


def test_attribution_explicit_fields_win_over_the_landing_page() -> None:
    said = Attribution(
        source="newsletter",
        medium="email",
        landing_page="https://example.com/?utm_source=google&utm_medium=cpc&utm_term=boots&gclid=G1",
        label="Google Paid",
    )
    columns = attribution_columns(said)
    assert (columns["vendor_source"], columns["vendor_medium"]) == ("newsletter", "email")
    assert columns["vendor_term"] == "boots"  # only the landing page says
    assert (columns["vendor_click_id"], columns["vendor_click_id_param"]) == ("G1", "gclid")


def test_attribution_unknown_source_name_is_kept_last() -> None:
    assert attribution_columns(Attribution(label="Billboard I-95"))["vendor_source"] == (
        "Billboard I-95"
    )
    with_referrer = attribution_columns(Attribution(label="Website", referrer="www.bing.com"))
    assert with_referrer["vendor_source"] is None  # the build classifies the referrer
    assert with_referrer["vendor_referrer_host"] == "www.bing.com"


def test_webhook_bodies_as_the_endpoints_will_see_them(settings) -> None:
    vector = (FIXTURES / "callrail-post-call-docs-vector.json").read_bytes()
    first = webhook_rows("callrail", vector, settings, RECEIVED_US)
    again = webhook_rows("callrail", vector, settings, RECEIVED_US + 5_000_000)
    assert [row["call_id"] for row in first.rows] == ["766970532"]
    assert first.rows[0]["record_hash"] == again.rows[0]["record_hash"]  # stored once
    assert again.rows[0]["version_us"] > first.rows[0]["version_us"]
    form = (FIXTURES / "ctm-calls.json").read_bytes()
    ctm = webhook_rows("ctm", form, settings, RECEIVED_US)
    assert (len(ctm.rows), len(ctm.skipped), ctm.rejected) == (4, 0, [])  # one is a form
    twilio = webhook_rows(
        "twilio", (FIXTURES / "twilio-status-completed.form").read_bytes(), settings, RECEIVED_US
    )
    assert twilio.rows[0]["duration_s"] == 149
    broken = webhook_rows("invoca", b"{not json", settings, RECEIVED_US)
    assert broken.bad_request and "not JSON" in broken.rejected[0][1]
    signal = webhook_rows(
        "invoca",
        b'{"transaction_id": "S1", "transaction_type": "Signal", "signal_occurred_at": "1772640900"}',
        settings,
        0,
    )
    assert not signal.bad_request and [r["kind"] for r in signal.rows] == ["signal"]
    assert signal.rows[0]["called_at"] == datetime(2026, 3, 4, 16, 15)  # a 10-digit time_t
