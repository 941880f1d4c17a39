"""The records of the number-pool report (`pools`): how full each pool ran, hour by hour, what
its calls came to, and the size the site's own traffic asks for (DESIGN §15).

They live apart from `records` (which holds the report that carries them), as
`call_records` does; the terminal tables, the page and the API's schema read them alike.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PoolRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PoolHour(PoolRecord):
    """One hour (site time) of one pool: its numbers held at the busiest moment."""

    hour: str = Field(description="The hour's start, site time, YYYY-MM-DDTHH:00.")
    peak_held: int = Field(description="Most numbers held at one moment of the hour.")
    utilisation: float = Field(description="peak_held / size.")
    fallback_served: int = Field(description="Visitors shown the fallback (pool exhausted).")


class PoolFigures(PoolRecord):
    """One pool over the period: utilisation, its calls' matches, the size it needs."""

    pool: str
    size: int = Field(description="Tracking numbers in the pool ([[numbers.pools]] numbers).")
    hold_minutes: float = Field(description="How long a visitor keeps a number after a request.")
    peak_held: int = Field(description="Most numbers held at one moment of the period.")
    peak_utilisation: float | None = Field(description="peak_held / size; null for no numbers.")
    busy_hours: int = Field(description="Hours whose utilisation reached 75% or more.")
    exhausted_hours: int = Field(description="Hours in which a visitor got the fallback.")
    calls: int = Field(description="Calls to the pool's numbers or its fallback.")
    matched: int = Field(description="Calls one visitor's hold explains.")
    ambiguous: int = Field(description="Calls two or more visitors' holds explain.")
    fallback: int = Field(description="Calls to the fallback number.")
    unassigned: int = Field(description="Calls to a pool number nobody held then.")
    ambiguous_share: float | None
    fallback_share: float | None
    recommended_size: int = Field(
        description="Peak of visitors counted over [held_from, held_until + hold]: the size "
        "at which no number is given again within `hold` of its release."
    )
    busiest_hour_visitors: int = Field(
        description="Distinct visitors who asked for a number in the busiest hour (the "
        "vendors' rule of thumb sizes a pool by it)."
    )
    hours: list[PoolHour] = Field(description="Every hour with a number held, oldest first.")


class PoolReport(PoolRecord):
    """Every configured pool; empty when `[[numbers.pools]]` is not set."""

    timezone: str
    pools: list[PoolFigures]
