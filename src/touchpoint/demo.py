"""`touchpoint demo`: a synthetic world with known truth, through the real code paths.

Visitors arrive from several channels, browse a few pages, sometimes submit a
form, and sometimes call. Some calls come long after the visit, some carry no
visitor id, some come from visitors whose browsing was never tracked. The demo
writes what a site and a CRM would produce (an events file, a Salesforce Task
export), imports and builds them exactly as a user would, and compares what
touchpoint concluded with what really happened.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from touchpoint.sources.salesforce_tasks import salesforce_id18

SITE = "https://www.northwind-plumbing.example"
PAGES = ("/", "/services/drains", "/services/water-heaters", "/pricing", "/about", "/reviews")
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
DEFAULT_DIRECTORY = Path(".touchpoint-demo")


@dataclass(frozen=True)
class Arrival:
    """One way of arriving, with the channel touchpoint should give it."""

    channel: str
    weight: float
    query: str = ""
    referrer: str | None = None
    click_param: str | None = None


ARRIVALS = (
    Arrival(
        "Paid Search",
        24,
        "utm_source=google&utm_medium=cpc&utm_campaign=emergency-plumber",
        "https://www.google.com/",
        "gclid",
    ),
    Arrival("Organic Search", 20, referrer="https://www.google.com/"),
    Arrival("Organic Search", 5, referrer="https://www.bing.com/"),
    Arrival(
        "Paid Social",
        9,
        "utm_source=facebook&utm_medium=paid_social&utm_campaign=spring",
        "https://l.facebook.com/",
        "fbclid",
    ),
    Arrival("Organic Social", 4, referrer="https://www.linkedin.com/"),
    Arrival("Email", 9, "utm_source=newsletter&utm_medium=email&utm_campaign=march-tips"),
    Arrival("Referral", 6, referrer="https://www.homeadvisor.com/rated.NorthwindPlumbing.html"),
    Arrival("Display", 4, "utm_source=adroll&utm_medium=display&utm_campaign=retarget"),
    Arrival("Direct", 19),
)


@dataclass
class TrueCall:
    call_id: str
    channel: str  # the channel of the visit that made the visitor call
    outcome: str  # what the merge rule must conclude


@dataclass
class World:
    events: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, str]] = field(default_factory=list)
    truth: dict[str, TrueCall] = field(default_factory=dict)


def _stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _salesforce_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _task_id(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return salesforce_id18("00T" + "".join(rng.choice(alphabet) for _ in range(12)))


def generate_world(visitors: int, seed: int) -> World:
    """A reproducible world of `visitors` people: their visits, forms and calls."""
    rng = random.Random(seed)
    world = World()
    weights = [arrival.weight for arrival in ARRIVALS]
    for number in range(visitors):
        visitor = f"{rng.getrandbits(128):032x}"
        moment = START + timedelta(days=rng.uniform(0, 27), minutes=rng.uniform(0, 600))
        for _visit in range(rng.choice((1, 1, 1, 2, 2, 3))):
            arrival = rng.choices(ARRIVALS, weights)[0]
            started = moment
            moment = _visit_events(world, rng, visitor, arrival, moment)
            if rng.random() < 0.22:
                _call_after(world, rng, visitor, arrival, started)
            moment += timedelta(days=rng.uniform(1, 6))
        if number % 40 == 0:  # a caller whose browsing was never tracked
            _untracked_call(world, rng, moment)
    return world


def _visit_events(
    world: World, rng: random.Random, visitor: str, arrival: Arrival, moment: datetime
) -> datetime:
    pages = rng.randint(1, 6)
    query = arrival.query
    if arrival.click_param:
        click = f"{arrival.click_param}={rng.getrandbits(64):x}"
        query = f"{query}&{click}" if query else click
    landing = rng.choice(PAGES[:4])
    url = f"{SITE}{landing}" + (f"?{query}" if query else "")
    referrer = arrival.referrer
    for index in range(pages):
        world.events.append(
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
        world.events.append(
            {
                "visitor_id": visitor,
                "type": "form_submit",
                "occurred_at": _stamp(moment),
                "url": f"{SITE}/contact",
                "referrer": referrer,
                "email": f"customer{rng.getrandbits(24)}@example.org",
            }
        )
    return moment


def _call_after(
    world: World, rng: random.Random, visitor: str, arrival: Arrival, started: datetime
) -> None:
    late = rng.random() < 0.2
    gap = timedelta(minutes=rng.uniform(35, 180) if late else rng.uniform(1, 29.5))
    with_id = rng.random() < 0.9
    outcome = "no_visitor_id" if not with_id else "outside_window" if late else "merged"
    _add_call(world, rng, started + gap, visitor if with_id else "", arrival.channel, outcome)


def _untracked_call(world: World, rng: random.Random, moment: datetime) -> None:
    visitor = f"{rng.getrandbits(128):032x}"
    _add_call(world, rng, moment, visitor, "(untracked)", "no_session")


def _add_call(
    world: World, rng: random.Random, moment: datetime, visitor: str, channel: str, outcome: str
) -> None:
    call_id = _task_id(rng)
    world.tasks.append(
        {
            "Id": call_id,
            "CreatedDate": _salesforce_time(moment + timedelta(minutes=rng.uniform(1, 5))),
            "bizible2__Bizible_Touchpoint_Date__c": _salesforce_time(moment),
            "Type": "" if rng.random() < 0.15 else "Inbound Call",
            "Subject": "Call from (555) 010-" + f"{rng.randint(0, 9999):04d}",
            "CallType": "Inbound",
            "CallDurationInSeconds": str(rng.randint(20, 900)),
            "bizible2__BizibleId__c": visitor,
            "IsDeleted": "false",
            "LastModifiedDate": _salesforce_time(moment + timedelta(minutes=10)),
        }
    )
    world.truth[call_id] = TrueCall(call_id, channel, outcome)


def write_world(world: World, directory: Path) -> tuple[Path, Path]:
    """The site's events as NDJSON and the CRM's call Tasks as a Salesforce CSV export."""
    directory.mkdir(parents=True, exist_ok=True)
    events = directory / "events.ndjson"
    with events.open("w") as handle:
        for event in sorted(world.events, key=lambda e: e["occurred_at"]):
            handle.write(json.dumps({k: v for k, v in event.items() if v is not None}) + "\n")
    tasks = directory / "tasks.csv"
    with tasks.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(world.tasks[0]))
        writer.writeheader()
        writer.writerows(world.tasks)
    return events, tasks


@dataclass(frozen=True)
class DemoScore:
    calls: int
    credited_right: int
    outcomes_agree: int
    by_outcome: Counter[str]

    def as_json(self) -> str:
        """The score for scripts (`touchpoint demo --json`)."""
        return json.dumps(
            {
                "calls": self.calls,
                "credited_right": self.credited_right,
                "credited_right_share": self.credited_right / self.calls if self.calls else None,
                "outcomes_agree": self.outcomes_agree,
                "by_outcome": dict(self.by_outcome),
            }
        )


def score(world: World, calls: list[dict[str, Any]], channels: dict[str, str]) -> DemoScore:
    """Compare touchpoint's calls (with their touchpoints' channels) with the truth."""
    right = agree = 0
    outcomes: Counter[str] = Counter()
    for call in calls:
        truth = world.truth.get(call["call_id"])
        if truth is None:
            continue
        outcomes[call["outcome"]] += 1
        agree += call["outcome"] == truth.outcome
        right += channels.get(call["call_id"]) == truth.channel
    return DemoScore(len(world.truth), right, agree, outcomes)


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
    """Generate, import, build and summarise the demo world; then serve its dashboard."""
    from touchpoint import console
    from touchpoint.build import build, build_steps
    from touchpoint.config import load_settings
    from touchpoint.demo_crm import crm_records, write_crm
    from touchpoint.importers import import_calls, import_crm, import_events
    from touchpoint.store import open_snapshot

    directory = db.parent if db else DEFAULT_DIRECTORY
    database = db or DEFAULT_DIRECTORY / "touchpoint.duckdb"
    if db is None:
        reset(directory)
    settings = load_settings(config, db=database)
    world = generate_world(visitors, seed)
    crm = crm_records(world.events, world.tasks, seed)  # also names each call's lead (WhoId)
    events_file, tasks_file = write_world(world, directory / "input")
    crm_files = write_crm(crm, directory / "input")
    with console.working("importing the demo's events, calls and CRM records", quiet):
        imported = [
            import_events(settings, [events_file]),
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
        console.demo_summary(database, imported, result, calls, channels, outcome, serve)
    if serve:
        from touchpoint.collect.server import serve as serve_dashboard

        # Runs until interrupted; it prints the dashboard's address and its token.
        serve_dashboard(settings, host, port, say=console.note)
    return outcome


def _rows(con: Any, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
