"""Who holds which pool number, and who gets one next (DESIGN §15): pure, clock passed in.

Per pool, a visitor keeps its number while it is held (from the request to
`held_until` inclusive, `held_until = now + hold` on every request, so a
request renews it). A visitor without one gets the least recently released
free number (numbers never held first, then in the order of the settings);
with every number held, the pool's fallback, or `replace` when it has none.
No number is ever held by two visitors at once: a number is free only after
its `held_until` has passed.

The state is rebuilt from the assignment rows the collector wrote to the
intake log (`replay`), in any order: per number the row that holds it longest
is its last hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Hold:
    visitor_id: str
    until_us: int  # held up to and including this microsecond


@dataclass(frozen=True, slots=True)
class Assigned:
    """What one request got from one pool."""

    pool: str
    number: str  # E.164: a pool number, the fallback, or `replace`
    fallback: bool  # the pool was exhausted and `number` is its fallback
    logged: bool  # a pool or fallback number: an assignment row is written
    held_until_us: int
    # What the number and the visitor held before, so that `undo` can restore it.
    previous: Hold | None = None
    visitors_previous: tuple[str, int] | None = None


class PoolState:
    """One pool's holds."""

    def __init__(self, name: str, numbers: Iterable[str], replace: str, fallback: str = ""):
        self.name = name
        self.numbers = tuple(numbers)
        self.order = {number: i for i, number in enumerate(self.numbers)}
        self.replace = replace
        self.fallback = fallback
        self.holds: dict[str, Hold] = {}  # number -> its last hold (maybe over)
        # visitor -> the number and end of its last hold
        self.numbers_of: dict[str, tuple[str, int]] = {}

    def held_number(self, visitor_id: str, now_us: int) -> str | None:
        """The number the visitor holds at `now_us`, or None."""
        last = self.numbers_of.get(visitor_id)
        if last is None:
            return None
        number = last[0]
        hold = self.holds.get(number)
        if hold is None or hold.visitor_id != visitor_id or hold.until_us < now_us:
            return None
        return number

    def holder(self, number: str, now_us: int) -> str | None:
        """Who holds `number` at `now_us`, or None."""
        hold = self.holds.get(number)
        return hold.visitor_id if hold is not None and hold.until_us >= now_us else None

    def assign(self, visitor_id: str, now_us: int, hold_us: int) -> Assigned:
        """The visitor's number for a request at `now_us`, held until `now_us + hold_us`."""
        until = now_us + hold_us
        number = self.held_number(visitor_id, now_us)
        if number is None:
            number = self._least_recently_released(now_us)
        if number is None:
            if self.fallback:
                return Assigned(self.name, self.fallback, True, True, until)
            return Assigned(self.name, self.replace, False, False, until)
        previous = self.holds.get(number)
        visitors_previous = self.numbers_of.get(visitor_id)
        self.holds[number] = Hold(visitor_id, until)
        self.numbers_of[visitor_id] = (number, until)
        return Assigned(self.name, number, False, True, until, previous, visitors_previous)

    def undo(self, assigned: Assigned) -> None:
        """Forget an assignment that could not be logged: the number's earlier hold is back."""
        if assigned.fallback or not assigned.logged:
            return
        hold = self.holds.get(assigned.number)
        if hold is None or hold.until_us != assigned.held_until_us:
            return  # changed since: nothing of this assignment is left to undo
        if assigned.previous is None:
            del self.holds[assigned.number]
        else:
            self.holds[assigned.number] = assigned.previous
        visitor = hold.visitor_id
        if assigned.visitors_previous is None:
            self.numbers_of.pop(visitor, None)
        else:
            self.numbers_of[visitor] = assigned.visitors_previous

    def replay(self, number: str, visitor_id: str, until_us: int) -> None:
        """Take in one assignment row from the log (rows may come in any order)."""
        if number not in self.order:
            return  # the fallback, or a number no longer in the pool
        hold = self.holds.get(number)
        if hold is None or until_us > hold.until_us:
            self.holds[number] = Hold(visitor_id, until_us)
        kept = self.numbers_of.get(visitor_id)
        if kept is None or until_us >= kept[1]:
            self.numbers_of[visitor_id] = (number, until_us)

    def _least_recently_released(self, now_us: int) -> str | None:
        best: tuple[int, int] | None = None
        chosen = None
        for number in self.numbers:
            hold = self.holds.get(number)
            if hold is not None and hold.until_us >= now_us:
                continue  # held
            key = (hold.until_us if hold is not None else -1, self.order[number])
            if best is None or key < best:
                best, chosen = key, number
        return chosen

    def held_count(self, now_us: int) -> int:
        """How many of the pool's numbers are held at `now_us`."""
        return sum(1 for hold in self.holds.values() if hold.until_us >= now_us)


class Assigner:
    """Every pool's state, by pool name."""

    def __init__(self, pools: Iterable[PoolState]):
        self.pools = {pool.name: pool for pool in pools}

    def replay(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Take in assignment rows as the log holds them; how many were usable."""
        used = 0
        for row in rows:
            pool = self.pools.get(str(row.get("pool")))
            number, visitor, until = (
                row.get("number"),
                row.get("visitor_id"),
                row.get("held_until_us"),
            )
            if pool is None or row.get("fallback") or not isinstance(until, int):
                continue
            if isinstance(number, str) and isinstance(visitor, str):
                pool.replay(number, visitor, until)
                used += 1
        return used
