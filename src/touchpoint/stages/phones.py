"""Phone numbers in E.164 with the current `[phone] default_region`, at every build.

The importers keep each number as the source wrote it: a vendor's call in
`caller_number_raw` / `tracking_number_raw`, a Salesforce Task, lead or contact
in its kept record (the Task fields `[salesforce] caller_number_field` and
`tracking_number_field` name, a lead's or contact's `Phone`). Making a number
E.164 needs Python (`phonenumbers`), and the stages are SQL; so before the
stages run, the build reads the distinct numbers these give (`raw_numbers`),
makes the ones it has not seen for this region E.164 (`build.phones`), and hands
the stages the lookup `phone_numbers (raw, e164)` for the current region. The
stages here join it, so a changed region applies to everything already
imported (DESIGN §11).

A number the lookup does not hold (no number as written, as in stores from
before the raw columns; or a run given no lookup) keeps the value of its import.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from touchpoint.stages.current_calls import CRM_SYSTEMS, call_records
from touchpoint.stages.params import BuildParams
from touchpoint.stages.record_fields import record_text

# The lookup the stages read: one row per number as written, for the build's region.
LOOKUP = pa.schema([("raw", pa.string()), ("e164", pa.string())])
# The raw CRM tables whose `phone` is read again from the record's `Phone`.
PERSON_TABLES = ("raw_leads", "raw_contacts")
PersonStage = Callable[[ir.Table, BuildParams], ir.Table]


def empty_lookup() -> ir.Table:
    """No numbers: every number keeps the value of its import."""
    return ibis.memtable(LOOKUP.empty_table())


def _task_field(record: ir.StringValue, name: str) -> ir.StringValue:
    return record_text(record, name) if name else ibis.null("string")


def call_numbers_written(raw_calls: ir.Table, params: BuildParams) -> tuple[ir.Value, ir.Value]:
    """A call's caller and tracking numbers as the source wrote them (null when not kept)."""
    is_task = raw_calls.source_system.isin(CRM_SYSTEMS)
    fields = (params.caller_number_field, params.tracking_number_field)
    columns = (raw_calls.caller_number_raw, raw_calls.tracking_number_raw)
    caller, tracking = (
        ibis.ifelse(is_task, _task_field(raw_calls.record, field), column)
        for field, column in zip(fields, columns, strict=True)
    )
    return caller, tracking


def person_phone_written(raw: ir.Table) -> ir.StringValue:
    """A lead's or contact's `Phone` as the CRM holds it."""
    return record_text(raw.record, "Phone")


def raw_numbers(
    raw_calls: ir.Table, raw_leads: ir.Table, raw_contacts: ir.Table, params: BuildParams
) -> ir.Table:
    """Every distinct number as written (`raw`) the stages will look up."""
    caller, tracking = call_numbers_written(raw_calls, params)
    parts = [raw_calls.select(raw=caller), raw_calls.select(raw=tracking)]
    parts += [
        people.select(raw=person_phone_written(people)) for people in (raw_leads, raw_contacts)
    ]
    numbers = parts[0].union(*parts[1:])
    return numbers.filter(numbers.raw.notnull()).distinct()


def _with_e164(table: ir.Table, written: ir.StringValue, lookup: ir.Table, name: str) -> ir.Table:
    """`table` with `name`: the E.164 form of `written`, and `name_found`: whether the lookup
    holds it."""
    t = table.mutate(_written=written)
    # Named after `name`: Ibis takes a second join of one relation for the first.
    key, value = f"{name}_raw", f"{name}_e164"
    keyed = lookup.select(**{key: lookup.raw, value: lookup.e164})
    joined = t.left_join(keyed, t._written == keyed[key])
    return joined.select(
        *table.columns, **{name: joined[value], f"{name}_found": joined[key].notnull()}
    )


def with_call_numbers(raw_calls: ir.Table, lookup: ir.Table, params: BuildParams) -> ir.Table:
    """Raw calls whose `caller_number` and `tracking_number` are the lookup's E.164 forms."""
    t = _with_e164(raw_calls, call_numbers_written(raw_calls, params)[0], lookup, "_caller")
    t = _with_e164(t, call_numbers_written(t, params)[1], lookup, "_tracking")
    t = t.mutate(
        caller_number=ibis.ifelse(t._caller_found, t._caller, t.caller_number),
        tracking_number=ibis.ifelse(t._tracking_found, t._tracking, t.tracking_number),
    )
    return t.select(*raw_calls.columns)


def numbered_call_records(raw_calls: ir.Table, lookup: ir.Table, params: BuildParams) -> ir.Table:
    """The `call_records` stage over raw calls whose numbers follow the current region."""
    return call_records(with_call_numbers(raw_calls, lookup, params), params)


def with_person_phone(raw: ir.Table, lookup: ir.Table) -> ir.Table:
    """Raw leads or contacts whose `phone` is the lookup's E.164 form of their `Phone`."""
    t = _with_e164(raw, person_phone_written(raw), lookup, "_phone")
    t = t.mutate(phone=ibis.ifelse(t._phone_found, t._phone, t.phone))
    return t.select(*raw.columns)


def people_with_phones(stage: PersonStage) -> Callable[[ir.Table, ir.Table, BuildParams], ir.Table]:
    """A lead or contact stage that reads `(raw, phone_numbers)`: phones first, then `stage`."""

    def with_phones(raw: ir.Table, lookup: ir.Table, params: BuildParams) -> ir.Table:
        return stage(with_person_phone(raw, lookup), params)

    return with_phones
