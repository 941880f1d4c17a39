"""CallTrackingMetrics calls, texts and forms (DESIGN §7, §12), as its API and webhooks send them.

A call is a JSON object: `id` (a number), `sid`, `unix_time` (seconds) or
`called_at` (`2026-01-19 12:00 PM -05:00`), `caller_number`, `tracking_number`,
`duration` and `talk_time`, `direction`, how it went (`call_status`,
`dial_status`, `status`, `is_new_caller`, `sale.value` or `value`, `tag_list`,
`spam`), the source CTM assigned (`source`, optionally `medium`, `campaign`,
`keyword`), the visit (`location` = landing page, `referrer`, `search`) and
`custom_fields`. A file holds one call, an array of calls, or the API's
`{"calls": [...]}` page. CTM's activity list also holds forms and text messages
(`direction` `form`, `msg_inbound`, `msg_outbound`): they land as `kind = form`
and `kind = text`, with no duration. Chats and emails are not calls and are
skipped.

CTM's webhooks give no modification time, so the version of a call is the time
touchpoint received it: a call sent again later (modified) replaces the earlier.

`CTM` at the end declares it for `VENDORS` (see `vendor.Vendor`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from touchpoint.config import Settings
from touchpoint.sources.records import RecordError
from touchpoint.sources.vendors.attribution import Attribution, click_id_in
from touchpoint.sources.vendors.call_facts import direction_of, first_status, money, tag_names
from touchpoint.sources.vendors.calls import NotACall, VendorCall, call_row
from touchpoint.sources.vendors.ctm_export import CTM_EXPORT
from touchpoint.sources.vendors.fields import (
    call_id,
    epoch_seconds_us,
    field_at,
    first_text,
    first_visitor_id,
    flag,
    text,
    timestamp_us,
    whole_seconds,
)
from touchpoint.sources.vendors.signatures import CTM_HEADER, CTM_TIME_HEADER, verify_ctm
from touchpoint.sources.vendors.vendor import CallFile, Vendor, VisitorIds, Webhook, WebhookRequest

SOURCE_SYSTEM = "ctm"
CALLED_AT_FORMATS = (
    "%Y-%m-%d %I:%M %p %z",
    "%Y-%m-%d %I:%M:%S %p %z",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%d %H:%M:%S %z",
)
NOT_CALLS = ("chat", "email")
FORMS = ("form",)
TEXTS = ("msg", "sms", "text")


def ctm_called_us(record: Mapping[str, Any]) -> int:
    """The call's start: `unix_time` (seconds), else `called_at` with its UTC offset."""
    if text(record.get("unix_time")) is not None:
        return epoch_seconds_us(record["unix_time"], "unix_time")
    if text(record.get("called_at")) is None:
        raise RecordError("missing required field unix_time or called_at")
    return timestamp_us(record["called_at"], "called_at", CALLED_AT_FORMATS)


def ctm_kind(direction: str | None) -> str:
    """`form`, `text` or `call` for CTM's activity `direction`; `NotACall` for chats, emails."""
    lowered = (direction or "").lower()
    if lowered.startswith(NOT_CALLS):
        raise NotACall(f"a CallTrackingMetrics {direction} activity, not a call")
    if lowered.startswith(FORMS):
        return "form"
    return "text" if lowered.startswith(TEXTS) else "call"


def ctm_row(record: Any, settings: Settings, received_us: int) -> dict[str, Any]:
    """The raw-calls row of one CTM call, text or form; `RecordError` or `NotACall` otherwise."""
    if not isinstance(record, Mapping):
        raise RecordError("a CallTrackingMetrics call must be a JSON object")
    direction = text(record.get("direction"))
    kind = ctm_kind(direction)
    click_id, click_param = click_id_in(record)
    said = Attribution(
        source=first_text(record, "utm_source", "paid.source"),
        medium=first_text(record, "utm_medium", "medium", "paid.medium"),
        campaign=first_text(record, "utm_campaign", "campaign"),
        content=first_text(record, "utm_content"),
        term=first_text(record, "utm_term", "keyword", "search"),
        click_id=click_id,
        click_id_param=click_param,
        landing_page=first_text(record, "location", "landing_page"),
        referrer=first_text(record, "referrer"),
        label=first_text(record, "source"),
    )
    call = VendorCall(
        source_system=SOURCE_SYSTEM,
        call_id=call_id(record.get("id"), "id"),
        external_id=text(record.get("sid")),
        called_us=ctm_called_us(record),
        version_us=received_us,
        visitor_id=first_visitor_id(record, settings.vendors.ctm_visitor_id_fields),
        caller_number=first_text(record, "caller_number", "caller_number_complete"),
        tracking_number=first_text(record, "tracking_number"),
        duration_s=_duration(record) if kind == "call" else None,
        call_type=direction.lower() if direction else None,
        attribution=said,
        kind=kind,
        direction=direction_of(direction) or ("inbound" if kind == "form" else None),
        status=first_status(record, "call_status", "dial_status", "status")
        if kind == "call"
        else None,
        first_time_caller=flag(record.get("is_new_caller")),
        value=_value(record),
        lead_status=first_text(record, "lead_status"),
        tags=tag_names(record.get("tag_list")) or tag_names(record.get("tags")),
        spam=next(
            (flag(record[n]) for n in ("spam", "is_spam") if flag(record.get(n)) is not None), None
        ),
    )
    return call_row(call, record, settings)


def _value(record: Mapping[str, Any]) -> float | None:
    """The call's value: the sale CTM recorded for it (`sale.value`), else `value`."""
    from_sale = money(field_at(record, "sale.value"))
    return from_sale if from_sale is not None else money(record.get("value"))


def _duration(record: Mapping[str, Any]) -> int | None:
    duration = whole_seconds(record.get("duration"), "duration")
    if duration is None:
        return whole_seconds(record.get("talk_time"), "talk_time")
    return duration


def verify_request(request: WebhookRequest, settings: Settings) -> None:
    """Accept a CTM webhook request (`signatures.verify_ctm`), or raise `SignatureError`."""
    hooks = settings.webhooks
    verify_ctm(
        request.body,
        request.headers.get(CTM_HEADER),
        request.headers.get(CTM_TIME_HEADER),
        hooks.ctm_secret,
        replay_window_s=hooks.replay_window.total_seconds(),
    )


CTM = Vendor(
    name=SOURCE_SYSTEM,
    title="CallTrackingMetrics",
    row=ctm_row,
    page_key="calls",
    files=(CallFile("ctm", "json"), CTM_EXPORT),
    webhook=Webhook(
        paths=("/webhooks/ctm",),
        secret="ctm_secret",
        verify=verify_request,
        checks="`X-CTM-Signature` = base64 HMAC-SHA1 of the `X-CTM-Time` header's value "
        "followed by the raw body",
    ),
    visitor_ids=VisitorIds(setting="ctm_visitor_id_fields", fallback="custom_fields.tp_uid"),
)
