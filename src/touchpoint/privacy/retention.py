"""Retention (DESIGN §16): raw records older than `[retention]` are deleted at build.

Events go by `occurred_at`, calls by their call time (`called_at`), rejects by
when they were rejected; the cut is measured against the wall clock when the
build runs. The rows are really deleted, so no stage, snapshot or export sees
them again; their bytes stay in DuckDB's free blocks until the file is
rewritten (`touchpoint erase` rewrites it; a build does not, which would cost
a copy of the store every time).
"""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime, timedelta

from touchpoint.config import Settings
from touchpoint.config.durations import retention_months_or_duration
from touchpoint.stages.info import StageInfo  # not .pipeline: no Ibis on a no-op build
from touchpoint.store import Store

# Which raw table each setting governs, and the time it is measured on.
GOVERNED = (("events", "raw_events", "occurred_at"), ("calls", "raw_calls", "called_at"))
REJECTS = ("rejects", "rejects", "rejected_at")


def months_before(now: datetime, months: int) -> datetime:
    """The same moment `months` calendar months earlier (the day clamped to the month's end).

    >>> months_before(datetime(2026, 3, 31, 12), 25)
    datetime.datetime(2024, 2, 29, 12, 0)
    """
    index = now.year * 12 + now.month - 1 - months
    year, month = divmod(index, 12)
    day = min(now.day, calendar.monthrange(year, month + 1)[1])
    return now.replace(year=year, month=month + 1, day=day)


def cutoff(period: str, now: datetime) -> datetime | None:
    """The oldest time kept under a retention period, or None when it keeps everything."""
    kept = retention_months_or_duration(period)
    if kept is None:
        return None
    if isinstance(kept, timedelta):
        return now - kept
    return months_before(now, kept)


def apply_retention(store: Store, settings: Settings) -> tuple[StageInfo, dict[str, int]]:
    """Delete the raw rows past retention; the build's `retention` line and rows per table.

    Rows in are the rows the governed tables held, rows out those kept.
    """
    started = time.perf_counter()
    now = datetime.now(UTC).replace(tzinfo=None)
    dropped: dict[str, int] = {}
    held = 0
    for setting, table, column in (*GOVERNED, REJECTS):
        before = store.count(table)
        held += before
        oldest = cutoff(getattr(settings.retention, setting), now)
        if oldest is None or before == 0:
            continue
        # A literal: any parameter makes DuckDB import pandas (0.5 s of a build with nothing new).
        store.con.execute(f"DELETE FROM {table} WHERE {column} < TIMESTAMP '{oldest.isoformat()}'")
        gone = before - store.count(table)
        if gone:
            dropped[table] = gone
    kept = held - sum(dropped.values())
    return StageInfo("retention", held, kept, time.perf_counter() - started), dropped
