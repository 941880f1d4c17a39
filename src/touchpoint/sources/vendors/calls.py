"""What every call-tracking vendor's record becomes: one raw-calls row (DESIGN §7).

Each vendor module (`ctm`, `callrail`, `invoca`, `twilio`, `calls_csv`) reads its
own field names into a `VendorCall` (with the readers of `fields`); `call_row`
turns that into the row, the same way for all of them: text trimmed, numbers
E.164, the visitor id checked, and what the vendor knows about the visit
(`attribution.Attribution`) completed from its landing page URL. Texts and
forms are rows too, with `kind` `text` or `form` (DESIGN §12), and so are Invoca's
signals, `kind` `signal`: kept raw for the value they add to their call, never a
call themselves. A record that cannot be a call raises `RecordError` (a reject)
or `NotACall` (a chat, an email: skipped, not an error); there is never a
partial row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from touchpoint.config import Settings
from touchpoint.sources.phones import to_e164
from touchpoint.sources.records import from_us, stable_hash
from touchpoint.sources.vendors.attribution import Attribution, attribution_columns
from touchpoint.sources.vendors.fields import is_utf8


class NotACall(Exception):
    """A valid vendor record that is no call, text, form or signal (a chat): skipped."""


@dataclass(frozen=True)
class VendorCall:
    """One call as a vendor describes it, already in touchpoint's terms."""

    source_system: str
    call_id: str
    called_us: int
    version_us: int
    external_id: str | None = None  # another id the vendor gives the same call
    visitor_id: str | None = None
    caller_number: str | None = None  # as the vendor wrote it
    tracking_number: str | None = None
    duration_s: int | None = None
    call_type: str | None = None  # the direction: inbound, outbound
    activity_type: str | None = None
    attribution: Attribution = field(default_factory=Attribution)
    # DESIGN §12: what the record is and how the call went, in touchpoint's terms.
    kind: str = "call"  # call, text, form; signal (raw only: revenue for its call)
    direction: str | None = None  # inbound, outbound
    status: str | None = None  # answered, missed, voicemail, abandoned, busy, failed
    first_time_caller: bool | None = None
    value: float | None = None
    lead_status: str | None = None
    tags: tuple[str, ...] = ()
    spam: bool | None = None


def record_json(record: Any) -> str:
    """The record as one line of JSON, safe to store whatever text it holds."""
    shown = json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str)
    return shown if is_utf8(shown) else json.dumps(record, separators=(",", ":"), default=str)


@lru_cache(maxsize=65_536)
def e164(number: str | None, region: str) -> str | None:
    """`phones.to_e164`, remembered: tracking numbers repeat on every call they take."""
    return to_e164(number, region)


def call_row(call: VendorCall, record: Any, settings: Settings) -> dict[str, Any]:
    """The raw-calls row of a vendor's call (every column but arrival time and origin)."""
    region = settings.phone.default_region
    return {
        "source_system": call.source_system,
        "call_id": call.call_id,
        "external_id": call.external_id,
        "visitor_id": call.visitor_id,
        "called_at": from_us(call.called_us),
        "called_us": call.called_us,
        "activity_type": call.activity_type,
        "subject": None,
        "caller_number": e164(call.caller_number, region),
        "tracking_number": e164(call.tracking_number, region),
        "duration_s": call.duration_s,
        "who_id": None,
        "what_id": None,
        "call_type": call.call_type,
        "is_deleted": False,
        "version_us": call.version_us,
        **attribution_columns(call.attribution),
        "kind": call.kind,
        "direction": call.direction,
        "status": call.status,
        "first_time_caller": call.first_time_caller,
        "value": call.value,
        "lead_status": call.lead_status,
        "tags": ",".join(call.tags) or None,
        "spam": call.spam,
        "caller_number_raw": call.caller_number,
        "tracking_number_raw": call.tracking_number,
        "record": record_json(record),
        "record_hash": stable_hash(
            call.source_system, json.dumps(record, sort_keys=True, default=str)
        ),
    }
