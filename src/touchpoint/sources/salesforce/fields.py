"""Salesforce field values as every Salesforce reader needs them: ids, checkboxes, lookups."""

from __future__ import annotations

from typing import Any

from touchpoint.sources.records import RecordError, text_or_none

# The Salesforce fields (API names) touchpoint reads from each CRM export, by kind.
CRM_FIELDS: dict[str, tuple[str, ...]] = {
    "leads": (
        "Id",
        "Email",
        "Phone",
        "CreatedDate",
        "IsConverted",
        "ConvertedContactId",
        "ConvertedAccountId",
        "ConvertedOpportunityId",
    ),
    "contacts": ("Id", "Email", "Phone", "AccountId", "CreatedDate"),
    "opportunities": (
        "Id",
        "AccountId",
        "Name",
        "Amount",
        "CreatedDate",
        "CloseDate",
        "IsClosed",
        "IsWon",
        "StageName",
    ),
    "contact-roles": ("Id", "OpportunityId", "ContactId", "IsPrimary", "Role"),
    "campaign-members": (
        "Id",
        "CampaignId",
        "LeadId",
        "ContactId",
        "CreatedDate",
        "HasResponded",
        "FirstRespondedDate",
        "Campaign.Name",
        "Campaign.Type",
    ),
}
# The fields of every Salesforce record that say which version it is.
VERSION_FIELDS = ("IsDeleted", "LastModifiedDate", "SystemModstamp")
# The Task fields touchpoint reads (besides those `[salesforce]` settings name).
TASK_FIELDS = (
    "Id",
    "CreatedDate",
    "Type",
    "Subject",
    "WhoId",
    "WhatId",
    "CallType",
    "CallDurationInSeconds",
    "CallObject",
    "TaskSubtype",  # which Tasks are calls (DESIGN §11)
    "CallDisposition",  # how the call went: the calls' `status` (DESIGN §12)
    *VERSION_FIELDS,
)

_ID_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id18(value: str) -> str:
    """The 18-character, case-safe form of a Salesforce id (15-character ids gain a suffix).

    >>> salesforce_id18("00T5e00000ABcdE")
    '00T5e00000ABcdEEAT'
    """
    if len(value) != 15:
        return value
    suffix = ""
    for start in (0, 5, 10):
        chunk = value[start : start + 5]
        bits = sum(1 << i for i, char in enumerate(chunk) if "A" <= char <= "Z")
        suffix += _ID_SUFFIX[bits]
    return value + suffix


def salesforce_id_forms(text: str) -> list[str]:
    """The text, and its 18-character form when it is a 15-character Salesforce Id.

    >>> salesforce_id_forms("00T5e00000ABcdE")
    ['00T5e00000ABcdE', '00T5e00000ABcdEEAT']
    >>> salesforce_id_forms("3100000011")
    ['3100000011']
    """
    forms = [text]
    if len(text) == 15 and text.isascii() and text.isalnum():
        forms.append(salesforce_id18(text))
    return forms


def field(record: dict[str, Any], name: str) -> Any:
    """A field by API name; `Campaign.Name` also as the nested object a REST result holds."""
    if name in record:
        return record[name]
    parent, _, child = name.partition(".")
    nested = record.get(parent) if child else None
    return nested.get(child) if isinstance(nested, dict) else None


def sf_id(record: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    """A Salesforce id field in its 18-character form (None when blank)."""
    value = text_or_none(field(record, name))
    if value is None:
        if required:
            raise RecordError(f"missing required field {name}")
        return None
    if len(value) not in (15, 18) or not value.isalnum():
        raise RecordError(f"{name} {value!r} is not a Salesforce id (15 or 18 letters and digits)")
    return salesforce_id18(value)


def flag(record: dict[str, Any], name: str) -> bool:
    """A checkbox field: true/false, 1/0, yes/no (blank is false)."""
    value = field(record, name)
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise RecordError(f"{name} {value!r} is not true or false")
