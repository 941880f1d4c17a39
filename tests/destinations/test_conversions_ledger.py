"""The `conversions_sent` ledger on its own (DESIGN §13): whatever a platform answers, in any
order over any number of pushes, a conversion and click is taken at most once, a refusal is
final, and a transient error waits its backoff."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
from hypothesis import given
from hypothesis import strategies as st

from touchpoint.destinations.conversions_ledger import (
    MAX_ATTEMPTS,
    REJECTED,
    RETRY,
    SENT,
    Outcome,
    ledger_rows,
    not_accepted,
    record,
    settled,
)

PAIRS = [(f"call:C{n}", f"G{n}") for n in range(4)]
START = datetime(2026, 3, 1, tzinfo=UTC)
BACKOFF = timedelta(minutes=1)

answers = st.lists(st.lists(st.sampled_from([SENT, RETRY, REJECTED]), min_size=4, max_size=4),
                   max_size=12)  # fmt: skip


@given(answers, st.lists(st.integers(min_value=0, max_value=180), min_size=12, max_size=12))
def test_each_pair_is_taken_at_most_once_and_a_refusal_is_final(
    pushes: list[list[str]], gaps: list[int]
) -> None:
    con = duckdb.connect()
    now = START
    taken: dict[tuple[str, str], int] = {}
    refused: set[tuple[str, str]] = set()
    for said, gap in zip(pushes, gaps, strict=False):
        now += timedelta(seconds=gap)
        done = settled(con, "google-ads", now)
        todo = [p for p in PAIRS if p not in done]
        assert not (set(todo) & refused), "a refused conversion was sent again"
        assert not (set(todo) & set(taken)), "a conversion Google took was sent again"
        outcomes = [
            Outcome(c, k, status, "why") for (c, k), status in zip(todo, said, strict=False)
        ]
        record(con, "google-ads", outcomes, now, BACKOFF)
        for o in outcomes:
            if o.status == SENT:
                taken[(o.conversion_id, o.click_id)] = (
                    taken.get((o.conversion_id, o.click_id), 0) + 1
                )
            elif o.status == REJECTED:
                refused.add((o.conversion_id, o.click_id))
    assert all(n == 1 for n in taken.values())
    rows = {(r[0], r[1]): r[2] for r in ledger_rows(con, "google-ads")}
    assert {p for p, s in rows.items() if s == SENT} == set(taken)


def test_a_retry_waits_longer_each_time_then_gives_up() -> None:
    con = duckdb.connect()
    pair = Outcome("won:006A", "G1", RETRY, "HTTP 503")
    now = START
    waits = []
    for _attempt in range(MAX_ATTEMPTS - 1):
        record(con, "google-ads", [pair], now, BACKOFF)
        wait = timedelta(0)
        while ("won:006A", "G1") in settled(con, "google-ads", now + wait):
            wait += timedelta(seconds=30)
        waits.append(wait)
        now += wait
    assert waits == [BACKOFF * 2**n for n in range(MAX_ATTEMPTS - 1)]
    record(con, "google-ads", [pair], now, BACKOFF)
    [row] = ledger_rows(con, "google-ads")
    assert row[2] == REJECTED and row[3] == f"gave up after {MAX_ATTEMPTS} attempts: HTTP 503"
    assert not_accepted(con) == [("google-ads", 1, row[3])]


def test_a_store_that_never_pushed_has_nothing_to_say() -> None:
    con = duckdb.connect()
    assert settled(con, "google-ads", START) == set()
    assert not_accepted(con) == [] and not_accepted(None) == []
