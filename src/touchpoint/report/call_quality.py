"""The call-tracking breakdowns: answered vs not, first-time vs repeat callers, qualified
vs not, by channel and by campaign, over a period.

A record of `calls` is a call unless its source says it is a text or a form (`kind`);
texts and forms are counted apart and take no part in the call figures. Answered is
`status = answered`; not answered is missed, voicemail, abandoned, busy or failed; a
call whose source gives no status is unknown, never guessed (the same for
`first_time_caller` and `qualified`). Calls count on the day they came (site time),
under their touchpoint's channel and campaign (`(no touchpoint)` when they have none,
`(not set)` for a touchpoint without a campaign), as the other breakdowns do; a call
that merged but does not qualify has no touchpoint and counts under its session's.
Disqualified reasons are grouped by their rule, the words before the first colon
(`too short: 12 s < 30 s` is `too short`).
"""

from __future__ import annotations

from typing import Any

import duckdb

from touchpoint.report.call_records import (
    CallQuality,
    CallQualityBreakdown,
    CallQualityRow,
    ReasonCount,
)
from touchpoint.report.labels import NO_TOUCHPOINT
from touchpoint.report.queries import Scope, has_columns, rows
from touchpoint.report.slices import NOT_SET

DIMENSIONS = {"channel": "Channel", "campaign": "Campaign"}
NOT_ANSWERED = ("missed", "voicemail", "abandoned", "busy", "failed")
NOT_CALLS = ("text", "form")
DEFAULT_ROWS = 25
REASONS_SHOWN = 10
NO_REASON = "(no reason given)"
TOTAL = "all"

COUNTS = (
    "calls",
    "answered",
    *NOT_ANSWERED,
    "first_time",
    "repeat",
    "qualified",
    "not_qualified",
    "texts",
    "forms",
    "valued_calls",
)


def _calls_sql(con: duckdb.DuckDBPyConnection, scope: Scope) -> str:
    """The period's calls with what the breakdowns read (NULL where an older build lacks it)."""
    wanted = ("kind", "status", "first_time_caller", "qualified", "disqualified_reason", "value")
    columns = [
        f"c.{name}" if has_columns(con, "calls", name) else f"NULL AS {name}" for name in wanted
    ]
    channel, campaign = (
        f"CASE WHEN t.touchpoint_id IS NOT NULL THEN coalesce(nullif(t.{name}, ''), '{NOT_SET}') "
        f"WHEN s.session_id IS NOT NULL THEN coalesce(nullif(s.{name}, ''), '{NOT_SET}') "
        f"ELSE '{NO_TOUCHPOINT}' END AS {name}"
        for name in ("channel", "campaign")
    )
    # A call that does not qualify makes no touchpoint: it counts under the session it
    # merged with, so a channel's spam and outbound calls show under that channel.
    return f"""
        SELECT {", ".join(columns)}, {channel}, {campaign},
            coalesce(c.kind, 'call') NOT IN {NOT_CALLS} AS is_call
        FROM calls AS c LEFT JOIN touchpoints AS t ON t.touchpoint_id = c.touchpoint_id
        LEFT JOIN sessions AS s ON c.outcome = 'merged' AND s.session_id = c.session_id
        WHERE {scope.where("c.called_at")}
    """


def _measures() -> str:
    statuses = ", ".join(
        f"count(*) FILTER (is_call AND status = '{status}') AS {status}"
        for status in ("answered", *NOT_ANSWERED)
    )
    return f"""
        count(*) FILTER (is_call) AS calls, {statuses},
        count(*) FILTER (is_call AND first_time_caller) AS first_time,
        count(*) FILTER (is_call AND NOT first_time_caller) AS repeat,
        count(*) FILTER (is_call AND qualified) AS qualified,
        count(*) FILTER (is_call AND NOT qualified) AS not_qualified,
        count(*) FILTER (kind = 'text') AS texts,
        count(*) FILTER (kind = 'form') AS forms,
        sum(value) FILTER (is_call) AS call_value,
        count(value) FILTER (is_call) AS valued_calls
    """


def quality_row(value: str, found: dict[str, Any]) -> CallQualityRow:
    """A row from counted measures; the unknowns are what the known ones leave."""
    counts = {name: int(found.get(name) or 0) for name in COUNTS}
    calls = counts["calls"]
    not_answered = sum(counts[status] for status in NOT_ANSWERED)
    call_value = found.get("call_value")
    return CallQualityRow(
        value=value,
        **counts,
        not_answered=not_answered,
        status_unknown=calls - counts["answered"] - not_answered,
        caller_unknown=calls - counts["first_time"] - counts["repeat"],
        qualified_unknown=calls - counts["qualified"] - counts["not_qualified"],
        call_value=None if call_value is None else float(call_value),
    )


def _folded(value: str, parts: list[CallQualityRow]) -> CallQualityRow:
    """Several rows as one: counts and values added up (null value when none had one)."""
    found: dict[str, Any] = {name: sum(getattr(r, name) for r in parts) for name in COUNTS}
    values = [r.call_value for r in parts if r.call_value is not None]
    found["call_value"] = sum(values) if values else None
    return quality_row(value, found)


def breakdown(
    con: duckdb.DuckDBPyConnection, dimension: str, scope: Scope, limit: int = DEFAULT_ROWS
) -> CallQualityBreakdown:
    """Call quality by `dimension` (channel or campaign), most calls first."""
    found = [
        quality_row(row.pop("value"), row)
        for row in rows(
            con,
            f"SELECT {dimension} AS value, {_measures()} FROM ({_calls_sql(con, scope)}) "
            "GROUP BY ALL",
        )
    ]
    found.sort(key=lambda r: (r.value == NO_TOUCHPOINT, -r.calls, -(r.texts + r.forms), r.value))
    shown, rest = found[:limit], found[limit:]
    if rest:
        shown.append(_folded(f"(others: {len(rest):,})", rest))
    return CallQualityBreakdown(
        dimension=dimension, label=DIMENSIONS[dimension], values=len(found), rows=shown
    )


def disqualified_reasons(
    con: duckdb.DuckDBPyConnection, scope: Scope, limit: int = REASONS_SHOWN
) -> list[ReasonCount]:
    """Calls not qualified by rule, most first; reasons past the limit fold into one."""
    found = rows(
        con,
        f"""
        SELECT coalesce(nullif(trim(split_part(disqualified_reason, ':', 1)), ''), ?)
            AS reason, count(*) AS calls
        FROM ({_calls_sql(con, scope)}) WHERE is_call AND NOT qualified
        GROUP BY ALL ORDER BY calls DESC, reason
        """,
        [NO_REASON],
    )
    reasons = [ReasonCount(**row) for row in found]
    if len(reasons) > limit:
        rest = reasons[limit - 1 :]
        reasons = reasons[: limit - 1]
        others = ReasonCount(reason=f"(others: {len(rest):,})", calls=sum(r.calls for r in rest))
        reasons.append(others)
    return reasons


def call_quality(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    limit: int = DEFAULT_ROWS,
    dimensions: tuple[str, ...] = tuple(DIMENSIONS),
) -> CallQuality:
    """The period's calls overall and by each of `dimensions`, with why calls did not qualify."""
    overall = rows(con, f"SELECT {_measures()} FROM ({_calls_sql(con, scope)})")
    return CallQuality(
        total=quality_row(TOTAL, overall[0] if overall else {}),
        breakdowns=[breakdown(con, d, scope, limit) for d in dimensions],
        disqualified_reasons=disqualified_reasons(con, scope),
    )
