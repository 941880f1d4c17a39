"""Connections bounded in time and number: header and body deadlines, a cap per client.

uvicorn closes idle keep-alive connections (`timeout_keep_alive`) but waits
for ever on a client that sends its request line and headers a byte at a time
(slowloris), and on one that trickles its body. Two pieces close those:

- `bounded_http` makes a subclass of uvicorn's HTTP protocol (httptools or
  h11, whichever uvicorn picks) that arms a timer when a connection opens and
  when the first part of a next request's head arrives alone, and cancels it once
  uvicorn has read the headers: a request whose headers are not complete by
  then is answered 408 and closed. It also caps the connections of one client
  address (an IPv6 /64): beyond the cap a new connection is closed at once.
  Peers in `[server] forwarded_allow_ips` are proxies speaking for many
  clients, so their connections are not capped by their own address.
- `RequestBounds`, an ASGI wrapper, gives each request `[server]
  body_timeout` from its headers to the end of its body (408 and close
  after that) and caps the requests in flight per client as uvicorn resolved
  it (behind a proxy, the `X-Forwarded-For` address): 429 beyond the cap.

It relies on what uvicorn's HTTP protocols have had since before 0.34 (the
lower bound in pyproject.toml): a `transport`, and a `cycle` for the latest
request whose headers were read, with `response_complete`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from touchpoint.collect.endpoint import answer
from touchpoint.collect.limits import ConnectionCount, TrustedProxies, client_key

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_LATE = b"the request was not sent in time\n"
REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_LATE), _LATE)
)


class BoundedConnection(asyncio.Protocol):
    """The header deadline and the per-address cap, mixed in before uvicorn's protocol."""

    # Set on the subclass `bounded_http` makes.
    header_timeout: float
    per_address: ConnectionCount
    trusted: TrustedProxies
    # uvicorn's protocol has these.
    transport: asyncio.Transport
    cycle: Any

    _header_timer: asyncio.TimerHandle | None = None
    _address_key: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if isinstance(peer, tuple | list) and peer else None
        if self.per_address.cap and address not in self.trusted:
            key = client_key(address)
            if not self.per_address.enter(key):
                transport.close()  # nothing read, nothing answered: the client has enough open
                return
            self._address_key = key
        self._arm()

    def data_received(self, data: bytes) -> None:
        cycle = self.cycle
        awaiting_headers = cycle is None or cycle.response_complete
        super().data_received(data)
        if awaiting_headers:
            if self.cycle is not cycle:
                self._disarm()  # uvicorn read the headers and began the request
            elif self._header_timer is None:
                # Part of the next request's head on a kept-alive connection (a whole head
                # in one read, the usual case, needs no timer at all).
                self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._address_key is not None:
            self.per_address.leave(self._address_key)
            self._address_key = None
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self.header_timeout > 0:
            loop = asyncio.get_running_loop()
            self._header_timer = loop.call_later(self.header_timeout, self._headers_late)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        cycle = self.cycle
        if self.transport.is_closing() or self.transport.get_protocol() is not self:
            return  # closed already, or handed to a WebSocket protocol after an upgrade
        if cycle is None or cycle.response_complete:
            self.transport.write(REQUEST_TIMEOUT)
            self.transport.close()


def bounded_http(
    base: type[asyncio.Protocol],
    header_timeout: float,
    per_address: ConnectionCount,
    trusted: TrustedProxies,
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol `base` with a header deadline and a cap per client address."""
    return type(
        f"Bounded{base.__name__}",
        (BoundedConnection, base),
        {"header_timeout": header_timeout, "per_address": per_address, "trusted": trusted},
    )


class RequestBounds:
    """ASGI wrapper: a body deadline for every request, a cap on one client's requests in flight.

    A timer per request would cost every request a few microseconds; instead the
    requests waiting for body bytes are listed with their deadlines, and a
    sweeper that runs only while some are listed cancels the wait of those past
    theirs (within `SWEEP_EVERY`).
    """

    SWEEP_EVERY = 0.25

    def __init__(self, app: ASGIApp, body_timeout: float, in_flight: ConnectionCount):
        self.app = app
        self.body_timeout = body_timeout
        self.in_flight = in_flight
        self.waiting: dict[asyncio.Task[Any], float] = {}  # tasks waiting for body bytes
        self.expired: set[asyncio.Task[Any]] = set()  # of those, the ones the sweeper cancelled
        self._sweeper: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        client = scope.get("client")
        key = client_key(client[0] if client else None)
        if not self.in_flight.enter(key):
            return await answer(
                send,
                429,
                {"error": "too many requests at once from this client"},
                [(b"retry-after", b"1"), (b"connection", b"close")],
            )
        try:
            if self.body_timeout > 0:
                deadline = asyncio.get_running_loop().time() + self.body_timeout
                body = _BodyDeadline(self, receive, send, deadline)
                await self.app(scope, body.receive, body.send)
            else:
                await self.app(scope, receive, send)
        finally:
            self.in_flight.leave(key)

    def wait_listed(self, task: asyncio.Task[Any], deadline: float) -> None:
        """`task` waits for body bytes until `deadline`; the sweeper runs while any waits."""
        self.waiting[task] = deadline
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def _sweep(self) -> None:
        loop = asyncio.get_running_loop()
        while self.waiting:
            await asyncio.sleep(self.SWEEP_EVERY)
            now = loop.time()
            for task, deadline in list(self.waiting.items()):
                if deadline <= now and task not in self.expired:
                    self.expired.add(task)
                    task.cancel()


class _BodyDeadline:
    """One request's `receive` with a deadline for the whole body, and its guarded `send`."""

    __slots__ = ("_receive", "_send", "body_done", "bounds", "deadline", "started", "timed_out")

    def __init__(self, bounds: RequestBounds, receive: Receive, send: Send, deadline: float):
        self.bounds = bounds
        self._receive = receive
        self._send = send
        self.deadline = deadline
        self.body_done = False
        self.started = False
        self.timed_out = False

    async def receive(self) -> Message:
        if self.body_done:
            return await self._receive()  # after the body: waiting for a disconnect is fine
        bounds = self.bounds
        task = asyncio.current_task()
        assert task is not None
        bounds.wait_listed(task, self.deadline)
        try:
            message = await self._receive()
        except asyncio.CancelledError:
            if task not in bounds.expired:
                raise  # cancelled for another reason (the server stops): not ours to keep
            bounds.expired.discard(task)
            task.uncancel()
            return await self._late()
        finally:
            bounds.waiting.pop(task, None)
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.body_done = True
        return message

    async def _late(self) -> Message:
        self.timed_out = True
        if not self.started:
            self.started = True
            await answer(
                self._send,
                408,
                {"error": "the body was not sent in time"},
                [(b"connection", b"close")],
            )
        return {"type": "http.disconnect"}  # the app stops; its answer is not sent

    async def send(self, message: Message) -> None:
        if self.timed_out:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)
