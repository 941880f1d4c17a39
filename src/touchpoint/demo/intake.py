"""The demo's month played into a real `touchpoint serve`, over HTTP.

`DemoServer` runs the app `touchpoint serve` runs (uvicorn, in a thread, on a
free port of 127.0.0.1) on the demo's own store. `deliveries` lists the
month's requests in order: the snippet's batches of page views and forms for
`POST /collect`, and the vendors' signed webhooks (`calls`); the
redeliveries and call-modified updates come in a second round, after the
calls they update. `send` sends them a few at a time, like many browsers and
vendors at once, and checks every answer. Leaving `DemoServer` stops the
server, which closes the intake log's segment: the build that follows loads
everything the server acknowledged.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType

import httpx
import uvicorn

from touchpoint.collect.app import create_app
from touchpoint.collect.listener import bind
from touchpoint.config import Settings
from touchpoint.demo.calls import Delivery, webhook_deliveries
from touchpoint.demo.numbers import WorldClock
from touchpoint.demo.world import SITE, World
from touchpoint.errors import TouchpointError

SNIPPET_BATCH = 20  # events per request, as tp.js sends them
CONCURRENCY = 4  # requests in flight; more only makes client and server share one core
# Browsers the demo's visitors use, as their User-Agent headers say.
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
)


class DemoServer:
    """`touchpoint serve`'s app on a free local port, for as long as the `with` block runs."""

    def __init__(self, settings: Settings):
        self.socket = bind("127.0.0.1", 0)
        port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.settings = settings.model_copy(
            update={
                # What Twilio signs is the URL it calls: here, this server's.
                "server": settings.server.model_copy(update={"public_url": self.url}),
                # One client sends the whole month in seconds; limits are for the internet.
                # The month lies in the past: its times are kept (no clock-skew check).
                "collector": settings.collector.model_copy(
                    update={
                        "rate_limit_per_minute": 0,
                        "max_bytes_per_minute": 0,
                        "max_clock_skew": timedelta(0),
                    }
                ),
            }
        )
        # The month lies in the past: `POST /numbers` assigns on the month's clock.
        self.clock = WorldClock()
        app = create_app(self.settings, secrets.token_urlsafe(24), clock=self.clock)
        config = uvicorn.Config(
            app, log_config=None, log_level="warning", access_log=False, server_header=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def __enter__(self) -> DemoServer:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                self.socket.close()
                raise TouchpointError("the demo's server did not start (see the lines above)")
            time.sleep(0.01)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        # A graceful stop: the lifespan closes the intake log, so its segment is ready.
        self.server.should_exit = True
        self.thread.join()
        self.socket.close()


# -- what is sent ---------------------------------------------------------------------


def snippet_event(event: dict[str, object]) -> dict[str, object]:
    """A world event as tp.js sends it: its own id, the time in epoch milliseconds."""
    stamp = str(event["occurred_at"])
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    key = f"{event['visitor_id']}|{event['type']}|{stamp}|{event['url']}"
    sent = {name: value for name, value in event.items() if value is not None}
    sent["event_id"] = hashlib.md5(key.encode()).hexdigest()
    sent["occurred_at"] = int(moment.timestamp() * 1000)
    return sent


def event_deliveries(world: World, batch_size: int = SNIPPET_BATCH) -> Iterator[Delivery]:
    """Each visit's events in the snippet's batches, from the visitor's browser."""
    for visit in world.visits:
        browser = BROWSERS[int(visit.visitor[:8], 16) % len(BROWSERS)]
        headers = {"Content-Type": "text/plain", "Origin": SITE, "User-Agent": browser}
        events = [snippet_event(event) for event in visit.events]
        for start in range(0, len(events), batch_size):
            batch = events[start : start + batch_size]
            at = datetime.fromtimestamp(int(str(batch[0]["occurred_at"])) / 1000, UTC)
            body = json.dumps(batch, separators=(",", ":")).encode()
            yield Delivery("events", at, "/collect", body, headers)


def deliveries(world: World, settings: Settings, seed: int) -> list[list[Delivery]]:
    """The month's requests in two rounds, each in the order they happen."""
    webhooks = list(webhook_deliveries(world, settings, random.Random(seed * 15_485_863 + 7)))
    batch_size = min(SNIPPET_BATCH, settings.collector.max_events_per_batch)
    first = [*event_deliveries(world, batch_size), *(d for d in webhooks if not d.again)]
    later = [d for d in webhooks if d.again]
    return [sorted(first, key=lambda d: d.at), sorted(later, key=lambda d: d.at)]


# -- sending ------------------------------------------------------------------------------


@dataclass
class Played:
    """What went over HTTP, and how long it took."""

    requests: Counter[str] = field(default_factory=Counter)  # by kind: events, ctm, ...
    calls: Counter[str] = field(default_factory=Counter)  # calls each vendor's webhook sent
    events: int = 0
    again: int = 0  # redeliveries and call-modified updates
    seconds: float = 0.0


def send(url: str, rounds: list[list[Delivery]], on_sent: Callable[[], None]) -> Played:
    """Send every request, round after round; a refused one is an error of the demo."""
    played = Played()
    calls: set[tuple[str, str]] = set()
    started = time.perf_counter()
    for deliveries_ in rounds:
        failures = asyncio.run(_send_round(url, deliveries_, on_sent))
        if failures:
            raise TouchpointError(
                f"the demo's server refused {len(failures)} requests; the first: {failures[0]}"
            )
        for delivery in deliveries_:
            played.requests[delivery.kind] += 1
            played.again += delivery.again
            if delivery.kind == "events":
                played.events += delivery.body.count(b'"event_id"')
            else:
                calls.add((delivery.kind, delivery.call_id))
    played.calls.update(kind for kind, _call in calls)
    played.seconds = time.perf_counter() - started
    return played


async def _send_round(
    url: str, deliveries_: list[Delivery], on_sent: Callable[[], None]
) -> list[str]:
    pending = iter(deliveries_)
    failures: list[str] = []
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            for delivery in pending:  # the workers share one iterator: each request once
                answer = await client.post(
                    delivery.path, content=delivery.body, headers=delivery.headers
                )
                if not _accepted(delivery, answer):
                    shown = delivery.path.split("/invoca/")[0]  # not Invoca's secret token
                    failures.append(f"POST {shown}: {answer.status_code} {answer.text[:200]}")
                on_sent()

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return failures


def _accepted(delivery: Delivery, answer: httpx.Response) -> bool:
    """Every event accepted (204); every webhook stored its call (200, stored 1)."""
    if delivery.kind == "events":
        return answer.status_code == 204
    return answer.status_code == 200 and answer.json().get("stored") == 1
