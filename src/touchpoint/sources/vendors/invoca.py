"""Invoca transactions (DESIGN §7), as its Transactions API returns them in JSON or CSV.

A row: `transaction_id`, `transaction_type` (`Call` rows are calls; see signals
below; other types are skipped), `start_time_utc` in epoch
milliseconds (or `start_time_local`, `2021-09-28 11:50:54 -07:00`),
`calling_phone_number` (`970-379-2924`), `duration`, `complete_call_id`, how it
went (`call_result_description_detail`, `repeat_calling_phone_number`, `revenue`
or `sale_amount` as the value), and the
RingPool parameters `dynamic_number_pool_referrer_paramN_name` / `..._value`
(N = 1..25) that the site's RingPool script sent with the visit: the visitor id
is the value whose name is `tp_uid` or `bizible_id` (`[vendors]
invoca_visitor_id_params`), and parameters named like `utm_source` or `gclid`
give the visit's source. Marketing Data columns of the same names (top-level
fields, or the `custom_data` list) are read too.

A correction row (`corrects_transaction_id` set) carries the corrected values of
the transaction it names and replaces it: it is a later version of that call
(its version is `corrected_at`), whatever order the two arrive in.

Signals (DESIGN §12). A `Signal`, `Post Call Event` (what Invoca's Signal
Transactions Rollup makes of signals) or `Reported Conversion` (`Sale`)
transaction is a row of kind `signal`: never a call, text or form, only its
`revenue` (else `sale_amount`) in `value` and the call's `complete_call_id` in
`external_id`. At build the call of that `complete_call_id` adds up the value of
its signals (`stages.current_calls`). Every transaction's `revenue` is its own
(Invoca lists one row per transaction; the rollup sums only the payin and payout
fields), so a call's value is its own revenue plus its signals', counted once.
A correction of a signal replaces that signal, as a call's correction does.

`INVOCA` at the end declares it for `VENDORS` (see `vendor.Vendor`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from touchpoint.config import Settings
from touchpoint.sources.phones import to_e164
from touchpoint.sources.records import RecordError, parse_time
from touchpoint.sources.vendors.attribution import CLICK_ID_FIELDS, Attribution
from touchpoint.sources.vendors.call_facts import money, status_of
from touchpoint.sources.vendors.calls import NotACall, VendorCall, call_row
from touchpoint.sources.vendors.fields import (
    call_id,
    flag,
    text,
    timestamp_us,
    visitor_id,
    whole_seconds,
)
from touchpoint.sources.vendors.signatures import SignatureError, tokens_match
from touchpoint.sources.vendors.vendor import CallFile, Vendor, VisitorIds, Webhook, WebhookRequest

SOURCE_SYSTEM = "invoca"
RINGPOOL_PARAMS = 25
LOCAL_FORMATS = ("%Y-%m-%d %H:%M:%S %z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%z")
LANDING_PAGE_NAMES = ("landing_page", "landing_page_url", "page_url")
REFERRER_NAMES = ("referrer", "referrer_url", "referring_url")
# Transaction types whose revenue belongs to a call (`_squeezed`): the Transactions
# API's `Signal`, `Post Call Event`, `Reported Conversion` (its filter calls it `Sale`).
SIGNAL_TYPES = frozenset({"signal", "postcallevent", "reportedconversion", "sale"})


def ringpool_params(record: Mapping[str, Any]) -> dict[str, str]:
    """The RingPool parameters of a transaction, name → value (first of a name wins)."""
    params: dict[str, str] = {}
    for index in range(1, RINGPOOL_PARAMS + 1):
        name = text(record.get(f"dynamic_number_pool_referrer_param{index}_name"))
        value = text(record.get(f"dynamic_number_pool_referrer_param{index}_value"))
        if name is not None and value is not None:
            params.setdefault(name.lower(), value)
    return params


def marketing_data(record: Mapping[str, Any]) -> dict[str, str]:
    """Marketing Data values by name: the `custom_data` list of the JSON API."""
    found: dict[str, str] = {}
    items = record.get("custom_data")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping):
                name = text(item.get("name")) or text(item.get("partner_name"))
                value = text(item.get("value"))
                if name is not None and value is not None:
                    found.setdefault(name.lower(), value)
    return found


def invoca_called_us(record: Mapping[str, Any]) -> int:
    """The call's start: `start_time_utc` (epoch ms), else `start_time_local`."""
    if text(record.get("start_time_utc")) is not None:
        return parse_time(record["start_time_utc"], "start_time_utc")
    if text(record.get("start_time_local")) is not None:
        return timestamp_us(record["start_time_local"], "start_time_local", LOCAL_FORMATS)
    raise RecordError("missing required field start_time_utc")


def invoca_row(record: Any, settings: Settings, _received_us: int = 0) -> dict[str, Any]:
    """The raw-calls row of one Invoca transaction; `RecordError` or `NotACall` otherwise.

    Its version is its own (its time, or `corrected_at`), not the time it was received.
    """
    if not isinstance(record, Mapping):
        raise RecordError("an Invoca transaction must be a JSON object or a CSV row")
    kind = text(record.get("transaction_type"))
    is_signal = kind is not None and _squeezed(kind) in SIGNAL_TYPES
    if kind is not None and not is_signal and kind.lower() != "call":
        raise NotACall(f"an Invoca {kind} transaction, not a call")
    transaction = call_id(record.get("transaction_id"), "transaction_id")
    corrects = text(record.get("corrects_transaction_id"))
    called_us = _signal_time_us(record) if is_signal else invoca_called_us(record)
    if corrects is not None:
        identity = call_id(corrects, "corrects_transaction_id")
        version_us = called_us + 1  # a correction without corrected_at still wins
        if text(record.get("corrected_at")) is not None:
            corrected = timestamp_us(record["corrected_at"], "corrected_at", LOCAL_FORMATS)
            version_us = max(corrected, version_us)
    else:
        identity, version_us = transaction, called_us
    if is_signal:
        return signal_row(record, identity, called_us, version_us, settings)
    named = {**marketing_data(record), **_top_level(record), **ringpool_params(record)}
    wanted = [name.lower() for name in settings.vendors.invoca_visitor_id_params]
    visitor = next(
        (visitor_id(named[name]) for name in wanted if visitor_id(named.get(name))), None
    )
    click_param = next((name for name in CLICK_ID_FIELDS if name in named), None)
    engine = text(record.get("dynamic_number_pool_referrer_search_engine"))
    search_type = text(record.get("dynamic_number_pool_referrer_search_type"))
    said = Attribution(
        source=named.get("utm_source"),
        medium=named.get("utm_medium"),
        campaign=named.get("utm_campaign")
        or text(record.get("dynamic_number_pool_referrer_referrer_campaign")),
        content=named.get("utm_content"),
        term=named.get("utm_term")
        or text(record.get("dynamic_number_pool_referrer_search_keywords")),
        click_id=named.get(click_param) if click_param else None,
        click_id_param=click_param,
        landing_page=next((named[n] for n in LANDING_PAGE_NAMES if n in named), None),
        referrer=next((named[n] for n in REFERRER_NAMES if n in named), None),
        label=" ".join(part for part in (engine, search_type) if part) or None,
    )
    source_description = text(record.get("call_source_description"))
    call = VendorCall(
        source_system=SOURCE_SYSTEM,
        call_id=identity,
        external_id=text(record.get("complete_call_id")),
        called_us=called_us,
        version_us=version_us,
        visitor_id=visitor,
        caller_number=text(record.get("calling_phone_number")),
        # For a promo number, Invoca's "source" is the number that was dialled.
        tracking_number=source_description
        if to_e164(source_description, settings.phone.default_region)
        else None,
        duration_s=whole_seconds(record.get("duration"), "duration"),
        call_type="inbound",
        attribution=said,
        direction="inbound",  # Invoca tracks calls to the advertiser's numbers
        status=invoca_status(record),
        first_time_caller=_first_time(record),
        value=_value(record),
    )
    return call_row(call, record, settings)


def signal_row(
    record: Mapping[str, Any], identity: str, called_us: int, version_us: int, settings: Settings
) -> dict[str, Any]:
    """The raw row of a signal: its value and its call's `complete_call_id`, nothing else.

    The call's own fields a signal repeats (numbers, RingPool parameters) stay in
    its record only: a signal adds to a call's value and says nothing else of it.
    """
    signal = VendorCall(
        source_system=SOURCE_SYSTEM,
        call_id=identity,
        external_id=text(record.get("complete_call_id")),
        called_us=called_us,
        version_us=version_us,
        kind="signal",
        value=_value(record),
    )
    return call_row(signal, record, settings)


def _signal_time_us(record: Mapping[str, Any]) -> int:
    """A signal's time: its call's start, else `signal_occurred_at` (Unix seconds)."""
    occurred = text(record.get("signal_occurred_at"))
    no_start = text(record.get("start_time_utc")) is None
    if no_start and text(record.get("start_time_local")) is None and occurred is not None:
        seconds = occurred.isdigit()  # Invoca documents a 10-digit time_t
        return parse_time(int(occurred) * 1000 if seconds else occurred, "signal_occurred_at")
    return invoca_called_us(record)


def _squeezed(word: str) -> str:
    """`Post Call Event`, `post_call_event` → `postcallevent`."""
    return "".join(ch for ch in word.lower() if ch.isalnum())


def invoca_status(record: Mapping[str, Any]) -> str | None:
    """How the call ended, from `call_result_description_detail` (`Connected`, `Busy`, ...)."""
    said = text(record.get("call_result_description_detail"))
    if said is None:
        return None
    known = status_of(said)
    if known is not None:
        return known
    lowered = said.lower()
    if "hang" in lowered or "abandon" in lowered:  # IVR Hang Up, Caller: Hang-up
        return "abandoned"
    if "voicemail" in lowered or "voice mail" in lowered:
        return "voicemail"
    return None


def _value(record: Mapping[str, Any]) -> float | None:
    """The call's `revenue`, else its `sale_amount`."""
    revenue = money(record.get("revenue"))
    return revenue if revenue is not None else money(record.get("sale_amount"))


def _first_time(record: Mapping[str, Any]) -> bool | None:
    """Not `repeat_calling_phone_number` (`Yes` / `No`)."""
    repeat = flag(record.get("repeat_calling_phone_number"))
    return None if repeat is None else not repeat


def _top_level(record: Mapping[str, Any]) -> dict[str, str]:
    """Marketing Data columns returned as fields of their own (`utm_medium`, `tp_uid`)."""
    found: dict[str, str] = {}
    for name, value in record.items():
        if isinstance(name, str) and not name.startswith("dynamic_number_pool_"):
            shown = text(value)
            if shown is not None:
                found.setdefault(name.lower(), shown)
    return found


def verify_request(request: WebhookRequest, settings: Settings) -> None:
    """Accept an Invoca webhook request: the token in its URL is `[webhooks] invoca_token`."""
    given = request.path_params.get("token")
    if not given:
        raise SignatureError("the token is missing: Invoca must call /webhooks/invoca/<token>")
    if not tokens_match(given, settings.webhooks.invoca_token):
        raise SignatureError("the token in the URL is not [webhooks] invoca_token")


INVOCA = Vendor(
    name=SOURCE_SYSTEM,
    title="Invoca",
    row=invoca_row,
    page_key="transactions",
    files=(CallFile("invoca", "json or csv"),),
    webhook=Webhook(
        # Invoca signs nothing: the secret is the token in the URL.
        paths=("/webhooks/invoca", "/webhooks/invoca/{token}"),
        address="/webhooks/invoca/<token>",
        secret="invoca_token",
        verify=verify_request,
        checks="the token in the URL (Invoca signs nothing)",
    ),
    visitor_ids=VisitorIds(
        explained="the RingPool parameter {}",
        documented="the RingPool parameter (or Marketing Data field) named {}",
        setting="invoca_visitor_id_params",
        fallback="tp_uid",
    ),
)
