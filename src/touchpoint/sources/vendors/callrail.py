"""CallRail calls, texts and forms (DESIGN §7, §12), as its webhooks and API v3 send them.

The call object of CallRail's API v3: `resource_id` (`CAL…`) or, in older
payloads, only a numeric `id`; `start_time` with its UTC offset;
`customer_phone_number`, `tracking_phone_number`, `duration`, `direction`; how
it went (`answered`, `voicemail`, `call_type`, `first_call`, `value`,
`lead_status`, `tags`, `spam`); the visit (`source`, `utm_*`, `gclid`, `fbclid`,
`msclkid`, `landing_page_url`, `referring_url`, `referrer_domain`). `source_name`
is the tracking number's name, not the marketing source, and is not read.
Booleans and numbers may arrive as strings or empty strings (`"duration":
"13"`, `"answered": ""`). Webhooks also repeat the legacy flat fields
(`callernum`, `trackingnum`, `datetime` in UTC, `landingpage`, `referrer`,
`callsource`): they are read when the current field is missing.

The Text Message Received / Sent webhooks (`source_number`,
`destination_number`, `content`, `conversation_id`) become `kind = text`, the
Form Submission webhook (`form_data`, `submitted_at`, `first_form`) `kind =
form`; neither has a duration.

The visitor id is the first of `[vendors] callrail_visitor_id_fields` that holds
one, else the touchpoint cookie (`[collector] cookie_name`) among the cookies
CallRail's Custom Cookie Capture attached to the call, in `COOKIE_FIELDS`. The
CallRail documentation found here does not name the field the captured cookies
arrive in, so these are the likely names; a payload that carries them elsewhere
names the path in `callrail_visitor_id_fields` (`that_field._tp_uid`), which
reads an object of name → value or a list of `{"name", "value"}` the same way.

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
from touchpoint.sources.vendors.call_facts import direction_of, money, status_of, tag_names
from touchpoint.sources.vendors.callrail_export import CALLRAIL_EXPORT
from touchpoint.sources.vendors.calls import VendorCall, call_row
from touchpoint.sources.vendors.fields import (
    call_id,
    captured_cookie,
    field_at,
    first_text,
    first_visitor_id,
    flag,
    text,
    timestamp_us,
    visitor_id,
    whole_seconds,
)
from touchpoint.sources.vendors.signatures import CALLRAIL_HEADER, verify_callrail
from touchpoint.sources.vendors.vendor import CallFile, Vendor, VisitorIds, Webhook, WebhookRequest

SOURCE_SYSTEM = "callrail"
# Where Custom Cookie Capture's cookies may be: an object, a list of name/value, or text.
COOKIE_FIELDS = ("custom_cookies", "cookies")


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


def callrail_kind(record: Mapping[str, Any]) -> str:
    """`form` (a Form Submission), `text` (a Text Message webhook) or `call`."""
    if "form_data" in record or text(record.get("submitted_at")) is not None:
        return "form"
    if text(record.get("content")) is not None and (
        "source_number" in record or "destination_number" in record or "conversation_id" in record
    ):
        return "text"
    return "call"


def _text_time_us(record: Mapping[str, Any]) -> int:
    """A text's own time: `created_at` (API) or the webhook's `timestamp` of the message."""
    for name in ("created_at", "sent_at", "timestamp"):
        if text(record.get(name)) is not None:
            return parse_time(record[name], name)
    raise RecordError("missing required field timestamp (the text message's time)")


def _call_status(record: Mapping[str, Any]) -> str | None:
    """answered / voicemail / missed / abandoned from `voicemail`, `answered`, `call_type`."""
    if flag(record.get("voicemail")):
        return "voicemail"
    answered = flag(record.get("answered"))
    if answered:
        return "answered"
    said = status_of(record.get("call_type"))
    if answered is False:  # not answered: what call_type says, or missed
        return said if said not in (None, "answered") else "missed"
    return said


def _attribution(record: Mapping[str, Any]) -> Attribution:
    click_id, click_param = click_id_in(record)
    return Attribution(
        source=first_text(record, "utm_source"),
        medium=first_text(record, "utm_medium", "medium", "referrermedium"),
        campaign=first_text(record, "utm_campaign", "campaign"),
        content=first_text(record, "utm_content"),
        term=first_text(record, "utm_term", "keywords"),
        click_id=click_id,
        click_id_param=click_param,
        landing_page=first_text(record, "landing_page_url", "landingpage"),
        referrer=first_text(record, "referring_url", "referrer_domain", "referrer"),
        # The marketing source; `source_name` is the tracking number's name.
        label=first_text(record, "source", "callsource"),
    )


def _text_numbers(record: Mapping[str, Any], direction: str) -> tuple[str | None, str | None]:
    """(customer, tracking number) of a text: the sender of a received one is the customer."""
    sender, to = text(record.get("source_number")), text(record.get("destination_number"))
    customer, tracking = (to, sender) if direction == "outbound" else (sender, to)
    return (
        customer or first_text(record, "customer_phone_number"),
        tracking or first_text(record, "tracking_phone_number"),
    )


def _form_phone(record: Mapping[str, Any]) -> str | None:
    """The number a form's sender gave: `customer_phone_number`, else a `form_data` phone field."""
    given = first_text(record, "customer_phone_number")
    fields = record.get("form_data")
    if given is None and isinstance(fields, Mapping):
        phones = (text(v) for k, v in fields.items() if isinstance(k, str) and "phone" in k.lower())
        given = next((phone for phone in phones if phone is not None), None)
    return given


def callrail_visitor_id(record: Mapping[str, Any], settings: Settings) -> str | None:
    """The visitor id of a call: its visitor-id fields, else the captured touchpoint cookie."""
    found = first_visitor_id(record, settings.vendors.callrail_visitor_id_fields)
    if found is not None:
        return found
    cookie = settings.collector.cookie_name
    for path in COOKIE_FIELDS:
        captured = visitor_id(captured_cookie(field_at(record, path), cookie))
        if captured is not None:
            return captured
    return None


def callrail_row(record: Any, settings: Settings, received_us: int) -> dict[str, Any]:
    """The raw-calls row of one CallRail call, text or form; `RecordError` otherwise."""
    if not isinstance(record, Mapping):
        raise RecordError("a CallRail call must be a JSON object")
    kind = callrail_kind(record)
    if kind == "form":
        # The API's form has an `id`, a delivered Form Submission only its `resource_id`.
        named = "id" if text(record.get("id")) is not None else "resource_id"
        identity, other_id = call_id(record.get(named), named), None
        called_us = parse_time(record.get("submitted_at"), "submitted_at")
    else:
        identity, other_id = callrail_ids(record)
        called_us = _text_time_us(record) if kind == "text" else callrail_called_us(record)
    direction = direction_of(record.get("direction"))
    if direction is None and kind == "text":
        direction = "outbound" if text(record.get("agent")) else "inbound"
    if direction is None:
        direction = "outbound" if text(record.get("call_type")) == "outbound" else None
    if kind == "text":
        caller, tracking = _text_numbers(record, direction or "inbound")
    elif kind == "form":
        caller, tracking = _form_phone(record), first_text(record, "tracking_phone_number")
    else:
        caller = first_text(record, "customer_phone_number", "callernum")
        tracking = first_text(record, "tracking_phone_number", "trackingnum")
    call = VendorCall(
        source_system=SOURCE_SYSTEM,
        call_id=identity,
        external_id=other_id,
        called_us=called_us,
        version_us=received_us,
        visitor_id=callrail_visitor_id(record, settings),
        caller_number=caller,
        tracking_number=tracking,
        duration_s=whole_seconds(record.get("duration"), "duration") if kind == "call" else None,
        call_type=(text(record.get("direction")) or "").lower() or None,
        attribution=_attribution(record),
        kind=kind,
        direction=direction or ("inbound" if kind == "form" else None),
        status=_call_status(record) if kind == "call" else None,
        first_time_caller=flag(record.get("first_form" if kind == "form" else "first_call")),
        value=money(record.get("value")),
        lead_status=text(record.get("lead_status")),
        tags=tag_names(record.get("tags")) or tag_names(record.get("tag")),
        spam=flag(record.get("spam")),
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
    files=(CallFile("callrail", "json"), CALLRAIL_EXPORT),
    webhook=Webhook(
        paths=("/webhooks/callrail",),
        secret="callrail_secret",
        verify=verify_request,
        checks="`Signature` = base64 HMAC-SHA1 of the raw body",
    ),
    visitor_ids=VisitorIds(
        documented="{}, then the `[collector] cookie_name` cookie that Custom Cookie "
        "Capture attached (`custom_cookies` or `cookies`)",
        setting="callrail_visitor_id_fields",
        fallback="custom_fields.tp_uid",
    ),
)
