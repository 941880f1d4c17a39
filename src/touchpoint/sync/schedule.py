"""`serve` syncing and building on an interval, without cron: Salesforce every
`[salesforce] interval`, CallRail every `[callrail] interval`, CTM every `[ctm] interval`.

One worker thread per configured source runs a sync and then a build, waits
its interval, and goes again. Runs never overlap, not even of different
sources (one lock: the store has one writer); the first starts with the
server, and a failed run (the API unreachable, the store busy with someone's
`touchpoint build`) is one line and changes nothing for the next. Stopping
asks a running sync to stop between pages; a build that has started finishes.
After a run's build, each destination whose interval (`[salesforce.push]
interval`) has passed since its last push is pushed (`destinations`).
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from touchpoint.config import Settings, format_duration, parse_duration
from touchpoint.errors import TouchpointError
from touchpoint.store import first_line

Say = Callable[[str], None]
T = TypeVar("T")
# Syncs and builds of every schedule, one at a time.
_ONE_RUN_AT_A_TIME = threading.Lock()
# When each destination was last pushed (time.monotonic()), under that lock.
_PUSHED_AT: dict[str, float] = {}


@dataclass(frozen=True)
class ScheduledSource:
    """A source `serve` syncs on its section's `interval`: how to sync it and say what it did."""

    section: str  # the settings section with the `interval`
    title: str
    sync: Callable[[Settings, Callable[[], bool]], Any]  # (settings, should_stop) -> its result
    counts: Callable[[Any], str]  # " (Task 3, Lead 1)" or ""


def _salesforce(settings: Settings, should_stop: Callable[[], bool]) -> Any:
    from touchpoint.sync.salesforce import sync_salesforce

    return sync_salesforce(settings, should_stop=should_stop)


def _calls_of(vendor: str) -> Callable[[Settings, Callable[[], bool]], Any]:
    def sync(settings: Settings, should_stop: Callable[[], bool]) -> Any:
        from touchpoint.sync.feeds import CALL_FEEDS
        from touchpoint.sync.vendor_calls import sync_calls

        return sync_calls(settings, CALL_FEEDS[vendor], should_stop=should_stop)

    return sync


def _object_counts(result: Any) -> str:
    counts = ", ".join(f"{o.sobject} {o.new:,}" for o in result.objects if o.new)
    return f" ({counts})" if counts else ""


SALESFORCE = ScheduledSource("salesforce", "Salesforce", _salesforce, _object_counts)
SOURCES = (
    SALESFORCE,
    ScheduledSource("callrail", "CallRail", _calls_of("callrail"), lambda _result: ""),
    ScheduledSource("ctm", "CallTrackingMetrics", _calls_of("ctm"), lambda _result: ""),
)


def schedule_interval(settings: Settings, source: ScheduledSource = SALESFORCE) -> timedelta | None:
    """The source's `interval` as a duration, or None when its schedule is off."""
    text = getattr(settings, source.section).interval.strip()
    if not text:
        return None
    interval = parse_duration(text)
    if interval <= timedelta(0):
        raise TouchpointError(f"[{source.section}] interval must be longer than 0s")
    return interval


class SyncSchedule:
    """The worker thread: sync, build, wait, again, until `stop()`."""

    def __init__(
        self,
        settings: Settings,
        interval: timedelta,
        say: Say,
        source: ScheduledSource = SALESFORCE,
    ) -> None:
        self.settings = settings
        self.interval = interval
        self.say = say
        self.source = source
        self.runs = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"{source.section}-sync", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = 120.0) -> None:
        """Ask the worker to finish and wait for it (a second Ctrl-C stops waiting)."""
        self._stopping.set()
        if self._thread.is_alive():
            with contextlib.suppress(KeyboardInterrupt):
                self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            with _ONE_RUN_AT_A_TIME:
                line = None if self._stopping.is_set() else self.run_once()
            if line is not None:
                self.say(line)
                self.runs += 1
            self._stopping.wait(self.interval.total_seconds())

    def run_once(self) -> str:
        """One sync, then a build (also after a failed sync: the collector's events go on)."""
        from touchpoint.build.build import build

        title = self.source.title
        synced = _attempt(lambda: self.source.sync(self.settings, self._stopping.is_set))
        if self._stopping.is_set():
            return f"scheduled {title} sync stopped with the server"
        built = _attempt(lambda: build(self.settings))
        if isinstance(synced, str):
            sync_line = f"scheduled {title} sync failed: {synced}"
        else:
            sync_line = f"scheduled {title} sync: {synced.new:,} new records"
            sync_line += self.source.counts(synced)
            sync_line += f" ({synced.stopped})" if synced.stopped else ""
        if isinstance(built, str):
            build_line = f"build failed: {built}"
        else:
            build_line = f"build {built.build_id} published in {built.seconds:.1f}s"
        pushes = "".join(f"; {line}" for line in _due_pushes(self.settings))
        return f"{sync_line}; {build_line}{pushes}; next in {format_duration(self.interval)}"


def _due_pushes(settings: Settings) -> list[str]:
    """Push each destination whose interval has passed since its last push (one line each)."""
    from touchpoint.destinations import DESTINATIONS

    lines = []
    for destination in DESTINATIONS:
        text = destination.interval(settings).strip()
        last = _PUSHED_AT.get(destination.name)
        if not text or (
            last is not None and time.monotonic() - last < parse_duration(text).total_seconds()
        ):
            continue
        _PUSHED_AT[destination.name] = time.monotonic()
        pushed = _attempt(functools.partial(destination.push, settings))
        if isinstance(pushed, str):
            lines.append(f"{destination.title} push failed: {pushed}")
        else:
            lines.append(
                f"{destination.title} push: {pushed.total('upserted'):,} upserted, "
                f"{pushed.total('deleted'):,} deleted, {pushed.total('rejected'):,} rejected"
                + (f" ({pushed.stopped})" if pushed.stopped else "")
            )
    return lines


def _attempt(run: Callable[[], T]) -> T | str:
    """What `run()` returns, or the one line saying why it failed."""
    try:
        return run()
    except TouchpointError as exc:
        return str(exc)
    except Exception as exc:  # the schedule outlives any one run's surprise
        return f"unexpected {type(exc).__name__}: {first_line(exc)}"


@contextlib.contextmanager
def scheduled_sync(settings: Settings, say: Say) -> Iterator[list[SyncSchedule]]:
    """Run every source's schedule for as long as the block runs (those with an `interval`)."""
    schedules = []
    for source in SOURCES:
        interval = schedule_interval(settings, source)
        if interval is not None:
            schedules.append(SyncSchedule(settings, interval, say, source))
    for schedule in schedules:
        say(
            f"syncing {schedule.source.title} and building every {format_duration(schedule.interval)}"
        )
        schedule.start()
    try:
        yield schedules
    finally:
        for schedule in schedules:
            schedule.stop()
