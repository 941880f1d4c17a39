"""Reconciliation with the CRM: every opportunity of the period, attributed or not, and why not.

The report's revenue comes from the `attribution` table, which only holds the
opportunities some touchpoint earned. The rest would vanish from the totals, so
this query puts them back, each with the first reason that applies (in the
order the build links an opportunity to touchpoints, DESIGN §4 and
`[attribution] opportunity_contacts`):

- `no_contacts` / `no_contact_roles`: nobody is linked to it (no contact on
  its account, or no contact role, and no lead converted into it);
- `no_touchpoints`: its people have no touchpoint at all;
- `no_touchpoint_before_close`: it closed before any of their touchpoints;
- `not_credited`: the model gives its touchpoints nothing.

Attributed amounts are the credited revenue; the others the CRM's `Amount`, so
attributed + unattributed = the CRM's sums for the same opportunities.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from touchpoint.report.queries import Scope, iso_utc, rows
from touchpoint.report.records import (
    Reconciliation,
    RevenueTotals,
    UnattributedOpportunity,
    UnattributedReason,
)

ATTRIBUTED = "attributed"
REASONS = {
    "no_contacts": "no contacts on its account (and no lead converted into it)",
    "no_contact_roles": "no contact roles (and no lead converted into it)",
    "no_primary_contact_role": "no primary contact role (and no lead converted into it)",
    "no_touchpoints": "its contacts have no touchpoints",
    "no_touchpoint_before_close": "it closed before any of its contacts' touchpoints",
    "not_credited": "the model credits none of its touchpoints",
}
DEFAULT_LISTED = 100

# Who is linked to an opportunity, by `[attribution] opportunity_contacts`; the
# reason when nobody is.
_LINKS = {
    "account": (
        "EXISTS (SELECT 1 FROM contacts c WHERE c.account_id = o.account_id) OR EXISTS "
        "(SELECT 1 FROM leads l WHERE l.converted_account_id = o.account_id)",
        "no_contacts",
    ),
    "contact_role": (
        "EXISTS (SELECT 1 FROM contact_roles r WHERE r.opportunity_id = o.id) OR EXISTS "
        "(SELECT 1 FROM leads l WHERE l.converted_opportunity_id = o.id)",
        "no_contact_roles",
    ),
    "primary_contact_role": (
        "EXISTS (SELECT 1 FROM contact_roles r WHERE r.opportunity_id = o.id AND r.is_primary) "
        "OR EXISTS (SELECT 1 FROM leads l WHERE l.converted_opportunity_id = o.id)",
        "no_primary_contact_role",
    ),
}


def opportunity_link(con: duckdb.DuckDBPyConnection) -> str:
    """The build's `[attribution] opportunity_contacts` (the build, not today's settings)."""
    found = con.execute("SELECT settings FROM build_info").fetchone()
    built = json.loads(found[0]) if found and found[0] else {}
    link = built.get("attribution", {}).get("opportunity_contacts", "account")
    return link if link in _LINKS else "account"


def _opportunities(
    con: duckdb.DuckDBPyConnection, model: str, scope: Scope, link: str
) -> list[dict[str, Any]]:
    linked, nobody = _LINKS[link]
    in_period = scope.conversions_where("'opportunity'", "o.id")
    return rows(
        con,
        f"""
        WITH credited AS (
            SELECT conversion_id, sum(coalesce(revenue, 0)) AS revenue FROM attribution
            WHERE model = $model AND conversion_type = 'opportunity' GROUP BY ALL
        ),
        touched AS (
            SELECT conversion_id,
                bool_or(NOT coalesce(o.is_closed, false) OR o.close_us IS NULL
                    OR j.touchpoint_us <= o.close_us) AS before_close
            FROM journeys AS j JOIN opportunities AS o ON o.id = j.conversion_id
            WHERE j.conversion_type = 'opportunity' GROUP BY ALL
        )
        SELECT o.id, o.name, coalesce(o.amount, 0) AS amount, o.created_at, o.close_date,
            coalesce(o.is_closed, false) AS is_closed, coalesce(o.is_won, false) AS is_won,
            c.revenue,
            CASE
                WHEN c.conversion_id IS NOT NULL THEN '{ATTRIBUTED}'
                WHEN NOT ({linked}) THEN '{nobody}'
                WHEN t.conversion_id IS NULL THEN 'no_touchpoints'
                WHEN NOT t.before_close THEN 'no_touchpoint_before_close'
                ELSE 'not_credited'
            END AS reason
        FROM opportunities AS o
        LEFT JOIN credited AS c ON c.conversion_id = o.id
        LEFT JOIN touched AS t ON t.conversion_id = o.id
        WHERE {in_period}
        ORDER BY amount DESC, o.id
        """,
        {"model": model},
    )


def _totals(found: list[dict[str, Any]], amount: str) -> RevenueTotals:
    """Counts and sums by state; `amount` names the column that holds each one's money."""

    def total(state: str) -> float:
        return sum(float(o[amount] or 0) for o in found if _state(o) == state)

    return RevenueTotals(
        opportunities=len(found),
        open_pipeline=total("open"),
        won_revenue=total("won"),
        lost_revenue=total("lost"),
    )


def _state(opportunity: dict[str, Any]) -> str:
    if not opportunity["is_closed"]:
        return "open"
    return "won" if opportunity["is_won"] else "lost"


def reconciliation(
    con: duckdb.DuckDBPyConnection,
    model: str,
    scope: Scope,
    listed: int = DEFAULT_LISTED,
) -> Reconciliation:
    """The CRM's opportunities of the period against what `model` attributes."""
    link = opportunity_link(con)
    found = _opportunities(con, model, scope, link)
    attributed = [o for o in found if o["reason"] == ATTRIBUTED]
    missing = [o for o in found if o["reason"] != ATTRIBUTED]
    reasons = []
    for reason, words in REASONS.items():
        these = [o for o in missing if o["reason"] == reason]
        if these:
            totals = _totals(these, "amount")
            reasons.append(UnattributedReason(reason=reason, words=words, **totals.model_dump()))
    return Reconciliation(
        model=model,
        opportunity_contacts=link,
        crm=_totals(found, "amount"),
        attributed=_totals(attributed, "revenue"),
        unattributed=_totals(missing, "amount"),
        reasons=reasons,
        opportunities=[
            UnattributedOpportunity(
                opportunity_id=str(o["id"]),
                name=o["name"],
                amount=float(o["amount"]),
                state=_state(o),
                created_at=iso_utc(o["created_at"]),
                close_date=o["close_date"],
                reason=str(o["reason"]),
                words=REASONS[str(o["reason"])],
            )
            for o in missing[:listed]
        ],
    )
