"""Twilio's voice request → its raw-calls row and its TwiML; its versions beside the status callbacks.

The TwiML is checked three ways: against Twilio's TwiML XML schema
(tests/fixtures/twilio/twiml.xsd, see tests/fixtures/vendors/ORIGINS.md), against
the document Twilio's own `VoiceResponse` builds for the same instructions, and
parsed back. The versions of one call are ranked by the build's own
`current_calls.latest_versions`, in every order the requests can arrive in.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl
from xml.etree import ElementTree

import ibis
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from twilio.twiml.voice_response import Dial, VoiceResponse

from support.paths import FIXTURES, VENDOR_FIXTURES
from touchpoint.config import Settings, load_settings
from touchpoint.schema import RAW_CALLS
from touchpoint.sources.records import RecordError, to_us
from touchpoint.sources.vendors.twilio import twilio_status_row
from touchpoint.sources.vendors.twilio_voice import (
    dial_twiml,
    reject_twiml,
    voice_answer,
    voice_row,
)
from touchpoint.stages.current_calls import latest_versions

TWILIO = FIXTURES / "twilio"
SCHEMA = etree.XMLSchema(etree.parse(str(TWILIO / "twiml.xsd")))
RECEIVED_US = to_us(datetime(2026, 3, 4, 15, 58, 2, 400_000, tzinfo=UTC))
POOLS = """
[[numbers.pools]]
name = "boston"
numbers = ["(617) 555-0190", "+1 617 555 0191"]
replace = "+1 617-555-0100"
forward_to = "+1 617 555 0142"
fallback = "617.555.0199"

[[numbers.pools]]
name = "docs"
numbers = ["+18005551212"]
replace = "+18005550000"
"""


@pytest.fixture
def settings(workdir: Path) -> Settings:
    (workdir / "touchpoint.toml").write_text(POOLS)
    return load_settings(None)


def form(path: Path, **changes: str) -> dict[str, list[str]]:
    """A form fixture as the server reads it (name → values), with some values changed."""
    fields = parse_qs(path.read_text(), keep_blank_values=True)
    return {**fields, **{name: [value] for name, value in changes.items()}}


def valid(document: bytes) -> bool:
    return bool(SCHEMA.validate(etree.fromstring(document)))


def twilio_dial(forward_to: str, caller_id: str | None) -> bytes:
    """The same dial, as Twilio's own library writes it."""
    response = VoiceResponse()
    dial = Dial(caller_id=caller_id) if caller_id else Dial()
    dial.number(forward_to)
    response.append(dial)
    return str(response).encode()


# -- the row ------------------------------------------------------------------------------


def test_a_voice_request_is_a_call_at_the_moment_it_arrived(settings) -> None:
    row = voice_row(form(TWILIO / "voice-request-inbound.form"), settings, RECEIVED_US)
    assert row["source_system"] == "twilio"
    assert row["call_id"] == "CA5b6a79c8d7e6f5a4b3c2d1e0f9a8b7c6"
    assert row["called_us"] == RECEIVED_US
    assert row["called_at"] == datetime(2026, 3, 4, 15, 58, 2, 400_000)
    assert row["tracking_number"] == "+16175550190" and row["caller_number"] == "+16175550144"
    assert row["direction"] == "inbound" and row["call_type"] == "inbound"
    assert row["kind"] == "call" and row["visitor_id"] is None
    assert row["status"] is None  # ringing: not over
    assert row["duration_s"] is None
    assert json.loads(row["record"])["CallStatus"] == "ringing"


def test_twilio_s_documented_request_is_read(settings) -> None:
    vector = json.loads((TWILIO / "voice-request-docs-vector.json").read_text())
    fields = {name: [value] for name, value in vector["params"].items()}
    row = voice_row(fields, settings, RECEIVED_US)
    assert row["call_id"] == "CA1234567890ABCDE"
    assert row["tracking_number"] == "+18005551212" and row["caller_number"] == "+14158675309"
    assert row["direction"] is None  # the example names none


def test_a_voice_request_without_a_call_sid_is_a_reject(settings) -> None:
    fields = form(TWILIO / "voice-request-inbound.form")
    del fields["CallSid"]
    with pytest.raises(RecordError, match="CallSid"):
        voice_row(fields, settings, RECEIVED_US)


def test_the_same_request_again_is_the_same_record(settings) -> None:
    fields = form(TWILIO / "voice-request-inbound.form")
    first = voice_row(fields, settings, RECEIVED_US)
    again = voice_row(fields, settings, RECEIVED_US + 5_000_000)
    assert first["record_hash"] == again["record_hash"]


# -- the TwiML ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "called",
    ["+16175550190", "+16175550191", "+16175550199", "+16175550100"],
    ids=["pool-number", "another-pool-number", "fallback", "replace"],
)
def test_a_call_to_the_pool_is_forwarded_showing_the_caller(settings, called) -> None:
    fields = form(TWILIO / "voice-request-inbound.form", To=called)
    answer = voice_answer(fields, settings)
    assert answer.media_type == "text/xml" and not answer.note
    expected = (
        b'<?xml version="1.0" encoding="UTF-8"?><Response><Dial callerId="+16175550144">'
        b"<Number>+16175550142</Number></Dial></Response>"
    )
    assert answer.body == expected
    assert answer.body == twilio_dial("+16175550142", "+16175550144")
    assert valid(answer.body)


def test_forward_to_defaults_to_the_replaced_number(settings) -> None:
    vector = json.loads((TWILIO / "voice-request-docs-vector.json").read_text())
    answer = voice_answer({k: [v] for k, v in vector["params"].items()}, settings)
    assert answer.body == twilio_dial("+18005550000", "+14158675309")
    assert valid(answer.body)


def test_an_anonymous_caller_is_forwarded_without_a_caller_id(settings) -> None:
    for shown in ("anonymous", "+266696687x", "client:Anonymous", ""):
        fields = form(TWILIO / "voice-request-inbound.form", From=shown)
        answer = voice_answer(fields, settings)
        assert answer.body == twilio_dial("+16175550142", None), shown
        assert valid(answer.body)


@pytest.mark.parametrize(
    ("called", "why"),
    [
        ("+16175550111", "in no [[numbers.pools]]"),
        ("not a number", "no phone number"),
        ("+18005550000", "forward it to itself"),  # replace = forward_to: a loop
    ],
)
def test_other_calls_are_rejected_as_not_in_service_never_an_error(settings, called, why) -> None:
    answer = voice_answer(form(TWILIO / "voice-request-inbound.form", To=called), settings)
    assert answer.body == reject_twiml()
    twilio_reject = VoiceResponse()
    twilio_reject.reject(reason="rejected")
    assert answer.body == str(twilio_reject).encode()
    assert valid(answer.body)
    assert why in answer.note


def test_no_pools_at_all_rejects(workdir) -> None:
    answer = voice_answer(form(TWILIO / "voice-request-inbound.form"), load_settings(None))
    assert answer.body == reject_twiml() and "no [[numbers.pools]]" in answer.note


def test_the_schema_refuses_what_twilio_would_not_run() -> None:
    """The schema is a real check: a misspelt noun or an unknown reject reason fails it."""
    assert not valid(b"<Response><Dial><Numbr>+16175550142</Numbr></Dial></Response>")
    assert not valid(b'<Response><Reject reason="closed"/></Response>')
    assert not valid(b"<Answer><Dial><Number>+16175550142</Number></Dial></Answer>")


XML_TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\ufffe\uffff"),
    min_size=1,
    max_size=30,
)


@given(forward_to=XML_TEXT, caller_id=st.one_of(st.none(), XML_TEXT))
def test_every_value_is_escaped_as_twilio_s_library_escapes_it(forward_to, caller_id) -> None:
    document = dial_twiml(forward_to, caller_id)
    assert document == twilio_dial(forward_to, caller_id)
    dial = ElementTree.fromstring(document).find("Dial")
    assert dial is not None and dial.get("callerId") == caller_id
    number = dial.find("Number")
    assert number is not None and number.text == forward_to
    assert valid(document)


@given(
    st.dictionaries(
        st.sampled_from(["To", "From", "CallSid", "CallStatus", "Direction"]),
        st.lists(st.text(max_size=20), max_size=2),
    )
)
def test_any_form_gets_twiml_the_schema_accepts(fields) -> None:
    settings = Settings(
        numbers={"pools": [{"name": "p", "numbers": ["+16175550190"], "replace": "+16175550100"}]}
    )
    answer = voice_answer(fields, settings)
    assert answer.media_type == "text/xml" and valid(answer.body)


# -- the call's versions: voice request and status callbacks ----------------------------


def _status(name: str, settings: Settings) -> dict[str, Any]:
    return twilio_status_row(dict(parse_qsl((VENDOR_FIXTURES / name).read_text())), settings)


def _current(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the build keeps of these raw rows: `current_calls.latest_versions`, on DuckDB."""
    arrived = datetime(2026, 3, 4, 16, 5)
    table = pa.Table.from_pylist(
        [{**row, "received_at": arrived, "origin": "webhook:twilio"} for row in rows],
        schema=RAW_CALLS,
    )
    con = ibis.duckdb.connect()
    try:
        return latest_versions(con.create_table("raw_calls", table)).to_pyarrow().to_pylist()
    finally:
        con.disconnect()


def test_in_any_order_the_call_keeps_its_start_and_the_final_duration_and_status(settings):
    voice = voice_row(form(TWILIO / "voice-request-inbound.form"), settings, RECEIVED_US)
    ringing = _status("twilio-status-ringing.form", settings)
    completed = _status("twilio-status-completed.form", settings)
    start = datetime(2026, 3, 4, 15, 58, 2)  # completed at 16:00:31 after 149 s
    for order in itertools.permutations([voice, ringing, completed]):
        (call,) = _current(list(order))
        assert call["duration_s"] == 149 and call["status"] == "answered"
        assert call["called_at"] == start
    # Until the call is over, the voice request is the call: its arrival is the start.
    for order in itertools.permutations([voice, ringing]):
        (call,) = _current(list(order))
        assert call["called_us"] == RECEIVED_US and call["status"] is None


def test_the_final_event_wins_even_when_the_clocks_disagree(settings) -> None:
    """Twilio's clock behind ours by minutes, a call of 0 s: still the final event wins."""
    late_voice = voice_row(
        form(TWILIO / "voice-request-inbound.form"), settings, RECEIVED_US + 600_000_000
    )
    fields = dict(parse_qsl((VENDOR_FIXTURES / "twilio-status-completed.form").read_text()))
    busy = twilio_status_row({**fields, "CallStatus": "busy", "CallDuration": "0"}, settings)
    for order in itertools.permutations([late_voice, busy]):
        (call,) = _current(list(order))
        assert call["status"] == "busy"
