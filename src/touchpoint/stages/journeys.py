"""Touchpoints and CRM records → journeys: each conversion's touchpoints, positions and windows.

DESIGN §4. A person with a conversion (a form, chat or call) or a CRM lead or
contact has one **lead** conversion (its id: the person's earliest lead, else
contact, else the person id). Its positions:

- FT, the person's first touchpoint;
- LC, the first conversion, or, when the CRM record was created before any
  conversion (the lead came offline), the last touchpoint at or before that
  creation;
- PostLC, every other conversion.

An **opportunity** gets the touchpoints of the people linked to it (the
contacts of its account, its contact roles, or its primary contact role, by
`[attribution] opportunity_contacts`; a lead converted into it or its account
counts as a contact). Its FT is the first of them, its LC the earliest of
their LCs, PostLC their other conversions, OC the last touchpoint at or before
its creation, Closed the last at or before its close date (only when closed).

Windows, as touchpoint sequence numbers: FT to LC (`in_lc_window`), FT to OC
(`in_oc_window`), and FT to Closed or, for an open opportunity, every
touchpoint (`in_full_window`). A lead's every window is FT to LC. A window
whose end position is missing is empty.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from touchpoint.stages.identity import crm_person

LEAD = "lead"
OPPORTUNITY = "opportunity"
POSITION_FLAGS = (
    ("is_ft", "FT"),
    ("is_lc", "LC"),
    ("is_post_lc", "PostLC"),
    ("is_oc", "OC"),
    ("is_closed_touch", "Closed"),
)
JOURNEY_COLUMNS = (
    "conversion_id",
    "conversion_type",
    "touchpoint_id",
    "person_id",
    "touchpoint_us",
    "channel",
    "seq",
    "is_ft",
    "is_lc",
    "is_post_lc",
    "is_oc",
    "is_closed_touch",
    "in_lc_window",
    "in_oc_window",
    "in_full_window",
    "positions",
    "amount",
    "is_closed",
    "is_won",
)


def _null_int() -> ir.IntegerValue:
    return ibis.null("int64")


def person_records(leads: ir.Table, contacts: ir.Table, people: ir.Table) -> ir.Table:
    """Per person known to the CRM: when it first became known and its lead conversion id."""
    records = crm_person(leads, "id", people).select(
        "person_id", record_id=ibis._.id, created_us=ibis._.created_us, kind_rank=ibis.literal(0)
    )
    records = records.union(
        crm_person(contacts, "id", people).select(
            "person_id",
            record_id=ibis._.id,
            created_us=ibis._.created_us,
            kind_rank=ibis.literal(1),
        ),
        distinct=False,
    )
    first = ibis.window(group_by="person_id", order_by=["kind_rank", "created_us", "record_id"])
    by_person = ibis.window(group_by="person_id")
    ranked = records.mutate(
        record_rank=ibis.row_number().over(first),
        crm_created_us=records.created_us.min().over(by_person),
    )
    earliest = ranked.filter(ranked.record_rank == 0)
    return earliest.select("person_id", "crm_created_us", lead_record_id=earliest.record_id)


def person_touchpoints(touchpoints: ir.Table) -> ir.Table:
    """Touchpoints numbered by time per person (`seq`), the person's first conversion marked."""
    tp = touchpoints.select(
        "touchpoint_id", "person_id", "touchpoint_us", "conversion_us", "channel"
    )
    by_date = ibis.window(group_by="person_id", order_by=["touchpoint_us", "touchpoint_id"])
    by_conversion = ibis.window(
        group_by="person_id",
        order_by=[tp.conversion_us.asc(nulls_first=False), "touchpoint_id"],
    )
    return tp.mutate(
        seq=ibis.row_number().over(by_date).cast("int64"),
        is_first_conversion=tp.conversion_us.notnull()
        & (ibis.row_number().over(by_conversion) == 0),
    )


def lead_journeys(numbered: ir.Table, records: ir.Table) -> ir.Table:
    """Lead conversions: every touchpoint of each person that has one, with positions."""
    joined = numbered.left_join(records, "person_id").drop("person_id_right")
    by_person = ibis.window(group_by="person_id")
    first_conversion_seq = ibis.ifelse(joined.is_first_conversion, joined.seq, _null_int())
    before_created = ibis.ifelse(
        joined.touchpoint_us <= joined.crm_created_us, joined.seq, _null_int()
    )
    marked = joined.mutate(
        first_conversion_us=joined.conversion_us.min().over(by_person),
        first_conversion_seq=first_conversion_seq.max().over(by_person),
        created_seq=before_created.max().over(by_person),
    )
    created = marked.crm_created_us
    online = marked.first_conversion_us.notnull() & (
        created.isnull() | (marked.first_conversion_us <= created)
    )
    marked = marked.mutate(
        lc_seq=ibis.ifelse(online, marked.first_conversion_seq, marked.created_seq)
    )
    leads = marked.filter(marked.first_conversion_us.notnull() | marked.crm_created_us.notnull())
    is_lc = (leads.seq == leads.lc_seq).fill_null(False)
    in_window = (leads.seq <= leads.lc_seq).fill_null(False)
    return leads.select(
        conversion_id=ibis.coalesce(leads.lead_record_id, leads.person_id),
        conversion_type=ibis.literal(LEAD),
        touchpoint_id=leads.touchpoint_id,
        person_id=leads.person_id,
        touchpoint_us=leads.touchpoint_us,
        channel=leads.channel,
        seq=leads.seq,
        is_ft=leads.seq == 0,
        is_lc=is_lc,
        is_post_lc=leads.conversion_us.notnull() & ~is_lc,
        is_oc=ibis.literal(False),
        is_closed_touch=ibis.literal(False),
        in_lc_window=in_window,
        in_oc_window=ibis.literal(False),
        in_full_window=in_window,
        amount=ibis.null("float64"),
        is_closed=ibis.null("boolean"),
        is_won=ibis.null("boolean"),
    )


def opportunity_people(
    opportunities: ir.Table,
    leads: ir.Table,
    contacts: ir.Table,
    roles: ir.Table,
    people: ir.Table,
    link: str,
) -> ir.Table:
    """`(opportunity_id, person_id)`: whose touchpoints each opportunity gets."""
    opps = opportunities.select(
        opportunity_id=opportunities.id, opp_account=opportunities.account_id
    )
    if link == "account":
        owners = crm_person(contacts, "id", people)
        by_contact = owners.join(opps, owners.account_id == opps.opp_account)
        converted = crm_person(leads.filter(leads.converted_account_id.notnull()), "id", people)
        by_lead = converted.join(opps, converted.converted_account_id == opps.opp_account)
    else:
        chosen = roles.filter(roles.is_primary) if link == "primary_contact_role" else roles
        chosen = chosen.join(opps, chosen.opportunity_id == opps.opportunity_id).select(
            "contact_id", opportunity_id=opps.opportunity_id
        )
        by_contact = crm_person(chosen, "contact_id", people)
        converted = crm_person(leads.filter(leads.converted_opportunity_id.notnull()), "id", people)
        by_lead = converted.join(opps, converted.converted_opportunity_id == opps.opportunity_id)
    pairs = by_contact.select("opportunity_id", "person_id").union(
        by_lead.select("opportunity_id", "person_id"), distinct=False
    )
    return pairs.distinct()


def opportunity_journeys(
    numbered: ir.Table, lead_rows: ir.Table, opportunities: ir.Table, linked: ir.Table
) -> ir.Table:
    """Opportunity conversions: their people's touchpoints, with positions and windows."""
    person_lc = lead_rows.filter(lead_rows.is_lc).select(lc_touchpoint=lead_rows.touchpoint_id)
    opps = opportunities.select(
        opportunity_id=opportunities.id,
        created_us=opportunities.created_us,
        close_us=opportunities.close_us,
        amount=opportunities.amount,
        is_closed=opportunities.is_closed.fill_null(False),
        is_won=opportunities.is_won.fill_null(False),
    )
    touches = numbered.join(linked, "person_id").join(opps, "opportunity_id")
    touches = touches.left_join(person_lc, touches.touchpoint_id == person_lc.lc_touchpoint)
    by_opp = ibis.window(group_by="opportunity_id")
    by_date = ibis.window(group_by="opportunity_id", order_by=["touchpoint_us", "touchpoint_id"])
    touches = touches.mutate(opp_seq=ibis.row_number().over(by_date).cast("int64"))
    seq = touches.opp_seq
    touches = touches.mutate(
        lc_seq=ibis.ifelse(touches.lc_touchpoint.notnull(), seq, _null_int()).min().over(by_opp),
        oc_seq=ibis.ifelse(touches.touchpoint_us <= touches.created_us, seq, _null_int())
        .max()
        .over(by_opp),
        closed_seq=ibis.ifelse(
            touches.is_closed & (touches.touchpoint_us <= touches.close_us), seq, _null_int()
        )
        .max()
        .over(by_opp),
    )
    seq = touches.opp_seq
    is_lc = (seq == touches.lc_seq).fill_null(False)
    in_full = ibis.ifelse(touches.is_closed, (seq <= touches.closed_seq).fill_null(False), True)
    return touches.select(
        conversion_id=touches.opportunity_id,
        conversion_type=ibis.literal(OPPORTUNITY),
        touchpoint_id=touches.touchpoint_id,
        person_id=touches.person_id,
        touchpoint_us=touches.touchpoint_us,
        channel=touches.channel,
        seq=seq,
        is_ft=seq == 0,
        is_lc=is_lc,
        is_post_lc=touches.conversion_us.notnull() & ~is_lc,
        is_oc=(seq == touches.oc_seq).fill_null(False),
        is_closed_touch=(seq == touches.closed_seq).fill_null(False),
        in_lc_window=(seq <= touches.lc_seq).fill_null(False),
        in_oc_window=(seq <= touches.oc_seq).fill_null(False),
        in_full_window=in_full,
        amount=touches.amount,
        is_closed=touches.is_closed,
        is_won=touches.is_won,
    )


def journeys(
    touchpoints: ir.Table,
    people: ir.Table,
    leads: ir.Table,
    contacts: ir.Table,
    opportunities: ir.Table,
    roles: ir.Table,
    opportunity_contacts: str,
) -> ir.Table:
    """Each conversion's touchpoints that hold a position or fall in a window."""
    numbered = person_touchpoints(touchpoints)
    lead_rows = lead_journeys(numbered, person_records(leads, contacts, people))
    linked = opportunity_people(opportunities, leads, contacts, roles, people, opportunity_contacts)
    opp_rows = opportunity_journeys(numbered, lead_rows, opportunities, linked)
    rows = lead_rows.union(opp_rows, distinct=False)
    held = rows.is_ft | rows.is_lc | rows.is_post_lc | rows.is_oc | rows.is_closed_touch
    kept = rows.filter(held | rows.in_full_window | rows.in_oc_window | rows.in_lc_window)
    positions = ibis.literal(",").join(
        [ibis.ifelse(kept[flag], name, ibis.null("string")) for flag, name in POSITION_FLAGS]
    )
    return kept.mutate(positions=positions).select(*JOURNEY_COLUMNS)
