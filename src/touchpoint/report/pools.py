"""How the number pools ran (DESIGN §15): per pool and hour, the numbers held at the busiest
moment against the pool's size; the share of its calls that were ambiguous or rang the
fallback; and the size the site's own traffic asks for.

Read from the build's `number_holds` (one row per unbroken hold of a number by a
visitor) and the `calls` columns `number_pool` and `number_match`. Hours are the site's
(`[site] timezone`). A number counts as held over [held_from, held_until]; at an instant
where one hold ends and another starts, the ending one is counted out first.

The recommended size counts every visitor who asked for a number (fallback ones too,
they needed one) over [held_from, held_until + hold], and takes the peak: with that many
numbers, the least recently released number has been free for at least `hold` when it
is given again, so a caller who dials up to `hold` after their hold ended still finds
only their own hold on it, and the call is not ambiguous. The vendors size a pool by the
visitors of their busiest hour (docs/dni.md quotes them): that figure is given beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

import duckdb

from touchpoint.config import Settings
from touchpoint.report.pool_records import PoolFigures, PoolHour, PoolReport
from touchpoint.report.queries import Scope, has_columns, local_sql, rows

BUSY = 0.75  # CallDynamics: above 75% utilisation regularly, add numbers (docs/dni.md)


@dataclass(frozen=True)
class PoolShape:
    """What the report needs of a configured pool: its name, size and hold."""

    name: str
    size: int
    hold: timedelta


def pool_shapes(settings: Settings) -> tuple[PoolShape, ...]:
    """The configured pools, each with its hold (`[sessions] timeout` when not set)."""
    timeout = settings.sessions.timeout
    return tuple(
        PoolShape(pool.name, len(pool.numbers), pool.hold_or(timeout))
        for pool in settings.numbers.pools
    )


def _hours(con: duckdb.DuckDBPyConnection, pool: str, scope: Scope) -> list[PoolHour]:
    """Every hour of the period in which the pool held a number or served the fallback."""
    local = local_sql
    found = rows(
        con,
        f"""
        WITH h AS (
            SELECT {local("held_from")} AS local_from, {local("held_until")} AS local_until,
                fallback, visitor_id
            FROM number_holds WHERE pool = $pool AND {scope.where("held_from")}
        ), held AS (SELECT * FROM h WHERE NOT fallback),
        edges AS (
            SELECT local_from AS moment, 1 AS step FROM held
            UNION ALL SELECT local_until, -1 FROM held
        ), levels AS (
            SELECT moment, step, sum(step) OVER (ORDER BY moment, step ROWS UNBOUNDED PRECEDING) AS level
            FROM edges
        ), hours AS (
            SELECT DISTINCT unnest(range(
                date_trunc('hour', local_from), local_until + INTERVAL 1 SECOND, INTERVAL 1 HOUR
            )) AS hour FROM h
        ), at_start AS (
            SELECT hours.hour, count(held.local_from) AS level FROM hours
            LEFT JOIN held ON held.local_from <= hours.hour AND held.local_until > hours.hour
            GROUP BY ALL
        ), rises AS (
            SELECT date_trunc('hour', moment) AS hour, max(level) AS level FROM levels
            WHERE step = 1 GROUP BY ALL
        ), fallbacks AS (
            SELECT date_trunc('hour', local_from) AS hour, count(DISTINCT visitor_id) AS served
            FROM h WHERE fallback GROUP BY ALL
        )
        SELECT strftime(at_start.hour, '%Y-%m-%dT%H:00') AS hour,
            greatest(at_start.level, coalesce(rises.level, 0))::BIGINT AS peak_held,
            coalesce(fallbacks.served, 0)::BIGINT AS fallback_served
        FROM at_start LEFT JOIN rises USING (hour) LEFT JOIN fallbacks USING (hour)
        ORDER BY at_start.hour
        """,
        {"pool": pool, "tz": scope.timezone},
    )
    return [
        PoolHour(**row, utilisation=0.0)
        for row in found
        if row["peak_held"] or row["fallback_served"]
    ]


def _demand(con: duckdb.DuckDBPyConnection, pool: str, hold: timedelta, scope: Scope) -> int:
    """The peak of visitors counted over [held_from, held_until + hold]."""
    found = rows(
        con,
        f"""
        WITH h AS (
            SELECT held_from AS start, held_until + to_microseconds($hold_us) AS until
            FROM number_holds
            WHERE pool = $pool AND {scope.where("held_from")}
        ), edges AS (
            SELECT start AS moment, 1 AS step FROM h UNION ALL SELECT until, -1 FROM h
        )
        SELECT coalesce(max(level), 0) AS peak FROM (
            SELECT step, sum(step) OVER (ORDER BY moment, step ROWS UNBOUNDED PRECEDING) AS level
            FROM edges
        )
        """,
        {"pool": pool, "hold_us": hold // timedelta(microseconds=1)},
    )
    return int(found[0]["peak"])


def _busiest_hour(con: duckdb.DuckDBPyConnection, pool: str, scope: Scope) -> int:
    """Distinct visitors holding or asking for a number in the pool's busiest hour."""
    found = rows(
        con,
        f"""
        WITH h AS (
            SELECT visitor_id, {local_sql("held_from")} AS local_from,
                {local_sql("held_until")} AS local_until
            FROM number_holds WHERE pool = $pool AND {scope.where("held_from")}
        )
        SELECT coalesce(max(visitors), 0) AS peak FROM (
            SELECT hour, count(DISTINCT visitor_id) AS visitors FROM (
                SELECT visitor_id, unnest(range(
                    date_trunc('hour', local_from), local_until + INTERVAL 1 SECOND,
                    INTERVAL 1 HOUR
                )) AS hour FROM h
            ) GROUP BY hour
        )
        """,
        {"pool": pool, "tz": scope.timezone},
    )
    return int(found[0]["peak"])


def _calls(con: duckdb.DuckDBPyConnection, pool: str, scope: Scope) -> dict[str, int]:
    """The period's calls to the pool, by how their number matched."""
    if not has_columns(con, "calls", "number_pool", "number_match"):
        return dict.fromkeys(("calls", "matched", "ambiguous", "fallback", "unassigned"), 0)
    found = rows(
        con,
        f"""
        SELECT count(*) AS calls,
            count(*) FILTER (number_match = 'matched') AS matched,
            count(*) FILTER (number_match = 'ambiguous') AS ambiguous,
            count(*) FILTER (number_match = 'fallback') AS fallback,
            count(*) FILTER (number_match = 'unassigned') AS unassigned
        FROM calls WHERE number_pool = $pool AND {scope.where("called_at")}
        """,
        {"pool": pool},
    )
    return {name: int(value or 0) for name, value in found[0].items()}


def pool_figures(
    con: duckdb.DuckDBPyConnection, shape: PoolShape, scope: Scope, held: bool = True
) -> PoolFigures:
    """One pool over the period (`held`: the build has `number_holds`)."""
    size = shape.size
    hours = [
        hour.model_copy(update={"utilisation": hour.peak_held / size if size else 0.0})
        for hour in (_hours(con, shape.name, scope) if held else [])
    ]
    calls = _calls(con, shape.name, scope)
    peak = max((h.peak_held for h in hours), default=0)
    total = calls["calls"]
    return PoolFigures(
        pool=shape.name,
        size=size,
        hold_minutes=shape.hold / timedelta(minutes=1),
        peak_held=peak,
        peak_utilisation=peak / size if size else None,
        busy_hours=sum(h.utilisation >= BUSY for h in hours),
        exhausted_hours=sum(h.fallback_served > 0 for h in hours),
        **calls,
        ambiguous_share=calls["ambiguous"] / total if total else None,
        fallback_share=calls["fallback"] / total if total else None,
        recommended_size=_demand(con, shape.name, shape.hold, scope) if held else 0,
        busiest_hour_visitors=_busiest_hour(con, shape.name, scope) if held else 0,
        hours=hours,
    )


def pool_report(
    con: duckdb.DuckDBPyConnection, shapes: tuple[PoolShape, ...], scope: Scope
) -> PoolReport | None:
    """Every configured pool over the period; None when no pool is configured."""
    if not shapes:
        return None
    # A build from before pools were configured has no holds: those figures are zero.
    held = has_columns(con, "number_holds", "pool", "held_from", "held_until", "fallback")
    return PoolReport(
        timezone=scope.timezone, pools=[pool_figures(con, s, scope, held) for s in shapes]
    )


def rule_of_thumb(figures: PoolFigures) -> int:
    """The vendors' size for this traffic: the busiest hour's visitors at 75% utilisation."""
    return math.ceil(figures.busiest_hour_visitors / BUSY)
