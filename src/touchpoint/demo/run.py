"""`touchpoint demo` end to end: the world played into a real server, imported, built, scored.

The demo starts `touchpoint serve`'s app on its own store and plays the month
into it over HTTP: the snippet's page views and forms into `POST /collect`,
each call into its vendor's webhook signed as that vendor signs (`calls`,
`intake`). The CRM's records and the calls logged as Salesforce Tasks go
through `touchpoint import` (`crm`). Then it builds and compares what touchpoint
concluded with what really happened (`score`). What it shows while it works
comes from the caller (`Progress`); printing the summary (`summary`) and
serving the dashboard afterwards are the command line's.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from touchpoint.build.build import BuildResult, build, build_steps
from touchpoint.config import Settings, load_settings
from touchpoint.demo.calls import task_rows, write_tasks
from touchpoint.demo.crm import crm_records, write_crm
from touchpoint.demo.intake import DemoServer, Played, deliveries, send
from touchpoint.demo.numbers import PoolAnswers, dial_pool_numbers, request_numbers, with_pool
from touchpoint.demo.score import DemoScore, score
from touchpoint.demo.world import SITE_DOMAIN, generate_world
from touchpoint.importers import ImportResult, import_calls, import_crm
from touchpoint.store import open_snapshot

DEFAULT_DIRECTORY = Path(".touchpoint-demo")


class Progress(Protocol):
    """What `run_demo` shows while it works (the command line gives it the console's bars)."""

    def count(self, description: str, total: int) -> AbstractContextManager[Callable[[], None]]:
        """A bar across `total` steps; calling what it gives advances it by one."""
        ...

    def working(self, description: str) -> AbstractContextManager[None]:
        """A spinner for work without a known length."""
        ...

    def stages(self, steps: Sequence[str]) -> AbstractContextManager[Callable[[str], None]]:
        """A bar across the build's steps; what it gives is told each step as it starts."""
        ...


@dataclass(frozen=True)
class DemoRun:
    """What the demo did and what touchpoint concluded, with the score against the truth."""

    settings: Settings  # the demo's settings (its store, its webhook secrets): serve these
    database: Path
    played: Played
    imported: list[ImportResult]
    build: BuildResult
    calls: list[dict[str, Any]]  # the built `calls` table
    channels: dict[str, str]  # call id → the channel of its touchpoint
    score: DemoScore
    numbers: PoolAnswers = field(default_factory=PoolAnswers)  # what POST /numbers answered


def demo_settings(settings: Settings) -> Settings:
    """The user's settings, plus what the demo's world needs.

    The demo site's domain joins `[site] domains` (the snippet's requests come from
    its pages), each vendor without a webhook secret gets a fresh one, which the
    demo signs its calls with, and the demo's number pool is `[[numbers.pools]]`.
    """
    domains = settings.site.domains
    if not any(d == SITE_DOMAIN or SITE_DOMAIN.endswith("." + d) for d in domains):
        domains = [*domains, SITE_DOMAIN]
    hooks = {
        name: value or secrets.token_urlsafe(18)
        for name, value in settings.webhooks.model_dump().items()
        if name != "replay_window"
    }
    # The world's dates are fixed (world.START): `[retention]` by the wall clock would
    # empty it one day, so the demo keeps its own records forever.
    forever = dict.fromkeys(("events", "calls", "rejects"), "forever")
    return with_pool(settings).model_copy(
        update={
            "site": settings.site.model_copy(update={"domains": domains}),
            "webhooks": settings.webhooks.model_copy(update=hooks),
            "retention": settings.retention.model_copy(update=forever),
        }
    )


def reset(directory: Path) -> None:
    """Start the demo from an empty directory of its own."""
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)


def run_demo(
    db: Path | None, config: Path | None, *, visitors: int, seed: int, progress: Progress
) -> DemoRun:
    """Generate the world, play it into a real server, import, build and score it."""
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
        views = sum(e["type"] == "page_view" for e in world.events)
        with progress.count("asking POST /numbers for each page view's number", views) as step:
            answers = request_numbers(server.url, world, server.clock, step)
        dial_pool_numbers(world, answers)
        rounds = deliveries(world, server.settings, seed)
        total = sum(len(r) for r in rounds)
        with progress.count("sending the month to touchpoint serve over HTTP", total) as step:
            played = send(server.url, rounds, step)
    with progress.working("importing the CRM's Tasks and records"):
        imported = [
            import_calls(settings, [tasks_file], "salesforce-csv"),
            *(import_crm(settings, [path], kind) for kind, path in crm_files.items()),
        ]
    with progress.stages(build_steps()) as on_stage:
        result = build(settings, on_stage)
    calls, channels = _concluded(settings)
    outcome = score(world, calls, channels)
    return DemoRun(settings, database, played, imported, result, calls, channels, outcome, answers)


def _concluded(settings: Settings) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The built calls, and the channel of each call's touchpoint."""
    with open_snapshot(settings) as con:
        cursor = con.execute("SELECT * FROM calls")
        names = [d[0] for d in cursor.description]
        calls = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        channels = dict(
            con.execute(
                "SELECT c.call_id, t.channel FROM calls c JOIN touchpoints t USING (touchpoint_id)"
            ).fetchall()
        )
    return calls, channels
