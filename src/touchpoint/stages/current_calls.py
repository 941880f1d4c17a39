"""Raw call records → one row per call, whatever route the call came by.

Every version of a call is kept raw. Per source system and call id, the version
with the latest modification time wins, whatever order the records arrived in;
when that version is a deletion, the call is gone.

A call can arrive twice: from the call-tracking vendor (CTM, CallRail, Invoca,
Twilio, a calls-csv) and as the CRM Task the vendor wrote for it, whose
`CallObject` (`external_id`) is the vendor's call id or its other id (CTM's
`sid`, CallRail's numeric `id`, Invoca's `complete_call_id`). That is one call
(DESIGN §8), and it keeps the vendor's identity: `source_system` and `call_id`
are the vendor's, so the call's id never changes when the CRM sync catches up,
and a deleted Task leaves the vendor's call as it was. The vendor contributes
the call's time, numbers, visitor id and what it recorded about the visit; the
Task contributes the CRM's side: `who_id`, `what_id`, the activity type and
subject (and any field the vendor left empty). `external_id` of such a call is
the Task's id, so the call is found by either id.

A Task's visitor id and call time come from the fields `[salesforce]
visitor_id_field` and `call_time_field` name; they are read again here from the
record as imported, so a changed setting applies to every Task at the next build.
Every Task is kept raw, emails and meetings too, and whether it is a call is
decided here on its latest version (DESIGN §11: `TaskSubtype = 'Call'`, or a
`CallType`, or a visitor id, or a `Type` in `[salesforce] call_types`; a Task a
sync's `task_filter` chose is one), so a Task that became an email is no call.
A Task's call columns of DESIGN §12: `kind` is `call`, `direction` its
`CallType` (`Inbound`, `Outbound`; `Internal`, a call between two users, has
none), `status` its `CallDisposition` where the words say it (`CALL_RESULTS`).

Invoca's signals (rows of kind `signal`, DESIGN §12) are never calls: each keeps
only its latest version (a correction replaces the signal it corrects), and the
call whose `complete_call_id` (`external_id`) a signal names adds the signals'
value to its own. A call split into several legs with one `complete_call_id`
counts them once, on its first leg. A signal whose call never came adds to nothing
and is shown nowhere; it is kept raw, and counts as soon as its call arrives.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from touchpoint.stages.params import BuildParams
from touchpoint.stages.record_fields import kept, record_text, timestamp_of, with_time_us

CRM_SYSTEMS = ("salesforce",)
SIGNAL_KIND = "signal"  # as `sources.vendors.call_facts` writes it
_KEY = ("source_system", "call_id")
# From the CRM's Task when the vendor's call joins it: what only the CRM knows.
_FROM_TASK = ("who_id", "what_id", "activity_type", "subject")
# From the Task only where the vendor left them empty.
_FALLBACK_TO_TASK = ("visitor_id", "caller_number", "tracking_number", "duration_s", "call_type")
# A Task's `CallDisposition` (free text a CTI or a user writes) as a call's `status`,
# lower-case; other words say nothing clear, and give none.
CALL_RESULTS = {
    "answered": "answered",
    "connected": "answered",
    "no answer": "missed",
    "not answered": "missed",
    "unanswered": "missed",
    "missed": "missed",
    "voicemail": "voicemail",
    "left voicemail": "voicemail",
    "left message": "voicemail",
    "busy": "busy",
    "failed": "failed",
    "abandoned": "abandoned",
}
DIRECTIONS = {"inbound": "inbound", "outbound": "outbound"}  # a Task's CallType


def latest_versions(raw_calls: ir.Table) -> ir.Table:
    """One row per (source_system, call_id): its latest version, deletions dropped."""
    latest_first = ibis.window(
        group_by=list(_KEY),
        order_by=[
            raw_calls.version_us.desc(),
            raw_calls.is_deleted.desc(),  # a deletion and an edit at one instant: deleted
            raw_calls.record_hash.desc(),
        ],
    )
    ranked = raw_calls.mutate(version_rank=ibis.row_number().over(latest_first))
    current = ranked.filter((ranked.version_rank == 0) & ~ranked.is_deleted.fill_null(False))
    return current.drop("version_rank")


def with_signal_values(latest: ir.Table) -> ir.Table:
    """The calls, texts and forms (no signals), each call's `value` plus its signals'."""
    is_signal = (latest.kind == SIGNAL_KIND).fill_null(False)
    signals = latest.filter(is_signal & latest.external_id.notnull() & latest.value.notnull())
    totals = signals.group_by(
        signal_system=signals.source_system, signal_ref=signals.external_id
    ).aggregate(signal_value=signals.value.sum())
    calls = latest.filter(~is_signal)
    # Only the calls some signal names are ranked: most builds have none.
    named = calls.select(
        "source_system", "call_id", "called_us", ref=ibis.coalesce(calls.external_id, calls.call_id)
    )
    named = named.join(
        totals, (named.source_system == totals.signal_system) & (named.ref == totals.signal_ref)
    )
    first_leg = ibis.window(
        group_by=[named.source_system, named.ref], order_by=[named.called_us, named.call_id]
    )
    named = named.mutate(leg=ibis.row_number().over(first_leg))
    firsts = named.filter(named.leg == 0).select(
        valued_system=named.source_system, valued_id=named.call_id, signal_value=named.signal_value
    )
    joined = calls.left_join(
        firsts, (calls.source_system == firsts.valued_system) & (calls.call_id == firsts.valued_id)
    )
    added = joined.mutate(
        value=ibis.ifelse(
            joined.signal_value.isnull(),
            joined.value,
            joined.value.fill_null(0.0) + joined.signal_value,
        )
    )
    return added.select(*latest.columns)


def with_task_fields(calls: ir.Table, params: BuildParams) -> ir.Table:
    """Tasks' visitor id and call time read from their records with these settings.

    The call time is the `call_time_field` when it holds a time, else `CreatedDate`.
    """
    is_task = calls.source_system.isin(CRM_SYSTEMS)
    record = calls.record
    visitor_id = ibis.null("string")
    if params.visitor_id_field:
        visitor_id = record_text(record, params.visitor_id_field)
    call_time = ibis.null("string")
    if params.call_time_field:
        call_time = record_text(record, params.call_time_field)
    t = calls.mutate(
        visitor_id=ibis.ifelse(is_task, visitor_id, calls.visitor_id),
        _created_text=ibis.ifelse(is_task, record_text(record, "CreatedDate"), ibis.null("string")),
        _call_time_text=ibis.ifelse(is_task, call_time, ibis.null("string")),
    )
    is_task = t.source_system.isin(CRM_SYSTEMS)
    t = with_time_us(t, "_created_us", t._created_text)
    t = with_time_us(t, "_call_time_us", t._call_time_text)
    t = t.mutate(
        called_us=kept(
            ibis.ifelse(
                is_task, ibis.coalesce(t._call_time_us, t._created_us, t.called_us), t.called_us
            )
        )
    )
    t = t.mutate(called_at=ibis.ifelse(is_task, timestamp_of(t.called_us), t.called_at))
    return t.drop("_created_text", "_call_time_text", "_created_us", "_call_time_us")


def is_task_call(calls: ir.Table, params: BuildParams) -> ir.BooleanValue:
    """Whether a Task (its latest version, fields read by `with_task_fields`) is a call."""
    subtype = record_text(calls.record, "TaskSubtype").lower()
    rule = (
        (calls.kind == "call")  # a sync's `task_filter` chose it: that rule replaces ours
        | (subtype == "call")
        | calls.call_type.notnull()
        | calls.visitor_id.notnull()
    )
    types = sorted({name.strip().lower() for name in params.call_types if name.strip()})
    if types:
        rule |= calls.activity_type.strip().lower().isin(types)
    return rule.fill_null(False)


def with_task_call_facts(calls: ir.Table) -> ir.Table:
    """Tasks' DESIGN §12 columns: `kind`, `direction` (CallType) and `status` (CallDisposition)."""
    is_task = calls.source_system.isin(CRM_SYSTEMS)
    direction = calls.call_type.strip().lower().substitute(DIRECTIONS, else_=ibis.null("string"))
    result = record_text(calls.record, "CallDisposition").lower()
    status = result.substitute(CALL_RESULTS, else_=ibis.null("string"))
    return calls.mutate(
        kind=ibis.ifelse(is_task, ibis.literal("call"), calls.kind),
        direction=ibis.ifelse(is_task, direction, calls.direction),
        status=ibis.ifelse(is_task, status, calls.status),
    )


def task_links(calls: ir.Table) -> ir.Table:
    """Which CRM Task records which vendor call: `task_system, task_id, vendor_system,
    vendor_id, representative` (the Task whose fields the call takes, when several do).

    A Task's `CallObject` matches a vendor call's id before its other id; among
    equal matches the first vendor call by system and id wins, so the links do not
    depend on row order.
    """
    is_crm = calls.source_system.isin(CRM_SYSTEMS)
    tasks = calls.filter(is_crm & calls.external_id.notnull())
    tasks = tasks.select(
        task_system=tasks.source_system,
        task_id=tasks.call_id,
        task_ref=tasks.external_id,
        task_version=tasks.version_us,
    )
    vendor = calls.filter(~is_crm)
    by_id = vendor.select(
        vendor_system=vendor.source_system,
        vendor_id=vendor.call_id,
        ref=vendor.call_id,
        match_rank=ibis.literal(0),
    )
    aliased = vendor.filter(vendor.external_id.notnull())
    by_alias = aliased.select(
        vendor_system=aliased.source_system,
        vendor_id=aliased.call_id,
        ref=aliased.external_id,
        match_rank=ibis.literal(1),
    )
    refs = by_id.union(by_alias, distinct=False)
    pairs = tasks.join(refs, tasks.task_ref == refs.ref)
    best_call = ibis.window(
        group_by=["task_system", "task_id"],
        order_by=[pairs.match_rank, pairs.vendor_system, pairs.vendor_id],
    )
    pairs = pairs.mutate(call_rank=ibis.row_number().over(best_call))
    linked = pairs.filter(pairs.call_rank == 0)
    latest_task = ibis.window(
        group_by=["vendor_system", "vendor_id"],
        order_by=[linked.task_version.desc(), linked.task_system, linked.task_id],
    )
    linked = linked.mutate(task_rank=ibis.row_number().over(latest_task))
    return linked.select(
        "task_system",
        "task_id",
        "vendor_system",
        "vendor_id",
        representative=linked.task_rank == 0,
    )


def one_call_per_route(calls: ir.Table) -> ir.Table:
    """Vendor calls joined with the CRM Tasks that record them (see the module docstring)."""
    links = task_links(calls)
    columns = calls.columns
    task_side = calls.select(
        task_system=calls.source_system,
        task_id=calls.call_id,
        **{f"task_{name}": calls[name] for name in (*_FROM_TASK, *_FALLBACK_TO_TASK)},
    )
    chosen = links.filter(links.representative)
    chosen = chosen.join(task_side, ["task_system", "task_id"]).select(
        "vendor_system",
        "vendor_id",
        "task_id",
        *(f"task_{n}" for n in (*_FROM_TASK, *_FALLBACK_TO_TASK)),
    )
    vendor = calls.filter(~calls.source_system.isin(CRM_SYSTEMS))
    joined = vendor.left_join(
        chosen,
        (vendor.source_system == chosen.vendor_system) & (vendor.call_id == chosen.vendor_id),
    )
    merged = {name: ibis.coalesce(joined[f"task_{name}"], joined[name]) for name in _FROM_TASK}
    merged |= {
        name: ibis.coalesce(joined[name], joined[f"task_{name}"]) for name in _FALLBACK_TO_TASK
    }
    merged["external_id"] = ibis.coalesce(joined.task_id, joined.external_id)
    vendor_calls = joined.select(*(merged.get(name, joined[name]).name(name) for name in columns))

    absorbed = links.select(absorbed_system=links.task_system, absorbed_id=links.task_id)
    crm = calls.filter(calls.source_system.isin(CRM_SYSTEMS))
    own = crm.anti_join(
        absorbed,
        (crm.source_system == absorbed.absorbed_system) & (crm.call_id == absorbed.absorbed_id),
    )
    return vendor_calls.union(own.select(*columns), distinct=False)


def call_records(raw_calls: ir.Table, params: BuildParams) -> ir.Table:
    """The latest version of each call record, its fields read with these settings; of
    the Tasks, those that are calls."""
    latest = with_task_fields(with_signal_values(latest_versions(raw_calls)), params)
    latest = latest.filter(~latest.source_system.isin(CRM_SYSTEMS) | is_task_call(latest, params))
    latest = with_task_call_facts(latest)
    return latest.drop("record", "record_hash", "origin", "received_at")


def current_calls(records: ir.Table, _params: BuildParams) -> ir.Table:
    """One row per call: one call per vendor call, from the `call_records` stage's rows."""
    # The version is bookkeeping; for vendors without a modification time it is the
    # arrival time, which must not reach the results (rebuilds stay identical).
    return one_call_per_route(records).drop("version_us")
