"""Which Salesforce Tasks are calls (DESIGN §11): the rule, `[salesforce] call_types`,
and the Tasks that are not calls counted as skipped, never rejected."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from support.built import built_calls
from support.paths import FIXTURES
from touchpoint.config import Settings
from touchpoint.sources.salesforce.tasks import not_a_call

SALESFORCE = FIXTURES / "salesforce"
# The org's Tasks (both fixtures hold the same ones): these four are calls, each by one
# part of the rule; the other ten are emails, a to-do and a meeting.
CALLS = {
    "00T5e00000Qr011AAA": "TaskSubtype Call (Lightning's Log a Call), no Type",
    "00T5e00000Qr012AAA": "Type Outbound Call",
    "00T5e00000Qr013AAA": "CallType Inbound",
    "00T5e00000Qr014AAA": "only the visitor id",
}
SKIPPED = {
    "not a call: TaskSubtype 'Email', Type 'Email'": 5,
    "not a call: TaskSubtype 'ListEmail', Type 'Email'": 1,
    "not a call: TaskSubtype 'Email'": 1,
    "not a call: TaskSubtype 'ListEmail'": 1,
    "not a call: TaskSubtype 'Task'": 1,
    "not a call: TaskSubtype 'Task', Type 'Meeting'": 1,
}


def store_rows(workdir: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(workdir / "touchpoint.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize(
    ("fixture", "fmt"),
    [("tasks-mostly-emails.json", "salesforce-json"), ("tasks-dataloader.csv", "salesforce-csv")],
)
def test_only_the_calls_of_an_org_of_emails_land_the_rest_is_skipped(cli, workdir, fixture, fmt):
    shutil.copy(SALESFORCE / fixture, workdir / fixture)
    done = cli("import", "calls", fixture, "--format", fmt, "--json")
    assert done.code == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["read"], summary["accepted"], summary["new"]) == (14, 4, 4)
    assert (summary["rejected"], summary["skipped"]) == (0, 10)
    assert summary["skipped_reasons"] == SKIPPED
    assert store_rows(workdir, "SELECT count(*) FROM rejects") == [(0,)]
    # Every Task is kept raw, the build decides: the four calls are the calls.
    assert store_rows(workdir, "SELECT count(DISTINCT call_id) FROM raw_calls") == [(14,)]
    calls = built_calls(cli)
    assert sorted(calls) == sorted(CALLS)
    inbound = calls["00T5e00000Qr013AAA"]
    assert (inbound["duration_s"], inbound["kind"], inbound["direction"]) == (
        247,
        "call",
        "inbound",
    )
    assert calls["00T5e00000Qr014AAA"]["visitor_id"] == "9c1d7e2a4b6f48d0a3e5c7b9d1f20384"
    # The summary line says what was skipped and why, most common first.
    line = cli("import", "calls", fixture, "--format", fmt).stderr
    assert (
        "read 14, accepted 4 (0 new, 4 already present), rejected 0, skipped 10 (5 × not a call: TaskSubtype 'Email', Type 'Email';"
        in line
    )


def test_call_types_setting_decides_which_types_are_calls(cli, workdir):
    shutil.copy(SALESFORCE / "tasks-dataloader.csv", workdir / "tasks.csv")
    (workdir / "touchpoint.toml").write_text('[salesforce]\ncall_types = ["Call", "Meeting"]\n')
    done = cli("import", "calls", "tasks.csv", "--format", "salesforce-csv", "--json")
    assert done.code == 0, done.stderr
    summary = json.loads(done.stdout)
    # The meeting is a call now; Outbound Call is not in the list, so that Task is skipped.
    reasons = summary["skipped_reasons"]
    assert "not a call: TaskSubtype 'Task', Type 'Meeting'" not in reasons
    assert reasons["not a call: TaskSubtype 'Task', Type 'Outbound Call'"] == 1
    types = {call["activity_type"] for call in built_calls(cli).values()}
    assert "Meeting" in types and "Outbound Call" not in types


def test_a_file_of_only_emails_is_no_call_and_not_an_error(cli, workdir):
    (workdir / "emails.csv").write_text(
        "Id,CreatedDate,Subject,TaskSubtype,Type\n"
        "00T5e00000Qr001AAA,2026-03-04T13:10:41.000Z,Email: Hello,Email,Email\n"
    )
    done = cli("import", "calls", "emails.csv", "--format", "salesforce-csv")
    assert done.code == 0, done.stderr
    assert (
        "rejected 0, skipped 1 (1 × not a call: TaskSubtype 'Email', Type 'Email')" in done.stderr
    )
    assert "error" not in done.stderr
    # Kept raw for the build to decide again, but no call.
    assert store_rows(workdir, "SELECT count(*) FROM raw_calls") == [(1,)]
    assert built_calls(cli) == {}


@pytest.mark.parametrize(
    ("record", "is_call"),
    [
        ({"TaskSubtype": "Call"}, True),
        ({"TaskSubtype": "call", "Type": "Email"}, True),  # picklist values match in any case
        ({"CallType": "Outbound", "TaskSubtype": "Task"}, True),
        ({"bizible2__BizibleId__c": "v1", "TaskSubtype": "Email"}, True),
        ({"Type": "Inbound Call"}, True),
        ({"Type": " inbound call "}, True),
        ({"Type": "Email", "CallType": "  "}, False),  # blank is not set
        ({"TaskSubtype": "Task", "bizible2__BizibleId__c": ""}, False),
        ({}, False),
    ],
)
def test_the_rule_on_each_part(record, is_call):
    assert (not_a_call(record, Settings()) is None) == is_call


def test_the_visitor_id_part_reads_the_configured_field():
    settings = Settings(salesforce={"visitor_id_field": "tp_uid__c"})
    assert not_a_call({"tp_uid__c": "v1"}, settings) is None
    assert not_a_call({"bizible2__BizibleId__c": "v1"}, settings) is not None
    assert not_a_call({}, settings) == "not a call: no Type, TaskSubtype, CallType or visitor id"
