"""Calls and revenue broken down by channel, campaign, landing page, tracking number and
vendor source, over a period.

Calls count by the day they came (site time), each under its touchpoint's
channel, campaign and landing page (`(no touchpoint)` when it has none) and its
own tracking number and vendor source. Revenue is one model's credit, by the
conversion's day (see `period`), under the credited touchpoint's values; a
touchpoint that carries calls takes the tracking number and vendor source of its
first call (`(not a call)` for web touchpoints). The `calls` table does not
carry the touchpoint's channel and campaign, so they come from `touchpoints`.
Landing pages are shown without their query string and fragment. Every
breakdown adds up to the same totals: rows past the limit fold into one `(others: N)` row.
"""

from __future__ import annotations

import duckdb

from touchpoint.report.labels import NO_TOUCHPOINT
from touchpoint.report.queries import Scope, has_columns, rows
from touchpoint.report.records import Breakdown, SliceRow, Slices

NOT_SET = "(not set)"
NOT_A_CALL = "(not a call)"
DEFAULT_ROWS = 25

DIMENSIONS = {
    "channel": "Channel",
    "campaign": "Campaign",
    "landing_page": "Landing page",
    "tracking_number": "Tracking number",
    "vendor_source": "Vendor source",
}


def _touchpoint_value(column: str) -> str:
    """SQL for a touchpoint column (alias `t`), with the words for missing values."""
    value = f"nullif(t.{column}, '')"
    if column == "landing_page":
        value = f"regexp_replace({value}, '[?#].*$', '')"
    return f"CASE WHEN t.touchpoint_id IS NULL THEN '{NO_TOUCHPOINT}' ELSE coalesce({value}, '{NOT_SET}') END"


def _call_value(column: str, call: str, guard: str | None = None) -> str:
    """SQL for a call column (alias `call`); `guard` true when there is no call at all."""
    value = f"coalesce(nullif({call}.{column}, ''), '{NOT_SET}')"
    return f"CASE WHEN {guard} THEN '{NOT_A_CALL}' ELSE {value} END" if guard else value


def _value_sql(dimension: str, call: str, guard: str | None, vendor: bool) -> str:
    if dimension in ("channel", "campaign", "landing_page"):
        return _touchpoint_value(dimension)
    if dimension == "vendor_source" and not vendor:
        return f"'{NOT_SET}'"
    return _call_value(dimension, call, guard)


def _call_counts(
    con: duckdb.DuckDBPyConnection, dimension: str, scope: Scope, vendor: bool
) -> dict[str, dict[str, float]]:
    value = _value_sql(dimension, "c", None, vendor)
    found = rows(
        con,
        f"""
        SELECT {value} AS value, count(*) AS calls,
            count(*) FILTER (c.outcome = 'merged') AS merged_calls
        FROM calls AS c LEFT JOIN touchpoints AS t ON t.touchpoint_id = c.touchpoint_id
        WHERE {scope.where("c.called_at")}
        GROUP BY ALL
        """,
    )
    return {row.pop("value"): row for row in found}


def _credit(
    con: duckdb.DuckDBPyConnection,
    dimension: str,
    model: str,
    scope: Scope,
    vendor: bool,
) -> dict[str, dict[str, float]]:
    value = _value_sql(dimension, "f", "f.touchpoint_id IS NULL", vendor)
    vendor_source = "arg_min(vendor_source, called_at)" if vendor else "NULL"
    in_period = scope.conversions_where("a.conversion_type", "a.conversion_id")
    found = rows(
        con,
        f"""
        WITH first_call AS (
            SELECT touchpoint_id, arg_min(tracking_number, called_at) AS tracking_number,
                {vendor_source} AS vendor_source
            FROM calls WHERE touchpoint_id IS NOT NULL GROUP BY ALL
        )
        SELECT {value} AS value,
            coalesce(sum(a.weight) FILTER (a.conversion_type = 'lead'), 0) AS leads,
            coalesce(sum(a.weight) FILTER (a.conversion_type = 'opportunity'), 0)
                AS opportunities,
            coalesce(sum(a.revenue) FILTER (a.conversion_type = 'opportunity'
                AND NOT coalesce(a.is_closed, false)), 0) AS open_pipeline,
            coalesce(sum(a.revenue) FILTER (a.conversion_type = 'opportunity'
                AND coalesce(a.is_won, false)), 0) AS won_revenue
        FROM attribution AS a
        LEFT JOIN touchpoints AS t ON t.touchpoint_id = a.touchpoint_id
        LEFT JOIN first_call AS f ON f.touchpoint_id = a.touchpoint_id
        WHERE a.model = $model AND {in_period}
        GROUP BY ALL
        """,
        {"model": model},
    )
    return {row.pop("value"): row for row in found}


def breakdown(
    con: duckdb.DuckDBPyConnection,
    dimension: str,
    model: str,
    scope: Scope,
    limit: int = DEFAULT_ROWS,
) -> Breakdown:
    """Calls and `model`'s credit by one dimension, the largest revenue (then calls) first."""
    vendor = has_columns(con, "calls", "vendor_source")
    calls = _call_counts(con, dimension, scope, vendor)
    credit = _credit(con, dimension, model, scope, vendor)
    found = [
        SliceRow(
            value=value,
            calls=int(calls.get(value, {}).get("calls", 0)),
            merged_calls=int(calls.get(value, {}).get("merged_calls", 0)),
            **{m: credit.get(value, {}).get(m, 0.0) for m in _CREDITS},
        )
        for value in calls.keys() | credit.keys()
    ]
    found.sort(key=lambda r: (-(r.won_revenue + r.open_pipeline), -r.calls, -r.leads, r.value))
    shown, rest = found[:limit], found[limit:]
    if rest:
        shown.append(
            SliceRow(
                value=f"(others: {len(rest):,})",
                calls=sum(r.calls for r in rest),
                merged_calls=sum(r.merged_calls for r in rest),
                **{m: sum(getattr(r, m) for r in rest) for m in _CREDITS},
            )
        )
    return Breakdown(
        dimension=dimension, label=DIMENSIONS[dimension], values=len(found), rows=shown
    )


_CREDITS = ("leads", "opportunities", "open_pipeline", "won_revenue")


def slices(
    con: duckdb.DuckDBPyConnection,
    model: str,
    scope: Scope,
    limit: int = DEFAULT_ROWS,
    dimensions: tuple[str, ...] = tuple(DIMENSIONS),
) -> Slices:
    """Every breakdown (or only `dimensions`) of the period under `model`."""
    return Slices(
        model=model,
        breakdowns=[breakdown(con, d, model, scope, limit) for d in dimensions],
    )
