"""The demo world's CRM: leads, the contacts they convert to, and opportunities with amounts.

Visitors who submit a form or call become leads (by email, by the number they
call from, or through the call Task's `WhoId`); some convert into a contact on
an account with an opportunity that is won, lost or still open. The records
are written as the Salesforce exports `touchpoint import crm` reads, so the
demo's revenue goes through the same importers, identity stitching and
attribution models as a user's.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from touchpoint.demo.world import World, parse_stamp, salesforce_id
from touchpoint.sources.salesforce.fields import CRM_FIELDS

# What a plumbing company sells, with the range of its price.
SERVICES = (
    ("Drain cleaning", 250, 900),
    ("Leak repair", 300, 1_500),
    ("Water heater replacement", 1_800, 4_800),
    ("Sewer line repair", 3_500, 9_000),
    ("Whole-house repipe", 7_000, 16_000),
)
KINDS = ("leads", "contacts", "opportunities")  # what the demo's CRM holds


def salesforce_time(moment: datetime) -> str:
    """A time as Salesforce exports write it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@dataclass
class Crm:
    """The CRM's records by kind, and the lead each known visitor became."""

    records: dict[str, list[dict[str, str]]]
    lead_of: dict[str, str]  # visitor id → lead Id (what a call Task's WhoId names)


def crm_records(world: World, seed: int) -> Crm:
    """Leads, contacts and opportunities for the world's converters.

    A lead's phone is the number the visitor calls from, so calls that reach
    touchpoint without a Task (vendor webhooks) still find their person.
    Uses its own random stream, so the world's events and calls stay as they were.
    """
    rng = random.Random(seed * 7_919 + 1)
    first_form: dict[str, tuple[datetime, str]] = {}
    for event in sorted(world.events, key=lambda e: e["occurred_at"]):
        if event["type"] == "form_submit" and event["visitor_id"] not in first_form:
            first_form[event["visitor_id"]] = (parse_stamp(event["occurred_at"]), event["email"])
    first_call: dict[str, datetime] = {}
    for call in world.calls:
        visitor = call.visitor_id
        if visitor and (visitor not in first_call or call.called_at < first_call[visitor]):
            first_call[visitor] = call.called_at
    records: dict[str, list[dict[str, str]]] = {kind: [] for kind in KINDS}
    lead_of: dict[str, str] = {}
    for visitor in sorted(set(first_form) | set(first_call)):
        if visitor not in first_form and rng.random() < 0.35:
            continue  # a caller the sales team never logged as a lead
        moments = [m for m in (first_form.get(visitor, (None,))[0], first_call.get(visitor)) if m]
        created = min(moments) + timedelta(minutes=rng.uniform(2, 30))
        email = first_form[visitor][1] if visitor in first_form else ""
        phone = world.phones[visitor]
        lead = {
            "Id": salesforce_id(rng, "00Q"),
            "Email": email,
            "Phone": phone,
            "CreatedDate": salesforce_time(created),
            "IsConverted": "false",
            "ConvertedContactId": "",
            "ConvertedAccountId": "",
            "ConvertedOpportunityId": "",
        }
        lead_of[visitor] = lead["Id"]
        records["leads"].append(lead)
        if rng.random() < 0.45:
            _convert(rng, lead, created, email, phone, records)
    return Crm(records, lead_of)


def _convert(
    rng: random.Random,
    lead: dict[str, str],
    created: datetime,
    email: str,
    phone: str,
    records: dict[str, list[dict[str, str]]],
) -> None:
    """The lead becomes a contact on a new account, with an opportunity for a job."""
    account, contact, opportunity = (salesforce_id(rng, p) for p in ("001", "003", "006"))
    converted = created + timedelta(days=rng.uniform(0.5, 6))
    service, low, high = rng.choice(SERVICES)
    closes = converted + timedelta(days=rng.uniform(3, 24))
    state = rng.random()
    closed, won = state < 0.78, state < 0.55
    stage = "Closed Won" if won else "Closed Lost" if closed else "Proposal/Price Quote"
    lead.update(
        IsConverted="true",
        ConvertedContactId=contact,
        ConvertedAccountId=account,
        ConvertedOpportunityId=opportunity,
    )
    records["contacts"].append(
        {
            "Id": contact,
            "Email": email,
            "Phone": phone,
            "AccountId": account,
            "CreatedDate": salesforce_time(converted),
        }
    )
    records["opportunities"].append(
        {
            "Id": opportunity,
            "AccountId": account,
            "Name": service,
            "Amount": str(round(rng.uniform(low, high) / 10) * 10),
            "CreatedDate": salesforce_time(converted),
            "CloseDate": closes.date().isoformat(),
            "IsClosed": "true" if closed else "false",
            "IsWon": "true" if won else "false",
            "StageName": stage,
        }
    )


def write_crm(records: dict[str, list[dict[str, str]]], directory: Path) -> dict[str, Path]:
    """The CRM records as Salesforce CSV exports, one file per kind."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind, rows in records.items():
        path = directory / f"{kind}.csv"
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(CRM_FIELDS[kind]))
            writer.writeheader()
            writer.writerows(rows)
        paths[kind] = path
    return paths
