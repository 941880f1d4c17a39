"""Sessions, calls and campaign responses → touchpoints (DESIGN §1, §2).

At most one touchpoint per session: the visitor's first session (FT, even
anonymous) and every session that holds a conversion (a form, a chat, a merged
call), typed by its earliest conversion. Calls that did not merge become
touchpoints of their own, and so do CRM campaign responses. Each touchpoint
belongs to the person identity stitching found for its visitor id or CRM
record; `positions` (DESIGN §4) come from the positions stage.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from touchpoint.schema import TOUCHPOINT_COLUMNS
from touchpoint.stages.campaigns import campaign_touchpoints
from touchpoint.stages.channels import classify, is_internal, referrer_sources, source_medium
from touchpoint.stages.identity import caller_person, visitor_person
from touchpoint.stages.ids import session_touchpoint_id
from touchpoint.stages.merge import MERGED, NO_SESSION, NO_VISITOR_ID, OUTSIDE_WINDOW
from touchpoint.stages.params import BuildParams

WEB_FORM = "Web Form"
WEB_CHAT = "Web Chat"
WEB_VISIT = "Web Visit"
PHONE_CALL = "Phone Call"
TEXT_MESSAGE = "Text Message"
CRM_ACTIVITY = "CRM Activity"

# What the touchpoints table keeps after its contract columns, for journeys and positions.
TOUCHPOINT_EXTRA_COLUMNS = ("touchpoint_us", "conversion_us", "conversion_kind")
# Every touchpoint before its `positions` are known (they come from the journeys).
COLUMNS = (
    *(name for name in TOUCHPOINT_COLUMNS if name != "positions"),
    *TOUCHPOINT_EXTRA_COLUMNS,
)


def conversion_type(calls: ir.Table, blank: str | None) -> ir.StringValue:
    """The touchpoint type a call, text or form gives: a text is a `Text Message`, a
    vendor form a `Web Form`, a call its activity type (`blank` when it has none)."""
    return ibis.cases(
        (calls.kind == "text", TEXT_MESSAGE),
        (calls.kind == "form", WEB_FORM),
        else_=calls.activity_type if blank is None else calls.activity_type.fill_null(blank),
    )


def first_merged_calls(calls: ir.Table) -> ir.Table:
    """The earliest qualified merged call (or text, or vendor form) of each session."""
    merged = calls.filter((calls.outcome == MERGED) & calls.qualified)
    earliest = ibis.window(group_by="session_id", order_by=["called_us", "call_id"])
    ranked = merged.mutate(call_rank=ibis.row_number().over(earliest))
    return ranked.filter(ranked.call_rank == 0).select(
        "session_id",
        first_call_us=ranked.called_us,
        first_call_type=conversion_type(ranked, None),
        first_call_kind=ranked.kind,
        first_call_id=ranked.call_id,
    )


def session_touchpoints(sessions: ir.Table, calls: ir.Table, people: ir.Table) -> ir.Table:
    """Touchpoints of the sessions that are a person's first or hold a conversion."""
    joined = sessions.left_join(first_merged_calls(calls), "session_id").drop("session_id_right")
    joined = visitor_person(joined, people)
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
    by_start = ibis.window(group_by="person_id", order_by=["started_us", "session_id"])
    joined = joined.mutate(
        conversion_us=conversion_us,
        # A merged record's own kind: a call, a text or the vendor's form.
        conversion_kind=ibis.ifelse(kind == "call", joined.first_call_kind, kind),
        touchpoint_type=touchpoint_type,
        touchpoint_medium=medium,
        first_session=ibis.row_number().over(by_start) == 0,
    )
    chosen = joined.filter(joined.first_session | joined.conversion_us.notnull())
    return chosen.select(
        touchpoint_id=session_touchpoint_id(chosen.session_id),
        person_id=chosen.person_id,
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


def vendor_source_medium(
    calls: ir.Table, internal_domains: tuple[str, ...] = (), manual_tags_override: bool = False
) -> ir.Table:
    """Source and medium from what the vendor recorded about the call's visit, derived as
    a session's are (DESIGN §3, §12, `channels.source_medium`): the vendor's utm fields or
    source name (read on arrival, with its landing page's utm parameters) and its ad click
    id, then an external referrer, then `(not set)` or `(direct)` / `(none)`."""
    hosts = calls.filter(calls.vendor_referrer_host.notnull())
    hosts = hosts.select(referrer_host=hosts.vendor_referrer_host).distinct()
    lookup = referrer_sources(hosts)
    joined = calls.left_join(lookup, calls.vendor_referrer_host == lookup.referrer_host)
    joined = joined.drop("referrer_host")
    landing_host = joined.vendor_landing_host.fill_null("")
    external = joined.referrer_source.notnull() & ~is_internal(
        joined.vendor_referrer_host, landing_host, list(internal_domains)
    ).fill_null(False)
    tagged = (
        joined.vendor_medium.notnull()
        | joined.vendor_campaign.notnull()
        | joined.vendor_content.notnull()
        | joined.vendor_term.notnull()
    )
    source, medium, category = source_medium(
        joined.vendor_source,
        joined.vendor_medium,
        tagged,
        joined.vendor_click_id_param,
        ibis.ifelse(external, joined.referrer_source, ibis.null("string")),
        joined.referrer_category,
        manual_tags_override,
    )
    derived = joined.mutate(
        source=source,
        medium=medium,
        referrer_category=category,
        campaign=joined.vendor_campaign,
        landing_page=joined.vendor_landing_page,
        referrer=joined.vendor_referrer,
    )
    return derived.drop("referrer_source", "referrer_is_search")


def call_touchpoints(calls: ir.Table, params: BuildParams) -> ir.Table:
    """Touchpoints of the qualified calls, texts and vendor forms that did not merge into a
    session (no visitor id: only by the vendor's attribution, `[merge] vendor_fallback`)."""
    standalone = calls.filter(
        calls.outcome.isin((NO_SESSION, OUTSIDE_WINDOW, NO_VISITOR_ID))
        & calls.qualified
        & calls.touchpoint_id.notnull()
    )
    classified = classify(
        vendor_source_medium(standalone, params.internal_domains, params.manual_tags_override),
        params.channel_rules,
        params.replace_default_channels,
    )
    by_vendor = classified.attribution_basis == "vendor"
    call_type = conversion_type(classified, PHONE_CALL)
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
        conversion_kind=classified.kind,
        who_id=classified.who_id,
        caller_number=classified.caller_number,
    )


def touchpoints(
    sessions: ir.Table,
    calls: ir.Table,
    people: ir.Table,
    campaign_members: ir.Table,
    leads: ir.Table,
    contacts: ir.Table,
    params: BuildParams,
) -> ir.Table:
    """Every touchpoint (sessions, standalone calls, CRM campaign responses) with its person."""
    by_call = call_touchpoints(calls, params).drop("person_id")
    with_visitor = visitor_person(by_call.filter(by_call.visitor_id.notnull()), people)
    without = caller_person(by_call.filter(by_call.visitor_id.isnull()), people, leads, contacts)
    standalone = with_visitor.select(*COLUMNS).union(without.select(*COLUMNS), distinct=False)
    web = session_touchpoints(sessions, calls, people).union(standalone.select(*COLUMNS))
    crm = campaign_touchpoints(campaign_members, people, params.campaign_channels)
    return web.union(crm.select(*COLUMNS), distinct=False)


POSITIONS = ("FT", "LC", "PostLC", "OC", "Closed")


def with_positions(touchpoints: ir.Table, journeys: ir.Table) -> ir.Table:
    """Touchpoints with `positions`: the union of the positions they hold in any conversion.

    FT is every person's first touchpoint, whether or not the person converted.
    """
    held = journeys.group_by("touchpoint_id").aggregate(
        held_lc=journeys.is_lc.any(),
        held_post_lc=journeys.is_post_lc.any(),
        held_oc=journeys.is_oc.any(),
        held_closed=journeys.is_closed_touch.any(),
    )
    by_date = ibis.window(group_by="person_id", order_by=["touchpoint_us", "touchpoint_id"])
    ranked = touchpoints.mutate(is_ft=ibis.row_number().over(by_date) == 0)
    joined = ranked.left_join(held, "touchpoint_id").drop("touchpoint_id_right")
    flags = (
        joined.is_ft,
        joined.held_lc.fill_null(False),
        joined.held_post_lc.fill_null(False),
        joined.held_oc.fill_null(False),
        joined.held_closed.fill_null(False),
    )
    positions = ibis.literal(",").join(
        [
            ibis.ifelse(flag, name, ibis.null("string"))
            for flag, name in zip(flags, POSITIONS, strict=True)
        ]
    )
    return joined.mutate(positions=positions).select(*TOUCHPOINT_COLUMNS, *TOUCHPOINT_EXTRA_COLUMNS)
