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

Leads the same way: every lead created in the period (in `[site] timezone`'s
days, as a CRM report counts them) is attributed when the model credits some
touchpoint with it, else listed with the first reason that applies
(`LEAD_REASONS`, in the order the build makes a lead's journey, DESIGN §4):
the model credits opportunities only (`LEAD_MODELS`); its person has no
touchpoint; another lead of the same person, created earlier, is the person's
lead conversion; it was created before any of its person's touchpoints and no
form or call of theirs came first (so it has no LC); or the model credits none
of its touchpoints.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb

from touchpoint.report.lead_records import LeadReconciliation, UnattributedLead, UnattributedLeads
from touchpoint.report.queries import Scope, iso_utc, rows
from touchpoint.report.records import (
    Reconciliation,
    RevenueTotals,
    UnattributedOpportunity,
    UnattributedReason,
)
from touchpoint.stages.attribution.rows import LEAD_MODELS

ATTRIBUTED = "attributed"
REASONS = {
    "no_contacts": "no contacts on its account (and no lead converted into it)",
    "no_contact_roles": "no contact roles (and no lead converted into it)",
    "no_primary_contact_role": "no primary contact role (and no lead converted into it)",
    "no_touchpoints": "its contacts have no touchpoints",
    "no_touchpoint_before_close": "it closed before any of its contacts' touchpoints",
    "not_credited": "the model credits none of its touchpoints",
}
LEAD_REASONS = {
    "opportunities_only": "the model credits opportunities only (u_shaped credits leads)",
    "no_touchpoints": "its person has no touchpoints",
    "another_lead": "an earlier lead of the same person is the person's lead conversion",
    "no_touchpoint_before_creation": "it was created before any of its person's touchpoints",
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
        leads=lead_reconciliation(con, model, scope, listed),
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


def _leads(con: duckdb.DuckDBPyConnection, model: str, scope: Scope) -> list[dict[str, Any]]:
    return rows(
        con,
        f"""
        WITH credited AS (
            SELECT DISTINCT conversion_id FROM attribution
            WHERE model = $model AND conversion_type = 'lead'
        ),
        owned AS (
            SELECT l.id, l.email, l.created_at, coalesce(p.person_id, 'sf:' || l.id) AS person_id
            FROM leads AS l
            LEFT JOIN people AS p ON p.node_kind = 'crm' AND p.node_id = l.id
        ),
        touched AS (SELECT DISTINCT person_id FROM touchpoints),
        journeyed AS (
            SELECT conversion_id, bool_or(is_lc) AS has_lc FROM journeys
            WHERE conversion_type = 'lead' GROUP BY ALL
        )
        SELECT o.id, o.email, o.created_at,
            CASE
                WHEN c.conversion_id IS NOT NULL THEN '{ATTRIBUTED}'
                WHEN t.person_id IS NULL THEN 'no_touchpoints'
                WHEN j.conversion_id IS NULL THEN 'another_lead'
                WHEN NOT coalesce(j.has_lc, false) THEN 'no_touchpoint_before_creation'
                ELSE 'not_credited'
            END AS reason
        FROM owned AS o
        LEFT JOIN credited AS c ON c.conversion_id = o.id
        LEFT JOIN touched AS t ON t.person_id = o.person_id
        LEFT JOIN journeyed AS j ON j.conversion_id = o.id
        WHERE {scope.where("o.created_at")}
        ORDER BY o.created_at DESC, o.id
        """,
        {"model": model},
    )


def lead_reconciliation(
    con: duckdb.DuckDBPyConnection, model: str, scope: Scope, listed: int = DEFAULT_LISTED
) -> LeadReconciliation:
    """The CRM's leads created in the period against what `model` attributes."""
    found = _leads(con, model, scope)
    if model not in LEAD_MODELS:
        found = [{**lead, "reason": "opportunities_only"} for lead in found]
    missing = [lead for lead in found if lead["reason"] != ATTRIBUTED]
    counts = {
        reason: sum(1 for lead in missing if lead["reason"] == reason) for reason in LEAD_REASONS
    }
    return LeadReconciliation(
        crm=len(found),
        attributed=len(found) - len(missing),
        unattributed=len(missing),
        reasons=[
            UnattributedLeads(reason=reason, words=LEAD_REASONS[reason], leads=count)
            for reason, count in counts.items()
            if count
        ],
        leads=[
            UnattributedLead(
                lead_id=str(lead["id"]),
                email=lead["email"],
                created_at=iso_utc(lead["created_at"]),
                reason=str(lead["reason"]),
                words=LEAD_REASONS[str(lead["reason"])],
            )
            for lead in missing[:listed]
        ],
    )
