"""Twilio voice status callbacks (DESIGN §7): a form-encoded POST per call event.

Parameters: `CallSid`, `From`, `To`, `CallStatus`, `CallDuration` (on
`completed`), `Direction`, `Timestamp` (RFC 2822, `Mon, 19 Jan 2026 17:00:00
+0000`, when the event fired) and `SequenceNumber`. Twilio carries no visitor id:
the call is listed as `no_visitor_id` until dynamic number insertion supplies
one. Every event of a call is a version of it; the latest event wins, so the
`completed` callback (with the duration) is what the call shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs

from touchpoint.config import Settings
from touchpoint.sources.records import RecordError, parse_time, to_us
from touchpoint.sources.vendors.calls import (
    VendorCall,
    call_id,
    call_row,
    in_range,
    text,
    whole_seconds,
)

SOURCE_SYSTEM = "twilio"
FINISHED = ("completed", "busy", "no-answer", "failed", "canceled")


def form_fields(body: bytes) -> dict[str, list[str]]:
    """A form-encoded body as name → values (what Twilio signs), or `RecordError`."""
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RecordError("the form body is not UTF-8 text") from None
    try:
        return parse_qs(decoded, keep_blank_values=True, strict_parsing=bool(decoded))
    except ValueError:
        raise RecordError("the body is not a form (name=value&...)") from None


def single_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """One value per name (the first), from `form_fields` or any mapping."""
    return {
        name: (values[0] if values else None) if isinstance(values, list) else values
        for name, values in fields.items()
    }


def event_us(value: Any) -> int:
    """Epoch microseconds of Twilio's `Timestamp` (RFC 2822; RFC 3339 accepted too)."""
    shown = text(value)
    if shown is None:
        raise RecordError("Timestamp is missing")
    try:
        moment = parsedate_to_datetime(shown)
    except (TypeError, ValueError, IndexError):
        return parse_time(shown, "Timestamp")
    if moment.tzinfo is None:
        raise RecordError(f"Timestamp {shown!r} has no UTC offset")
    return in_range(to_us(moment), "Timestamp", shown)


def twilio_status_row(
    fields: Mapping[str, Any], settings: Settings, received_us: int | None = None
) -> dict[str, Any]:
    """The raw-calls row of one status callback (form fields); `RecordError` otherwise.

    The call's time is when it started: the event's time, less the duration once
    the call has finished. Without a `Timestamp`, the time it was received is used.
    """
    if not isinstance(fields, Mapping):
        raise RecordError("a Twilio status callback must be form fields")
    values = single_values(fields)
    sid = call_id(values.get("CallSid"), "CallSid")
    if text(values.get("Timestamp")) is not None:
        fired_us = event_us(values["Timestamp"])
    elif received_us is not None:
        fired_us = received_us
    else:
        raise RecordError("Timestamp is missing")
    status = (text(values.get("CallStatus")) or "").lower()
    duration = whole_seconds(values.get("CallDuration"), "CallDuration")
    started_us = fired_us
    if duration is not None and status in FINISHED:
        started_us = in_range(fired_us - duration * 1_000_000, "the call's start", str(fired_us))
    sequence = text(values.get("SequenceNumber")) or ""
    call = VendorCall(
        source_system=SOURCE_SYSTEM,
        call_id=sid,
        called_us=started_us,
        # Events of one call can share a second; the sequence number orders them.
        version_us=fired_us + _sequence(sequence),
        caller_number=text(values.get("From")),
        tracking_number=text(values.get("To")),
        duration_s=duration,
        call_type=(text(values.get("Direction")) or "").lower() or None,
    )
    return call_row(call, values, settings)


def _sequence(shown: str) -> int:
    """Twilio's `SequenceNumber` (0, 1, 2, ...), 0 when absent or not a small number."""
    return int(shown) if shown.isascii() and shown.isdigit() and len(shown) < 7 else 0
