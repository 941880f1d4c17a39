"""Sessions and calls → touchpoints (DESIGN §1, §2).

At most one touchpoint per session: the person's first session (FT, even
anonymous) and every session that holds a conversion (a form, a chat, a merged
call), typed by its earliest conversion. Calls that did not merge become
touchpoints of their own. A person is a visitor id until identity stitching
joins visitor ids.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from touchpoint.channels import CLICK_SOURCES, DIRECT_SOURCE, NO_MEDIUM, classify
from touchpoint.ids import session_touchpoint_id
from touchpoint.merge import MERGED, NO_SESSION, OUTSIDE_WINDOW
from touchpoint.params import BuildParams

WEB_FORM = "Web Form"
WEB_CHAT = "Web Chat"
WEB_VISIT = "Web Visit"
PHONE_CALL = "Phone Call"
CRM_ACTIVITY = "CRM Activity"

COLUMNS = (
    "touchpoint_id",
    "person_id",
    "visitor_id",
    "touchpoint_date",
    "touchpoint_type",
    "medium",
    "source",
    "channel",
    "subchannel",
    "campaign",
    "landing_page",
    "referrer",
    "session_id",
    "call_id",
    "attribution_basis",
    "touchpoint_us",
    "conversion_us",
    "conversion_kind",
)


def first_merged_calls(calls: ir.Table) -> ir.Table:
    """The earliest merged call of each session."""
    merged = calls.filter(calls.outcome == MERGED)
    earliest = ibis.window(group_by="session_id", order_by=["called_us", "call_id"])
    ranked = merged.mutate(call_rank=ibis.row_number().over(earliest))
    return ranked.filter(ranked.call_rank == 0).select(
        "session_id",
        first_call_us=ranked.called_us,
        first_call_type=ranked.activity_type,
        first_call_id=ranked.call_id,
    )


def session_touchpoints(sessions: ir.Table, calls: ir.Table) -> ir.Table:
    """Touchpoints of the sessions that are a person's first or hold a conversion."""
    joined = sessions.left_join(first_merged_calls(calls), "session_id").drop("session_id_right")
    form, chat, call = joined.first_form_us, joined.first_chat_us, joined.first_call_us
    conversion_us = ibis.least(form, chat, call)
    kind = ibis.cases(
        (form == conversion_us, "form"),
        (chat == conversion_us, "chat"),
        (call == conversion_us, "call"),
        else_=ibis.null("string"),
    )
    call_type = joined.first_call_type
    touchpoint_type = ibis.cases(
        (kind == "form", WEB_FORM),
        (kind == "chat", WEB_CHAT),
        (kind == "call", call_type.fill_null(WEB_VISIT)),
        else_=WEB_VISIT,
    )
    medium = ibis.cases(
        (kind == "form", WEB_FORM),
        (kind == "chat", WEB_CHAT),
        ((kind == "call") & call_type.notnull(), call_type),
        else_=joined.medium,
    )
    by_start = ibis.window(group_by="visitor_id", order_by=["started_us", "session_id"])
    joined = joined.mutate(
        conversion_us=conversion_us,
        conversion_kind=kind,
        touchpoint_type=touchpoint_type,
        touchpoint_medium=medium,
        first_session=ibis.row_number().over(by_start) == 0,
    )
    chosen = joined.filter(joined.first_session | joined.conversion_us.notnull())
    return chosen.select(
        touchpoint_id=session_touchpoint_id(chosen.session_id),
        person_id=chosen.visitor_id,
        visitor_id=chosen.visitor_id,
        touchpoint_date=chosen.started_at,
        touchpoint_type=chosen.touchpoint_type,
        medium=chosen.touchpoint_medium,
        source=chosen.source,
        channel=chosen.channel,
        subchannel=chosen.subchannel,
        campaign=chosen.campaign,
        landing_page=chosen.landing_page,
        referrer=chosen.referrer,
        session_id=chosen.session_id,
        call_id=chosen.first_call_id,
        attribution_basis=ibis.literal("session"),
        touchpoint_us=chosen.started_us,
        conversion_us=chosen.conversion_us,
        conversion_kind=chosen.conversion_kind,
    )


def vendor_source_medium(calls: ir.Table) -> ir.Table:
    """Source and medium from what the vendor recorded about the call's visit."""
    param = calls.vendor_click_id_param
    click_source = ibis.cases(
        *((param == name, pair[0]) for name, pair in CLICK_SOURCES.items()),
        else_=ibis.null("string"),
    )
    source = ibis.coalesce(calls.vendor_source.lower().nullif(""), click_source, DIRECT_SOURCE)
    medium = ibis.coalesce(
        calls.vendor_medium.lower().nullif(""),
        ibis.cases(
            *((param == name, pair[1]) for name, pair in CLICK_SOURCES.items() if pair[1]),
            else_=ibis.null("string"),
        ),
        NO_MEDIUM,
    )
    return calls.mutate(
        source=source,
        medium=medium,
        campaign=calls.vendor_campaign,
        landing_page=calls.vendor_landing_page,
        referrer=calls.vendor_referrer,
    )


def call_touchpoints(calls: ir.Table, params: BuildParams) -> ir.Table:
    """Touchpoints of calls that did not merge into a session (no visitor id: none)."""
    standalone = calls.filter(calls.outcome.isin((NO_SESSION, OUTSIDE_WINDOW)))
    classified = classify(
        vendor_source_medium(standalone), params.channel_rules, params.replace_default_channels
    )
    by_vendor = classified.attribution_basis == "vendor"
    call_type = classified.activity_type.fill_null(PHONE_CALL)
    return classified.select(
        touchpoint_id=classified.touchpoint_id,
        person_id=classified.visitor_id,
        visitor_id=classified.visitor_id,
        touchpoint_date=classified.called_at,
        touchpoint_type=call_type,
        medium=call_type,
        source=ibis.literal(CRM_ACTIVITY),
        channel=ibis.ifelse(by_vendor, classified.channel, "Unassigned"),
        subchannel=ibis.ifelse(by_vendor, classified.subchannel, ibis.null("string")),
        campaign=ibis.ifelse(by_vendor, classified.campaign, ibis.null("string")),
        landing_page=ibis.null("string"),
        referrer=ibis.null("string"),
        session_id=ibis.null("string"),
        call_id=classified.call_id,
        attribution_basis=classified.attribution_basis,
        touchpoint_us=classified.called_us,
        conversion_us=classified.called_us,
        conversion_kind=ibis.literal("call"),
    )


def touchpoints(sessions: ir.Table, calls: ir.Table, params: BuildParams) -> ir.Table:
    """All touchpoints with their lead positions (FT, LC, PostLC) per person."""
    union = session_touchpoints(sessions, calls).union(call_touchpoints(calls, params))
    by_date = ibis.window(group_by="person_id", order_by=["touchpoint_us", "touchpoint_id"])
    by_conversion = ibis.window(
        group_by="person_id",
        order_by=[union.conversion_us.asc(nulls_first=False), "touchpoint_id"],
    )
    ranked = union.mutate(
        is_ft=ibis.row_number().over(by_date) == 0,
        conversion_rank=ibis.row_number().over(by_conversion),
    )
    converted = ranked.conversion_us.notnull()
    is_lc = converted & (ranked.conversion_rank == 0)
    is_post_lc = converted & (ranked.conversion_rank > 0)
    positions = ibis.literal(",").join(
        [
            ibis.ifelse(ranked.is_ft, "FT", ibis.null("string")),
            ibis.ifelse(is_lc, "LC", ibis.null("string")),
            ibis.ifelse(is_post_lc, "PostLC", ibis.null("string")),
        ]
    )
    with_positions = ranked.mutate(positions=positions)
    ordered = [*COLUMNS[:14], "positions", *COLUMNS[14:]]
    return with_positions.select(*ordered)
