"""`POST /collect` as a plain ASGI app: the collector's hot path.

Checks run cheapest first — method, origin, rate, size, content type, bots —
before the body is read or parsed. Events are acknowledged only when their
records are on disk: 204 when all were accepted, 200 with the rejects
(DESIGN §9), 400 / 413 / 415 / 429 for requests that are refused whole, 503
when the log cannot be written (the client keeps the events and retries).
`admit` and `append_or_refuse` are those checks and that write, for every
public POST endpoint of the collector (`/numbers` too).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from touchpoint.collect.batch import Arrival, NotABatch, Rules, TooManyEvents, collect, read_batch
from touchpoint.collect.guards import OriginPolicy, RateLimiter, is_bot, truncate_ip
from touchpoint.collect.limits import ByteBudget, OverBudget, client_key
from touchpoint.collect.segments import IntakeLog
from touchpoint.config import CollectorSettings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# What sendBeacon, fetch and server-side senders use; "" is no Content-Type at all.
BODY_TYPES = frozenset(
    ("", "application/json", "text/plain", "application/x-ndjson", "application/ndjson")
)
_encode = msgspec.json.Encoder().encode


@dataclass
class Collector:
    """What the collect endpoint needs at run time; `log` is set while the app runs."""

    settings: CollectorSettings
    origins: OriginPolicy
    limiter: RateLimiter
    budget: ByteBudget
    log: IntakeLog | None = None
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("accepted", "rejected", "bots", "gpc", "dnt"), 0)
    )
    rules: Rules = field(init=False)

    def __post_init__(self) -> None:
        self.rules = Rules.of(self.settings)


class _Request:
    """The few request headers the collector reads, picked out in one pass."""

    __slots__ = ("content_length", "content_type", "dnt", "gpc", "host", "origin", "user_agent")

    def __init__(self, scope: Scope):
        self.origin: str | None = None
        self.host: str | None = None
        self.user_agent: str | None = None
        self.content_type = ""
        self.content_length: int | None = None
        self.gpc = False
        self.dnt = False
        for name, value in scope["headers"]:
            if name == b"origin":
                self.origin = value.decode("latin-1")
            elif name == b"host":
                self.host = value.decode("latin-1")
            elif name == b"user-agent":
                self.user_agent = value.decode("latin-1")
            elif name == b"content-type":
                self.content_type = value.split(b";", 1)[0].strip().lower().decode("latin-1")
            elif name == b"content-length":
                self.content_length = int(value) if value.isdigit() else None
            elif name == b"sec-gpc":
                self.gpc = value.strip() == b"1"
            elif name == b"dnt":
                self.dnt = value.strip() == b"1"


@dataclass(frozen=True, slots=True)
class Admitted:
    """A request that passed the checks every public POST endpoint shares (`admit`)."""

    body: bytes
    headers: _Request
    client_ip: str | None
    cors: list[tuple[bytes, bytes]]
    # "bots", "gpc" or "dnt": honoured (and counted): nothing of the request may be kept.
    quiet: str | None


async def admit(
    c: Collector, scope: Scope, receive: Receive, send: Send, what: str = "events"
) -> Admitted | None:
    """Origin, preflight, method, rate, size, content type, byte budget, then the body,
    bots, GPC and DNT, cheapest first; None when the request was answered already."""
    request = _Request(scope)
    cors = _cors_headers(request.origin)
    if not c.origins.allows(request.origin, request.host):
        await answer(send, 403, {"error": f"this site may not send {what} here"})
        return None
    method = scope["method"]
    if method == "OPTIONS":
        await answer(send, 204, None, [*cors, *_PREFLIGHT])
        return None
    if method != "POST":
        await answer(send, 405, {"error": f"POST {what} here"}, [(b"allow", b"POST")])
        return None
    client = scope.get("client")
    client_ip = client[0] if client else None
    key = client_key(client_ip)
    if c.limiter.enabled:
        wait = c.limiter.wait(key)
        if wait:
            await _too_many(send, cors, wait)
            return None
    limit = c.settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        await _too_large(send, cors, limit)
        return None
    if request.content_type not in BODY_TYPES:
        await answer(send, 415, {"error": "send JSON or text/plain"}, cors)
        return None
    if c.budget.enabled:
        wait = c.budget.wait(key, request.content_length or 0)
        if wait:
            await _too_many(send, cors, wait, close=True)
            return None
    try:
        body = await _read_body(receive, limit, c.budget, key)
    except OverBudget:
        await _too_many(send, cors, c.budget.wait(key), close=True)
        return None
    if body is None:
        await _too_large(send, cors, limit)
        return None
    quiet = None
    if c.settings.drop_bots and is_bot(request.user_agent):
        quiet = "bots"
    elif c.settings.honor_gpc and request.gpc:
        quiet = "gpc"
    elif c.settings.honor_dnt and request.dnt:
        quiet = "dnt"  # honoured as GPC is: nothing of the request is kept
    if quiet is not None:
        c.counts[quiet] += 1
    return Admitted(body, request, client_ip, cors, quiet)


async def append_or_refuse(
    c: Collector, records: bytes, cors: list[tuple[bytes, bytes]], send: Send
) -> bool:
    """Append framed records to the log; False (and 503 answered) when they are not on disk."""
    if c.log is None:
        await answer(send, 503, {"error": "the collector is starting"}, cors)
        return False
    try:
        await c.log.append(records)
    except OSError:
        retry = [(b"retry-after", b"5")]
        await answer(send, 503, {"error": "cannot store events now"}, [*cors, *retry])
        return False
    return True


class CollectEndpoint:
    """The ASGI app behind `/collect`."""

    def __init__(self, collector: Collector):
        self.collector = collector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        c = self.collector
        admitted = await admit(c, scope, receive, send)
        if admitted is None:
            return None
        cors = admitted.cors
        if admitted.quiet is not None:
            return await answer(send, 204, None, cors)  # dropped quietly: nothing to retry
        try:
            events = read_batch(admitted.body, c.settings.max_events_per_batch)
        except NotABatch as exc:
            return await answer(send, 400, {"error": str(exc)}, cors)
        except TooManyEvents as exc:
            return await answer(send, 413, {"error": str(exc)}, cors)
        client_ip = admitted.client_ip
        arrival = Arrival(
            received_at=datetime.now(UTC).replace(tzinfo=None),
            user_agent=admitted.headers.user_agent,
            client_ip=truncate_ip(client_ip) if c.settings.store_ip else None,
        )
        collected = collect(events, arrival, c.rules)
        if not await append_or_refuse(c, b"".join(collected.records), cors, send):
            return None
        c.counts["accepted"] += collected.accepted
        c.counts["rejected"] += len(collected.rejected)
        if not collected.rejected:
            return await answer(send, 204, None, cors)
        return await answer(send, 200, collected.response(), cors)


_PREFLIGHT = [
    (b"access-control-allow-methods", b"POST, OPTIONS"),
    (b"access-control-allow-headers", b"Content-Type"),
    (b"access-control-max-age", b"86400"),
]


def _cors_headers(origin: str | None) -> list[tuple[bytes, bytes]]:
    """CORS answer headers for an origin already allowed (none for same-site senders)."""
    if origin is None:
        return []
    return [(b"access-control-allow-origin", origin.encode("latin-1")), (b"vary", b"Origin")]


async def _read_body(receive: Receive, limit: int, budget: ByteBudget, key: str) -> bytes | None:
    """The request body, or None once it passes `limit` bytes; OverBudget past the budget."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b""  # the client went away; nothing to answer
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        if not budget.spend(key, len(chunk)):
            raise OverBudget
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _too_many(
    send: Send, cors: list[tuple[bytes, bytes]], wait: float, close: bool = False
) -> None:
    """429 with Retry-After; `close` when the body is left unread (the connection cannot go on)."""
    head = [*cors, (b"retry-after", str(int(wait) + 1).encode())]
    if close:
        head.append((b"connection", b"close"))
    await answer(send, 429, {"error": "too many requests"}, head)


async def _too_large(send: Send, cors: list[tuple[bytes, bytes]], limit: int) -> None:
    # The rest of the body is not read, so the connection cannot be reused.
    await answer(
        send, 413, {"error": f"the body is over {limit} bytes"}, [*cors, (b"connection", b"close")]
    )


async def answer(
    send: Send,
    status: int,
    payload: dict[str, Any] | None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a whole answer through raw ASGI: `payload` as JSON (none for 204), then `headers`."""
    body = b"" if payload is None else _encode(payload)
    head = list(headers or [])
    if payload is not None:
        head.append((b"content-type", b"application/json"))
    if status != 204:
        head.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
