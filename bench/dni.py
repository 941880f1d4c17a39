"""Sizing a number pool: a simulated month of a site's visitors and calls through DNI.

Visitors arrive as a Poisson process whose rate follows a day of the week and an
hour of the day (`--visitors-per-hour` is the rate of the busiest hour); each
browses a few pages, and every page view asks for a number as the snippet's
`POST /numbers` does. Some visitors call, a few minutes after their last page view
(log-normal, most within ten), some only the next day, from their phone's list of
recent calls: they dial the number they were shown. Visitors who come back on a
later day keep their visitor id.

The assignments go through the collector's assigner and the calls through the
build's matching rule (DESIGN §15): one visitor whose hold meets [t - hold, t] is a
match (right or wrong against the truth), more than one is ambiguous, a call to the
fallback number has no visitor. The table shows, for each pool size and hold, the
share of calls matched to the right visitor, ambiguous, on the fallback, wrong, or
unmatched; beside it the size `touchpoint report` recommends (the peak of visitors
holding a number over [held_from, held_until + hold]) and what the vendors' rules
of thumb give for the same traffic (docs/dni.md quotes them).

    .venv/bin/python bench/dni.py [--days 30] [--visitors-per-hour 40] [--seed 7]
"""

from __future__ import annotations

import argparse
import functools
import math
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import ibis
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from touchpoint.collect.numbers_state import PoolState
from touchpoint.schema import RAW_NUMBER_ASSIGNMENTS
from touchpoint.stages.numbers import (
    AMBIGUOUS,
    MATCHED,
    matched_calls,
    number_candidates,
    number_holds,
    pools_table,
)
from touchpoint.stages.numbers import FALLBACK as FALLBACK_MATCH
from touchpoint.stages.params import BuildParams

# Share of the busiest hour's rate, by hour of the day (site time) and by weekday.
HOURLY = (
    0.05, 0.03, 0.02, 0.02, 0.03, 0.06, 0.15, 0.35, 0.65, 0.90, 1.00, 0.95,
    0.85, 0.90, 0.95, 0.90, 0.80, 0.65, 0.50, 0.40, 0.35, 0.28, 0.18, 0.10,
)  # fmt: skip
WEEKDAY = (1.0, 1.0, 0.95, 0.95, 0.85, 0.45, 0.35)  # Monday first
PAGES_MEAN = 3.2  # page views per visit (geometric)
PAGE_GAP_S = 55.0  # mean seconds between page views (exponential)
CALL_SHARE = 0.04  # visits that end in a call
NEXT_DAY_SHARE = 0.12  # of those calls: made the next day, to the number shown
CALL_DELAY_MEDIAN_S = 150.0  # a call's delay after the last page view: log-normal
CALL_DELAY_SIGMA = 1.1
RETURNING_SHARE = 0.2  # visits by a visitor of an earlier day
SIZES = (4, 8, 12, 16, 24, 32, 48)
HOLDS = ("15m", "30m", "60m")
OUTCOMES = ("right", "ambiguous", "fallback", "wrong", "unmatched")
REPLACE, FALLBACK = "+15125550100", "+15125550199"
START_US = 1_772_409_600_000_000  # 2026-03-02, a Monday


@dataclass(frozen=True)
class Visit:
    visitor: str
    views: tuple[float, ...]  # seconds since the start of the month
    call_at: float | None  # None: no call


def visits(days: int, peak_per_hour: float, rng: random.Random) -> list[Visit]:
    """A month of visits: arrival times by thinning a Poisson process at the peak rate."""
    found: list[Visit] = []
    seen: list[str] = []
    horizon = days * 86_400.0
    t = 0.0
    while True:
        t += rng.expovariate(peak_per_hour / 3600.0)
        if t >= horizon:
            return found
        day, second = divmod(t, 86_400.0)
        if rng.random() > HOURLY[int(second // 3600)] * WEEKDAY[int(day) % 7]:
            continue
        if seen and rng.random() < RETURNING_SHARE and day >= 1:
            visitor = seen[rng.randrange(len(seen))]
        else:
            visitor = f"v{len(seen):07d}"
            seen.append(visitor)
        views = [t]
        while rng.random() > 1 / PAGES_MEAN:
            views.append(views[-1] + rng.expovariate(1 / PAGE_GAP_S))
        call_at = None
        if rng.random() < CALL_SHARE:
            if rng.random() < NEXT_DAY_SHARE:
                call_at = views[-1] + rng.uniform(16, 30) * 3600
            else:
                delay = rng.lognormvariate(math.log(CALL_DELAY_MEDIAN_S), CALL_DELAY_SIGMA)
                call_at = views[-1] + delay
        found.append(Visit(visitor, tuple(views), call_at))


@dataclass(frozen=True)
class Hold:
    visitor: str
    start: float
    end: float


def simulate(found: list[Visit], size: int, hold_s: float) -> tuple[pa.Table, pa.Table]:
    """Every page view through the collector's assigner, as `POST /numbers` asks it; the
    `raw_number_assignments` rows it would log, and the calls to the numbers shown."""
    numbers = [f"+1512555{n:04d}" for n in range(size)]
    pool = PoolState("main", numbers, REPLACE, FALLBACK)
    hold_us = int(hold_s * 1_000_000)
    views = sorted((at, i) for i, v in enumerate(found) for at in v.views)
    shown: dict[int, str] = {}
    logged: dict[str, list] = defaultdict(list)
    for at, i in views:
        now_us = START_US + int(at * 1_000_000)
        visitor = found[i].visitor
        got = pool.assign(visitor, now_us, hold_us)
        shown[i] = got.number
        if got.logged:
            for name, value in (
                ("assignment_id", f"{len(logged['pool'])}"),
                ("pool", "main"),
                ("number", got.number),
                ("visitor_id", visitor),
                ("assigned_at", _moment(now_us)),
                ("assigned_us", now_us),
                ("held_until", _moment(got.held_until_us)),
                ("held_until_us", got.held_until_us),
                ("fallback", got.fallback),
                ("channel", None),
                ("received_at", _moment(now_us)),
                ("origin", "bench"),
            ):
                logged[name].append(value)
    assignments = pa.Table.from_pydict(logged, schema=RAW_NUMBER_ASSIGNMENTS)
    made = [(i, v) for i, v in enumerate(found) if v.call_at is not None]
    calls = pa.table(
        {
            "source_system": ["twilio"] * len(made),
            "call_id": [f"CA{i:032x}" for i, _v in made],
            "visitor_id": pa.array([None] * len(made), pa.string()),
            "called_us": pa.array(
                [START_US + int((v.call_at or 0) * 1_000_000) for _i, v in made], pa.int64()
            ),
            "tracking_number": [shown[i] for i, _v in made],
            "caller": [v.visitor for _i, v in made],
        }
    )
    return assignments, calls


@functools.cache
def duckdb_backend() -> Any:
    """One in-memory DuckDB backend for every run."""
    return ibis.duckdb.connect()


def _moment(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC).replace(tzinfo=None)


def match(assignments: pa.Table, calls: pa.Table, size: int, hold_s: float) -> dict[str, int]:
    """The build's stages (`number_holds`, `number_candidates`, `matched_calls`) on DuckDB,
    each call's match held against the visitor who really called."""
    hold_us = int(hold_s * 1_000_000)
    numbers = [f"+1512555{n:04d}" for n in range(size)]
    params = BuildParams(
        session_timeout_us=hold_us,
        merge_window_us=hold_us,
        merge_anchor="session_start",
        internal_domains=(),
        number_pools=(
            *(("main", number, False, hold_us) for number in numbers),
            ("main", FALLBACK, True, hold_us),
        ),
    )
    call_table = ibis.memtable(calls)
    pools = pools_table(params)
    holds = number_holds(ibis.memtable(assignments), params)
    candidates = number_candidates(call_table, holds, pools, params)
    matched = matched_calls(call_table, candidates, pools, params)
    counts = dict.fromkeys(OUTCOMES, 0)
    for row in duckdb_backend().to_pyarrow(matched).to_pylist():
        outcome = {MATCHED: "right", AMBIGUOUS: "ambiguous", FALLBACK_MATCH: "fallback"}.get(
            row["number_match"], "unmatched"
        )
        if outcome == "right" and row["visitor_id"] != row["caller"]:
            outcome = "wrong"
        counts[outcome] += 1
    return counts


def spans(found: list[Visit], hold_s: float) -> list[Hold]:
    """Each visitor's unbroken holds with numbers to spare: a request while held renews."""
    requests = sorted((at, v.visitor) for v in found for at in v.views)
    own: dict[str, list[list[float]]] = defaultdict(list)
    for at, visitor in requests:
        held = own[visitor]
        if held and at <= held[-1][1]:
            held[-1][1] = at + hold_s
        else:
            held.append([at, at + hold_s])
    return [Hold(v, a, b) for v, held in own.items() for a, b in held]


def recommended(holds: list[Hold], hold_s: float) -> int:
    """The peak of visitors holding a number over [held_from, held_until + hold]."""
    edges = sorted([(h.start, 1) for h in holds] + [(h.end + hold_s, -1) for h in holds])
    peak = current = 0
    for _at, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def vendor_rules(found: list[Visit]) -> dict[str, float]:
    """What the vendors' rules of thumb give for this traffic (docs/dni.md quotes them)."""
    per_hour: dict[int, set[str]] = defaultdict(set)
    lengths = []
    for v in found:
        per_hour[int(v.views[0] // 3600)].add(v.visitor)
        lengths.append(v.views[-1] - v.views[0])
    peak = max((len(s) for s in per_hour.values()), default=0)
    session_min = max(sum(lengths) / len(lengths) / 60, 1.0) if lengths else 1.0
    return {"peak_hour": peak, "session_min": session_min, "nimbata": peak / (60 / session_min)}


def parse_hold(text: str) -> float:
    unit = {"s": 1, "m": 60, "h": 3600}[text[-1]]
    return float(text[:-1]) * unit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--visitors-per-hour", type=float, default=40.0, help="busiest hour")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--holds", default=",".join(HOLDS))
    args = parser.parse_args()
    started = time.perf_counter()
    rng = random.Random(args.seed)
    found = visits(args.days, args.visitors_per_hour, rng)
    calls_made = sum(v.call_at is not None for v in found)
    console = Console()
    sizes = [int(s) for s in args.sizes.split(",")]
    holds = [h.strip() for h in args.holds.split(",")]
    table = Table(
        title=f"{len(found):,} visits, {calls_made:,} calls in {args.days} days "
        f"(busiest hour {args.visitors_per_hour:g} visits, seed {args.seed})",
        title_justify="left",
    )
    for column in ("hold", "pool", *OUTCOMES, ""):
        table.add_column(column, justify="left" if column == "hold" else "right")
    for hold in holds:
        hold_s = parse_hold(hold)
        size_needed = recommended(spans(found, hold_s), hold_s)
        for size in sorted({*sizes, size_needed}):
            assignments, calls = simulate(found, size, hold_s)
            counts = match(assignments, calls, size, hold_s)
            total = sum(counts.values()) or 1
            table.add_row(
                hold,
                f"{size}",
                *(f"{counts[o] / total:.1%}" for o in OUTCOMES),
                "◀" if size == size_needed else "",
                style="bold" if size == size_needed else None,
            )
        table.add_section()
    table.caption = "◀ the size `touchpoint report` recommends for this traffic and hold."
    table.caption_justify = "left"
    console.print(table)
    rules = vendor_rules(found)
    console.print(
        f"Busiest hour: {rules['peak_hour']:.0f} unique visitors; mean visit "
        f"{rules['session_min']:.1f} min. Nimbata's rule (peak hour's visitors / (60 / visit "
        f"minutes)): {math.ceil(rules['nimbata'])} numbers; matelso's utilisation (peak hour's "
        f"visitors / pool size) is 100% at {rules['peak_hour']:.0f} numbers, CallDynamics "
        f"advises adding numbers above 75%: {math.ceil(rules['peak_hour'] / 0.75)}."
    )
    console.print(f"{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
