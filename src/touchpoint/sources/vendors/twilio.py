"""Twilio voice status callbacks (DESIGN §7): a form-encoded POST per call event.

Parameters: `CallSid`, `From`, `To`, `CallStatus` (its final values give the
call's status), `CallDuration` (on `completed`), `Direction` (`inbound`,
`outbound-api`, `outbound-dial`), `Timestamp` (RFC 2822, `Mon, 19 Jan 2026 17:00:00
+0000`, when the event fired) and `SequenceNumber`. Twilio carries no visitor id:
the call is listed as `no_visitor_id` until dynamic number insertion supplies
one. Every event of a call is a version of it, and so is the voice request that
started it (`twilio_voice`, `/webhooks/twilio/voice`): the final event (with the
duration) wins over the voice request, which wins over the events before the end,
whatever order they arrive in; among events the later wins.

`TWILIO` at the end declares it for `VENDORS` (see `vendor.Vendor`).
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from touchpoint.config import Settings
from touchpoint.sources.records import RecordError, parse_time, to_us
from touchpoint.sources.vendors.call_facts import direction_of, status_of
from touchpoint.sources.vendors.calls import VendorCall, call_row
from touchpoint.sources.vendors.fields import (
    call_id,
    form_fields,
    in_range,
    single_values,
    text,
    whole_seconds,
)
from touchpoint.sources.vendors.signatures import (
    TWILIO_HEADER,
    TWILIO_SETTINGS_HEADER,
    NotReadable,
    SignatureError,
    twilio_algorithm,
    twilio_url,
    verify_twilio,
)
from touchpoint.sources.vendors.twilio_voice import (
    FINISHED,
    SOURCE_SYSTEM,
    VOICE,
    VOICE_PATH,
    event_version,
)
from touchpoint.sources.vendors.vendor import Vendor, VisitorIds, Webhook, WebhookRequest


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

    The call's time is when it started: the event's time (when it fired: for a
    final event, the end), less the duration once the call has finished. Without a
    `Timestamp`, the time it was received is used.
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
        version_us=event_version(fired_us, _sequence(sequence), status),
        caller_number=text(values.get("From")),
        tracking_number=text(values.get("To")),
        duration_s=duration,
        call_type=(text(values.get("Direction")) or "").lower() or None,
        # inbound; outbound-api, outbound-dial: outbound
        direction=direction_of(values.get("Direction")),
        # completed: answered, no-answer: missed, canceled: abandoned, busy, failed;
        # queued, ringing, in-progress: not over yet, no status
        status=status_of(status) if status in FINISHED else None,
    )
    return call_row(call, values, settings)


def _sequence(shown: str) -> int:
    """Twilio's `SequenceNumber` (0, 1, 2, ...), 0 when absent or not a small number."""
    return int(shown) if shown.isascii() and shown.isdigit() and len(shown) < 7 else 0


def verify_request(request: WebhookRequest, settings: Settings) -> None:
    """Accept a status callback (`signatures.verify_twilio`), or raise `SignatureError`.

    A body that is not a form cannot be checked: `NotReadable`.
    """
    signature = request.headers.get(TWILIO_HEADER)
    if not signature:
        raise SignatureError(f"the {TWILIO_HEADER} header is missing")
    try:
        params = form_fields(request.body)
    except RecordError as exc:
        raise NotReadable(str(exc)) from None
    # Twilio signs the URL it called; without [server] public_url, the one this request names.
    public_url = settings.server.public_url or request.origin
    verify_twilio(
        twilio_url(public_url, request.path, request.query),
        params,
        signature,
        settings.webhooks.twilio_auth_token,
        twilio_algorithm(request.headers.get(TWILIO_SETTINGS_HEADER)),
    )


TWILIO = Vendor(
    name=SOURCE_SYSTEM,
    title="Twilio",
    row=twilio_status_row,
    webhook=Webhook(
        paths=("/webhooks/twilio", VOICE_PATH),
        secret="twilio_auth_token",
        verify=verify_request,
        body="form",
        checks="`X-Twilio-Signature` over the URL Twilio called and the form parameters",
        controls={VOICE_PATH: VOICE},
    ),
    visitor_ids=VisitorIds(
        explained="a CRM Task linked to the call (Twilio status callbacks carry no visitor id)",
        documented="none: status callbacks carry no visitor id",
    ),
)
