"""Which calls, texts and forms count (DESIGN §12, `[calls]`): `qualified` and the reason.

The rules run in this order and the first that fails gives the reason:

1. `outbound` (`exclude_outbound`): the record's direction, or a Task's `CallType`,
   is outbound;
2. `spam` (`exclude_spam`): the vendor marked it spam;
3. `duplicate of a form the snippet recorded`: a vendor form of a visitor whose
   snippet recorded a `form_submit` within 2 minutes of it (either side) adds nothing;
4. `too short: 12 s < 30 s` (`min_duration`);
5. `not answered` (`answered_only`): a status other than answered;
6. `repeat caller` (`first_time_only`): the vendor says it is not a first-time caller;
7. `lead status: X not in [A, B]` (`lead_statuses`, compared in any case).

A rule that cannot judge a record passes it: no direction, no spam flag, no
duration, no status, no first-time flag or no lead status is never a reason. A
call that fails keeps its outcome; the merge and touchpoint stages give it no
touchpoint and no conversion.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from touchpoint.stages.params import BuildParams

OUTBOUND = "outbound"
SPAM = "spam"
DUPLICATE_FORM = "duplicate of a form the snippet recorded"
NOT_ANSWERED = "not answered"
REPEAT_CALLER = "repeat caller"
# How close a snippet's form submit must be to a vendor form to be the same form.
FORM_MATCH_US = 2 * 60 * 1_000_000
_KEY = ("source_system", "call_id")


def record_kind(calls: ir.Table) -> ir.StringValue:
    """`call`, `text` or `form`; a record whose source does not say is a call."""
    return calls.kind.lower().fill_null("call")


def duplicate_forms(calls: ir.Table, events: ir.Table) -> ir.Table:
    """`(dup_system, dup_id)` of the vendor forms the snippet recorded too."""
    forms = calls.filter((record_kind(calls) == "form") & calls.visitor_id.notnull())
    forms = forms.select(
        dup_system=forms.source_system,
        dup_id=forms.call_id,
        form_visitor=forms.visitor_id,
        form_us=forms.called_us,
    )
    submits = events.filter(events.type == "form_submit")
    submits = submits.select(submit_visitor=submits.visitor_id, submit_us=submits.occurred_us)
    pairs = forms.join(
        submits,
        (forms.form_visitor == submits.submit_visitor)
        & ((forms.form_us - submits.submit_us).abs() <= FORM_MATCH_US),
    )
    return pairs.select("dup_system", "dup_id").distinct()


def _seconds(us: int) -> str:
    return f"{us / 1_000_000:g} s"


def qualify(calls: ir.Table, events: ir.Table, params: BuildParams) -> ir.Table:
    """`calls` with `qualified` and `disqualified_reason` (null when it counts)."""
    dups = duplicate_forms(calls, events).mutate(is_duplicate_form=ibis.literal(True))
    joined = calls.left_join(
        dups, (calls.source_system == dups.dup_system) & (calls.call_id == dups.dup_id)
    ).drop("dup_system", "dup_id")
    direction = ibis.coalesce(joined.direction.lower(), joined.call_type.lower())
    rules: list[tuple[ir.BooleanValue, ir.StringValue | str]] = []
    if params.exclude_outbound:
        rules.append(((direction == "outbound").fill_null(False), OUTBOUND))
    if params.exclude_spam:
        rules.append((joined.spam.fill_null(False), SPAM))
    rules.append((joined.is_duplicate_form.fill_null(False), DUPLICATE_FORM))
    if params.min_duration_us > 0:
        short = (joined.duration_s * 1_000_000 < params.min_duration_us).fill_null(False)
        said = joined.duration_s.cast("string") + " s < " + _seconds(params.min_duration_us)
        rules.append((short, "too short: " + said))
    if params.answered_only:
        rules.append(((joined.status.lower() != "answered").fill_null(False), NOT_ANSWERED))
    if params.first_time_only:
        rules.append(((joined.first_time_caller == False).fill_null(False), REPEAT_CALLER))  # noqa: E712
    if params.lead_statuses:
        wanted = [status.lower() for status in params.lead_statuses]
        listed = "[" + ", ".join(params.lead_statuses) + "]"
        outside = (~joined.lead_status.lower().isin(wanted)).fill_null(False)
        rules.append((outside, "lead status: " + joined.lead_status + " not in " + listed))
    reason = ibis.cases(*rules, else_=ibis.null("string"))
    return joined.mutate(qualified=reason.isnull(), disqualified_reason=reason).drop(
        "is_duplicate_form"
    )
