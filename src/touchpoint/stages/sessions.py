"""Events → sessions (DESIGN §2).

A visitor's events, in time order, form a session until `[sessions] timeout`
passes without an event. Inside that, an arrival with a new non-direct
acquisition (another source, campaign parameters or click id than the
session's) starts a new session; a direct or internal arrival never does. A
session takes its landing page, referrer, campaign parameters, click id and
channel from its first event.

Written as windows over the events, so that it runs on DuckDB and on Spark.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from touchpoint.schema import EVENT_COLUMNS, SESSION_COLUMNS
from touchpoint.stages.channels import acquisition, classify, referrer_sources
from touchpoint.stages.params import BuildParams

_ORDER = ("occurred_us", "event_id")


def referrer_lookup(events: ir.Table) -> ir.Table:
    """Canonical source of every distinct referrer host among the events."""
    hosts = events.filter(events.referrer_host.notnull()).select("referrer_host").distinct()
    return referrer_sources(hosts)


def sessionize(events: ir.Table, referrers: ir.Table, params: BuildParams) -> ir.Table:
    """Each event with its `session_id`, derived source / medium and whether it starts one."""
    joined = events.left_join(referrers, "referrer_host").drop("referrer_host_right")
    marked = acquisition(joined, params.internal_domains, params.manual_tags_override)
    assigned = assign_sessions(
        marked.select("event_id", "visitor_id", "occurred_us", "is_acquisition", "acquisition_key"),
        params.session_timeout_us,
    )
    joined = marked.join(assigned, "event_id")
    return joined.select(*EVENT_COLUMNS, *EVENT_EXTRA_COLUMNS)


# What the events table keeps after its contract columns: what later stages and
# exports read, not every raw field.
EVENT_EXTRA_COLUMNS = (
    "session_id",
    "starts_session",
    "occurred_us",
    "source",
    "medium",
    "referrer_category",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "click_id",
    "title",
    "email",
)
# What the sessions table keeps after its contract columns.
SESSION_EXTRA_COLUMNS = (
    "started_us",
    "last_activity_us",
    "event_count",
    "first_form_us",
    "first_chat_us",
)


def assign_sessions(events: ir.Table, timeout_us: int) -> ir.Table:
    """`session_id` and `starts_session` per event id, from a narrow table of events.

    The windows sort only these few columns; the wide events join back by id.
    """
    by_visitor = ibis.window(group_by="visitor_id", order_by=_ORDER)
    so_far = ibis.cumulative_window(group_by="visitor_id", order_by=_ORDER)
    previous = events.occurred_us.lag().over(by_visitor)
    marked = events.mutate(
        new_visit=previous.isnull() | ((events.occurred_us - previous) > timeout_us)
    )
    # A visit is named by its first event's time, carried forward.
    marked = marked.mutate(
        visit=ibis.ifelse(marked.new_visit, marked.occurred_us, ibis.null("int64"))
        .max()
        .over(so_far)
    )
    # An acquisition starts a session unless the visit's previous acquisition had its key.
    arrivals = marked.filter(marked.is_acquisition)
    by_arrival = ibis.window(group_by="visitor_id", order_by=_ORDER)
    previous_visit = arrivals.visit.lag().over(by_arrival)
    previous_key = arrivals.acquisition_key.lag().over(by_arrival)
    new_arrival = arrivals.select(
        "event_id",
        new_acquisition=previous_visit.isnull()
        | (previous_visit != arrivals.visit)
        | previous_key.isnull()
        | (previous_key != arrivals.acquisition_key),
    )
    joined = marked.left_join(new_arrival, "event_id").drop("event_id_right")
    joined = joined.mutate(
        starts_session=joined.new_visit | joined.new_acquisition.fill_null(False)
    )
    # Each event carries its session's first event: the latest start so far, as a
    # sortable key (time padded to fixed width, then the event id).
    start_key = ibis.ifelse(
        joined.starts_session,
        joined.occurred_us.cast("string").lpad(20, "0") + joined.event_id,
        ibis.null("string"),
    )
    joined = joined.mutate(start_key=start_key.max().over(so_far))
    first_event = joined.start_key.substr(20)
    return joined.select(
        "event_id",
        "starts_session",
        session_id=(joined.visitor_id + "|" + first_event).hexdigest("md5"),
    )


def sessions(events: ir.Table, params: BuildParams) -> ir.Table:
    """One row per session, its attributes from its first event, its channel classified."""
    first = events.filter(events.starts_session).select(
        "session_id",
        "visitor_id",
        started_at=events.occurred_at,
        started_us=events.occurred_us,
        landing_page=events.url,
        referrer=events.referrer,
        source=events.source,
        medium=events.medium,
        referrer_category=events.referrer_category,
        campaign=events.utm_campaign,
        content=events.utm_content,
        term=events.utm_term,
        click_id=events.click_id,
    )
    kind = events.type
    activity = events.group_by("session_id").aggregate(
        last_activity_at=events.occurred_at.max(),
        last_activity_us=events.occurred_us.max(),
        page_views=(kind == "page_view").cast("int64").sum(),
        event_count=events.count(),
        first_form_us=events.occurred_us.min(where=kind == "form_submit"),
        first_chat_us=events.occurred_us.min(where=kind == "chat"),
    )
    joined = first.join(activity, "session_id")
    classified = classify(joined, params.channel_rules, params.replace_default_channels)
    return classified.select(*SESSION_COLUMNS, *SESSION_EXTRA_COLUMNS)
