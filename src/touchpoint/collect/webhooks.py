"""Vendor webhooks on `touchpoint serve`: calls the vendors push, the moment they end.

Each vendor with a `Webhook` in `VENDORS` gets its routes (`POST
/webhooks/<vendor>`, and whatever else it declares, such as a secret token in
the path for a vendor that signs nothing). They are public, like the collector,
and bounded the same way: a rate and a byte budget per client (an IPv6 client
by its /64) and `[collector] max_body_bytes`, checked before the body is read
(the budget again as it is read). The signature is verified on the raw body
before anything is parsed (DESIGN §9, the vendor's `Webhook.verify`); the body
then becomes raw-calls rows (`sources.vendors.webhooks`), appended to the intake
log like the collector's events and acknowledged only once they are on disk.
`touchpoint build` lands them by `record_hash`, so a redelivery is stored once,
and the calls stage keeps the latest version of each vendor call.

Answers: 200 with what was stored (texts and forms are stored too; records that
are none of these, such as a CTM chat, are skipped); 400 when the body holds no
call and something in it is wrong (a signed body that cannot be read is kept in
`rejects`); 401 for a bad or missing signature, with nothing stored; 413 too
large; 429 rate-limited or over the byte budget (nothing stored); 503 while the vendor's secret is not configured
(touchpoint takes no unsigned calls, and the vendor retries later) or when the
log cannot be written.

A vendor's call-control routes (`Webhook.controls`: Twilio's voice URL, which
asks what to do with a call as it comes in) are bounded and verified the same
way; their one record is logged as a raw-calls row, then the vendor's
instructions are the answer (200, TwiML). A signed body that holds no call gets
400 and is kept in `rejects`. When the log cannot be written the caller is still
answered (the status callback brings the call later): a caller never waits on
the disk.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import partial
from typing import Any

import msgspec
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from touchpoint.collect.endpoint import Collector
from touchpoint.collect.frames import encode_record
from touchpoint.collect.guards import RateLimiter
from touchpoint.collect.limits import ByteBudget, OverBudget, client_key
from touchpoint.config import Settings
from touchpoint.sources.records import RecordError, stable_hash, to_us
from touchpoint.sources.vendors.calls import NotACall
from touchpoint.sources.vendors.signatures import NotReadable, SignatureError
from touchpoint.sources.vendors.vendor import CallControl, Vendor, Webhook, WebhookRequest
from touchpoint.sources.vendors.webhooks import (
    WEBHOOKS,
    WebhookRows,
    body_records,
    webhook_rows,
)

REJECT_KIND = "calls"  # rejects of webhooks sit beside those of `import calls`
LOG = logging.getLogger(__name__)


def webhook_routes(settings: Settings, collector: Collector) -> list[BaseRoute]:
    """The webhook endpoints each vendor declares, sharing the collector's intake log."""
    hooks = Webhooks(settings, collector)
    return [
        Route(
            path,
            partial(hooks.control, vendor, webhook, control)
            if (control := webhook.controls.get(path))
            else partial(hooks.receive, vendor, webhook),
            methods=["POST"],
        )
        for vendor in WEBHOOKS.values()
        if (webhook := vendor.webhook)
        for path in webhook.paths
    ]


class Webhooks:
    """What the webhook endpoints share: settings, their own rate limit, the intake log."""

    def __init__(self, settings: Settings, collector: Collector):
        self.settings = settings
        self.collector = collector
        # Buckets of their own: a vendor's servers never share a budget with browsers.
        self.limiter = RateLimiter(settings.collector.rate_limit_per_minute)
        self.budget = ByteBudget(settings.collector.max_bytes_per_minute)

    async def receive(self, vendor: Vendor, webhook: Webhook, request: Request) -> Response:
        """One webhook request: bounded, verified, parsed, logged, answered."""
        body = await self._verified(vendor, webhook, request)
        if isinstance(body, Response):
            return body
        records, found = logged_records(vendor, body, self.settings, datetime.now(UTC))
        failed = await self._append(records)
        if failed is not None:
            return failed
        rejected = [{"index": index, "reason": reason} for index, reason in found.rejected]
        if found.bad_request:
            error = "the body holds no call touchpoint can read"
            return _answer(400, {"error": error, "rejected": rejected})
        payload: dict[str, Any] = {"stored": len(found.rows), "skipped": len(found.skipped)}
        if rejected:
            payload["rejected"] = rejected
        return _answer(200, payload)

    async def control(
        self, vendor: Vendor, webhook: Webhook, control: CallControl, request: Request
    ) -> Response:
        """A call coming in: bounded, verified, logged, then answered with what to do with it."""
        body = await self._verified(vendor, webhook, request)
        if isinstance(body, Response):
            return body
        records, found, record = control_records(
            vendor, control, body, self.settings, datetime.now(UTC)
        )
        if record is None:
            await self._append(records)  # the reject, when the log takes it
            rejected = [{"index": index, "reason": reason} for index, reason in found.rejected]
            error = "the body holds no call touchpoint can read"
            return _answer(400, {"error": error, "rejected": rejected})
        if await self._append(records) is not None:
            LOG.warning("%s call not logged (the intake log cannot be written)", vendor.title)
        said = control.answer(record, self.settings)
        if said.note:
            LOG.warning("%s: %s", vendor.title, said.note)
        return Response(
            said.body, media_type=said.media_type, headers={"Cache-Control": "no-store"}
        )

    async def _verified(
        self, vendor: Vendor, webhook: Webhook, request: Request
    ) -> bytes | Response:
        """The raw body of a request within bounds and signed, or the answer refusing it."""
        client = client_key(request.client.host if request.client else None)
        wait = self.limiter.wait(client) if self.limiter.enabled else 0.0
        if wait:
            return _too_many(wait)
        if not getattr(self.settings.webhooks, webhook.secret):
            return _answer(
                503,
                {
                    "error": f"{vendor.title} webhooks are not configured: set "
                    f"[webhooks] {webhook.secret}; touchpoint takes no unsigned calls"
                },
            )
        limit = self.settings.collector.max_body_bytes
        declared = request.headers.get("content-length", "")
        wait = self.budget.wait(client, int(declared) if declared.isdigit() else 0)
        if wait:
            return _too_many(wait, close=True)
        try:
            body = await _read_body(request, limit, self.budget, client)
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is left to answer
        except OverBudget:
            return _too_many(self.budget.wait(client), close=True)
        if body is None:
            return _answer(
                413, {"error": f"the body is over {limit} bytes"}, {"Connection": "close"}
            )
        try:
            webhook.verify(_signed(request, body), self.settings)
        except SignatureError as exc:
            return _answer(401, {"error": f"signature refused: {exc}"})
        except NotReadable as exc:
            return _answer(400, {"error": str(exc)})
        return body

    async def _append(self, records: list[bytes]) -> Response | None:
        """Append to the intake log and wait for the disk; an answer only when that failed."""
        if not records:
            return None
        log = self.collector.log
        if log is None:
            return _answer(503, {"error": "the server is starting"}, {"Retry-After": "5"})
        try:
            await log.append(b"".join(records))
        except OSError:
            return _answer(503, {"error": "cannot store calls now"}, {"Retry-After": "5"})
        return None


def logged_records(
    vendor: Vendor, body: bytes, settings: Settings, received: datetime
) -> tuple[list[bytes], WebhookRows]:
    """A verified body's intake-log records (its calls, and a reject if any part was bad)."""
    try:
        found = webhook_rows(vendor.name, body, settings, to_us(received))
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        # Input the vendor formats did not foresee (JSON nested too deeply): a reject.
        found = WebhookRows(rejected=[(0, f"unreadable body ({type(exc).__name__})")])
    return _encoded(vendor, body, found, received)


def control_records(
    vendor: Vendor, control: CallControl, body: bytes, settings: Settings, received: datetime
) -> tuple[list[bytes], WebhookRows, Any]:
    """A verified call-control body's log records, what it gave, and its record (None: bad)."""
    found = WebhookRows()
    record: Any = None
    try:
        records = body_records(vendor, body)
        if len(records) != 1:
            raise RecordError(f"the body holds {len(records)} records, not one call")
        found.rows.append(control.row(records[0], settings, to_us(received)))
        record = records[0]
    except (RecordError, NotACall) as exc:
        found.rejected.append((0, str(exc)))
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        found.rejected.append((0, f"unreadable body ({type(exc).__name__})"))
    encoded, found = _encoded(vendor, body, found, received)
    return encoded, found, record if found.rows and not found.rejected else None


def _encoded(
    vendor: Vendor, body: bytes, found: WebhookRows, received: datetime
) -> tuple[list[bytes], WebhookRows]:
    """The intake-log records of a body's rows (and of its reject, if any part was bad)."""
    arrived = received.replace(tzinfo=None)
    origin = _origin(vendor)
    try:
        records = [
            encode_record("raw_calls", {**row, "received_at": arrived, "origin": origin})
            for row in found.rows
        ]
    except (msgspec.EncodeError, ValueError, TypeError, OverflowError) as exc:
        records = []
        found = WebhookRows(rejected=[(0, f"unreadable body ({type(exc).__name__})")])
    if found.rejected:
        records.append(_reject_record(vendor, body, found.rejected, arrived))
    return records, found


def _origin(vendor: Vendor) -> str:
    return f"webhook:{vendor.name}"


def _reject_record(
    vendor: Vendor, body: bytes, rejected: list[tuple[int, str]], at: datetime
) -> bytes:
    """The body that was signed but could not (wholly) be read, kept for `export rejects`."""
    record = body.decode("utf-8", "backslashreplace")
    if len(rejected) == 1 and rejected[0][0] == 0:
        reason = rejected[0][1]
    else:
        reason = "; ".join(f"call {index}: {why}" for index, why in rejected)
    source = _origin(vendor)
    return encode_record(
        "rejects",
        {
            "source": source,
            "record": record,
            "reason": reason,
            "rejected_at": at,
            "kind": REJECT_KIND,
            "record_hash": stable_hash(REJECT_KIND, source, record),
        },
    )


def _signed(request: Request, body: bytes) -> WebhookRequest:
    """What the vendor's signature check reads of the request."""
    return WebhookRequest(
        body=body,
        headers=request.headers,
        origin=f"{request.url.scheme}://{request.url.netloc}",
        path=request.url.path,
        query=request.url.query,
        path_params=request.path_params,
    )


async def _read_body(request: Request, limit: int, budget: ByteBudget, key: str) -> bytes | None:
    """The raw body, or None when it is (or claims to be) over `limit` bytes; OverBudget."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        if not budget.spend(key, len(chunk)):
            raise OverBudget
        chunks.append(chunk)
    return b"".join(chunks)


def _too_many(wait: float, close: bool = False) -> Response:
    headers = {"Retry-After": str(int(wait) + 1)}
    if close:  # the body is left unread: the connection cannot carry another request
        headers["Connection"] = "close"
    return _answer(429, {"error": "too many requests"}, headers)


def _answer(
    status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    return JSONResponse(
        payload, status_code=status, headers={"Cache-Control": "no-store", **(headers or {})}
    )
