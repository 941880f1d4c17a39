"""The demo's synthetic world and its truth: who visited, from where, and who called.

Visitors arrive from several channels, browse a few pages, sometimes submit a
form, and sometimes call. Some calls come long after the visit, some carry no
visitor id, some come from visitors whose browsing was never tracked. Each call
takes one route to touchpoint: CallTrackingMetrics, CallRail or Invoca (with the
visitor id the vendor's script read from the `_tp_uid` cookie), Twilio (never a
visitor id), or only a Salesforce Task a rep logged; some vendor calls are also
written into Salesforce by the vendor's CRM integration. The world knows what
touchpoint must conclude about each call (`World.truth`); `calls`, `crm` and
`intake` say how it reaches touchpoint, `score` how close touchpoint came.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from touchpoint.sources.salesforce.fields import salesforce_id18

SITE = "https://www.northwind-plumbing.example"
SITE_DOMAIN = "northwind-plumbing.example"
PAGES = ("/", "/services/drains", "/services/water-heaters", "/pricing", "/about", "/reviews")
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
# Area codes of the demo's callers; numbers are 555 numbers, one per person.
AREA_CODES = ("617", "781", "857", "508", "978", "339", "774", "351", "413", "401")
VENDORS = ("ctm", "callrail", "invoca")  # the routes that carry the visitor id
ROUTE_WEIGHTS = {"ctm": 30, "callrail": 30, "invoca": 25, "salesforce": 15}
TASK_LINK_SHARE = 0.2  # vendor calls the vendor also wrote into Salesforce


@dataclass(frozen=True)
class Arrival:
    """One way of arriving, with the channel touchpoint should give it."""

    channel: str
    weight: float
    query: str = ""
    referrer: str | None = None
    click_param: str | None = None
    label: str = "Direct"  # what a call-tracking vendor calls this source


ARRIVALS = (
    Arrival(
        "Paid Search",
        24,
        "utm_source=google&utm_medium=cpc&utm_campaign=emergency-plumber",
        "https://www.google.com/",
        "gclid",
        "Google Ads",
    ),
    Arrival("Organic Search", 20, referrer="https://www.google.com/", label="Google Organic"),
    Arrival("Organic Search", 5, referrer="https://www.bing.com/", label="Bing Organic"),
    Arrival(
        "Paid Social",
        9,
        "utm_source=facebook&utm_medium=paid_social&utm_campaign=spring",
        "https://l.facebook.com/",
        "fbclid",
        "Facebook Paid",
    ),
    Arrival("Organic Social", 4, referrer="https://www.linkedin.com/", label="LinkedIn"),
    Arrival(
        "Email",
        9,
        "utm_source=newsletter&utm_medium=email&utm_campaign=march-tips",
        label="Email Newsletter",
    ),
    Arrival(
        "Referral",
        6,
        referrer="https://www.homeadvisor.com/rated.NorthwindPlumbing.html",
        label="Referral",
    ),
    Arrival(
        "Display",
        4,
        "utm_source=adroll&utm_medium=display&utm_campaign=retarget",
        label="AdRoll Display",
    ),
    Arrival("Direct", 19),
)


@dataclass
class Visit:
    """One visit: the snippet's events, and where the visitor came from."""

    visitor: str
    arrival: Arrival
    landing_url: str
    referrer: str | None
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DemoCall:
    """One phone call of the world, with the truth about it and the route it takes."""

    caller: str  # the visitor who called (the world always knows)
    visitor_id: str  # what the call carries: the caller's id, or "" when the vendor missed it
    called_at: datetime
    channel: str  # the channel of the visit that made the visitor call
    outcome: str  # what the merge rule must conclude
    visit: Visit | None  # that visit; None when the caller's browsing was never tracked
    duration_s: int
    activity_type: str  # the Salesforce Task's Type ("" when the rep left it blank)
    route: str = ""  # ctm, callrail, invoca, twilio or salesforce (`route_calls`)
    call_id: str = ""  # as touchpoint lists it: the vendor's id, or the Task's
    ids: dict[str, str] = field(default_factory=dict)  # the vendor's other ids
    task_id: str = ""  # the Salesforce Task the vendor also wrote, if it did
    tracking_number: str = ""  # a Twilio call: the pool number dialled (`demo.numbers`)


@dataclass
class TrueCall:
    """What touchpoint must conclude about one call."""

    call_id: str
    channel: str
    outcome: str


@dataclass
class World:
    """The month: every visit and call, and the number each person calls from."""

    visits: list[Visit] = field(default_factory=list)
    calls: list[DemoCall] = field(default_factory=list)
    phones: dict[str, str] = field(default_factory=dict)  # visitor → the number they call from

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every page view and form of the month."""
        return [event for visit in self.visits for event in visit.events]

    @property
    def truth(self) -> dict[str, TrueCall]:
        """What really happened to each call, by the id touchpoint lists it under."""
        return {c.call_id: TrueCall(c.call_id, c.channel, c.outcome) for c in self.calls}


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _phone(number: int) -> str:
    area = AREA_CODES[(number // 10_000) % len(AREA_CODES)]
    return f"+1{area}555{number % 10_000:04d}"


def generate_world(visitors: int, seed: int) -> World:
    """A reproducible world of `visitors` people: their visits, forms and calls."""
    rng = random.Random(seed)
    world = World()
    weights = [arrival.weight for arrival in ARRIVALS]
    for number in range(visitors):
        visitor = f"{rng.getrandbits(128):032x}"
        world.phones[visitor] = _phone(len(world.phones))
        moment = START + timedelta(days=rng.uniform(0, 27), minutes=rng.uniform(0, 600))
        for _visit in range(rng.choice((1, 1, 1, 2, 2, 3))):
            arrival = rng.choices(ARRIVALS, weights)[0]
            visit = _browse(rng, visitor, arrival, moment)
            world.visits.append(visit)
            if rng.random() < 0.22:
                _call_after(world, rng, visit, moment)
            moment = parse_stamp(visit.events[-1]["occurred_at"]) + timedelta(
                days=rng.uniform(1, 6)
            )
        if number % 40 == 0:  # a caller whose browsing was never tracked
            _untracked_call(world, rng, moment)
    route_calls(world.calls, random.Random(seed * 7_919 + 3))
    return world


def parse_stamp(stamp: str) -> datetime:
    """The time of a world event's `occurred_at`."""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _browse(rng: random.Random, visitor: str, arrival: Arrival, moment: datetime) -> Visit:
    pages = rng.randint(1, 6)
    query = arrival.query
    if arrival.click_param:
        click = f"{arrival.click_param}={rng.getrandbits(64):x}"
        query = f"{query}&{click}" if query else click
    landing = rng.choice(PAGES[:4])
    url = f"{SITE}{landing}" + (f"?{query}" if query else "")
    visit = Visit(visitor, arrival, url, arrival.referrer)
    referrer = arrival.referrer
    for index in range(pages):
        visit.events.append(
            {
                "visitor_id": visitor,
                "type": "page_view",
                "occurred_at": _stamp(moment),
                "url": url,
                "referrer": referrer,
                "title": "Northwind Plumbing",
            }
        )
        referrer = url
        url = f"{SITE}{rng.choice(PAGES)}"
        if index < pages - 1:
            moment += timedelta(seconds=rng.uniform(20, 240))
    if rng.random() < 0.1:
        moment += timedelta(seconds=rng.uniform(30, 120))
        visit.events.append(
            {
                "visitor_id": visitor,
                "type": "form_submit",
                "occurred_at": _stamp(moment),
                "url": f"{SITE}/contact",
                "referrer": referrer,
                "email": f"customer{rng.getrandbits(24)}@example.org",
            }
        )
    return visit


def _call_after(world: World, rng: random.Random, visit: Visit, started: datetime) -> None:
    late = rng.random() < 0.2
    gap = timedelta(minutes=rng.uniform(35, 180) if late else rng.uniform(1, 29.5))
    with_id = rng.random() < 0.9
    outcome = "no_visitor_id" if not with_id else "outside_window" if late else "merged"
    visitor = visit.visitor
    _add_call(world, rng, visitor, visitor if with_id else "", started + gap, visit, outcome)


def _untracked_call(world: World, rng: random.Random, moment: datetime) -> None:
    visitor = f"{rng.getrandbits(128):032x}"
    world.phones[visitor] = _phone(len(world.phones))
    _add_call(world, rng, visitor, visitor, moment, None, "no_session")


def _add_call(
    world: World,
    rng: random.Random,
    caller: str,
    visitor_id: str,
    moment: datetime,
    visit: Visit | None,
    outcome: str,
) -> None:
    world.calls.append(
        DemoCall(
            caller=caller,
            visitor_id=visitor_id,
            called_at=moment.replace(microsecond=0),  # vendors count whole seconds
            channel=visit.arrival.channel if visit else "(untracked)",
            outcome=outcome,
            visit=visit,
            duration_s=rng.randint(20, 900),
            activity_type="" if rng.random() < 0.15 else "Inbound Call",
        )
    )


def _hex(rng: random.Random, digits: int) -> str:
    return f"{rng.getrandbits(digits * 4):0{digits}x}"


def salesforce_id(rng: random.Random, prefix: str) -> str:
    """A fresh 18-character Salesforce Id of the object whose key prefix is `prefix`."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return salesforce_id18(prefix + "".join(rng.choice(alphabet) for _ in range(12)))


def route_calls(calls: list[DemoCall], rng: random.Random) -> None:
    """Give each call its route and its ids, as the vendor (or the CRM) names it."""
    routes, weights = list(ROUTE_WEIGHTS), list(ROUTE_WEIGHTS.values())
    for number, call in enumerate(calls):
        # Twilio knows no visitor: the calls whose id went missing are its calls, which
        # dynamic number insertion ties to a visitor again (`demo.numbers`).
        call.route = "twilio" if not call.visitor_id else rng.choices(routes, weights)[0]
        if call.route == "ctm":
            call.call_id = str(2_150_400_000 + number)
            call.ids["sid"] = "CAL" + _hex(rng, 32).upper()
        elif call.route == "callrail":
            call.call_id = "CAL" + _hex(rng, 32)
            call.ids["id"] = str(912_000_000 + number)
        elif call.route == "invoca":
            call.call_id = f"{_hex(rng, 8)}-{_hex(rng, 8)}".upper()
            call.ids["complete_call_id"] = f"{_hex(rng, 4)}-{_hex(rng, 12)}".upper()
        elif call.route == "twilio":
            call.call_id = "CA" + _hex(rng, 32)
        else:
            call.call_id = salesforce_id(rng, "00T")
        if call.route in VENDORS and rng.random() < TASK_LINK_SHARE:
            call.task_id = salesforce_id(rng, "00T")
    vendor_calls = [c for c in calls if c.route in VENDORS]
    if vendor_calls and not any(c.task_id for c in vendor_calls):
        vendor_calls[0].task_id = salesforce_id(rng, "00T")  # at least one shows it
