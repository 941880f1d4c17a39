"""Which Tasks are calls is decided at build, on each Task's latest version (DESIGN §11):
every Task version is kept raw, the emails too, so a Task that became an email is no
call, and a settings change plus `build` revives or drops Tasks already imported.
Through the real CLI, on Data Loader-style CSV files (API names, quoted)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest

from support.built import built_calls

HEADER = (
    "Id",
    "CreatedDate",
    "LastModifiedDate",
    "Subject",
    "TaskSubtype",
    "Type",
    "CallType",
    "CallDisposition",
    "CallDurationInSeconds",
    "bizible2__BizibleId__c",
    "tp_uid__c",
    "Description",
)
TASK = "00T5e00000Qr101AAA"
CREATED = "2026-03-04T13:10:41.000Z"
VISITOR = "0b8c6e4f2a1d47e9b3c5a7d9e1f30256"


def write_tasks(path: Path, *rows: dict[str, str]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER, quoting=csv.QUOTE_ALL)
        writer.writeheader()
        for row in rows:
            writer.writerow({name: row.get(name, "") for name in HEADER})
    return path


def task(modified: str, **fields: str) -> dict[str, str]:
    return {"Id": TASK, "CreatedDate": CREATED, "LastModifiedDate": modified, **fields}


AS_CALL = task(
    "2026-03-04T13:11:00.000Z",
    Subject="Call",
    TaskSubtype="Call",
    CallType="Inbound",
    CallDurationInSeconds="95",
)
AS_EMAIL = task(
    "2026-03-05T09:00:00.000Z", Subject="Email: quote", TaskSubtype="Email", Type="Email"
)


def import_file(cli, path: Path) -> dict:
    done = cli("import", "calls", path.name, "--format", "salesforce-csv", "--json")
    assert done.code == 0, done.stderr
    return json.loads(done.stdout)


def settings(workdir: Path, text: str) -> None:
    (workdir / "touchpoint.toml").write_text(text)


@pytest.mark.parametrize("order", ["call first", "email first"])
def test_a_task_that_became_an_email_is_no_call_whatever_the_import_order(cli, workdir, order):
    call_file = write_tasks(workdir / "call.csv", AS_CALL)
    email_file = write_tasks(workdir / "email.csv", AS_EMAIL)
    files = [call_file, email_file] if order == "call first" else [email_file, call_file]
    summaries = [import_file(cli, path) for path in files]
    # Each import still says what it skipped and why; the email version is kept anyway.
    skipped = {s["skipped"]: s["skipped_reasons"] for s in summaries}
    assert skipped == {0: {}, 1: {"not a call: TaskSubtype 'Email', Type 'Email'": 1}}
    assert [s["new"] for s in summaries] == ([1, 0] if order == "call first" else [0, 1])
    con = duckdb.connect(str(workdir / "touchpoint.duckdb"), read_only=True)
    try:
        versions = con.execute("SELECT count(*) FROM raw_calls").fetchone()
    finally:
        con.close()
    assert versions == (2,)
    assert TASK not in built_calls(cli)


def test_the_latest_version_decides_an_email_that_became_a_call_is_one(cli, workdir):
    earlier = task("2026-03-03T09:00:00.000Z", TaskSubtype="Email", Type="Email")
    import_file(cli, write_tasks(workdir / "email.csv", earlier))
    import_file(cli, write_tasks(workdir / "call.csv", AS_CALL))
    call = built_calls(cli)[TASK]
    assert (call["kind"], call["direction"], call["duration_s"]) == ("call", "inbound", 95)


def test_a_visitor_id_field_change_and_a_build_revive_a_task_imported_before(cli, workdir):
    # Imported under the default visitor_id_field: the org's own field is not read, so
    # the Task is an email with no visitor id, skipped with its reason.
    email = task("2026-03-04T13:10:41.000Z", TaskSubtype="Email", tp_uid__c=VISITOR)
    summary = import_file(cli, write_tasks(workdir / "tasks.csv", email))
    assert (summary["accepted"], summary["skipped"]) == (0, 1)
    assert summary["skipped_reasons"] == {"not a call: TaskSubtype 'Email'": 1}
    assert built_calls(cli) == {}
    # The setting changes; no re-import, only a build.
    settings(workdir, '[salesforce]\nvisitor_id_field = "tp_uid__c"\n')
    call = built_calls(cli)[TASK]
    assert (call["visitor_id"], call["kind"]) == (VISITOR, "call")
    # And back: the next build drops it again.
    settings(workdir, "")
    assert built_calls(cli) == {}


def test_call_types_change_and_a_build_revive_or_drop_tasks(cli, workdir):
    meeting = {**task("2026-03-04T13:10:41.000Z", TaskSubtype="Task", Type="Meeting")}
    outbound = {
        **task("2026-03-04T13:20:00.000Z", TaskSubtype="Task", Type=" outbound call "),
        "Id": "00T5e00000Qr102AAA",
    }
    summary = import_file(cli, write_tasks(workdir / "tasks.csv", meeting, outbound))
    assert summary["skipped_reasons"] == {"not a call: TaskSubtype 'Task', Type 'Meeting'": 1}
    assert set(built_calls(cli)) == {"00T5e00000Qr102AAA"}
    settings(workdir, '[salesforce]\ncall_types = ["Meeting"]\n')
    assert set(built_calls(cli)) == {TASK}


@pytest.mark.parametrize(
    ("call_type", "disposition", "direction", "status"),
    [
        ("Inbound", "Answered", "inbound", "answered"),
        ("Outbound", "Left Voicemail", "outbound", "voicemail"),
        ("Outbound", " no answer ", "outbound", "missed"),
        ("Inbound", "Busy", "inbound", "busy"),
        ("Internal", "Connected", None, "answered"),  # between two users: no direction
        ("Inbound", "Wrong number", "inbound", None),  # says nothing clear about the call
        ("", "", None, None),
    ],
)
def test_a_task_s_call_columns(cli, workdir, call_type, disposition, direction, status):
    row = task(
        "2026-03-04T13:11:00.000Z",
        TaskSubtype="Call",
        CallType=call_type,
        CallDisposition=disposition,
    )
    import_file(cli, write_tasks(workdir / "tasks.csv", row))
    call = built_calls(cli)[TASK]
    assert (call["kind"], call["direction"], call["status"]) == ("call", direction, status)
    assert (call["first_time_caller"], call["value"], call["lead_status"], call["spam"]) == (
        None,
        None,
        None,
        None,
    )


def test_a_task_that_is_no_call_is_kept_small(cli, workdir):
    body = "Hello,\n" + "Here is the quote you asked for. " * 200
    email = task(
        "2026-03-04T13:10:41.000Z",
        TaskSubtype="Email",
        Type="Email",
        Subject="Email: quote",
        tp_uid__c=VISITOR,
        Description=body,
    )
    import_file(cli, write_tasks(workdir / "tasks.csv", email, AS_CALL | {"Id": TASK[:-3] + "BAA"}))
    con = duckdb.connect(str(workdir / "touchpoint.duckdb"), read_only=True)
    try:
        records = dict(con.execute("SELECT call_id, record FROM raw_calls").fetchall())
    finally:
        con.close()
    kept = json.loads(records[TASK])
    # The fields touchpoint reads and the short ones stay; the email's body does not,
    # and blank fields of no use are left out.
    assert kept["tp_uid__c"] == VISITOR and kept["TaskSubtype"] == "Email"
    assert "Description" not in kept
    # A call keeps its record as received.
    assert "Description" in json.loads(records[TASK[:-3] + "BAA"])
