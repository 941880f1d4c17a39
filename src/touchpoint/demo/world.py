"""`touchpoint demo`: a synthetic world with known truth, played through the real paths.

Visitors arrive from several channels, browse a few pages, sometimes submit a
form, and sometimes call. Some calls come long after the visit, some carry no
visitor id, some come from visitors whose browsing was never tracked. The
demo starts a real `touchpoint serve` on its own store and plays the month
into it over HTTP: the snippet's page views and forms into `POST /collect`,
each call into its vendor's webhook signed as that vendor signs
(`demo_calls`, `demo_intake`). The CRM's records and the calls logged as
Salesforce Tasks go through `touchpoint import` (`demo_crm`). Then it builds,
compares what touchpoint concluded with what really happened, and serves the
dashboard.
"""

from __future__ import annotations

import json
import random
import secrets
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from touchpoint.config import Settings

SITE = "https://www.northwind-plumbing.example"
SITE_DOMAIN = "northwind-plumbing.example"
PAGES = ("/", "/services/drains", "/services/water-heaters", "/pricing", "/about", "/reviews")
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
DEFAULT_DIRECTORY = Path(".touchpoint-demo")
# Area codes of the demo's callers; numbers are 555 numbers, one per person.
AREA_CODES = ("617", "781", "857", "508", "978", "339", "774", "351", "413", "401")


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
    route: str = ""  # ctm, callrail, invoca, twilio or salesforce (`demo_calls.route_calls`)
    call_id: str = ""  # as touchpoint lists it: the vendor's id, or the Task's
    ids: dict[str, str] = field(default_factory=dict)  # the vendor's other ids
    task_id: str = ""  # the Salesforce Task the vendor also wrote, if it did


@dataclass
class TrueCall:
    call_id: str
    channel: str
    outcome: str


@dataclass
class World:
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
    from touchpoint.demo.calls import route_calls

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
            moment = _parse(visit.events[-1]["occurred_at"]) + timedelta(days=rng.uniform(1, 6))
        if number % 40 == 0:  # a caller whose browsing was never tracked
            _untracked_call(world, rng, moment)
    route_calls(world.calls, random.Random(seed * 7_919 + 3))
    return world


def _parse(stamp: str) -> datetime:
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


def demo_settings(settings: Settings) -> Settings:
    """The user's settings, plus what the demo's world needs.

    The demo site's domain joins `[site] domains` (the snippet's requests come from
    its pages), and each vendor without a webhook secret gets a fresh one, which
    the demo signs its calls with.
    """
    domains = settings.site.domains
    if not any(d == SITE_DOMAIN or SITE_DOMAIN.endswith("." + d) for d in domains):
        domains = [*domains, SITE_DOMAIN]
    hooks = {
        name: value or secrets.token_urlsafe(18)
        for name, value in settings.webhooks.model_dump().items()
        if name != "replay_window"
    }
    return settings.model_copy(
        update={
            "site": settings.site.model_copy(update={"domains": domains}),
            "webhooks": settings.webhooks.model_copy(update=hooks),
        }
    )


@dataclass(frozen=True)
class DemoScore:
    calls: int
    credited_right: int
    outcomes_agree: int
    by_outcome: Counter[str]
    credited_by_vendor: int = 0  # of `credited_right`: through the vendor's own attribution
    missed: Counter[str] = field(default_factory=Counter)  # not credited right, by outcome

    def as_json(self) -> str:
        """The score for scripts (`touchpoint demo --json`)."""
        return json.dumps(
            {
                "calls": self.calls,
                "credited_right": self.credited_right,
                "credited_right_share": self.credited_right / self.calls if self.calls else None,
                "credited_by_vendor": self.credited_by_vendor,
                "outcomes_agree": self.outcomes_agree,
                "by_outcome": dict(self.by_outcome),
            }
        )


def score(world: World, calls: list[dict[str, Any]], channels: dict[str, str]) -> DemoScore:
    """Compare touchpoint's calls (with their touchpoints' channels) with the truth."""
    truths = world.truth
    right = agree = by_vendor = 0
    outcomes: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    for call in calls:
        truth = truths.get(call["call_id"])
        if truth is None:
            continue
        outcomes[call["outcome"]] += 1
        agree += call["outcome"] == truth.outcome
        if channels.get(call["call_id"]) == truth.channel:
            right += 1
            by_vendor += call.get("attribution_basis") == "vendor"
        else:
            missed[truth.outcome] += 1
    return DemoScore(len(truths), right, agree, outcomes, by_vendor, missed)


def reset(directory: Path) -> None:
    """Start the demo from an empty directory of its own."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)


def run_demo(
    db: Path | None,
    config: Path | None,
    *,
    visitors: int,
    seed: int,
    serve: bool,
    quiet: bool,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> DemoScore:
    """Generate the world, play it into a real server, import, build, summarise, serve."""
    from touchpoint import console
    from touchpoint.build.build import build, build_steps
    from touchpoint.config import load_settings
    from touchpoint.demo.calls import task_rows, write_tasks
    from touchpoint.demo.crm import crm_records, write_crm
    from touchpoint.demo.intake import DemoServer, deliveries, send
    from touchpoint.importers import import_calls, import_crm
    from touchpoint.store import open_snapshot

    directory = db.parent if db else DEFAULT_DIRECTORY
    database = db or DEFAULT_DIRECTORY / "touchpoint.duckdb"
    if db is None:
        reset(directory)
    settings = demo_settings(load_settings(config, db=database))
    world = generate_world(visitors, seed)
    crm = crm_records(world, seed)  # also names each caller's lead (the Tasks' WhoId)
    tasks_file = write_tasks(task_rows(world, crm.lead_of, seed), directory / "input")
    crm_files = write_crm(crm.records, directory / "input")
    with DemoServer(settings) as server:
        rounds = deliveries(world, server.settings, seed)
        with console.delivery_progress(quiet, sum(len(r) for r in rounds)) as on_sent:
            played = send(server.url, rounds, on_sent)
    with console.working("importing the CRM's Tasks and records", quiet):
        imported = [
            import_calls(settings, [tasks_file], "salesforce-csv"),
            *(import_crm(settings, [path], kind) for kind, path in crm_files.items()),
        ]
    with console.stage_progress(quiet, build_steps()) as on_stage:
        result = build(settings, on_stage)
    with open_snapshot(settings) as con:
        calls = _rows(con, "SELECT * FROM calls")
        channels = dict(
            con.execute(
                "SELECT c.call_id, t.channel FROM calls c JOIN touchpoints t USING (touchpoint_id)"
            ).fetchall()
        )
    outcome = score(world, calls, channels)
    if not quiet:
        console.demo_summary(database, played, imported, result, calls, channels, outcome, serve)
    if serve:
        from touchpoint.serve import serve as serve_dashboard

        # Runs until interrupted; it prints the dashboard's address and its token.
        serve_dashboard(settings, host, port, say=console.note)
    return outcome


def _rows(con: Any, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
