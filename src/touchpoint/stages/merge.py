"""Calls × sessions → each call's outcome (DESIGN §1), as a join plus a window.

For each call, the latest session of the same visitor that started at or
before the call. The gap runs from that session's start (or, with
`[merge] anchor = "last_activity"`, from its last event at or before the
call) to the call; a gap up to the window, inclusive, merges.

Every call is then judged by the `[calls]` rules (`stages.qualify`): one that does
not count keeps its outcome but gets no touchpoint id. A call with no visitor id
whose record carries the vendor's attribution gets a touchpoint of its own
(`attribution_basis = vendor`) while `[merge] vendor_fallback` is on (DESIGN §12).

A call to a pool number that more than one visitor held within the pool's hold
(`stages.numbers`, DESIGN §15) is `ambiguous`: it has no visitor id, no session and
no touchpoint, whatever the vendor recorded.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from touchpoint.stages.ids import call_touchpoint_id, session_touchpoint_id
from touchpoint.stages.numbers import AMBIGUOUS as AMBIGUOUS_MATCH
from touchpoint.stages.params import BuildParams
from touchpoint.stages.qualify import qualify, record_kind

MERGED = "merged"
OUTSIDE_WINDOW = "outside_window"
NO_SESSION = "no_session"
NO_VISITOR_ID = "no_visitor_id"
AMBIGUOUS = "ambiguous"  # DESIGN §15: several visitors held the pool number called
OUTCOMES = (MERGED, OUTSIDE_WINDOW, NO_SESSION, NO_VISITOR_ID, AMBIGUOUS)
_CALL_KEY = ("source_system", "call_id")
VENDOR_FIELDS = (
    "vendor_source",
    "vendor_medium",
    "vendor_campaign",
    "vendor_click_id",
    "vendor_landing_page",
    "vendor_referrer",
)


def latest_sessions(calls: ir.Table, sessions: ir.Table) -> ir.Table:
    """For each call with a visitor id, the latest session started at or before it."""
    candidates = sessions.select(
        session_visitor=sessions.visitor_id,
        session_id=sessions.session_id,
        session_started_us=sessions.started_us,
    )
    with_id = calls.filter(calls.visitor_id.notnull()).select(*_CALL_KEY, "visitor_id", "called_us")
    pairs = with_id.join(
        candidates,
        (with_id.visitor_id == candidates.session_visitor)
        & (candidates.session_started_us <= with_id.called_us),
    )
    newest_first = ibis.window(
        group_by=list(_CALL_KEY),
        order_by=[pairs.session_started_us.desc(), pairs.session_id.desc()],
    )
    ranked = pairs.mutate(session_rank=ibis.row_number().over(newest_first))
    latest = ranked.filter(ranked.session_rank == 0)
    return latest.select(*_CALL_KEY, "called_us", "session_id", "session_started_us")


def last_activity(latest: ir.Table, events: ir.Table) -> ir.Table:
    """For each call, the last event of its session at or before the call."""
    session_events = events.select(event_session=events.session_id, event_us=events.occurred_us)
    joined = latest.join(
        session_events,
        (latest.session_id == session_events.event_session)
        & (session_events.event_us <= latest.called_us),
    )
    return joined.group_by(list(_CALL_KEY)).aggregate(anchor_us=joined.event_us.max())


def merge_calls(
    calls: ir.Table, sessions: ir.Table, events: ir.Table, params: BuildParams
) -> ir.Table:
    """Every call with its outcome, session, gap, touchpoint id and attribution basis."""
    latest = latest_sessions(calls, sessions)
    if params.merge_anchor == "last_activity":
        anchors = last_activity(latest, events)
        latest = latest.left_join(anchors, list(_CALL_KEY)).select(
            *_CALL_KEY,
            "session_id",
            "session_started_us",
            anchor_us=ibis.coalesce(ibis._.anchor_us, ibis._.session_started_us),
        )
    else:
        latest = latest.select(
            *_CALL_KEY, "session_id", "session_started_us", anchor_us=latest.session_started_us
        )
    joined = calls.left_join(latest, list(_CALL_KEY))
    joined = joined.drop(*(f"{name}_right" for name in _CALL_KEY))
    gap_us = joined.called_us - joined.anchor_us
    outcome = ibis.cases(
        ((joined.number_match == AMBIGUOUS_MATCH).fill_null(False), AMBIGUOUS),
        (joined.visitor_id.isnull(), NO_VISITOR_ID),
        (joined.session_id.isnull(), NO_SESSION),
        (gap_us <= params.merge_window_us, MERGED),
        else_=OUTSIDE_WINDOW,
    )
    has_vendor = ibis.literal(False)
    for name in VENDOR_FIELDS:
        has_vendor |= joined[name].notnull()
    merged = joined.mutate(
        outcome=outcome,
        seconds_from_session_start=(joined.called_us - joined.session_started_us).cast("float64")
        / 1_000_000,
        gap_s=gap_us.cast("float64") / 1_000_000,
        kind=record_kind(joined),
        _has_vendor=has_vendor,
    )
    merged = qualify(merged, events, params)
    # `[merge] vendor_fallback`: the vendor's attribution stands in for the missing visitor.
    by_vendor = (merged.outcome == NO_VISITOR_ID) & merged._has_vendor & params.vendor_fallback
    no_touchpoint = (
        ~merged.qualified
        | ((merged.outcome == NO_VISITOR_ID) & ~by_vendor)
        | (merged.outcome == AMBIGUOUS)
    )
    return merged.mutate(
        touchpoint_id=ibis.cases(
            (no_touchpoint, ibis.null("string")),
            (merged.outcome == MERGED, session_touchpoint_id(merged.session_id)),
            else_=call_touchpoint_id(merged.source_system, merged.call_id),
        ),
        attribution_basis=ibis.cases(
            (no_touchpoint, ibis.null("string")),
            (merged.outcome == MERGED, "session"),
            else_=ibis.ifelse(merged._has_vendor, "vendor", "none"),
        ),
    ).drop("_has_vendor")
