"""The queries behind the header, the call panels, the touchpoint mix and the weekly trend.

They read one published snapshot through a read-only DuckDB connection (this is the
read side, not a stage, so plain DuckDB SQL is fine). Days and weeks are those of
`[site] timezone`; a scope's period (`--from/--to`) limits every figure to its days.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb

from touchpoint.errors import TouchpointError
from touchpoint.report.labels import NO_TOUCHPOINT, outcome_reason
from touchpoint.report.period import Period
from touchpoint.report.records import (
    ChannelOutcomes,
    GapBin,
    MergeOutcomes,
    OutcomeCount,
    StageFigure,
    TouchpointMix,
    TypeChannelCell,
    WeekTrend,
    WindowWhatIf,
)
from touchpoint.stages.merge import (
    AMBIGUOUS,
    MERGED,
    NO_SESSION,
    NO_VISITOR_ID,
    OUTCOMES,
    OUTSIDE_WINDOW,
)

if TYPE_CHECKING:  # explain reads ids through `lookup`, which reads `has_columns` here
    from touchpoint.report.explain import MergeRule

GAP_BIN_MINUTES = 5
GAP_BINS_UP_TO = 180  # minutes; later calls share one open-ended bin
WHAT_IF_WINDOWS = (45, 60)


@dataclass(frozen=True)
class Scope:
    """How a report reads the build: the site's time zone and currency, and the days it covers."""

    timezone: str
    currency: str
    period: Period = field(default_factory=Period)

    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise TouchpointError(
                f"[site] timezone {self.timezone!r} is not a time zone (like Europe/Paris)"
            ) from None

    def where(self, column: str) -> str:
        """SQL: the stored UTC timestamp `column` falls in the period."""
        return self.period.where(column, self.zone())

    def conversions_where(self, conversion_type: str, conversion_id: str) -> str:
        """SQL: the conversion with these columns falls in the period (see `period`)."""
        if self.period.everything:
            return "TRUE"
        pair = f"({conversion_type}, {conversion_id})"
        return f"{pair} IN ({self.period.conversions(self.zone())})"


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[dict[str, Any]]:
    """The query's rows as dicts."""
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> Any:
    """The first column of the query's first row."""
    row = con.execute(sql, params or []).fetchone()
    return None if row is None else row[0]


def iso_utc(value: datetime | None) -> str | None:
    """A stored (naive UTC) timestamp as ISO 8601 with a Z, as exports write it."""
    if value is None:
        return None
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{value.microsecond:06d}" if value.microsecond else "") + "Z"


def local_sql(column: str) -> str:
    """SQL for a stored UTC timestamp as wall-clock time in the zone bound to `$tz`."""
    return f"timezone($tz, timezone('UTC', {column}))"


def has_columns(con: duckdb.DuckDBPyConnection, table: str, *columns: str) -> bool:
    """Whether the build's `table` has these columns (builds from older versions may not)."""
    present = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
        ).fetchall()
    }
    return set(columns) <= present


def build_info(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The build's id, time, and the stage figures it recorded."""
    info = rows(con, "SELECT build_id, built_at, settings, stages FROM build_info")
    if not info:
        raise TouchpointError("the latest build has no build_info: run `touchpoint build` again")
    return info[0]


def stage_figures(info: dict[str, Any]) -> list[StageFigure]:
    """The build's stage table, as the CLI printed it."""
    return [StageFigure(**stage) for stage in json.loads(info["stages"] or "[]")]


def date_range(con: duckdb.DuckDBPyConnection, scope: Scope) -> tuple[str | None, str | None]:
    """The first and last day (site time) with events or calls."""
    first, last = con.execute(
        f"""
        SELECT min({local_sql("t")})::DATE, max({local_sql("t")})::DATE FROM (
            SELECT occurred_at AS t FROM events UNION ALL SELECT called_at FROM calls
        )
        """,
        {"tz": scope.timezone},
    ).fetchone() or (None, None)
    return (str(first) if first else None, str(last) if last else None)


def calls_by_channel(
    con: duckdb.DuckDBPyConnection, scope: Scope | None = None
) -> list[ChannelOutcomes]:
    """Calls by the channel of their touchpoint and merge outcome, busiest channel first."""
    where = scope.where("c.called_at") if scope else "TRUE"
    found = rows(
        con,
        f"""
        SELECT coalesce(t.channel, ?) AS channel, c.outcome, count(*) AS calls
        FROM calls AS c LEFT JOIN touchpoints AS t ON t.touchpoint_id = c.touchpoint_id
        WHERE {where}
        GROUP BY ALL
        """,
        [NO_TOUCHPOINT],
    )
    grid: dict[str, dict[str, int]] = {}
    for row in found:
        grid.setdefault(row["channel"], dict.fromkeys(OUTCOMES, 0))[row["outcome"]] = row["calls"]
    ordered = sorted(grid, key=lambda c: (c == NO_TOUCHPOINT, -sum(grid[c].values()), c))
    return [
        ChannelOutcomes(
            channel=channel,
            merged=grid[channel][MERGED],
            outside_window=grid[channel][OUTSIDE_WINDOW],
            no_session=grid[channel][NO_SESSION],
            no_visitor_id=grid[channel][NO_VISITOR_ID],
            total=sum(grid[channel].values()),
            ambiguous=grid[channel][AMBIGUOUS],
        )
        for channel in ordered
    ]


def merge_outcomes(
    con: duckdb.DuckDBPyConnection, rule: MergeRule, scope: Scope | None = None
) -> MergeOutcomes:
    """Outcome counts with their reasons, the gap distribution and wider-window what-ifs."""
    window_minutes = rule.window_us / 60_000_000
    where = scope.where("called_at") if scope else "TRUE"
    counts = dict(
        con.execute(f"SELECT outcome, count(*) FROM calls WHERE {where} GROUP BY ALL").fetchall()
    )
    total = sum(counts.values())
    outcomes = [
        OutcomeCount(
            outcome=outcome,
            calls=counts.get(outcome, 0),
            share=counts.get(outcome, 0) / total if total else 0.0,
            reason=outcome_reason(outcome, window_minutes, rule.anchor),
        )
        for outcome in OUTCOMES
    ]
    # The window applies to the gap from the anchor: the session start, or (with
    # anchor = last_activity) the session's last event before the call.
    gap = "seconds_from_session_start"
    if rule.anchor != "session_start" and has_columns(con, "calls", "gap_s"):
        gap = "coalesce(gap_s, seconds_from_session_start)"
    binned = rows(
        con,
        f"""
        SELECT least(floor({gap} / 60 / $width), $last)::INTEGER AS bin,
               count(*) FILTER (outcome = 'merged') AS merged,
               count(*) FILTER (outcome = 'outside_window') AS outside_window
        FROM calls WHERE {gap} IS NOT NULL AND outcome IN ('merged', 'outside_window')
            AND {where}
        GROUP BY ALL ORDER BY bin
        """,
        {"width": GAP_BIN_MINUTES, "last": GAP_BINS_UP_TO // GAP_BIN_MINUTES},
    )
    by_bin = {row["bin"]: row for row in binned}
    bins = []
    for number in range(GAP_BINS_UP_TO // GAP_BIN_MINUTES + 1):
        start = number * GAP_BIN_MINUTES
        found = by_bin.get(number, {"merged": 0, "outside_window": 0})
        bins.append(
            GapBin(
                start_minute=start,
                end_minute=None if start >= GAP_BINS_UP_TO else start + GAP_BIN_MINUTES,
                merged=found["merged"],
                outside_window=found["outside_window"],
            )
        )
    merged = counts.get(MERGED, 0)
    what_if = []
    for minutes in WHAT_IF_WINDOWS:
        more = 0
        if minutes > window_minutes:
            more = scalar(
                con,
                f"SELECT count(*) FROM calls WHERE outcome = 'outside_window' AND {gap} <= ? "
                f"AND {where}",
                [minutes * 60],
            )
        what_if.append(
            WindowWhatIf(
                window_minutes=minutes,
                more_merged=more,
                merged=merged + more,
                merge_rate=(merged + more) / total if total else None,
            )
        )
    return MergeOutcomes(
        window_minutes=window_minutes,
        anchor=rule.anchor,
        calls=total,
        outcomes=outcomes,
        gap_bins=bins,
        what_if=what_if,
    )


def touchpoint_mix(con: duckdb.DuckDBPyConnection, scope: Scope | None = None) -> TouchpointMix:
    """Touchpoints by type × channel; types and channels ordered by size."""
    where = scope.where("touchpoint_date") if scope else "TRUE"
    cells = [
        TypeChannelCell(**row)
        for row in rows(
            con,
            "SELECT touchpoint_type, channel, count(*) AS touchpoints FROM touchpoints "
            f"WHERE {where} GROUP BY ALL ORDER BY touchpoints DESC, touchpoint_type, channel",
        )
    ]
    by_type: dict[str, int] = {}
    by_channel: dict[str, int] = {}
    for cell in cells:
        by_type[cell.touchpoint_type] = by_type.get(cell.touchpoint_type, 0) + cell.touchpoints
        by_channel[cell.channel] = by_channel.get(cell.channel, 0) + cell.touchpoints
    return TouchpointMix(
        touchpoint_types=sorted(by_type, key=lambda t: (-by_type[t], t)),
        channels=sorted(by_channel, key=lambda c: (-by_channel[c], c)),
        cells=cells,
    )


def weekly_trend(con: duckdb.DuckDBPyConnection, scope: Scope, weeks: int) -> list[WeekTrend]:
    """The last `weeks` weeks with activity (Monday to Sunday, site time), oldest first."""
    week = "date_trunc('week', {})::DATE".format
    found = rows(
        con,
        f"""
        WITH activity AS (
            SELECT {week(local_sql("started_at"))} AS week, 'sessions' AS metric FROM sessions
            WHERE {scope.where("started_at")}
            UNION ALL
            SELECT {week(local_sql("touchpoint_date"))}, 'touchpoints' FROM touchpoints
            WHERE {scope.where("touchpoint_date")}
            UNION ALL
            SELECT {week(local_sql("touchpoint_date"))}, 'leads' FROM touchpoints
            WHERE list_contains(string_split(coalesce(positions, ''), ','), 'LC')
            AND {scope.where("touchpoint_date")}
            UNION ALL
            SELECT {week(local_sql("called_at"))}, 'calls' FROM calls
            WHERE {scope.where("called_at")}
            UNION ALL
            SELECT {week(local_sql("called_at"))}, 'merged_calls' FROM calls
            WHERE outcome = 'merged' AND {scope.where("called_at")}
        )
        SELECT week, metric, count(*) AS n FROM activity GROUP BY ALL
        """,
        {"tz": scope.timezone},
    )
    grid: dict[str, dict[str, int]] = {}
    for row in found:
        grid.setdefault(str(row["week"]), {})[row["metric"]] = row["n"]
    metrics = ("sessions", "touchpoints", "calls", "merged_calls", "leads")
    if not grid:
        return []
    # Quiet weeks in between are shown as zeros, not skipped.
    last = date.fromisoformat(max(grid))
    first = max(date.fromisoformat(min(grid)), last - timedelta(weeks=weeks - 1))
    mondays = [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]
    return [
        WeekTrend(week=str(day), **{m: grid.get(str(day), {}).get(m, 0) for m in metrics})
        for day in mondays
    ]
