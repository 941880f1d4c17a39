"""Salesforce CRM records (DESIGN §7): leads, contacts, opportunities, contact roles
and campaign members, from CSV exports with a header of API names.

Each object has one function from a record (a dict of API names, as a CSV row
or a REST result gives it) to its raw-table row, raising `RecordError` with the
reason when the record cannot be used. `touchpoint sync salesforce` reuses
them. Every version of a record is kept; the crm stage takes the latest
`LastModifiedDate` (or `SystemModstamp`) per `Id`, and `IsDeleted = true`
removes the record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pyarrow as pa

from touchpoint.config import Settings
from touchpoint.errors import TouchpointError
from touchpoint.sources.files import AUTO, Dialect
from touchpoint.sources.local_times import calendar_day
from touchpoint.sources.phones import to_e164
from touchpoint.sources.records import (
    ParseReport,
    RecordError,
    RowBatches,
    compact_json,
    csv_records,
    decimal_point,
    from_us,
    parse_time,
    stable_hash,
    text_or_none,
    to_us,
)
from touchpoint.sources.salesforce.fields import CRM_FIELDS, VERSION_FIELDS, field, flag, sf_id
from touchpoint.sources.salesforce.reading import KeptAside, api_named, rows_in_batches

SOURCE_SYSTEM = "salesforce"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def amount(record: dict[str, Any], name: str) -> float | None:
    """A currency or number field as a float (None when blank); a decimal comma is read."""
    text = text_or_none(field(record, name))
    if text is None:
        return None
    try:
        number = float(decimal_point(text))
    except ValueError:
        raise RecordError(f"{name} {text!r} is not a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise RecordError(f"{name} {text!r} is not a number")
    return number


def site_zone(settings: Settings) -> ZoneInfo:
    """The `[site] timezone` that date-only fields are read in."""
    try:
        return ZoneInfo(settings.site.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise TouchpointError(
            f"setting [site] timezone: {settings.site.timezone!r} is not a time zone name"
        ) from None


def day_bounds_us(text: str, name: str, zone: ZoneInfo) -> tuple[int, int]:
    """The first and last microsecond of a `YYYY-MM-DD` day in a time zone."""
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise RecordError(f"{name} {text!r} is not a valid date") from None
    start = datetime.combine(day, time(), tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)
    return to_us(start), to_us(end) - 1


def required_time(record: dict[str, Any], name: str) -> int:
    """A required date-time field in epoch microseconds."""
    if text_or_none(field(record, name)) is None:
        raise RecordError(f"missing required field {name}")
    return parse_time(field(record, name), name)


def _common(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    """The columns every CRM row has: deletion, version, the record and its hash."""
    version_us = None
    for name in ("LastModifiedDate", "SystemModstamp"):
        if text_or_none(field(record, name)):
            version_us = parse_time(field(record, name), name)
            break
    return {
        "is_deleted": flag(record, "IsDeleted"),
        "version_us": version_us,
        "record": compact_json(record),
        "record_hash": stable_hash(
            SOURCE_SYSTEM, kind, json.dumps(record, sort_keys=True, default=str)
        ),
    }


def _person(record: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The columns a lead and a contact share: id, email, phone and when it was created."""
    person_id = sf_id(record, "Id", required=True)
    created_us = required_time(record, "CreatedDate")
    email = text_or_none(field(record, "Email"))
    return {
        "id": person_id,
        "email": email.lower() if email else None,
        "phone": to_e164(text_or_none(field(record, "Phone")), settings.phone.default_region),
        "created_at": from_us(created_us),
        "created_us": created_us,
    }


def lead_row(record: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The raw-leads row of one Lead record."""
    return {
        **_person(record, settings),
        "is_converted": flag(record, "IsConverted"),
        "converted_contact_id": sf_id(record, "ConvertedContactId"),
        "converted_account_id": sf_id(record, "ConvertedAccountId"),
        "converted_opportunity_id": sf_id(record, "ConvertedOpportunityId"),
        **_common("leads", record),
    }


def contact_row(record: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The raw-contacts row of one Contact record."""
    return {
        **_person(record, settings),
        "account_id": sf_id(record, "AccountId"),
        **_common("contacts", record),
    }


def opportunity_row(record: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The raw-opportunities row of one Opportunity record.

    `CloseDate` is a date: the opportunity closes at the end of that day in
    `[site] timezone`.

    >>> from touchpoint.config import Settings
    >>> row = opportunity_row({"Id": "0065e00000AbCdE", "AccountId": "0015e00000AbCdE",
    ...     "Amount": "1200.50", "CreatedDate": "2026-03-01T10:00:00.000+0000",
    ...     "CloseDate": "2026-03-31", "IsClosed": "true", "IsWon": "true"}, Settings())
    >>> row["id"], row["amount"], from_us(row["close_us"]).isoformat()
    ('0065e00000AbCdEAAV', 1200.5, '2026-03-31T23:59:59.999999')
    """
    opportunity_id = sf_id(record, "Id", required=True)
    created_us = required_time(record, "CreatedDate")
    close_text = text_or_none(field(record, "CloseDate"))
    if close_text is None:
        raise RecordError("missing required field CloseDate")
    close_day = close_text if _DATE.fullmatch(close_text) else calendar_day(close_text, "CloseDate")
    if close_day is not None:  # 2026-03-31, or as Excel writes it: 31.03.2026, 03/31/2026
        close_us = day_bounds_us(close_day, "CloseDate", site_zone(settings))[1]
    else:
        close_us = parse_time(close_text, "CloseDate")
    return {
        "id": opportunity_id,
        "account_id": sf_id(record, "AccountId"),
        "name": text_or_none(field(record, "Name")),
        "amount": amount(record, settings.attribution.amount_field),
        "created_at": from_us(created_us),
        "created_us": created_us,
        "close_date": close_text,
        "close_us": close_us,
        "is_closed": flag(record, "IsClosed"),
        "is_won": flag(record, "IsWon"),
        "stage_name": text_or_none(field(record, "StageName")),
        **_common("opportunities", record),
    }


def contact_role_row(record: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The raw-contact-roles row of one OpportunityContactRole record."""
    return {
        "id": sf_id(record, "Id", required=True),
        "opportunity_id": sf_id(record, "OpportunityId", required=True),
        "contact_id": sf_id(record, "ContactId", required=True),
        "is_primary": flag(record, "IsPrimary"),
        "role": text_or_none(field(record, "Role")),
        **_common("contact-roles", record),
    }


def campaign_member_row(record: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """The raw-campaign-members row of one CampaignMember record.

    A response's time is `FirstRespondedDate`; that field is a date, so the
    member's `CreatedDate` stands for it when it falls on that day (in
    `[site] timezone`), else the start of the day.
    """
    member_id = sf_id(record, "Id", required=True)
    lead_id = sf_id(record, "LeadId")
    contact_id = sf_id(record, "ContactId")
    if lead_id is None and contact_id is None:
        raise RecordError("a campaign member needs a LeadId or a ContactId")
    created_us = required_time(record, "CreatedDate")
    responded = flag(record, "HasResponded")
    responded_us = created_us if responded else None
    responded_text = text_or_none(field(record, "FirstRespondedDate"))
    if responded and responded_text:
        day = (
            responded_text
            if _DATE.fullmatch(responded_text)
            else calendar_day(responded_text, "FirstRespondedDate")
        )
        if day is not None:
            start, end = day_bounds_us(day, "FirstRespondedDate", site_zone(settings))
            responded_us = created_us if start <= created_us <= end else start
        else:
            responded_us = parse_time(responded_text, "FirstRespondedDate")
    return {
        "id": member_id,
        "campaign_id": sf_id(record, "CampaignId"),
        "lead_id": lead_id,
        "contact_id": contact_id,
        "created_at": from_us(created_us),
        "created_us": created_us,
        "has_responded": responded,
        "responded_at": None if responded_us is None else from_us(responded_us),
        "responded_us": responded_us,
        "campaign_name": text_or_none(field(record, "Campaign.Name")),
        "campaign_type": text_or_none(field(record, "Campaign.Type")),
        **_common("campaign-members", record),
    }


ROW_FUNCTIONS: dict[str, Callable[[dict[str, Any], Settings], dict[str, Any]]] = {
    "leads": lead_row,
    "contacts": contact_row,
    "opportunities": opportunity_row,
    "contact-roles": contact_role_row,
    "campaign-members": campaign_member_row,
}


# The fields without which no record of a kind can be read: a header without one of
# them is one file-level error, not a reject per row.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "leads": ("Id", "CreatedDate"),
    "contacts": ("Id", "CreatedDate"),
    "opportunities": ("Id", "CreatedDate", "CloseDate"),
    "contact-roles": ("Id", "OpportunityId", "ContactId"),
    "campaign-members": ("Id", "CreatedDate"),
}


def known_fields(kind: str, settings: Settings) -> frozenset[str]:
    """The fields of this kind touchpoint reads with these settings."""
    extra = {settings.attribution.amount_field} if kind == "opportunities" else set()
    return frozenset(CRM_FIELDS[kind]) | frozenset(VERSION_FIELDS) | extra


def read_crm(
    path: Path,
    kind: str,
    settings: Settings,
    report: ParseReport,
    batches: RowBatches,
    dialect: Dialect = AUTO,
) -> Iterator[pa.Table | KeptAside]:
    """Arrow tables of the good rows of one CRM export (CSV with API names).

    `dialect` is how to read the file's text (delimiter, encoding).
    """

    def origin(line: int, raw: str) -> tuple[str, str]:
        return f"{path}:{line}", raw

    known = known_fields(kind, settings)
    records = api_named(
        path, csv_records(path, report, dialect), kind, known, REQUIRED_FIELDS[kind]
    )
    return rows_in_batches(
        path, records, ROW_FUNCTIONS[kind], settings, known, origin, report, batches
    )
