"""Which Tasks `sync salesforce` takes as calls (DESIGN §11), from an org whose Tasks are
mostly emails: the org holds the Tasks of tests/fixtures/salesforce/tasks-mostly-emails.json
(a REST query result as Salesforce returns it), served by the local org of
tests/support/salesforce_server.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from support.built import built_calls
from support.paths import FIXTURES
from support.salesforce_server import SalesforceOrg, Tls, make_tls
from support.sync_setup import query, write_settings

SECRET = "s3cr3t-client-secret-value"
CALL_IDS = {"00T5e00000Qr011AAA", "00T5e00000Qr012AAA", "00T5e00000Qr013AAA", "00T5e00000Qr014AAA"}
# Fields the org sets itself when a record is put.
OWN_FIELDS = {"attributes", "CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted"}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def org(tls: Tls):
    """The fixture's fourteen Tasks (four calls, ten emails, to-dos and meetings), pages of 3."""
    org = SalesforceOrg(page_size=3)
    org.add_client("touchpoint-app", SECRET)
    result = json.loads((FIXTURES / "salesforce" / "tasks-mostly-emails.json").read_text())
    for record in result["records"]:
        fields = {k: v for k, v in record.items() if k not in OWN_FIELDS and v is not None}
        org.put("Task", fields.pop("Id"), **fields)
    server = org.serve(tls)
    yield org
    server.stop()
    assert org.errors == []


def configure(workdir: Path, org: SalesforceOrg, **salesforce: Any) -> None:
    values = {
        "login_url": org.base_url,
        "client_id": "touchpoint-app",
        "client_secret": SECRET,
        "ca_bundle": str(org.ca),
        "objects": ["tasks"],
        **salesforce,
    }
    write_settings(workdir, "salesforce", values)


def kept_ids(workdir: Path) -> set[str]:
    """The Tasks kept raw."""
    return {row[0] for row in query(workdir, "SELECT call_id FROM raw_calls")}


def test_the_rule_keeps_the_calls_and_counts_the_rest_as_skipped(cli, workdir, org):
    configure(workdir, org)
    done = cli("sync", "salesforce", "--json")
    assert done.code == 0, done.stderr
    [task] = json.loads(done.stdout)["objects"]
    assert (task["read"], task["new"], task["rejected"], task["skipped"]) == (14, 4, 0, 10)
    assert task["already_present"] == 0
    assert task["skipped_reasons"]["not a call: TaskSubtype 'Email', Type 'Email'"] == 5
    assert sum(task["skipped_reasons"].values()) == 10
    # Every Task is kept raw; the build takes the calls.
    assert len(kept_ids(workdir)) == 14
    assert set(built_calls(cli)) == CALL_IDS
    # Without task_filter every Task changed since the watermark is read: the rule is ours.
    assert all("WHERE" not in (seen.soql or "") for seen in org.queries())
    # The table and the summary line show the skipped Tasks too.
    again = cli("sync", "salesforce", "--full")
    assert again.code == 0, again.stderr
    assert "skipped 10 (5 × not a call: TaskSubtype 'Email', Type 'Email';" in again.stderr


def test_task_filter_is_the_query_s_where_and_replaces_the_rule(cli, workdir, org):
    # An org whose vendor logs calls as Type "Call" only: the emails never leave Salesforce.
    configure(workdir, org, task_filter="TaskSubtype = 'Call' OR Type = 'Outbound Call'")
    done = cli("sync", "salesforce", "--json")
    assert done.code == 0, done.stderr
    [task] = json.loads(done.stdout)["objects"]
    assert (task["read"], task["new"], task["skipped"]) == (3, 3, 0)
    [first] = org.queries()
    assert " FROM Task WHERE (TaskSubtype = 'Call' OR Type = 'Outbound Call') ORDER BY" in (
        first.soql or ""
    )
    # The rule is replaced, not added to: the Task with only a visitor id is not asked for.
    assert kept_ids(workdir) == CALL_IDS - {"00T5e00000Qr014AAA"}
    assert set(built_calls(cli)) == CALL_IDS - {"00T5e00000Qr014AAA"}
    # The next sync adds the watermark to the same condition.
    mark = len(org.seen)
    assert cli("sync", "salesforce").code == 0
    [second] = org.queries(mark)
    assert "WHERE (TaskSubtype = 'Call' OR Type = 'Outbound Call') AND SystemModstamp >= " in (
        second.soql or ""
    )


def test_a_task_filter_salesforce_refuses_says_where_it_came_from(cli, workdir, org):
    configure(workdir, org, task_filter="Kind__c = 'Call'")
    done = cli("sync", "salesforce")
    assert done.code == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "INVALID_FIELD" in lines[0]
    assert lines[0].endswith("(its WHERE holds [salesforce] task_filter = \"Kind__c = 'Call'\")")


def test_a_task_filter_with_where_is_one_error_before_any_request(cli, workdir, org):
    configure(workdir, org, task_filter="WHERE Type = 'Call'")
    done = cli("sync", "salesforce")
    assert done.code == 1
    assert "give the condition without WHERE" in done.stderr
    assert org.seen == []


def test_a_task_changed_into_an_email_in_the_org_is_no_call_after_the_next_sync(cli, workdir, org):
    configure(workdir, org)
    assert cli("sync", "salesforce").code == 0
    assert "00T5e00000Qr011AAA" in built_calls(cli)
    # Someone turns the logged call into an email; only it has changed since the watermark.
    org.put("Task", "00T5e00000Qr011AAA", TaskSubtype="Email", Type="Email")
    done = cli("sync", "salesforce", "--json")
    assert done.code == 0, done.stderr
    [task] = json.loads(done.stdout)["objects"]
    assert task["skipped_reasons"] == {"not a call: TaskSubtype 'Email', Type 'Email'": 1}
    assert task["new"] == 0
    assert set(built_calls(cli)) == CALL_IDS - {"00T5e00000Qr011AAA"}


def test_tasks_a_task_filter_chooses_are_calls_at_build(cli, workdir, org):
    # The org's vendor logs calls as meetings: the filter says so, the rule would not.
    configure(workdir, org, task_filter="Type = 'Meeting'")
    done = cli("sync", "salesforce", "--json")
    assert done.code == 0, done.stderr
    [task] = json.loads(done.stdout)["objects"]
    assert (task["read"], task["new"], task["skipped"]) == (1, 1, 0)
    call = built_calls(cli)["00T5e00000Qr010AAA"]
    assert (call["kind"], call["activity_type"]) == ("call", "Meeting")


def test_a_new_visitor_id_field_applies_to_synced_tasks_after_a_full_sync(cli, workdir, org):
    org.put("Task", "00T5e00000Qr015AAA", TaskSubtype="Email", tp_uid__c=f"{15:032x}")
    configure(workdir, org)
    assert cli("sync", "salesforce").code == 0
    assert "00T5e00000Qr015AAA" in kept_ids(workdir)
    assert "00T5e00000Qr015AAA" not in built_calls(cli)
    # The sync asks only for the fields touchpoint reads: a field named later is read
    # by the next full sync, and the build then takes the Task as a call.
    configure(workdir, org, visitor_id_field="tp_uid__c")
    assert "00T5e00000Qr015AAA" not in built_calls(cli)
    assert cli("sync", "salesforce", "--full").code == 0
    assert built_calls(cli)["00T5e00000Qr015AAA"]["visitor_id"] == f"{15:032x}"
