"""The queries behind a person's journey: who is worth looking at, and their touchpoints in order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import duckdb

from touchpoint.report.lookup import person_id_of
from touchpoint.report.queries import has_columns, iso_utc, rows
from touchpoint.report.records import Journey, JourneyConversion, JourneyTouch, PersonRef


def notable_people(con: duckdb.DuckDBPyConnection, model: str, limit: int) -> list[PersonRef]:
    """People whose journeys tell the most: with revenue, over many channels, with calls."""
    found = rows(
        con,
        """
        WITH credited AS (
            SELECT t.person_id,
                sum(a.revenue) FILTER (coalesce(a.is_won, false)) AS won_revenue,
                sum(a.revenue) FILTER (
                    a.conversion_type = 'opportunity' AND NOT coalesce(a.is_closed, false)
                ) AS open_pipeline
            FROM attribution AS a JOIN touchpoints AS t ON t.touchpoint_id = a.touchpoint_id
            WHERE a.model = $model
            GROUP BY t.person_id
        )
        SELECT * FROM (
        SELECT t.person_id, count(*) AS touchpoints, count(t.call_id) AS calls,
            count(DISTINCT t.channel) AS channels,
            any_value(coalesce(c.won_revenue, 0)) AS won_revenue,
            any_value(coalesce(c.open_pipeline, 0)) AS open_pipeline,
            min(t.touchpoint_date) AS first_touch, max(t.touchpoint_date) AS last_touch
        FROM touchpoints AS t LEFT JOIN credited AS c ON c.person_id = t.person_id
        WHERE t.person_id IS NOT NULL
        GROUP BY t.person_id
        )
        ORDER BY won_revenue + open_pipeline > 0 DESC, channels DESC, calls > 0 DESC,
            touchpoints DESC, won_revenue + open_pipeline DESC, person_id
        LIMIT $limit
        """,
        {"model": model, "limit": limit},
    )
    return [
        PersonRef(
            **{
                **row,
                "first_touch": iso_utc(row["first_touch"]),
                "last_touch": iso_utc(row["last_touch"]),
            }
        )
        for row in found
    ]


def journey(con: duckdb.DuckDBPyConnection, person_id: str, model: str) -> Journey | None:
    """One person's touchpoints, oldest first, with what `model` credits each; None if unknown.

    `person_id` may also be a lead, contact or opportunity Id or an email (`lookup`).
    """
    found = person_id_of(con, person_id)
    if found is None:
        return None
    person_id = found
    touches = rows(
        con,
        """
        SELECT t.touchpoint_id, t.touchpoint_date, t.touchpoint_type, t.channel, t.subchannel,
            t.source, t.medium, t.campaign, t.landing_page, t.referrer, t.positions, t.call_id,
            (SELECT sum(a.revenue) FROM attribution AS a
             WHERE a.touchpoint_id = t.touchpoint_id AND a.model = $model) AS credited_revenue
        FROM touchpoints AS t
        WHERE t.person_id = $person
        ORDER BY t.touchpoint_date, t.touchpoint_id
        """,
        {"person": person_id, "model": model},
    )
    if not touches:
        return None
    return Journey(
        person_id=person_id,
        model=model,
        touchpoints=[
            JourneyTouch(
                **{
                    **touch,
                    "touchpoint_date": iso_utc(touch["touchpoint_date"]),
                    "channel": touch["channel"] or "Unassigned",
                    "touchpoint_type": touch["touchpoint_type"] or "",
                }
            )
            for touch in touches
        ],
        conversions=_conversions(con, [t["touchpoint_id"] for t in touches]),
    )


def _conversions(
    con: duckdb.DuckDBPyConnection, touchpoint_ids: list[str]
) -> list[JourneyConversion]:
    """The lead and opportunity conversions these touchpoints belong to, with CRM details."""
    found = rows(
        con,
        """
        SELECT conversion_id, any_value(conversion_type) AS conversion_type,
            any_value(is_closed) AS is_closed, any_value(is_won) AS is_won
        FROM attribution WHERE touchpoint_id IN (SELECT unnest($ids::VARCHAR[]))
        GROUP BY conversion_id ORDER BY any_value(conversion_type), conversion_id
        """,
        {"ids": touchpoint_ids},
    )
    ids = [row["conversion_id"] for row in found]
    opportunities: dict[str, dict[str, Any]] = {}
    if has_columns(con, "opportunities", "id", "name", "amount", "stage_name", "created_at"):
        opportunities = {
            o["id"]: o
            for o in rows(
                con,
                "SELECT id, name, amount, stage_name, created_at, close_us FROM opportunities "
                "WHERE id IN (SELECT unnest(?::VARCHAR[]))",
                [ids],
            )
        }
    leads: dict[str, Any] = {}
    if has_columns(con, "leads", "id", "created_at"):
        leads = dict(
            con.execute(
                "SELECT id, created_at FROM leads WHERE id IN (SELECT unnest(?::VARCHAR[]))", [ids]
            ).fetchall()
        )
    conversions = []
    for row in found:
        opportunity = opportunities.get(row["conversion_id"], {})
        close_us = opportunity.get("close_us")
        created = opportunity.get("created_at") or leads.get(row["conversion_id"])
        conversions.append(
            JourneyConversion(
                **row,
                name=opportunity.get("name"),
                amount=opportunity.get("amount"),
                stage=opportunity.get("stage_name"),
                created_at=iso_utc(created),
                closes_at=iso_utc(
                    datetime.fromtimestamp(close_us / 1e6, UTC).replace(tzinfo=None)
                    if close_us is not None
                    else None
                ),
            )
        )
    return conversions
