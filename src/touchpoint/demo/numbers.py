"""The demo's number pool (DESIGN §15): its Twilio calls come through dynamic number insertion.

The site shows its business number (`REPLACE`, a Twilio number); with the demo's
pool configured, the snippet asks the server's real `POST /numbers` for a number
on every page view, and shows that one instead. The demo sends those requests
itself, one page view after another in the month's order, each with the visitor
id and page the snippet would send; the server's assigner runs on the month's
clock (`WorldClock`: the month lies in the past, and a hold is as long as the
pool's `hold` of the month's time, not of the seconds the demo takes). A visitor
who calls by Twilio dials the number their last page view showed.

What the server answered is the truth for those calls: the visitors who really
held the number dialled within the pool's hold before the call. One → the call
is that visitor's (merged, or outside the window, by their session's start), as
touchpoint must find; several → ambiguous, a right answer, since two visitors
really held it; none, or the fallback → no visitor id.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from touchpoint.config import Settings
from touchpoint.config.numbers import NumberPool, NumbersSettings
from touchpoint.demo.world import SITE, START, DemoCall, World, parse_stamp
from touchpoint.errors import TouchpointError

POOL = "demo"
REPLACE = "+16175550190"  # the business number on the site: calls to it are no pool calls
NUMBERS = tuple(f"+1617555{n:04d}" for n in range(191, 197))
FALLBACK = "+16175550199"
HOLD = timedelta(minutes=30)
WINDOW = timedelta(minutes=30)  # [merge] window: the demo runs with the default


def with_pool(settings: Settings) -> Settings:
    """The settings with the demo's pool as `[[numbers.pools]]` (the user's are set aside)."""
    minutes = HOLD // timedelta(minutes=1)
    pool = NumberPool(
        name=POOL, numbers=NUMBERS, replace=REPLACE, fallback=FALLBACK, hold=f"{minutes}m"
    )
    numbers = NumbersSettings(pools=(pool,)).in_region(settings.phone.default_region)
    return settings.model_copy(update={"numbers": numbers})


@dataclass
class WorldClock:
    """The month's time as the demo's server reads it: the time of the request being sent."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


@dataclass(frozen=True)
class Shown:
    """What `POST /numbers` answered for one page view."""

    visitor: str
    at: datetime
    number: str
    fallback: bool
    held_until: datetime


@dataclass
class PoolAnswers:
    """Every page view's answer, and the number each visit showed last."""

    shown: list[Shown] = field(default_factory=list)
    last_of_visit: dict[int, Shown] = field(default_factory=dict)

    def requests(self) -> int:
        return len(self.shown)


def request_numbers(
    url: str, world: World, clock: WorldClock, on_sent: Callable[[], None]
) -> PoolAnswers:
    """Ask the server for each page view's number, one after another in the month's order."""
    views = sorted(
        (parse_stamp(str(event["occurred_at"])), index, event)
        for index, visit in enumerate(world.visits)
        for event in visit.events
        if event["type"] == "page_view"
    )
    answers = PoolAnswers()
    headers = {"Content-Type": "text/plain", "Origin": SITE}
    with httpx.Client(base_url=url, timeout=30) as client:
        for at, index, event in views:
            clock.now = at
            body = {"visitor_id": event["visitor_id"], "url": event["url"]}
            if event.get("referrer"):
                body["referrer"] = event["referrer"]
            answer = client.post("/numbers", content=json.dumps(body), headers=headers)
            if answer.status_code != 200:
                raise TouchpointError(
                    f"the demo's server refused POST /numbers: {answer.status_code} "
                    f"{answer.text[:200]}"
                )
            (given,) = answer.json()["numbers"]
            until = datetime.fromisoformat(given["held_until"].replace("Z", "+00:00"))
            shown = Shown(str(event["visitor_id"]), at, given["number"], given["fallback"], until)
            answers.shown.append(shown)
            answers.last_of_visit[index] = shown
            on_sent()
    return answers


def dial_pool_numbers(world: World, answers: PoolAnswers) -> None:
    """Each Twilio caller dials the number their visit showed; the truth of those calls."""
    visits = {id(visit): index for index, visit in enumerate(world.visits)}
    holds = _holds(answers)
    starts: dict[str, list[datetime]] = defaultdict(list)
    for visit in world.visits:
        starts[visit.visitor].append(parse_stamp(str(visit.events[0]["occurred_at"])))
    for call in world.calls:
        if call.route != "twilio" or call.visit is None:
            continue
        shown = answers.last_of_visit[visits[id(call.visit)]]
        call.tracking_number = shown.number
        call.outcome = _truth(call, shown, holds, starts)


def _holds(answers: PoolAnswers) -> dict[str, list[tuple[str, datetime, datetime]]]:
    """Per number, each visitor's holds as the server gave them (renewals in one)."""
    found: dict[str, list[list[Any]]] = defaultdict(list)
    for shown in answers.shown:
        if shown.fallback or shown.number == REPLACE:
            continue
        own = [h for h in found[shown.number] if h[0] == shown.visitor]
        if own and shown.at <= own[-1][2]:
            own[-1][2] = max(own[-1][2], shown.held_until)
        else:
            found[shown.number].append([shown.visitor, shown.at, shown.held_until])
    return {number: [(v, a, b) for v, a, b in held] for number, held in found.items()}


def _truth(
    call: DemoCall,
    shown: Shown,
    holds: dict[str, list[tuple[str, datetime, datetime]]],
    starts: dict[str, list[datetime]],
) -> str:
    """What touchpoint must conclude about a call to the number `shown`."""
    if shown.fallback or shown.number == REPLACE:
        return "no_visitor_id"
    t = call.called_at
    held = {v for v, a, b in holds.get(shown.number, []) if a <= t and b >= t - HOLD}
    if len(held) > 1:
        return "ambiguous"
    if not held:
        return "no_visitor_id"
    (visitor,) = held
    started = max((s for s in starts[visitor] if s <= t), default=None)
    if started is None:
        return "no_session"
    return "merged" if t - started <= WINDOW else "outside_window"


def assignment_count(answers: PoolAnswers) -> dict[str, int]:
    """How the month's page views were served: a pool number, the fallback."""
    fallback = sum(s.fallback for s in answers.shown)
    return {"requests": answers.requests(), "fallback": fallback}
