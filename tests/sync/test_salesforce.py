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

import pytest

from support.salesforce_server import SalesforceOrg, Tls, make_rsa_key, make_tls
from support.sync_setup import query, write_settings
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
    org.put("Task", Subject="Broken", Type="Call", WhoId="not-an-id")  # rejected: a bad WhoId
    leads = [
        org.put("Lead", Email=f"lead{n}@example.com", Phone="(415) 555-010{n}") for n in (1, 2, 3)
    ]
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
    org.put(
        "Opportunity", AccountId=account, Name="Small deal", Amount=300.0, CloseDate="2026-04-30"
    )
    for contact in contacts:
        org.put(
            "OpportunityContactRole", OpportunityId=opportunity, ContactId=contact, IsPrimary=True
        )
    campaign = org.put("Campaign", Name="Spring webinar", Type="Webinar")
    org.put("CampaignMember", CampaignId=campaign, LeadId=leads[0], HasResponded=True)
    org.put("CampaignMember", CampaignId=campaign, ContactId=contacts[0], HasResponded=False)
    server = org.serve(tls)
    yield org
    server.stop()
    assert org.errors == []


def configure(workdir: Path, org: SalesforceOrg, **salesforce: Any) -> Path:
    """touchpoint.toml connecting to the test org by client credentials (plus `salesforce`)."""
    values: dict[str, Any] = {
        "login_url": org.base_url,
        "client_id": "touchpoint-app",
        "client_secret": SECRET,
        "ca_bundle": str(org.ca),
        "retries": 2,
        "retry_backoff": "10ms",
        **salesforce,
    }
    return write_settings(workdir, "salesforce", values)


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
    broken_id = next(r["Id"] for r in server_records(org, "tasks") if r["WhoId"] == "not-an-id")
    reason = "WhoId 'not-an-id' is not a Salesforce id (15 or 18 letters and digits)"
    assert by_object["Task"] == {
        "object": "Task",
        "since": None,
        "watermark": newest_stamp(server_records(org, "tasks")),
        "pages": 3,
        "read": 6,
        "new": 5,
        "already_present": 0,
        "rejected": 1,
        "rejects": [{"source": f"salesforce:Task/{broken_id}", "reason": reason}],
        "skipped": 0,
        "skipped_reasons": {},
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
    assert len(pages) == 2 + 1  # after the first page: Task has 2 more (6 records), Lead 1 (3)
    assert [s.grant for s in org.seen if s.grant] == ["client_credentials"]
    # The rejected Task is kept with its reason, and the call rows carry the REST fields.
    rejects = query(workdir, "SELECT source, kind, reason FROM rejects")
    assert rejects == [(f"salesforce:Task/{broken_id}", "calls", reason)]
    calls = query(
        workdir,
        "SELECT visitor_id, duration_s, activity_type, is_deleted FROM raw_calls ORDER BY duration_s",
    )
    assert calls[0] == (f"{1:032x}", 60, "Call", False)
    members = query(
        workdir,
        "SELECT campaign_name, campaign_type, has_responded FROM raw_campaign_members ORDER BY has_responded",
    )
    assert members == [("Spring webinar", "Webinar", False), ("Spring webinar", "Webinar", True)]
    amounts = query(workdir, "SELECT amount, close_date FROM raw_opportunities ORDER BY amount")
    assert amounts == [(300.0, "2026-04-30"), (1200.5, "2026-03-31")]


def test_second_sync_fetches_only_what_changed(cli, workdir: Path, org: SalesforceOrg) -> None:
    configure(workdir, org)
    assert cli("sync", "salesforce").code == 0
    before = {obj.sobject: watermark(workdir, obj.sobject) for obj in OBJECTS.values()}
    boundary = {
        obj.sobject: {
            r["Id"]
            for r in server_records(org, name)
            if r["SystemModstamp"][:19] + "Z" == before[obj.sobject]
        }
        for name, obj in OBJECTS.items()
    }
    tasks = sorted(r["Id"] for r in server_records(org, "tasks"))
    org.put("Task", tasks[1], Subject="Inbound call 2 (edited)")
    new_task = org.put(
        "Task", Subject="Inbound call 6", Type="Call", bizible2__BizibleId__c="f" * 32
    )
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


def export_calls(cli) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    done = cli("export", "calls", "--format", "json")
    assert done.code == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return {row["call_id"]: row for row in rows}


def test_a_deleted_task_removes_its_call(cli, workdir: Path, org: SalesforceOrg) -> None:
    configure(workdir, org)
    assert cli("sync", "salesforce").code == 0
    assert cli("build").code == 0
    tasks = sorted(r["Id"] for r in server_records(org, "tasks") if r["WhoId"] != "not-an-id")
    assert sorted(export_calls(cli)) == tasks
    org.delete("Task", tasks[0])
    org.delete("Contact", sorted(r["Id"] for r in server_records(org, "contacts"))[0])
    mark = len(org.seen)

    assert cli("sync", "salesforce").code == 0
    # Only queryAll returns records in the recycle bin: the sync saw the deletion.
    assert tasks[0] in org.returned_ids("Task", since=mark)
    assert cli("build").code == 0
    assert sorted(export_calls(cli)) == tasks[1:]
    deleted = query(workdir, "SELECT id FROM raw_contacts WHERE is_deleted")
    assert len(deleted) == 1


@pytest.mark.parametrize("how", ["500", "drop"])
def test_a_crash_between_pages_resumes_where_it_stopped(
    cli, workdir: Path, org: SalesforceOrg, how: str
) -> None:
    configure(workdir, org, retries=1)
    org.break_page("Task", 2, how)  # beyond the retries: the command fails there
    failed = cli("sync", "salesforce")
    assert failed.code == 1
    line = one_error_line(failed.stderr)
    reason = "answered 500" if how == "500" else "cannot reach Salesforce"
    assert reason in line and "gave up after 2 attempts" in line
    first_page = sorted(server_records(org, "tasks"), key=lambda r: r["SystemModstamp"])[:PAGE_SIZE]
    assert f"the next sync resumes from {newest_stamp(first_page)}" in line
    # The first page is stored with its watermark; nothing of the failed page or after it.
    assert canonical(stored_records(workdir, "tasks")) == canonical(first_page)
    assert watermark(workdir, "Task") == newest_stamp(first_page)
    assert watermark(workdir, "Lead") is None
    assert query(workdir, "SELECT count(*) FROM raw_leads") == [(0,)]

    org.heal()
    mark = len(org.seen)
    resumed = cli("sync", "salesforce")
    assert resumed.code == 0, resumed.stderr
    task_query = next(s.soql for s in org.queries(mark) if "FROM Task" in (s.soql or ""))
    assert f"WHERE SystemModstamp >= {newest_stamp(first_page)}" in (task_query or "")
    # Nothing lost, nothing twice: the store is exactly what the org holds.
    for name in OBJECTS:
        good = [r for r in server_records(org, name) if r.get("WhoId") != "not-an-id"]
        assert canonical(stored_records(workdir, name)) == canonical(good), name


@pytest.mark.parametrize("how", ["500", "429", "drop"])
def test_transient_failures_are_retried(cli, workdir: Path, org: SalesforceOrg, how: str) -> None:
    configure(workdir, org, retries=3)
    org.break_page("Task", 2, how, times=2)
    done = cli("sync", "salesforce", "--json")
    assert done.code == 0, done.stderr
    assert json.loads(done.stdout)["objects"][0]["read"] == 6
    assert sum(1 for s in org.seen if s.status != 200) == 2
    assert canonical(stored_records(workdir, "leads")) == canonical(server_records(org, "leads"))


def test_an_expired_token_is_refreshed(cli, workdir: Path, org: SalesforceOrg) -> None:
    configure(workdir, org)
    org.token_lifetime = 4  # each access token answers four REST calls, then INVALID_SESSION_ID
    done = cli("sync", "salesforce")
    assert done.code == 0, done.stderr
    expired = [s for s in org.seen if s.status == 401]
    grants = [s for s in org.seen if s.grant == "client_credentials"]
    assert len(expired) >= 2 and len(grants) == len(expired) + 1
    for name in OBJECTS:
        good = [r for r in server_records(org, name) if r.get("WhoId") != "not-an-id"]
        assert canonical(stored_records(workdir, name)) == canonical(good), name


def test_a_session_refused_right_after_refresh_is_one_error(
    cli, workdir: Path, org: SalesforceOrg
) -> None:
    configure(workdir, org)
    org.token_lifetime = 0  # no token is ever good
    done = cli("sync", "salesforce")
    assert done.code == 1
    assert "with a fresh session too (INVALID_SESSION_ID)" in one_error_line(done.stderr)
    assert len([s for s in org.seen if s.grant]) == 2  # the sign-in, and one refresh


def test_an_existing_session_id(cli, workdir: Path, org: SalesforceOrg) -> None:
    token = org.issue_token()
    configure(
        workdir,
        org,
        client_id=None,
        client_secret=None,
        session_id=token,
        instance_url=org.base_url,
    )
    done = cli("sync", "salesforce")
    assert done.code == 0, done.stderr
    assert not [s for s in org.seen if s.grant]
    assert len(stored_records(workdir, "tasks")) == 5
    org.tokens.clear()  # the session expires; without a connected app there is no refresh
    expired = cli("sync", "salesforce")
    assert expired.code == 1
    line = one_error_line(expired.stderr)
    assert "session has expired or is invalid (INVALID_SESSION_ID)" in line
    assert token not in expired.stderr + expired.stdout


def test_jwt_bearer_sign_in(cli, workdir: Path, org: SalesforceOrg) -> None:
    key_file = workdir / "connected-app.key"
    public = make_rsa_key(key_file)
    org.add_jwt_app("jwt-app", "sync@example.com", public, audience="https://login.salesforce.com")
    configure(
        workdir,
        org,
        client_id="jwt-app",
        client_secret=None,
        username="sync@example.com",
        private_key_file=str(key_file),
        jwt_audience="https://login.salesforce.com",
    )
    done = cli("sync", "salesforce")
    assert done.code == 0, done.stderr
    assert [s.grant for s in org.seen if s.grant] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assert len(stored_records(workdir, "tasks")) == 5
    # The same key as PEM text in the environment; a user the app does not know is refused.
    env = {"TOUCHPOINT_SALESFORCE__PRIVATE_KEY": key_file.read_text()}
    configure(
        workdir,
        org,
        client_id="jwt-app",
        client_secret=None,
        username="someone@example.com",
        jwt_audience="https://login.salesforce.com",
    )
    refused = cli("sync", "salesforce", env=env)
    assert refused.code == 1
    assert one_error_line(refused.stderr) == (
        "error: Salesforce sign-in failed (invalid_grant): user hasn't approved this consumer"
    )
    assert "PRIVATE KEY" not in refused.stderr + refused.stdout


def test_wrong_credentials_are_one_line_without_the_secret(
    cli, workdir: Path, org: SalesforceOrg
) -> None:
    configure(workdir, org, client_secret="wrong-" + SECRET)
    done = cli("sync", "salesforce")
    assert done.code == 1
    assert one_error_line(done.stderr) == (
        "error: Salesforce sign-in failed (invalid_client): invalid client credentials"
    )
    assert SECRET not in done.stderr + done.stdout
    shown = cli("settings")
    assert shown.code == 0 and SECRET not in shown.stdout


def test_the_test_ca_must_be_trusted(cli, workdir: Path, org: SalesforceOrg) -> None:
    configure(workdir, org, ca_bundle=None)
    done = cli("sync", "salesforce")
    assert done.code == 1
    assert "cannot make a trusted connection to Salesforce" in one_error_line(done.stderr)
    assert org.seen == []


def test_the_api_limit_stops_cleanly(cli, workdir: Path, org: SalesforceOrg) -> None:
    configure(workdir, org, api_limit_reserve=2)
    org.api_total, org.api_used = 100, 97  # two calls, then fewer than two left
    done = cli("sync", "salesforce", "--json")
    assert done.code == 0, done.stderr
    summary = json.loads(done.stdout)
    assert "api_limit_reserve = 2" in summary["stopped"]
    assert "api_limit_reserve" in done.stderr
    assert [o["object"] for o in summary["objects"]] == ["Task"]
    two_pages = sorted(server_records(org, "tasks"), key=lambda r: r["SystemModstamp"])[:4]
    assert canonical(stored_records(workdir, "tasks")) == canonical(two_pages)
    assert watermark(workdir, "Task") == newest_stamp(two_pages)
    assert org.api_used == 99

    # The org refusing outright (REQUEST_LIMIT_EXCEEDED) is a clean stop too.
    org.api_used = 100
    refused = cli("sync", "salesforce", "--json")
    assert refused.code == 0, refused.stderr
    assert (
        "Salesforce is limiting requests (REQUEST_LIMIT_EXCEEDED"
        in json.loads(refused.stdout)["stopped"]
    )

    org.api_used = 0  # a new day
    assert cli("sync", "salesforce").code == 0
    for name in OBJECTS:
        good = [r for r in server_records(org, name) if r.get("WhoId") != "not-an-id"]
        assert canonical(stored_records(workdir, name)) == canonical(good), name


def test_field_names_and_objects_come_from_settings(cli, workdir: Path, org: SalesforceOrg) -> None:
    task = org.put("Task", Subject="Own field", tp_uid__c="a" * 32, bizible2__BizibleId__c="b" * 32)
    configure(workdir, org, visitor_id_field="tp_uid__c", objects=["tasks"])
    done = cli("sync", "salesforce")
    assert done.code == 0, done.stderr
    assert query(workdir, f"SELECT visitor_id FROM raw_calls WHERE call_id = '{task}'") == [
        ("a" * 32,)
    ]
    assert {re.search(r"FROM (\w+)", s.soql or "")[1] for s in org.queries()} == {"Task"}  # type: ignore[index]

    configure(workdir, org, visitor_id_field="Visitor__c")
    missing = cli("sync", "salesforce")
    assert missing.code == 1
    assert one_error_line(missing.stderr).startswith(
        "error: Salesforce refused the Task query: INVALID_FIELD: No such column 'Visitor__c'"
    )


def test_full_sync_ignores_the_watermarks(cli, workdir: Path, org: SalesforceOrg) -> None:
    configure(workdir, org)
    assert cli("sync", "salesforce").code == 0
    mark = len(org.seen)
    again = cli("sync", "salesforce", "--full", "--json")
    assert again.code == 0, again.stderr
    assert all("WHERE" not in (s.soql or "") for s in org.queries(mark))
    assert json.loads(again.stdout)["new"] == 0


def test_the_schedule_syncs_and_builds_and_survives_failures(
    workdir: Path, org: SalesforceOrg
) -> None:
    settings = load_settings(configure(workdir, org, retries=0))
    org.break_page("Task", 1, "500")  # the first run's sync fails; its build still runs
    lines: list[str] = []
    schedule = SyncSchedule(settings, timedelta(milliseconds=100), lines.append)
    schedule.start()
    try:
        wait_for(lambda: lines)
        assert lines[0].startswith("scheduled Salesforce sync failed: Salesforce answered 500")
        assert re.search(r"; build build-\S+ published in [\d.]+s; next in 0.1s$", lines[0])
        org.heal()
        wait_for(
            lambda: any(line.startswith("scheduled Salesforce sync: 16 new") for line in lines)
        )
    finally:
        schedule.stop()
    assert not schedule._thread.is_alive()
    with open_snapshot(settings) as con:
        calls = con.execute("SELECT count(*) FROM calls").fetchone()
    assert calls == (5,)
    # Runs never overlap: each run's requests follow the previous run's.
    grants = [i for i, s in enumerate(org.seen) if s.grant]
    assert len(grants) == schedule.runs


def test_serve_runs_the_schedule(workdir: Path, org: SalesforceOrg) -> None:
    from support.collector_server import start, touchpoint

    path = configure(workdir, org, interval="1s")
    path.write_text(path.read_text() + '[collector]\nsegment_max_age = "300ms"\n')
    server = start(workdir)
    try:

        def built() -> bool:
            done = touchpoint(workdir, "export", "calls", "--format", "json")
            return done.returncode == 0 and len(done.stdout.splitlines()) == 5

        wait_for(built, timeout=180)
    finally:
        server.stop()
    log = server.log_text()
    assert "syncing Salesforce and building every 1s" in log
    assert "scheduled Salesforce sync: 16 new records" in log
    assert "Traceback" not in log


def wait_for(condition, timeout: float = 120.0):  # type: ignore[no-untyped-def]
    from support.collector_server import wait_for as poll

    return poll(condition, timeout=timeout, every=0.05)


def test_a_stop_request_ends_the_sync_between_pages(workdir: Path, org: SalesforceOrg) -> None:
    from touchpoint.sync.salesforce import sync_salesforce

    settings = load_settings(configure(workdir, org))
    pages: list[tuple[str, int, int]] = []
    result = sync_salesforce(
        settings, on_page=lambda *page: pages.append(page), should_stop=lambda: bool(pages)
    )
    assert pages == [("Task", 2, 6)]
    assert result.stopped == "stopped on request; the next sync resumes where this one ended"
    first_page = sorted(server_records(org, "tasks"), key=lambda r: r["SystemModstamp"])[:PAGE_SIZE]
    assert watermark(workdir, "Task") == newest_stamp(first_page)


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('interval = "soon"', "setting [salesforce] interval: 'soon' is not a duration"),
        ('objects = ["tasks", "accounts"]', "setting [salesforce] objects.1: Input should be"),
    ],
)
def test_bad_sync_settings_are_one_line(cli, workdir: Path, setting: str, message: str) -> None:
    (workdir / "touchpoint.toml").write_text(f"[salesforce]\n{setting}\n")
    done = cli("sync", "salesforce")
    assert done.code == 1
    assert one_error_line(done.stderr).startswith(f"error: {message}")
