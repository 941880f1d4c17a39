"""What the push tests share: an org with people, calls and an opportunity, synced and built.

`World.start` makes the org and runs `sync salesforce` and `build` as users run them;
a module does that once (`built_world`) and each test takes `World.copy`: the working
directory's store, intake and snapshots copied into its own directory and a new org
with the same records on its own port, so no test sees another's pushes.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from simple_salesforce import Salesforce

from conftest import run_touchpoint
from support.salesforce_server import OrgServer, SalesforceOrg, Seen, Tls
from support.sync_setup import write_settings
from touchpoint.cli_push import push_json
from touchpoint.config import load_settings
from touchpoint.destinations.salesforce_push import push_salesforce
from touchpoint.store import open_snapshot

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

    def copy(self, tls: Tls, cli: Callable[..., Any], workdir: Path) -> World:
        """This world as it is now, in `workdir` against a new org with the same records."""
        shutil.copytree(self.workdir, workdir, dirs_exist_ok=True)
        org = self.org.copy()
        world = World(
            org, org.serve(tls), cli, workdir, self.leads, self.contacts, self.opportunity
        )
        world.calls = dict(self.calls)
        world.settings()  # the new org's address
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
        with open_snapshot(load_settings(self.workdir / "touchpoint.toml")) as con:
            rows = con.execute("SELECT call_id, touchpoint_id FROM touchpoints").fetchall()
        return {call: touchpoint for call, touchpoint in rows if call is not None}

    def stop(self) -> None:
        self.server.stop()
        assert self.org.errors == []


@contextlib.contextmanager
def built_world(tls: Tls, directory: Path, calls: int = 0) -> Iterator[World]:
    """A module's world, synced and built once (with `calls` more calls of the first lead);
    its org stops serving: tests take a `World.copy`."""

    def cli(*args: str, **options: Any) -> Any:
        return run_touchpoint(directory, *args, **options)

    made = World.start(tls, cli, directory)
    made.more_calls(calls)
    made.sync_and_build()
    made.stop()
    yield made


def pushed(world: World) -> dict[str, Any]:
    """The push engine run in this process, which must succeed; its `--json` summary."""
    summary = push_json(push_salesforce(load_settings(world.workdir / "touchpoint.toml")))
    assert SECRET not in summary
    return json.loads(summary)


def pushed_cli(world: World, *args: str) -> dict[str, Any]:
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
