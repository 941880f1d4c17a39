"""Malformed vendor payloads: a clean reject (or a skip), never a crash, never a partial row."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.paths import VENDOR_FIXTURES
from touchpoint.config import load_settings
from touchpoint.errors import TouchpointError
from touchpoint.importers import import_calls
from touchpoint.schema import RAW_CALLS
from touchpoint.sources.records import EARLIEST_US, LATEST_US, RecordError, RowBatches, from_us
from touchpoint.sources.vendors.callrail import callrail_row
from touchpoint.sources.vendors.calls import NotACall
from touchpoint.sources.vendors.calls_csv import calls_csv_row
from touchpoint.sources.vendors.ctm import CTM, ctm_row
from touchpoint.sources.vendors.fields import form_fields
from touchpoint.sources.vendors.invoca import invoca_row
from touchpoint.sources.vendors.twilio import twilio_status_row
from touchpoint.sources.vendors.webhooks import WEBHOOK_VENDORS, webhook_rows

FIXTURES = VENDOR_FIXTURES
SETTINGS = load_settings(None, db=Path("unused.duckdb"))
RECEIVED_US = 1_780_000_000_000_000
ROW_COLUMNS = set(RAW_CALLS.names) - {"received_at", "origin"}

ROWS = {
    "ctm": lambda record: ctm_row(record, SETTINGS, RECEIVED_US),
    "callrail": lambda record: callrail_row(record, SETTINGS, RECEIVED_US),
    "invoca": lambda record: invoca_row(record, SETTINGS),
    "calls-csv": lambda record: calls_csv_row(record, SETTINGS, RECEIVED_US),
    "twilio": lambda record: twilio_status_row(record, SETTINGS),
}
VALID = {
    "ctm": CTM.records(json.loads((FIXTURES / "ctm-calls.json").read_text()))[0],
    "callrail": json.loads((FIXTURES / "callrail-post-call.json").read_text()),
    "invoca": json.loads((FIXTURES / "invoca-transactions.json").read_text())[0],
    "calls-csv": {
        "call_id": "PBX-1",
        "called_at": "2026-03-04T09:14:00-05:00",
        "visitor_id": "v1",
        "caller_number": "(617) 555-0105",
        "duration_s": "133",
        "landing_page": "https://www.acmehvac.com/?gclid=abc",
    },
    "twilio": form_fields((FIXTURES / "twilio-status-completed.form").read_bytes()),
}
# The fields each format reads, so that mutations hit them often.
FIELDS = {
    "ctm": ["id", "sid", "unix_time", "called_at", "caller_number", "tracking_number",
            "duration", "talk_time", "direction", "source", "location", "referrer",
            "custom_fields", "paid", "gclid", "call_status", "dial_status", "status",
            "is_new_caller", "sale", "value", "tag_list", "tags", "spam"],
    "callrail": ["id", "resource_id", "start_time", "timestamp", "datetime", "duration",
                 "customer_phone_number", "utm_source", "landing_page_url", "referrer_domain",
                 "referring_url", "source_name", "custom_fields", "gclid", "direction",
                 "answered", "voicemail", "call_type", "first_call", "value", "lead_status",
                 "tags", "spam", "source", "form_data", "submitted_at", "first_form", "content",
                 "source_number", "destination_number", "agent", "created_at"],
    "invoca": ["transaction_id", "corrects_transaction_id", "transaction_type", "start_time_utc",
               "start_time_local", "corrected_at", "calling_phone_number", "duration",
               "dynamic_number_pool_referrer_param1_name",
               "dynamic_number_pool_referrer_param1_value", "custom_data",
               "call_source_description", "call_result_description_detail",
               "repeat_calling_phone_number", "revenue", "sale_amount"],
    "calls-csv": ["call_id", "called_at", "updated_at", "visitor_id", "duration_s",
                  "caller_number", "landing_page", "referrer", "source_system", "kind",
                  "direction", "status", "first_time_caller", "value", "lead_status", "tags",
                  "spam"],
    "twilio": ["CallSid", "Timestamp", "CallDuration", "CallStatus", "From", "To",
               "SequenceNumber", "Direction"],
}  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(["", " ", "undefined", "2026-03-04T12:00:00Z", "1772628300000", "13",
                      "-1", "1e400", "\udc80", "\x00", "https://x.example/?gclid=1", "CAL1"])
)  # fmt: skip
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def check_row_or_reject(fmt: str, record: Any) -> None:
    """The row function's only outcomes: a complete, storable row, or a reason."""
    try:
        row = ROWS[fmt](record)
    except (RecordError, NotACall) as exc:
        assert str(exc)
        return
    assert set(row) == ROW_COLUMNS
    assert isinstance(row["call_id"], str) and row["call_id"] == row["call_id"].strip()
    assert row["call_id"]
    assert EARLIEST_US <= row["called_us"] < LATEST_US
    assert row["called_at"] == from_us(row["called_us"])
    assert isinstance(row["version_us"], int)
    assert row["visitor_id"] is None or re.fullmatch(r"[A-Za-z0-9_-]{1,64}", row["visitor_id"])
    for name in ("caller_number", "tracking_number"):
        assert row[name] is None or re.fullmatch(r"\+[0-9]{2,17}", row[name])
    batches = RowBatches(RAW_CALLS, received_at=from_us(RECEIVED_US), origin="test")
    batches.add(row)
    table = batches.take()  # every value fits its Arrow column
    assert table.num_rows == 1


@pytest.mark.parametrize("fmt", sorted(ROWS))
@given(record=json_values)
def test_any_json_value_is_a_row_or_a_reject(fmt: str, record: Any) -> None:
    check_row_or_reject(fmt, record)


@pytest.mark.parametrize("fmt", sorted(ROWS))
@given(data=st.data())
def test_valid_records_with_broken_fields_are_a_row_or_a_reject(fmt: str, data) -> None:
    record = dict(VALID[fmt])
    broken = data.draw(st.lists(st.sampled_from(FIELDS[fmt]), min_size=1, max_size=4, unique=True))
    for name in broken:
        if data.draw(st.booleans()):
            record.pop(name, None)
        else:
            record[name] = data.draw(json_values)
    check_row_or_reject(fmt, record)


@given(body=st.binary(max_size=200))
def test_any_form_body_is_a_row_or_a_reject(body: bytes) -> None:
    try:
        fields = form_fields(body)
    except RecordError:
        return
    check_row_or_reject("twilio", fields)


@pytest.mark.parametrize("fmt", ["ctm", "callrail", "invoca", "calls-csv"])
@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    content=st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.lists(json_values, max_size=4).map(
            lambda items: "\n".join(json.dumps(i) for i in items).encode()
        ),
    )
)
def test_any_file_imports_cleanly_and_lands_only_whole_rows(
    fmt: str, content: bytes, tmp_path: Path
) -> None:
    """Through the real importer and store: a file problem or a summary, whole rows only."""
    directory = Path(tempfile.mkdtemp(dir=tmp_path))  # a fresh store per example
    path = directory / ("calls.csv" if fmt == "calls-csv" else "calls.json")
    path.write_bytes(content)
    store = load_settings(None, db=directory / "touchpoint.duckdb")
    try:
        result = import_calls(store, [path], fmt)
    except TouchpointError:
        return
    assert result.seen >= result.rejected
    if not store.db.exists():
        return
    con = duckdb.connect(str(store.db), read_only=True)
    try:
        partial = con.execute(
            "SELECT count(*) FROM raw_calls WHERE call_id IS NULL OR call_id = '' "
            "OR called_us IS NULL OR called_at IS NULL OR source_system IS NULL "
            "OR record_hash IS NULL OR version_us IS NULL"
        ).fetchone()[0]
        landed = con.execute("SELECT count(*) FROM raw_calls").fetchone()[0]
    finally:
        con.close()
    assert partial == 0
    assert landed == result.landed


@pytest.mark.parametrize("vendor", WEBHOOK_VENDORS)
@given(
    body=st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.sampled_from(list(VALID.values())).map(lambda v: json.dumps(v).encode()),
    )
)
def test_any_webhook_body_gives_whole_rows_or_reasons(vendor: str, body: bytes) -> None:
    """What the endpoints will call after the signature: it never raises (no 500)."""
    result = webhook_rows(vendor, body, SETTINGS, RECEIVED_US)
    for row in result.rows:
        assert set(row) == ROW_COLUMNS
        batches = RowBatches(RAW_CALLS, received_at=from_us(RECEIVED_US), origin="webhook")
        batches.add(row)
        assert batches.take().num_rows == 1
    assert all(reason for _, reason in result.rejected)
