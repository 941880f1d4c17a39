"""`touchpoint sync salesforce` against a local Salesforce org speaking the real wire format.

The org (tests/salesforce_server.py) is an HTTPS server with its own test CA,
trusted through `[salesforce] ca_bundle`; the command runs as users run it, in
a subprocess. Assertions look at what the org answered and at the store.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from salesforce_server import SalesforceOrg, Tls, make_rsa_key, make_tls
from touchpoint.config import Settings, load_settings
from touchpoint.store import open_snapshot
from touchpoint.sync.salesforce import OBJECTS
from touchpoint.sync.schedule import SyncSchedule

SECRET = "s3cr3t-client-secret-value"
PAGE_SIZE = 2
TABLES = {name: obj.table for name, obj in OBJECTS.items()}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def org(tls: Tls):
    """An org with a few records of every object, on HTTPS, pages of two records."""
    org = SalesforceOrg(page_size=PAGE_SIZE)
    org.add_client("touchpoint-app", SECRET)
    account = "0015e00000AbCdEAAV"
    for n in range(1, 6):
        org.put(
            "Task",
            Subject=f"Inbound call {n}",
            Type="Call",
            CallType="Inbound",
            CallDurationInSeconds=60 * n,
            bizible2__BizibleId__c=f"{n:032x}",
        )
    org.put("Task", Subject="Broken", WhoId="not-an-id")  # rejected: WhoId is no Salesforce id
    leads = [org.put("Lead", Email=f"lead{n}@example.com", Phone="(415) 555-010{n}") for n in (1, 2, 3)]
    contacts = [org.put("Contact", Email=f"c{n}@example.com", AccountId=account) for n in (1, 2)]
    opportunity = org.put(
        "Opportunity",
        AccountId=account,
        Name="Big deal",
        Amount=1200.5,
        CloseDate="2026-03-31",
        IsClosed=True,
        IsWon=True,
        StageName="Closed Won",
    )
    org.put("Opportunity", AccountId=account, Name="Small deal", Amount=300.0, CloseDate="2026-04-30")
    for contact in contacts:
        org.put("OpportunityContactRole", OpportunityId=opportunity, ContactId=contact, IsPrimary=True)
    campaign = org.put("Campaign", Name="Spring webinar", Type="Webinar")
    org.put("CampaignMember", CampaignId=campaign, LeadId=leads[0], HasResponded=True)
    org.put("CampaignMember", CampaignId=campaign, ContactId=contacts[0], HasResponded=False)
    server = org.serve(org_tls := tls)
    org.url = server.url  # type: ignore[attr-defined]
    org.tls = org_tls  # type: ignore[attr-defined]
    yield org
    server.stop()
    assert org.errors == []


def configure(workdir: Path, org: SalesforceOrg, **salesforce: Any) -> Path:
    """touchpoint.toml connecting to the test org by client credentials (plus `salesforce`)."""
    values: dict[str, Any] = {
        "login_url": org.url,  # type: ignore[attr-defined]
        "client_id": "touchpoint-app",
        "client_secret": SECRET,
        "ca_bundle": str(org.tls.ca),  # type: ignore[attr-defined]
        "retries": 2,
        "retry_backoff": "10ms",
        **salesforce,
    }
    lines = ["[salesforce]"]
    for key, value in values.items():
        if value is None:
            continue
        lines.append(f"{key} = {json.dumps(value)}")
    path = workdir / "touchpoint.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def query(workdir: Path, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect(str(workdir / "touchpoint.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def stored_records(workdir: Path, name: str) -> list[dict[str, Any]]:
    """The records (as received) in the raw table `name` fills; rejects not included."""
    return [json.loads(r[0]) for r in query(workdir, f"SELECT record FROM {TABLES[name]}")]


def server_records(org: SalesforceOrg, name: str) -> list[dict[str, Any]]:
    """What the org holds for this object, as the sync's query selects it."""
    obj = OBJECTS[name]
    return org.current(obj.sobject, obj.fields(Settings()))


def canonical(records: list[dict[str, Any]]) -> Counter[str]:
    return Counter(json.dumps(r, sort_keys=True) for r in records)


def watermark(workdir: Path, sobject: str) -> str | None:
    rows = query(
        workdir, f"SELECT value FROM checkpoints WHERE name = 'salesforce.{sobject}.SystemModstamp'"
    )
    return rows[0][0] if rows else None


def newest_stamp(records: list[dict[str, Any]]) -> str:
    """The largest SystemModstamp, as the SOQL literal the sync keeps (whole seconds, Z)."""
    stamp = max(r["SystemModstamp"] for r in records)
    return stamp[:19] + "Z"


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_first_sync_stores_every_object(cli, workdir: Path, org: SalesforceOrg) -> None:
    configure(workdir, org)
    done = cli("sync", "salesforce", "--json")
    assert done.code == 0, done.stderr
    summary = json.loads(done.stdout)
    by_object = {o["object"]: o for o in summary["objects"]}
    assert list(by_object) == [
        "Task",
        "Lead",
        "Contact",
        "Opportunity",
        "OpportunityContactRole",
        "CampaignMember",
    ]
    assert by_object["Task"] | {"rejects": None} == {
        "object": "Task",
        "since": None,
        "watermark": newest_stamp(server_records(org, "tasks")),
        "pages": 3,
        "read": 6,
        "new": 5,
        "already_present": 0,
        "rejected": 1,
        "rejects": None,
    }
    assert summary["api_usage"] == {"used": org.api_used, "total": 15_000}
    for name, obj in OBJECTS.items():
        held = server_records(org, name)
        good = [r for r in held if r.get("WhoId") != "not-an-id"]
        assert canonical(stored_records(workdir, name)) == canonical(good), name
        assert watermark(workdir, obj.sobject) == newest_stamp(held)
    # Every query went to queryAll (deleted records too), in SystemModstamp order, and the
    # pages after the first were fetched by their nextRecordsUrl.
    assert {s.path for s in org.queries()} == {"/services/data/v61.0/queryAll/"}
    assert all("ORDER BY SystemModstamp ASC" in (s.soql or "") for s in org.queries())
    assert all("WHERE" not in (s.soql or "") for s in org.queries())
    pages = [s.path for s in org.seen if s.path.startswith("/services/data/v61.0/query/01g")]
    assert len(pages) == 2 + 1 + 0 + 0 + 0 + 0  # Task: 3 pages, Lead: 2, the rest: 1
    assert [s.grant for s in org.seen if s.grant] == ["client_credentials"]
    # The rejected Task is kept with its reason, and the call rows carry the REST fields.
    rejects = query(workdir, "SELECT source, kind, reason FROM rejects")
    broken_id = next(r["Id"] for r in server_records(org, "tasks") if r["WhoId"] == "not-an-id")
    assert rejects == [(f"salesforce:Task/{broken_id}", "calls", "WhoId 'not-an-id' is not a Salesforce id (15 or 18 letters and digits)")]
    calls = query(workdir, "SELECT visitor_id, duration_s, activity_type, is_deleted FROM raw_calls ORDER BY duration_s")
    assert calls[0] == (f"{1:032x}", 60, "Call", False)
    members = query(workdir, "SELECT campaign_name, campaign_type, has_responded FROM raw_campaign_members ORDER BY has_responded")
    assert members == [("Spring webinar", "Webinar", False), ("Spring webinar", "Webinar", True)]
    amounts = query(workdir, "SELECT amount, close_date FROM raw_opportunities ORDER BY amount")
    assert amounts == [(300.0, "2026-04-30"), (1200.5, "2026-03-31")]


def test_second_sync_fetches_only_what_changed(cli, workdir: Path, org: SalesforceOrg) -> None:
    configure(workdir, org)
    assert cli("sync", "salesforce").code == 0
    before = {obj.sobject: watermark(workdir, obj.sobject) for obj in OBJECTS.values()}
    boundary = {
        obj.sobject: {
            r["Id"] for r in server_records(org, name) if r["SystemModstamp"][:19] + "Z" == before[obj.sobject]
        }
        for name, obj in OBJECTS.items()
    }
    tasks = sorted(r["Id"] for r in server_records(org, "tasks"))
    org.put("Task", tasks[1], Subject="Inbound call 2 (edited)")
    new_task = org.put("Task", Subject="Inbound call 6", Type="Call", bizible2__BizibleId__c="f" * 32)
    new_lead = org.put("Lead", Email="lead4@example.com")
    mark = len(org.seen)

    done = cli("sync", "salesforce")
    assert done.code == 0, done.stderr
    # Each object's newest record came again (>= the watermark), the broken Task among them.
    assert "read 9 records, 3 new, 1 rejected" in done.stderr
    queries = {re.search(r"FROM (\w+)", s.soql or "")[1]: s.soql for s in org.queries(mark)}  # type: ignore[index]
    for sobject, since in before.items():
        assert f"WHERE SystemModstamp >= {since} ORDER BY" in queries[sobject]
    changed = {"Task": {tasks[1], new_task}, "Lead": {new_lead}}
    for name, obj in OBJECTS.items():
        returned = org.returned_ids(obj.sobject, since=mark)
        assert set(returned) == changed.get(obj.sobject, set()) | boundary[obj.sobject], obj.sobject
        # The store holds every version once, and the latest of each is the org's record.
        stored = stored_records(workdir, name)
        assert len({json.dumps(r, sort_keys=True) for r in stored}) == len(stored)
        latest = {r["Id"]: r for r in sorted(stored, key=lambda r: r["SystemModstamp"])}
        held = {r["Id"]: r for r in server_records(org, name) if r.get("WhoId") != "not-an-id"}
        assert latest == held, name
    assert query(workdir, "SELECT count(*) FROM raw_calls") == [(5 + 2,)]
