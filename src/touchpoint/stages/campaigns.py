"""CRM campaign responses → touchpoints (type `CRM`) of the lead's or contact's person.

A campaign member that has responded is a touchpoint at its response time,
without a session or visitor id. Its channel comes from the campaign's type
through `[crm] campaign_channels` (`Unassigned` for types not listed).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from touchpoint.stages.identity import crm_person

CRM_TOUCHPOINT = "CRM"
CRM_CAMPAIGN = "CRM Campaign"
UNMAPPED_CHANNEL = "Unassigned"


def campaign_channel(
    campaign_type: ir.StringValue, channels: tuple[tuple[str, str], ...]
) -> ir.StringValue:
    """The channel a campaign type maps to (types compared in lower case)."""
    if not channels:
        return ibis.literal(UNMAPPED_CHANNEL)
    lowered = campaign_type.lower()
    return ibis.cases(
        *((lowered == kind.lower(), channel) for kind, channel in channels),
        else_=UNMAPPED_CHANNEL,
    )


def campaign_touchpoints(
    members: ir.Table, people: ir.Table, channels: tuple[tuple[str, str], ...]
) -> ir.Table:
    """One touchpoint per responded campaign member, in the touchpoints layout."""
    responded = members.filter(members.has_responded & members.responded_us.notnull())
    owned = crm_person(responded, ibis.coalesce(responded.contact_id, responded.lead_id), people)
    kind = owned.campaign_type
    return owned.select(
        touchpoint_id=("campaign_member|" + owned.id).hexdigest("md5"),
        person_id=owned.person_id,
        visitor_id=ibis.null("string"),
        touchpoint_date=owned.responded_at,
        touchpoint_type=ibis.literal(CRM_TOUCHPOINT),
        medium=kind.fill_null(CRM_TOUCHPOINT),
        source=ibis.literal(CRM_CAMPAIGN),
        channel=campaign_channel(kind.fill_null(""), channels),
        subchannel=kind,
        campaign=owned.campaign_name,
        landing_page=ibis.null("string"),
        referrer=ibis.null("string"),
        session_id=ibis.null("string"),
        call_id=ibis.null("string"),
        attribution_basis=ibis.literal("crm"),
        touchpoint_us=owned.responded_us,
        conversion_us=ibis.null("int64"),
        conversion_kind=ibis.null("string"),
    )
