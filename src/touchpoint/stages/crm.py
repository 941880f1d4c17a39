"""Raw CRM records → the current version of each record (leads, contacts, ...).

Every imported version is kept raw. Per `id`, the version with the latest
`LastModifiedDate` (or `SystemModstamp`) wins; records without one are ordered
by when they arrived. A current version that is a deletion removes the record.

What depends on a setting is read again from the record as imported, so a
changed setting applies to every record at the next build: an opportunity's
revenue (`[attribution] amount_field`), and the moments of date-only fields,
`CloseDate` and `FirstRespondedDate` (days in `[site] timezone`).
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir

from touchpoint.stages.params import BuildParams
from touchpoint.stages.record_fields import (
    record_number,
    record_text,
    timestamp_of,
    with_day_bounds,
)

_BOOKKEEPING = ("version_rank", "record", "record_hash", "origin", "received_at", "is_deleted")
RecordFields = Callable[[ir.Table, BuildParams], ir.Table]


def with_opportunity_fields(current: ir.Table, params: BuildParams) -> ir.Table:
    """An opportunity's `amount` from `amount_field`, and a date-only `CloseDate` as the
    end of that day in the site's time zone."""
    t = current.mutate(amount=record_number(current.record, params.amount_field))
    t = with_day_bounds(t, ("_day_start_us", "_day_end_us"), t.close_date, params.site_timezone)
    t = t.mutate(close_us=ibis.coalesce(t._day_end_us, t.close_us))
    return t.drop("_day_start_us", "_day_end_us")


def with_member_fields(current: ir.Table, params: BuildParams) -> ir.Table:
    """A response's moment when `FirstRespondedDate` is a day: the member's `CreatedDate`
    when it falls on that day in the site's time zone, else the day's start."""
    t = current.mutate(
        _responded_on=ibis.ifelse(
            current.has_responded,
            record_text(current.record, "FirstRespondedDate"),
            ibis.null("string"),
        )
    )
    t = with_day_bounds(t, ("_start", "_end"), t._responded_on, params.site_timezone)
    created_that_day = (t.created_us >= t._start) & (t.created_us <= t._end)
    t = t.mutate(
        responded_us=ibis.ifelse(
            t._start.isnull(),
            t.responded_us,
            ibis.ifelse(created_that_day, t.created_us, t._start),
        )
    )
    t = t.mutate(
        responded_at=ibis.ifelse(t._start.isnull(), t.responded_at, timestamp_of(t.responded_us))
    )
    return t.drop("_responded_on", "_start", "_end")


# The raw CRM tables with values read again from their records.
RECORD_FIELDS: dict[str, RecordFields] = {
    "raw_opportunities": with_opportunity_fields,
    "raw_campaign_members": with_member_fields,
}


def current_records_of(raw_table: str) -> Callable[[ir.Table, BuildParams], ir.Table]:
    """The stage function of one raw CRM table: its current records, with their fields."""
    fields = RECORD_FIELDS.get(raw_table)

    def stage(raw: ir.Table, params: BuildParams) -> ir.Table:
        return current_records(raw, params, fields)

    return stage


def current_records(
    raw: ir.Table, params: BuildParams, fields: RecordFields | None = None
) -> ir.Table:
    """One row per `id`: its latest version, deletions dropped (then `fields` read)."""
    latest_first = ibis.window(
        group_by="id",
        order_by=[
            raw.version_us.desc(nulls_first=False),
            raw.received_at.desc(),
            raw.is_deleted.desc(),  # a deletion and an edit at one instant: deleted
            raw.record_hash.desc(),
        ],
    )
    ranked = raw.mutate(version_rank=ibis.row_number().over(latest_first))
    current = ranked.filter((ranked.version_rank == 0) & ~ranked.is_deleted.fill_null(False))
    if fields is not None:
        current = fields(current, params)
    return current.drop(*_BOOKKEEPING, "version_us")
