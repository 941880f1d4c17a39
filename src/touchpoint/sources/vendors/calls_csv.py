"""`calls-csv`: calls from any system, in the columns of the `calls` table (DESIGN §8).

Header of column names: `call_id` and `called_at` (RFC 3339 with offset, or
epoch milliseconds) are required; `source_system` (default `calls-csv`),
`external_id`, `visitor_id`, `activity_type`, `caller_number`,
`tracking_number`, `duration_s` are read when present, and so are what the
system knows about the visit: `utm_source`, `utm_medium`, `utm_campaign`,
`utm_content`, `utm_term`, `gclid` (or another click id), `landing_page`,
`referrer`, and how the call went (DESIGN §12): `kind` (call, text, form),
`direction`, `status`, `first_time_caller`, `value`, `lead_status`, `tags`
(comma joined), `spam`. The columns `build` adds (`outcome`, `session_id`,
`qualified`, ...) are ignored,
so a `touchpoint export calls` file imports again. `updated_at` orders versions
of a call; without it, the row received last wins.

`CALLS_CSV` at the end declares it for `VENDORS` (see `vendor.Vendor`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from touchpoint.config import Settings
from touchpoint.schema import (
    CALL_BINDING_COLUMNS,
    CALL_QUALIFICATION_COLUMNS,
    CALL_RECORD_COLUMNS,
    CALL_VENDOR_COLUMNS,
)
from touchpoint.sources.records import RecordError, parse_time
from touchpoint.sources.urls import UTM_PARAMS
from touchpoint.sources.vendors.attribution import CLICK_ID_FIELDS, Attribution, click_id_in
from touchpoint.sources.vendors.call_facts import KINDS, direction_of, money, status_of, tag_names
from touchpoint.sources.vendors.calls import VendorCall, call_row
from touchpoint.sources.vendors.fields import (
    call_id,
    first_text,
    flag,
    text,
    visitor_id,
    whole_seconds,
)
from touchpoint.sources.vendors.vendor import CallFile, Vendor, VisitorIds

DEFAULT_SOURCE_SYSTEM = "calls-csv"
READ_COLUMNS = (
    *CALL_RECORD_COLUMNS,
    "call_type",
    "updated_at",
    *UTM_PARAMS,
    "landing_page",
    "referrer",
    *CLICK_ID_FIELDS,
    *CALL_VENDOR_COLUMNS,
)
# What `build` adds to the calls table: present in an export, not input.
OUTPUT_ONLY = (*CALL_BINDING_COLUMNS, *CALL_QUALIFICATION_COLUMNS)
KNOWN_COLUMNS = frozenset((*READ_COLUMNS, *OUTPUT_ONLY))


def calls_csv_row(record: Any, settings: Settings, received_us: int) -> dict[str, Any]:
    """The raw-calls row of one `calls-csv` row; `RecordError` otherwise."""
    if not isinstance(record, Mapping):
        raise RecordError("a calls-csv record must be a row of named columns")
    if text(record.get("called_at")) is None:
        raise RecordError("missing required field called_at")
    called_us = parse_time(record["called_at"], "called_at")
    version_us = received_us
    if text(record.get("updated_at")) is not None:
        version_us = parse_time(record["updated_at"], "updated_at")
    click_id, click_param = click_id_in(record)
    said = Attribution(
        source=first_text(record, "utm_source"),
        medium=first_text(record, "utm_medium"),
        campaign=first_text(record, "utm_campaign"),
        content=first_text(record, "utm_content"),
        term=first_text(record, "utm_term"),
        click_id=click_id,
        click_id_param=click_param,
        landing_page=first_text(record, "landing_page"),
        referrer=first_text(record, "referrer"),
    )
    call = VendorCall(
        source_system=text(record.get("source_system")) or DEFAULT_SOURCE_SYSTEM,
        call_id=call_id(record.get("call_id"), "call_id"),
        external_id=text(record.get("external_id")),
        called_us=called_us,
        version_us=version_us,
        visitor_id=visitor_id(record.get("visitor_id")),
        caller_number=text(record.get("caller_number")),
        tracking_number=text(record.get("tracking_number")),
        duration_s=whole_seconds(record.get("duration_s"), "duration_s"),
        call_type=text(record.get("call_type")),
        activity_type=text(record.get("activity_type")),
        attribution=said,
        kind=_kind(record),
        direction=direction_of(record.get("direction")) or direction_of(record.get("call_type")),
        status=status_of(record.get("status")),
        first_time_caller=flag(record.get("first_time_caller")),
        value=money(record.get("value")),
        lead_status=text(record.get("lead_status")),
        tags=tag_names(record.get("tags")),
        spam=flag(record.get("spam")),
    )
    return call_row(call, record, settings)


def _kind(record: Mapping[str, Any]) -> str:
    """The `kind` column: call (also when empty), text or form; anything else is a reject."""
    said = (text(record.get("kind")) or "call").lower()
    if said not in KINDS:
        raise RecordError(f"kind {said!r} is not one of call, text, form")
    return said


CALLS_CSV = Vendor(
    name=DEFAULT_SOURCE_SYSTEM,
    title="calls-csv",
    row=calls_csv_row,
    files=(CallFile("calls-csv", "csv", known_columns=KNOWN_COLUMNS),),
    visitor_ids=VisitorIds(
        explained="the record's visitor_id", documented="the `visitor_id` column"
    ),
)
