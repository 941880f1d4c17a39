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
import heapq
import math
import random
import time
from bisect import bisect_left
from collections import defaultdict
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

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


@dataclass(frozen=True)
class Visit:
    visitor: str
    views: tuple[float, ...]  # seconds since the start of the month
    call_at: float | None  # None: no call


@dataclass
class Pool:
    """The assigner of DESIGN §15: keep while held, else the least recently released."""

    numbers: list[str]
    hold_s: float
    fallback: str = "fallback"
    # number -> (visitor, held until); free numbers in a heap by release time.
    held: dict[str, tuple[str, float]] = field(default_factory=dict)
    by_visitor: dict[str, str] = field(default_factory=dict)
    free: list[tuple[float, int, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.order = {n: i for i, n in enumerate(self.numbers)}
        self.free = [(-math.inf, i, n) for i, n in enumerate(self.numbers)]
        heapq.heapify(self.free)
        self.expiry: list[tuple[float, str, str]] = []

    def _release_expired(self, now: float) -> None:
        while self.expiry and self.expiry[0][0] < now:
            until, number, visitor = heapq.heappop(self.expiry)
            current = self.held.get(number)
            if current == (visitor, until):
                del self.held[number]
                del self.by_visitor[visitor]
                heapq.heappush(self.free, (until, self.order[number], number))

    def assign(self, visitor: str, now: float) -> tuple[str, float]:
        """The number `visitor` sees at `now` and until when it is held."""
        self._release_expired(now)
        until = now + self.hold_s
        number = self.by_visitor.get(visitor)
        if number is None:
            if not self.free:
                return self.fallback, until
            _released, _i, number = heapq.heappop(self.free)
            self.by_visitor[visitor] = number
        self.held[number] = (visitor, until)
        heapq.heappush(self.expiry, (until, number, visitor))
        return number, until


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
    number: str
    visitor: str
    start: float
    end: float


def simulate(found: list[Visit], size: int, hold_s: float) -> tuple[list[Hold], list[tuple]]:
    """Every page view through the assigner; the holds (merged per visitor and number) and
    the calls as (time, number called, true visitor)."""
    pool = Pool([f"+1512555{n:04d}" for n in range(size)], hold_s)
    views = sorted((at, i) for i, v in enumerate(found) for at in v.views)
    shown: dict[int, str] = {}
    open_holds: dict[tuple[str, str], list[float]] = {}
    holds: list[Hold] = []
    for at, i in views:
        visitor = found[i].visitor
        number, until = pool.assign(visitor, at)
        shown[i] = number
        if number == pool.fallback:
            continue
        key = (number, visitor)
        current = open_holds.get(key)
        if current and current[1] >= at:
            current[1] = until
        else:
            if current:
                holds.append(Hold(number, visitor, current[0], current[1]))
            open_holds[key] = [at, until]
    holds += [Hold(n, v, s, e) for (n, v), (s, e) in open_holds.items()]
    calls = [(v.call_at, shown[i], v.visitor) for i, v in enumerate(found) if v.call_at]
    return holds, calls


def match(holds: list[Hold], calls: list[tuple], hold_s: float) -> dict[str, int]:
    """DESIGN §15's rule: the visitors whose hold meets [t - hold, t]."""
    by_number: dict[str, list[Hold]] = defaultdict(list)
    for h in holds:
        by_number[h.number].append(h)
    starts = {}
    for number, found in by_number.items():
        found.sort(key=lambda h: h.start)
        starts[number] = [h.start for h in found]
    counts = dict.fromkeys(OUTCOMES, 0)
    longest = max((h.end - h.start for h in holds), default=0.0)
    for t, number, truth in calls:
        if number == "fallback":
            counts["fallback"] += 1
            continue
        found = by_number.get(number, [])
        first = bisect_left(starts.get(number, []), t - hold_s - longest)
        candidates = {h.visitor for h in found[first:] if h.start <= t and h.end >= t - hold_s}
        if len(candidates) > 1:
            counts["ambiguous"] += 1
        elif not candidates:
            counts["unmatched"] += 1
        else:
            counts["right" if candidates == {truth} else "wrong"] += 1
    return counts


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
        unlimited, _calls = simulate(found, 10_000, hold_s)
        size_needed = recommended(unlimited, hold_s)
        for size in sorted({*sizes, size_needed}):
            held, calls = simulate(found, size, hold_s)
            counts = match(held, calls, hold_s)
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
