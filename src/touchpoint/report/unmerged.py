"""The query behind the unmerged calls: newest first, each with `explain`'s plain words."""

from __future__ import annotations

import duckdb

from touchpoint.errors import TouchpointError
from touchpoint.report.explain import MergeRule, explain_calls
from touchpoint.report.queries import Scope, iso_utc, rows, scalar
from touchpoint.report.records import UnmergedCall, UnmergedCalls
from touchpoint.stages.merge import MERGED, OUTCOMES

UNMERGED = tuple(o for o in OUTCOMES if o != MERGED)


def unmerged_calls(
    con: duckdb.DuckDBPyConnection,
    rule: MergeRule,
    limit: int,
    offset: int = 0,
    outcome: str | None = None,
    scope: Scope | None = None,
) -> UnmergedCalls:
    """Calls that did not merge (or only those with `outcome`), explained, newest first."""
    if outcome is not None and outcome not in UNMERGED:
        raise TouchpointError(f"unknown outcome {outcome!r}; use one of {', '.join(UNMERGED)}")
    wanted = [outcome] if outcome else list(UNMERGED)
    where = scope.where("called_at") if scope else "TRUE"
    total = scalar(
        con,
        f"SELECT count(*) FROM calls WHERE outcome IN (SELECT unnest(?::VARCHAR[])) AND {where}",
        [wanted],
    )
    calls = rows(
        con,
        f"""
        SELECT * FROM calls WHERE outcome IN (SELECT unnest($wanted::VARCHAR[])) AND {where}
        ORDER BY called_at DESC, source_system, call_id
        LIMIT $limit OFFSET $offset
        """,
        {"wanted": wanted, "limit": limit, "offset": offset},
    )
    explained = explain_calls(con, calls, rule)
    return UnmergedCalls(
        total=total,
        offset=offset,
        calls=[
            UnmergedCall(
                call_id=call["call_id"],
                source_system=call["source_system"],
                called_at=iso_utc(call["called_at"]) or "",
                outcome=call["outcome"],
                channel=explanation.touchpoint_channel,
                touchpoint_type=explanation.touchpoint_type,
                visitor_id=call["visitor_id"],
                minutes_from_session_start=explanation.minutes_from_session_start,
                explanation=explanation.text,
            )
            for call, explanation in zip(calls, explained, strict=True)
        ],
    )
