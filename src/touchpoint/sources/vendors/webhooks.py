"""A vendor webhook's raw body → raw-calls rows, for the `serve` endpoints (pure, no I/O).

The endpoint verifies the signature on the raw body first (`signatures`), then
calls `webhook_rows`. Whatever the body holds, the answer is a `WebhookRows`:
whole rows, the reasons records were rejected, and the records skipped because
they are not calls; it never raises for bad input. The time the request was
received is each call's version where the vendor gives none, so a later
delivery of a call replaces an earlier one and a redelivery (the same bytes)
is the same record again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from touchpoint.config import Settings
from touchpoint.sources.records import RecordError
from touchpoint.sources.vendors.callrail import callrail_calls, callrail_row
from touchpoint.sources.vendors.calls import NotACall
from touchpoint.sources.vendors.ctm import ctm_calls, ctm_row
from touchpoint.sources.vendors.invoca import invoca_row, invoca_transactions
from touchpoint.sources.vendors.twilio import form_fields, twilio_status_row

WEBHOOK_VENDORS = ("ctm", "callrail", "invoca", "twilio")


@dataclass
class WebhookRows:
    """What one webhook body gave: rows to store, rejects (index, reason), skips."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def bad_request(self) -> bool:
        """Nothing usable and something wrong: the endpoint answers 400."""
        return not self.rows and not self.skipped and bool(self.rejected)


_JSON_VENDORS: dict[str, tuple[Callable[[Any], list[Any]], Callable[..., dict[str, Any]]]] = {
    "ctm": (
        ctm_calls,
        lambda record, settings, received_us: ctm_row(record, settings, received_us),
    ),
    "callrail": (
        callrail_calls,
        lambda record, settings, received_us: callrail_row(record, settings, received_us),
    ),
    "invoca": (
        invoca_transactions,
        lambda record, settings, _received_us: invoca_row(record, settings),
    ),
}


def webhook_rows(vendor: str, body: bytes, settings: Settings, received_us: int) -> WebhookRows:
    """The rows of one webhook body from `vendor` (one of `WEBHOOK_VENDORS`)."""
    out = WebhookRows()
    if vendor == "twilio":
        try:
            fields = form_fields(body)
        except RecordError as exc:
            out.rejected.append((0, str(exc)))
            return out
        _add(out, 0, lambda: twilio_status_row(fields, settings, received_us))
        return out
    split, make_row = _JSON_VENDORS[vendor]
    try:
        document = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        out.rejected.append((0, "the body is not UTF-8 text"))
        return out
    except json.JSONDecodeError as exc:
        out.rejected.append((0, f"the body is not JSON ({exc.msg})"))
        return out
    for index, record in enumerate(split(document)):
        # Calls of one body count as received in order, so the last of a call wins.
        _add(out, index, partial(make_row, record, settings, received_us + index))
    return out


def _add(out: WebhookRows, index: int, make: Callable[[], dict[str, Any]]) -> None:
    try:
        out.rows.append(make())
    except NotACall as exc:
        out.skipped.append(str(exc))
    except RecordError as exc:
        out.rejected.append((index, str(exc)))
