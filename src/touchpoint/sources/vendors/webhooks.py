"""A vendor webhook's raw body → raw-calls rows, for the `serve` endpoints (pure, no I/O).

The endpoint verifies the signature on the raw body first (the vendor's
`Webhook.verify`), then calls `webhook_rows`. Whatever the body holds, the
answer is a `WebhookRows`: whole rows, the reasons records were rejected, and
the records skipped because they are not calls; it never raises for bad input.
The time the request was received is each call's version where the vendor gives
none, so a later delivery of a call replaces an earlier one and a redelivery
(the same bytes) is the same record again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from touchpoint.config import Settings
from touchpoint.sources.records import RecordError
from touchpoint.sources.vendors import VENDORS
from touchpoint.sources.vendors.calls import NotACall
from touchpoint.sources.vendors.fields import form_fields
from touchpoint.sources.vendors.vendor import Vendor

# The vendors `serve` takes webhooks from, by name.
WEBHOOKS: dict[str, Vendor] = {vendor.name: vendor for vendor in VENDORS if vendor.webhook}
WEBHOOK_VENDORS = tuple(WEBHOOKS)


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


def webhook_rows(vendor: str, body: bytes, settings: Settings, received_us: int) -> WebhookRows:
    """The rows of one webhook body from `vendor` (one of `WEBHOOK_VENDORS`)."""
    declared = WEBHOOKS[vendor]
    out = WebhookRows()
    try:
        records = body_records(declared, body)
    except RecordError as exc:
        out.rejected.append((0, str(exc)))
        return out
    for index, record in enumerate(records):
        # Calls of one body count as received in order, so the last of a call wins.
        _add(out, index, partial(declared.row, record, settings, received_us + index))
    return out


def body_records(vendor: Vendor, body: bytes) -> list[Any]:
    """The records of a webhook body: the vendor's records of its JSON, or its one form."""
    if vendor.webhook is not None and vendor.webhook.body == "form":
        return [form_fields(body)]
    try:
        document = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise RecordError("the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise RecordError(f"the body is not JSON ({exc.msg})") from None
    return vendor.records(document)


def _add(out: WebhookRows, index: int, make: Callable[[], dict[str, Any]]) -> None:
    try:
        out.rows.append(make())
    except NotACall as exc:
        out.skipped.append(str(exc))
    except RecordError as exc:
        out.rejected.append((index, str(exc)))
