"""The `conversions_sent` ledger (DESIGN §13): each conversion and click sent exactly once.

One row per destination, conversion and click: `sent` once the platform took it;
`retry` after a transient error (429, 5xx, a dropped connection), sent again by
a later push once `retry_after` has passed (the wait doubles from `[destinations]
retry_backoff` with each attempt, and after `MAX_ATTEMPTS` the row is
`rejected`); `rejected` with the platform's reason after a permanent error,
never sent again. `touchpoint erase` sweeps this table with the rest
(privacy/sweep.py names its `conversion_id` and `click_id` columns).

The table lives in the store and is made by the first push, so a store that
never pushed has none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb

TABLE = "conversions_sent"
SENT = "sent"
RETRY = "retry"
REJECTED = "rejected"
MAX_ATTEMPTS = 8
LONGEST_WAIT = timedelta(days=1)

_DDL = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    destination VARCHAR NOT NULL,
    conversion_id VARCHAR NOT NULL,
    click_id VARCHAR NOT NULL,
    sent_at TIMESTAMP,
    status VARCHAR NOT NULL,
    error VARCHAR,
    attempts INTEGER NOT NULL DEFAULT 0,
    retry_after TIMESTAMP,
    PRIMARY KEY (destination, conversion_id, click_id)
)
"""


@dataclass(frozen=True)
class Outcome:
    """What the platform said about one conversion and click."""

    conversion_id: str
    click_id: str
    status: str  # SENT, RETRY or REJECTED
    error: str | None = None


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(_DDL)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def has_ledger(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ?",
        [TABLE],
    ).fetchone()
    return bool(row and row[0])


def settled(
    con: duckdb.DuckDBPyConnection, destination: str, now: datetime
) -> set[tuple[str, str]]:
    """(conversion id, click id) pairs not to send now: sent, rejected, or waiting to retry."""
    if not has_ledger(con):
        return set()
    rows = con.execute(
        f"SELECT conversion_id, click_id FROM {TABLE} WHERE destination = ? "
        f"AND (status <> '{RETRY}' OR retry_after > ?)",
        [destination, _naive(now)],
    ).fetchall()
    return {(str(a), str(b)) for a, b in rows}


def record(
    con: duckdb.DuckDBPyConnection,
    destination: str,
    outcomes: Iterable[Outcome],
    now: datetime,
    backoff: timedelta,
) -> None:
    """Write what the platform said: a sent or rejected row is final; a retry waits longer
    each time, until it gives up."""
    ensure_ledger(con)
    at = _naive(now)
    for o in outcomes:
        row = con.execute(
            f"SELECT attempts FROM {TABLE} WHERE destination = ? AND conversion_id = ? "
            "AND click_id = ?",
            [destination, o.conversion_id, o.click_id],
        ).fetchone()
        attempts = (int(row[0]) if row else 0) + 1
        status, error, retry_after = o.status, o.error, None
        if status == RETRY:
            if attempts >= MAX_ATTEMPTS:
                status, error = REJECTED, f"gave up after {attempts} attempts: {o.error}"
            else:
                retry_after = at + min(backoff * (2 ** (attempts - 1)), LONGEST_WAIT)
        con.execute(
            f"INSERT OR REPLACE INTO {TABLE} (destination, conversion_id, click_id, sent_at, "
            "status, error, attempts, retry_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [destination, o.conversion_id, o.click_id, at, status, error, attempts, retry_after],
        )


def not_accepted(con: duckdb.DuckDBPyConnection | None) -> list[tuple[str, int, str]]:
    """(destination, how many, reason) of every rejected conversion, most frequent first."""
    if con is None or not has_ledger(con):
        return []
    rows = con.execute(
        f"SELECT destination, count(*), coalesce(error, 'no reason given') FROM {TABLE} "
        f"WHERE status = '{REJECTED}' GROUP BY ALL ORDER BY 2 DESC, 1, 3"
    ).fetchall()
    return [(str(d), int(n), str(r)) for d, n, r in rows]


def ledger_rows(con: duckdb.DuckDBPyConnection, destination: str) -> list[tuple[str, ...]]:
    """Every row of a destination (for tests and --json): conversion, click, status, error."""
    if not has_ledger(con):
        return []
    rows = con.execute(
        f"SELECT conversion_id, click_id, status, coalesce(error, ''), attempts FROM {TABLE} "
        "WHERE destination = ? ORDER BY 1, 2",
        [destination],
    ).fetchall()
    return [tuple(str(v) for v in row) for row in rows]
