"""`serve` syncing Salesforce and building every `[salesforce] interval`, without cron.

One worker thread runs a sync and then a build, waits the interval, and goes
again: runs never overlap, the first starts with the server, and a failed run
(Salesforce unreachable, the store busy with someone's `touchpoint build`) is
one line and changes nothing for the next. Stopping asks a running sync to
stop between pages; a build that has started finishes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import TypeVar

from touchpoint.config import Settings, format_duration, parse_duration
from touchpoint.errors import TouchpointError
from touchpoint.store import first_line

Say = Callable[[str], None]
T = TypeVar("T")


def schedule_interval(settings: Settings) -> timedelta | None:
    """`[salesforce] interval` as a duration, or None when the schedule is off."""
    text = settings.salesforce.interval.strip()
    if not text:
        return None
    interval = parse_duration(text)
    if interval <= timedelta(0):
        raise TouchpointError("[salesforce] interval must be longer than 0s")
    return interval


class SyncSchedule:
    """The worker thread: sync, build, wait, again, until `stop()`."""

    def __init__(self, settings: Settings, interval: timedelta, say: Say) -> None:
        self.settings = settings
        self.interval = interval
        self.say = say
        self.runs = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="salesforce-sync", daemon=True)

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
            self.say(self.run_once())
            self.runs += 1
            self._stopping.wait(self.interval.total_seconds())

    def run_once(self) -> str:
        """One sync, then a build (also after a failed sync: the collector's events go on)."""
        from touchpoint.build.build import build
        from touchpoint.sync.salesforce import sync_salesforce

        synced = _attempt(lambda: sync_salesforce(self.settings, should_stop=self._stopping.is_set))
        if self._stopping.is_set():
            return "scheduled Salesforce sync stopped with the server"
        built = _attempt(lambda: build(self.settings))
        if isinstance(synced, str):
            sync_line = f"scheduled Salesforce sync failed: {synced}"
        else:
            counts = ", ".join(f"{o.sobject} {o.new:,}" for o in synced.objects if o.new)
            sync_line = f"scheduled Salesforce sync: {synced.new:,} new records"
            sync_line += f" ({counts})" if counts else ""
            sync_line += f" ({synced.stopped})" if synced.stopped else ""
        if isinstance(built, str):
            build_line = f"build failed: {built}"
        else:
            build_line = f"build {built.build_id} published in {built.seconds:.1f}s"
        return f"{sync_line}; {build_line}; next in {format_duration(self.interval)}"


def _attempt(run: Callable[[], T]) -> T | str:
    """What `run()` returns, or the one line saying why it failed."""
    try:
        return run()
    except TouchpointError as exc:
        return str(exc)
    except Exception as exc:  # the schedule outlives any one run's surprise
        return f"unexpected {type(exc).__name__}: {first_line(exc)}"


@contextlib.contextmanager
def scheduled_sync(settings: Settings, say: Say) -> Iterator[SyncSchedule | None]:
    """Run the schedule for as long as the block runs (nothing when `interval` is empty)."""
    interval = schedule_interval(settings)
    if interval is None:
        yield None
        return
    schedule = SyncSchedule(settings, interval, say)
    say(f"syncing Salesforce and building every {format_duration(interval)}")
    schedule.start()
    try:
        yield schedule
    finally:
        schedule.stop()
