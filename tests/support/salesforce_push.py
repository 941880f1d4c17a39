"""What the push tests share: an org with people, calls and an opportunity, synced and built."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from simple_salesforce import Salesforce

from support.salesforce_server import OrgServer, SalesforceOrg, Seen, Tls
from support.sync_setup import write_settings

SECRET = "push-client-secret-value"
ACCOUNT = "0015e00000AbCdEAAV"
TOUCHPOINT = "Touchpoint__c"
ATTRIBUTION = "Attribution_Touchpoint__c"
FIELDS = {
    TOUCHPOINT: "Id, Touchpoint_Id__c, Lead__c, Contact__c, Call_Id__c, Channel__c, "
    "Touchpoint_Date__c",
    ATTRIBUTION: "Id, Touchpoint_Id__c, Touchpoint__c, Opportunity__c, Contact__c, "
    "First_Touch_Percent__c, First_Touch_Revenue__c, Linear_Percent__c, Linear_Revenue__c",
}


@dataclass
class World:
    org: SalesforceOrg
    server: OrgServer
    cli: Callable[..., Any]
    workdir: Path
    leads: list[str]
    contacts: list[str]
    opportunity: str
    calls: dict[str, str] = field(default_factory=dict)  # Task id -> WhoId

    @classmethod
    def start(cls, tls: Tls, cli: Callable[..., Any], workdir: Path) -> World:
        org = SalesforceOrg()
        org.add_client("touchpoint-app", SECRET)
        leads = [org.put("Lead", Email=f"lead{n}@example.com") for n in (1, 2, 3)]
        contacts = [
            org.put("Contact", Email=f"c{n}@example.com", AccountId=ACCOUNT) for n in (1, 2)
        ]
        opportunity = org.put(
            "Opportunity",
            AccountId=ACCOUNT,
            Name="Big deal",
            Amount=1200.5,
            CloseDate="2026-03-31",
            IsClosed=True,
            IsWon=True,
            StageName="Closed Won",
        )
        for contact in contacts:
            org.put("OpportunityContactRole", OpportunityId=opportunity, ContactId=contact)
        world = cls(org, org.serve(tls), cli, workdir, leads, contacts, opportunity)
        for n, who in enumerate(leads + contacts, 1):
            world.call(who, n)
        world.settings()
        return world

    def call(self, who: str, n: int) -> None:
        task = self.org.put(
            "Task",
            Subject=f"Inbound call {n}",
            Type="Call",
            CallType="Inbound",
            CallDurationInSeconds=60,
            WhoId=who,
            bizible2__BizibleId__c=f"{n:032x}",
        )
        self.calls[task] = who

    def more_calls(self, count: int) -> None:
        """More calls of the first lead (each its own touchpoint, none credited)."""
        for n in range(count):
            self.call(self.leads[0], 1000 + n)

    def settings(self, push: dict[str, Any] | None = None, **salesforce: Any) -> None:
        values: dict[str, Any] = {
            "login_url": self.org.base_url,
            "client_id": "touchpoint-app",
            "client_secret": SECRET,
            "ca_bundle": str(self.org.ca),
            "retries": 3,
            "retry_backoff": "10ms",
            **salesforce,
        }
        path = write_settings(self.workdir, "salesforce", values)
        if push:
            lines = ["[salesforce.push]", *(f"{k} = {json.dumps(v)}" for k, v in push.items())]
            path.write_text(path.read_text() + "\n".join(lines) + "\n")

    def sync_and_build(self) -> None:
        for args in (("sync", "salesforce"), ("build",)):
            done = self.cli(*args)
            assert done.code == 0, done.stderr

    def touchpoint_of(self) -> dict[str, str]:
        """Task id -> the touchpoint id of its call, as the latest build says."""
        done = self.cli("export", "touchpoints", "--format", "json")
        assert done.code == 0, done.stderr
        rows = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
        return {r["call_id"]: r["touchpoint_id"] for r in rows}

    def stop(self) -> None:
        self.server.stop()
        assert self.org.errors == []


def pushed(world: World, *args: str) -> dict[str, Any]:
    """`push salesforce --json`, which must succeed; its summary."""
    done = world.cli("push", "salesforce", "--json", *args)
    assert done.code == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert SECRET not in done.stdout + done.stderr
    return json.loads(done.stdout)


def org_records(org: SalesforceOrg, sobject: str, fields: str = "") -> list[dict[str, Any]]:
    """The object's live records, read with simple-salesforce's query as a client reads them."""
    http = requests.Session()
    http.verify = str(org.ca)
    api = Salesforce(
        instance_url=org.base_url, session_id=org.issue_token(), session=http, version="61.0"
    )
    try:
        soql = f"SELECT {fields or FIELDS[sobject]} FROM {sobject} ORDER BY Id"
        answer = api.query_all(soql, verify=str(org.ca))  # REQUESTS_CA_BUNDLE may say otherwise
    finally:
        http.close()
    return [{k: v for k, v in r.items() if k != "attributes"} for r in answer["records"]]


def requests_after(org: SalesforceOrg, since: int) -> list[Seen]:
    """The writes (upserts, deletes) the org answered after `seen[since]`."""
    return [s for s in org.seen[since:] if s.method in ("PATCH", "DELETE")]
