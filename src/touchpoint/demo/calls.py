"""The demo's calls as the routes that carry them: vendor webhooks and Salesforce Tasks.

Each call has its route (`world.route_calls`): CallTrackingMetrics, CallRail or
Invoca (with the visitor id the vendor's script read from the `_tp_uid` cookie,
and what it recorded about the visit), Twilio (status callbacks, never a
visitor id: the call rang the pool number the visitor was shown, `numbers`), or
only a Salesforce Task a rep logged. Some vendor calls are also written into
Salesforce by the vendor's CRM integration, a Task whose `CallObject` is the
vendor's id: touchpoint must still count one call. Webhook
bodies are in each vendor's own shape and signed as that vendor signs
(`sources.vendors.signatures`); some are delivered again (a redelivery, a
CallRail call-modified webhook).
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from touchpoint.config import Settings
from touchpoint.demo.crm import salesforce_time
from touchpoint.demo.world import DemoCall, World
from touchpoint.sources.vendors.signatures import (
    callrail_signature,
    ctm_signature,
    twilio_signature,
    twilio_url,
)

# The company's tracking numbers, one pool per vendor.
TRACKING = {
    "ctm": "+18885550147",
    "callrail": "+18885550152",
    "invoca": "888-555-0166",
    "twilio": "+16175550190",
}
TWILIO_ACCOUNT = "AC5e0c9d8b7a6f5e4d3c2b1a0f9e8d7c6b"
# The vendors' accounts keep local time (US Eastern, standard time in the demo's March).
LOCAL = timezone(timedelta(hours=-5))
TASK_FIELDS = (
    "Id",
    "CreatedDate",
    "bizible2__Bizible_Touchpoint_Date__c",
    "Type",
    "Subject",
    "CallType",
    "CallDurationInSeconds",
    "bizible2__BizibleId__c",
    "WhoId",
    "CallObject",
    "IsDeleted",
    "LastModifiedDate",
)


@dataclass(frozen=True)
class Delivery:
    """One HTTP request of the demo: where it goes, what it carries, and why."""

    kind: str  # "events", or the vendor whose webhook it is
    at: datetime  # when it happens in the demo's month (requests go out in this order)
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    again: bool = False  # a redelivery or a call-modified update of a call sent before
    call_id: str = ""  # the call a webhook carries


# -- webhooks -----------------------------------------------------------------------


def webhook_deliveries(world: World, settings: Settings, rng: random.Random) -> Iterator[Delivery]:
    """Every webhook request of the month, signed with `[webhooks]` and `[server] public_url`."""
    repeat = repeat_calls(world)
    for call in world.calls:
        number = world.phones[call.caller]
        if call.route == "ctm":
            record = ctm_record(call, number, call.call_id not in repeat)
            yield _ctm(call, call.called_at, record, settings)
            if rng.random() < 0.05:  # CTM delivered it twice: the same body again
                later = call.called_at + timedelta(minutes=3)
                yield _ctm(call, later, record, settings, again=True)
        elif call.route == "callrail":
            record = callrail_record(call, number, call.call_id not in repeat)
            yield _callrail(call, call.called_at, record, settings)
            if rng.random() < 0.15:  # a rep tagged the call: the call-modified webhook
                later = call.called_at + timedelta(hours=2)
                record = {**record, "tags": ["booked"], "note": "Booked a visit", "value": "150"}
                yield _callrail(call, later, record, settings, again=True)
        elif call.route == "invoca":
            body = json.dumps(invoca_transaction(call, number)).encode()
            path = f"/webhooks/invoca/{settings.webhooks.invoca_token}"
            headers = {"Content-Type": "application/json"}
            yield Delivery("invoca", call.called_at, path, body, headers, call_id=call.call_id)
        elif call.route == "twilio":
            yield from _twilio(call, number, settings)


def _ctm(
    call: DemoCall, at: datetime, record: dict[str, Any], settings: Settings, again: bool = False
) -> Delivery:
    body = json.dumps(record).encode()
    # CTM signs the time it sends the request; the demo sends it now.
    stamp = str(int(datetime.now().timestamp()))
    headers = {
        "Content-Type": "application/json",
        "X-CTM-Time": stamp,
        "X-CTM-Signature": ctm_signature(body, stamp, settings.webhooks.ctm_secret),
    }
    return Delivery("ctm", at, "/webhooks/ctm", body, headers, again, call.call_id)


def _callrail(
    call: DemoCall, at: datetime, record: dict[str, Any], settings: Settings, again: bool = False
) -> Delivery:
    body = json.dumps(record, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "Signature": callrail_signature(body, settings.webhooks.callrail_secret),
    }
    return Delivery("callrail", at, "/webhooks/callrail", body, headers, again, call.call_id)


def _twilio(call: DemoCall, number: str, settings: Settings) -> Iterator[Delivery]:
    """The status callbacks Twilio sends for one call: ringing, then completed."""
    url = twilio_url(settings.server.public_url, "/webhooks/twilio")
    events = [("ringing", 0, call.called_at), ("completed", 2, _ended(call))]
    dialled = call.tracking_number or TRACKING["twilio"]  # the pool number shown
    for status, sequence, moment in events:
        params = {
            "AccountSid": TWILIO_ACCOUNT,
            "ApiVersion": "2010-04-01",
            "CallSid": call.call_id,
            "CallStatus": status,
            "Called": dialled,
            "Caller": number,
            "Direction": "inbound",
            "From": number,
            "To": dialled,
            "CallbackSource": "call-progress-events",
            "SequenceNumber": str(sequence),
            "Timestamp": format_datetime(moment, usegmt=False),
        }
        if status == "completed":
            params["CallDuration"] = str(call.duration_s)
        signature = twilio_signature(url, params, settings.webhooks.twilio_auth_token)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        }
        body = urlencode(params).encode()
        yield Delivery("twilio", moment, "/webhooks/twilio", body, headers, call_id=call.call_id)


def repeat_calls(world: World) -> set[str]:
    """The calls whose caller had called before (the vendors' first-time caller flag)."""
    seen: set[str] = set()
    repeat = set()
    for call in sorted(world.calls, key=lambda c: (c.called_at, c.call_id)):
        if call.caller in seen:
            repeat.add(call.call_id)
        seen.add(call.caller)
    return repeat


def how_it_went(call: DemoCall) -> str:
    """answered, missed or voicemail: one call in eight nobody picked up.

    Drawn from the call's id, not the demo's random stream, so the rest of the
    world stays as it was.
    """
    draw = int(hashlib.sha256(call.call_id.encode()).hexdigest()[:8], 16) % 100
    return "missed" if draw < 7 else "voicemail" if draw < 12 else "answered"


def _ended(call: DemoCall) -> datetime:
    return call.called_at + timedelta(seconds=call.duration_s)


def _visit_facts(call: DemoCall) -> tuple[dict[str, str], str | None, str | None, str | None]:
    """The visit as a vendor's script saw it: landing page utm, click id, landing, referrer."""
    if call.visit is None:
        return {}, None, None, None
    query = dict(parse_qsl(urlsplit(call.visit.landing_url).query))
    utm = {name: value for name, value in query.items() if name.startswith("utm_")}
    param = call.visit.arrival.click_param
    click = query.get(param) if param else None
    return utm, click, call.visit.landing_url, call.visit.referrer


def ctm_record(call: DemoCall, number: str, first_time: bool = True) -> dict[str, Any]:
    """The call as CallTrackingMetrics' webhook sends it."""
    status = how_it_went(call)
    utm, click, landing, referrer = _visit_facts(call)
    local = call.called_at.astimezone(LOCAL)
    record: dict[str, Any] = {
        "id": int(call.call_id),
        "sid": call.ids["sid"],
        "account_id": 131877,
        "name": "",
        "search": "",
        "referrer": referrer or "",
        "location": landing or "",
        "source": call.visit.arrival.label if call.visit else "",
        "duration": call.duration_s,
        "talk_time": max(call.duration_s - 9, 0),
        "ring_time": 9,
        "direction": "inbound",
        "called_at": local.strftime("%Y-%m-%d %I:%M %p %z").replace("-0500", "-05:00"),
        "unix_time": int(call.called_at.timestamp()),
        "tracking_number": TRACKING["ctm"],
        "tracking_label": "Website pool",
        "caller_number": number,
        "dial_status": {"answered": "completed", "missed": "no-answer"}.get(status, status),
        "is_new_caller": first_time,
        "custom_fields": {"tp_uid": call.visitor_id} if call.visitor_id else {},
    }
    if click and call.visit and call.visit.arrival.click_param:
        record[call.visit.arrival.click_param] = click
    if utm.get("utm_campaign"):
        record["campaign"] = utm["utm_campaign"]
    return record


def callrail_record(call: DemoCall, number: str, first_time: bool = True) -> dict[str, Any]:
    """The call as CallRail's post-call webhook sends it (numbers as strings, as it does).

    `source` is the marketing source CallRail found; `source_name` the tracker's name.
    """
    status = how_it_went(call)
    utm, click, landing, referrer = _visit_facts(call)
    started = call.called_at.astimezone(LOCAL)
    record: dict[str, Any] = {
        "answered": status == "answered",
        "voicemail": status == "voicemail",
        "call_type": {"missed": "missed"}.get(status, status),
        "company_name": "Northwind Plumbing",
        "company_time_zone": "America/New_York",
        "created_at": started.isoformat(timespec="milliseconds"),
        "customer_phone_number": number,
        "direction": "inbound",
        "duration": str(call.duration_s),
        "first_call": "true" if first_time else "false",
        "id": call.ids["id"],
        "resource_id": call.call_id,
        "source": call.visit.arrival.label if call.visit else "",
        "source_name": "Website Pool",
        "start_time": started.isoformat(timespec="milliseconds"),
        "tags": [],
        "tracking_phone_number": TRACKING["callrail"],
        "landing_page_url": landing or "",
        "referring_url": referrer or "",
        "gclid": click if call.visit and call.visit.arrival.click_param == "gclid" else "",
        "custom_fields": {"tp_uid": call.visitor_id} if call.visitor_id else {},
    }
    for name in ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"):
        record[name] = utm.get(name, "")
    return record


def invoca_transaction(call: DemoCall, number: str) -> dict[str, Any]:
    """The call as Invoca's post-call webhook sends a transaction (RingPool parameters)."""
    utm, click, landing, referrer = _visit_facts(call)
    params = {"tp_uid": call.visitor_id, **utm, "landing_page": landing, "referrer": referrer}
    if click and call.visit and call.visit.arrival.click_param:
        params[call.visit.arrival.click_param] = click
    digits = number.removeprefix("+1")
    record: dict[str, Any] = {
        "transaction_id": call.call_id,
        "corrects_transaction_id": None,
        "transaction_type": "Call",
        "advertiser_name": "Northwind Plumbing",
        "advertiser_campaign_name": "Website RingPool",
        "call_source_description": TRACKING["invoca"],
        "calling_phone_number": f"{digits[:3]}-{digits[3:6]}-{digits[6:]}",
        "duration": call.duration_s,
        "start_time_utc": int(call.called_at.timestamp() * 1000),
        "complete_call_id": call.ids["complete_call_id"],
    }
    label = call.visit.arrival.label.split() if call.visit else []
    if len(label) == 2 and label[1] in ("Ads", "Organic"):  # search: the engine and its type
        record["dynamic_number_pool_referrer_search_engine"] = label[0]
        record["dynamic_number_pool_referrer_search_type"] = (
            "Paid" if label[1] == "Ads" else "Organic"
        )
    shown = [(name, value) for name, value in params.items() if value]
    for index, (name, value) in enumerate(shown, start=1):
        record[f"dynamic_number_pool_referrer_param{index}_name"] = name
        record[f"dynamic_number_pool_referrer_param{index}_value"] = value
    return record


# -- Salesforce Tasks ----------------------------------------------------------------


def task_rows(world: World, lead_of: dict[str, str], seed: int) -> list[dict[str, str]]:
    """The call Tasks in Salesforce: calls only a rep logged, and those a vendor wrote there."""
    rng = random.Random(seed * 104_729 + 11)
    rows = []
    for call in world.calls:
        if call.route != "salesforce" and not call.task_id:
            continue
        created = call.called_at + timedelta(minutes=rng.uniform(1, 5))
        digits = world.phones[call.caller].removeprefix("+1")
        rows.append(
            {
                "Id": call.call_id if call.route == "salesforce" else call.task_id,
                "CreatedDate": salesforce_time(created),
                "bizible2__Bizible_Touchpoint_Date__c": salesforce_time(call.called_at),
                "Type": call.activity_type if call.route == "salesforce" else "Inbound Call",
                "Subject": f"Call from ({digits[:3]}) {digits[3:6]}-{digits[6:]}",
                "CallType": "Inbound",
                "CallDurationInSeconds": str(call.duration_s),
                "bizible2__BizibleId__c": call.visitor_id,
                "WhoId": lead_of.get(call.visitor_id, "") if call.visitor_id else "",
                # The vendor's CRM integration names its call: CTM's sid, CallRail's and
                # Invoca's own call ids.
                "CallObject": "" if call.route == "salesforce" else _call_object(call),
                "IsDeleted": "false",
                "LastModifiedDate": salesforce_time(call.called_at + timedelta(minutes=10)),
            }
        )
    return rows


def _call_object(call: DemoCall) -> str:
    if call.route == "ctm":
        return call.ids["sid"]
    if call.route == "invoca":
        return call.ids["complete_call_id"]
    return call.call_id


def write_tasks(rows: list[dict[str, str]], directory: Path) -> Path:
    """The Tasks as a Salesforce CSV export."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tasks.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(TASK_FIELDS))
        writer.writeheader()
        writer.writerows(rows)
    return path
