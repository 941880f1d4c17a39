"""Salesforce Tasks that record calls (DESIGN §7, §11), from a CSV export or a REST result.

A Task is a call when its `TaskSubtype` is `Call`, or its `CallType` is set, or
it carries a visitor id, or its `Type` is one of `[salesforce] call_types`.
Every Task is kept, the others (emails, to-dos, meetings) too, and the build
applies the rule again to each Task's latest version (`stages.current_calls`),
so a Task that became an email is no call any more and a settings change
applies to every Task imported; an import counts the Tasks that are not calls
under the current settings as skipped, each with the reason. They are kept
small: their record holds the fields touchpoint reads and the other non-blank
fields of up to 255 characters (a visitor id or a call type can be no longer;
an email's `Description` is).

The call-tracking vendor writes each call into Salesforce as a Task carrying
the visitor id (Marketo Measure's `bizible2__BizibleId__c` by default). Every
version of a Task is kept; the calls stage takes the latest `LastModifiedDate`,
so import order never matters, and `IsDeleted = true` removes the call.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from touchpoint.config import Settings
from touchpoint.sources.files import AUTO, Dialect
from touchpoint.sources.phones import to_e164
from touchpoint.sources.records import (
    FileProblem,
    ParseReport,
    RecordError,
    RowBatches,
    compact_json,
    csv_line,
    csv_rows,
    from_us,
    parse_time,
    sorted_json,
    stable_hash,
    text_or_none,
    whole_text,
)
from touchpoint.sources.salesforce.fields import TASK_FIELDS, flag, sf_id
from touchpoint.sources.salesforce.reading import (
    KeptAside,
    Records,
    api_named,
    rows_in_batches,
)

SOURCE_SYSTEM = "salesforce"
REQUIRED_FIELDS = ("Id", "CreatedDate")
# The longest Text field Salesforce has; longer values are long text areas (an email's body).
LONGEST_TEXT = 255


def _seconds(record: dict[str, Any], name: str) -> int | None:
    value = record.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RecordError(f"{name} {value!r} is not a number of seconds") from None
    if not math.isfinite(number) or number < 0 or number != int(number):
        raise RecordError(f"{name} {value!r} is not a whole, non-negative number of seconds")
    if number >= 2**63:
        raise RecordError(f"{name} {value!r} is too large a number of seconds")
    return int(number)


def _time(record: dict[str, Any], name: str) -> int | None:
    value = record.get(name)
    if value is None or not text_or_none(value):
        return None
    return parse_time(value, name)


def not_a_call(record: dict[str, Any], settings: Settings) -> str | None:
    """Why a Task is not a call (the Type and TaskSubtype it has), or None when it is one.

    >>> from touchpoint.config import Settings
    >>> not_a_call({"TaskSubtype": "Email", "Type": "Email"}, Settings())
    "not a call: TaskSubtype 'Email', Type 'Email'"
    >>> not_a_call({"TaskSubtype": "Task", "Type": "Outbound Call"}, Settings()) is None
    True
    """
    fields = settings.salesforce
    subtype = text_or_none(record.get("TaskSubtype"))
    activity = text_or_none(record.get("Type"))
    if (
        (subtype is not None and subtype.casefold() == "call")
        or text_or_none(record.get("CallType")) is not None
        or text_or_none(record.get(fields.visitor_id_field)) is not None
        or (activity is not None and activity.casefold() in _casefolded(fields.call_types))
    ):
        return None
    has = [
        f"{name} {value!r}"
        for name, value in (("TaskSubtype", subtype), ("Type", activity))
        if value
    ]
    return "not a call: " + (", ".join(has) or "no Type, TaskSubtype, CallType or visitor id")


def _casefolded(names: list[str]) -> set[str]:
    return {name.strip().casefold() for name in names}


def task_row(record: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The raw-calls row of one Task record, or `RecordError` saying what is wrong."""
    fields = settings.salesforce
    call_id = sf_id(record, "Id", required=True)
    created_us = _time(record, "CreatedDate")
    if created_us is None:
        raise RecordError("missing required field CreatedDate")
    # Times are never 0 (1990-2199 only), so `or` falls through only on blanks.
    called_us = created_us
    if fields.call_time_field:
        called_us = _time(record, fields.call_time_field) or created_us
    version_us = _time(record, "LastModifiedDate") or _time(record, "SystemModstamp") or created_us
    region = settings.phone.default_region
    raw_number = record.get(fields.caller_number_field) if fields.caller_number_field else None
    tracking = record.get(fields.tracking_number_field) if fields.tracking_number_field else None
    return {
        "source_system": SOURCE_SYSTEM,
        "call_id": call_id,
        "external_id": text_or_none(record.get("CallObject")),
        "visitor_id": text_or_none(record.get(fields.visitor_id_field)),
        "called_at": from_us(called_us),
        "called_us": called_us,
        "activity_type": text_or_none(record.get("Type")),
        "subject": text_or_none(record.get("Subject")),
        "caller_number": to_e164(text_or_none(raw_number), region),
        "tracking_number": to_e164(text_or_none(tracking), region),
        "duration_s": _seconds(record, "CallDurationInSeconds"),
        "who_id": sf_id(record, "WhoId"),
        "what_id": sf_id(record, "WhatId"),
        "call_type": text_or_none(record.get("CallType")),
        "is_deleted": flag(record, "IsDeleted"),
        "version_us": version_us,
        "record": compact_json(record),
        "record_hash": stable_hash(SOURCE_SYSTEM, sorted_json(record)),
    }


def kept_task_row(record: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The raw-calls row of a Task that is not a call: kept for the build, its record small.

    Its `record_hash` is the whole record's, as `task_row` gives it, so a Task
    version is one row whichever rule it was imported under.
    """
    known = known_fields(settings)
    small = {
        name: value
        for name, value in record.items()
        if name in known
        or (
            isinstance(value, (str, int, float, bool))
            and text_or_none(value) is not None
            and len(str(value)) <= LONGEST_TEXT
        )
    }
    return {**task_row(record, settings), "record": compact_json(small)}


def known_fields(settings: Settings) -> frozenset[str]:
    """The Task fields touchpoint reads with these settings."""
    fields = settings.salesforce
    configured = (
        fields.visitor_id_field,
        fields.call_time_field,
        fields.caller_number_field,
        fields.tracking_number_field,
    )
    return frozenset(TASK_FIELDS) | {name for name in configured if name}


def read_tasks(
    path: Path,
    fmt: str,
    settings: Settings,
    report: ParseReport,
    batches: RowBatches,
    dialect: Dialect = AUTO,
) -> Iterator[pa.Table | KeptAside]:
    """Arrow tables of the good Task rows in a `salesforce-csv` or `salesforce-json` file;
    the Tasks that are not calls come `KeptAside`.

    `dialect` is how to read the file's text (delimiter, encoding).
    """
    # Where a record came from and its raw text are only needed for the few
    # records rejected, so they are worked out then.
    records: Records
    origin: Callable[[Path, Any, Any], tuple[str, str]]
    known = known_fields(settings)
    if fmt == "salesforce-csv":
        records = api_named(path, csv_rows(path, report, dialect), "Tasks", known, REQUIRED_FIELDS)
        origin = _csv_origin
    else:
        records = _json_tasks(path, report, dialect)
        origin = _json_origin
    return rows_in_batches(
        path,
        records,
        task_row,
        settings,
        known | {"attributes"},
        lambda place, received: origin(path, place, received),
        report,
        batches,
        skip_of=not_a_call,
        kept_of=kept_task_row,
    )


def _csv_origin(path: Path, line: int, fields: list[str]) -> tuple[str, str]:
    return f"{path}:{line}", csv_line(fields)


def _json_origin(path: Path, index: int, item: Any) -> tuple[str, str]:
    return f"{path}:records[{index}]", compact_json(item)


def _json_tasks(
    path: Path, report: ParseReport, dialect: Dialect
) -> Iterator[tuple[int, Any, dict[str, Any] | None]]:
    text = whole_text(path, dialect)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileProblem(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(document, dict) and isinstance(document.get("records"), list):
        items = document["records"]
    elif isinstance(document, list):
        items = document
    else:
        raise FileProblem(f'{path} is not a Salesforce query result: expected {{"records": [...]}}')
    escapes = "\\ud" in text.lower()  # only then can a string hold a lone surrogate
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            report.reject(*_json_origin(path, index, item), "not a JSON object")
            yield index, item, None
        elif escapes and _lone_surrogate(item):
            source = f"{path}:records[{index}]"
            reason = "a string holds a lone UTF-16 surrogate escape (\\ud800-\\udfff), not text"
            report.reject(source, json.dumps(item), reason)  # escaped, so it can be stored
            yield index, item, None
        else:
            yield index, item, item


def _lone_surrogate(item: dict[str, Any]) -> bool:
    try:
        compact_json(item).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
