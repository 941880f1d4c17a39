"""CallRail calls (DESIGN §7), as its post-call and call-modified webhooks send them.

The call object of CallRail's API v3: `resource_id` (`CAL…`) or, in older
payloads, only a numeric `id`; `start_time` with its UTC offset;
`customer_phone_number`, `tracking_phone_number`, `duration`, `direction`; the
visit (`utm_*`, `gclid`, `fbclid`, `msclkid`, `landing_page_url`,
`referring_url`, `referrer_domain`, `source_name`). Booleans and numbers may
arrive as strings or empty strings (`"duration": "13"`, `"answered": ""`).
Webhooks also repeat the legacy flat fields (`callernum`, `trackingnum`,
`datetime` in UTC, `landingpage`, `referrer`, `callsource`): they are read when
the current field is missing.

The call-modified webhook sends the whole call again; the version is the time
touchpoint received it, so the later delivery wins and a redelivery (the same
bytes) changes nothing.

`CALLRAIL` at the end declares it for `VENDORS` (see `vendor.Vendor`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from touchpoint.config import Settings
from touchpoint.sources.records import RecordError, parse_time
from touchpoint.sources.vendors.attribution import Attribution, click_id_in
from touchpoint.sources.vendors.calls import VendorCall, call_row
from touchpoint.sources.vendors.fields import (
    call_id,
    first_text,
    first_visitor_id,
    text,
    timestamp_us,
    whole_seconds,
)
from touchpoint.sources.vendors.signatures import CALLRAIL_HEADER, verify_callrail
from touchpoint.sources.vendors.vendor import CallFile, Vendor, VisitorIds, Webhook, WebhookRequest

SOURCE_SYSTEM = "callrail"


def callrail_ids(record: Mapping[str, Any]) -> tuple[str, str | None]:
    """(call_id, external_id): `resource_id` with the numeric `id` beside it, or `id` alone."""
    if text(record.get("resource_id")) is not None:
        numeric = record.get("id")
        other = text(numeric) if text(numeric) != text(record.get("resource_id")) else None
        return call_id(record["resource_id"], "resource_id"), other
    if record.get("id") in (None, ""):
        raise RecordError("missing required field resource_id or id")
    return call_id(record.get("id"), "id"), None


def callrail_called_us(record: Mapping[str, Any]) -> int:
    """The call's start: `start_time`, else the legacy `timestamp`, else `datetime` (UTC)."""
    for name in ("start_time", "timestamp"):
        if text(record.get(name)) is not None:
            return parse_time(record[name], name)
    if text(record.get("datetime")) is not None:
        return timestamp_us(record["datetime"], "datetime", ("%Y-%m-%d %H:%M:%S",))
    raise RecordError("missing required field start_time")


def callrail_row(record: Any, settings: Settings, received_us: int) -> dict[str, Any]:
    """The raw-calls row of one CallRail call; `RecordError` otherwise."""
    if not isinstance(record, Mapping):
        raise RecordError("a CallRail call must be a JSON object")
    identity, other_id = callrail_ids(record)
    click_id, click_param = click_id_in(record)
    said = Attribution(
        source=first_text(record, "utm_source"),
        medium=first_text(record, "utm_medium", "medium", "referrermedium"),
        campaign=first_text(record, "utm_campaign", "campaign"),
        content=first_text(record, "utm_content"),
        term=first_text(record, "utm_term", "keywords"),
        click_id=click_id,
        click_id_param=click_param,
        landing_page=first_text(record, "landing_page_url", "landingpage"),
        referrer=first_text(record, "referring_url", "referrer_domain", "referrer"),
        label=first_text(record, "source_name", "source", "callsource"),
    )
    call = VendorCall(
        source_system=SOURCE_SYSTEM,
        call_id=identity,
        external_id=other_id,
        called_us=callrail_called_us(record),
        version_us=received_us,
        visitor_id=first_visitor_id(record, settings.vendors.callrail_visitor_id_fields),
        caller_number=first_text(record, "customer_phone_number", "callernum"),
        tracking_number=first_text(record, "tracking_phone_number", "trackingnum"),
        duration_s=whole_seconds(record.get("duration"), "duration"),
        call_type=(text(record.get("direction")) or "").lower() or None,
        attribution=said,
    )
    return call_row(call, record, settings)


def verify_request(request: WebhookRequest, settings: Settings) -> None:
    """Accept a CallRail webhook request (`signatures.verify_callrail`), or raise `SignatureError`."""
    verify_callrail(
        request.body, request.headers.get(CALLRAIL_HEADER), settings.webhooks.callrail_secret
    )


CALLRAIL = Vendor(
    name=SOURCE_SYSTEM,
    title="CallRail",
    row=callrail_row,
    page_key="calls",
    files=(CallFile("callrail", "json"),),
    webhook=Webhook(
        paths=("/webhooks/callrail",),
        secret="callrail_secret",
        verify=verify_request,
        checks="`Signature` = base64 HMAC-SHA1 of the raw body",
    ),
    visitor_ids=VisitorIds(setting="callrail_visitor_id_fields", fallback="custom_fields.tp_uid"),
)
