"""Salesforce file headers (DESIGN §11): API names in any case; a report's labels or a
missing required column is one file-level error that lands nothing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from support.paths import FIXTURES
from touchpoint.sources.salesforce.crm import REQUIRED_FIELDS

SALESFORCE = FIXTURES / "salesforce"


def store_rows(workdir: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(workdir / "touchpoint.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def one_error(stderr: str) -> str:
    """The one line a file-level error prints (no traceback, no reject lines)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    return lines[0]


def test_data_loader_capitals_are_the_api_names(cli, workdir):
    shutil.copy(SALESFORCE / "tasks-dataloader.csv", workdir / "tasks.csv")
    done = cli("import", "calls", "tasks.csv", "--format", "salesforce-csv", "--json")
    assert done.code == 0, done.stderr
    assert json.loads(done.stdout)["notes"] == []  # no column went unread
    rows = store_rows(
        workdir,
        "SELECT call_id, visitor_id, called_at, record FROM raw_calls WHERE visitor_id IS NOT NULL",
    )
    [(call_id, visitor_id, called_at, record)] = rows
    assert (call_id, visitor_id) == ("00T5e00000Qr014AAA", "9c1d7e2a4b6f48d0a3e5c7b9d1f20384")
    # The call time came from bizible2__Bizible_Touchpoint_Date__c, written in capitals.
    assert called_at.isoformat() == "2026-03-04T18:09:58"
    # The record is kept under the API's spelling, so a build reads it by the settings' names.
    assert "bizible2__BizibleId__c" in json.loads(record)


def test_data_loader_leads_land(cli, workdir):
    shutil.copy(SALESFORCE / "leads-dataloader.csv", workdir / "leads.csv")
    done = cli("import", "crm", "leads.csv", "--kind", "leads")
    assert done.code == 0, done.stderr
    rows = store_rows(
        workdir, "SELECT id, email, is_converted, converted_contact_id FROM raw_leads ORDER BY 1"
    )
    assert rows == [
        ("00Q5e00000Lx2PaEAJ", "jordan.fiske@example.com", False, None),
        ("00Q5e00000Lx2PbEAJ", "priya@ramandental.example", True, "0035e00000Bq7ZkAAJ"),
    ]


@pytest.mark.parametrize(
    ("fixture", "args", "table", "expected"),
    [
        (
            "tasks-report-export.csv",
            ("calls", "--format", "salesforce-csv"),
            "raw_calls",
            "Id, CreatedDate",
        ),
        ("leads-report-export.csv", ("crm", "--kind", "leads"), "raw_leads", "Id, CreatedDate"),
    ],
)
def test_a_report_export_is_one_error_naming_the_api_names(
    cli, workdir, fixture, args, table, expected
):
    shutil.copy(SALESFORCE / fixture, workdir / fixture)
    done = cli("import", args[0], fixture, *args[1:])
    assert done.code == 1
    line = one_error(done.stderr)
    assert "report's column labels" in line
    assert f"API names (Data Loader, Workbench, sf data export): {expected}, " in line
    assert store_rows(workdir, f"SELECT count(*) FROM {table}") == [(0,)]
    assert store_rows(workdir, "SELECT count(*) FROM rejects") == [(0,)]


@pytest.mark.parametrize("kind", sorted(REQUIRED_FIELDS))
def test_a_missing_required_column_is_one_error_for_every_crm_kind(cli, workdir, kind):
    required = REQUIRED_FIELDS[kind]
    # Every required column in capitals but the last, which is missing.
    header = ",".join(name.upper() for name in required[:-1])
    row = ",".join(["0015e00000AbCdEAAV"] * (len(required) - 1))
    (workdir / "export.csv").write_text(f"{header},Extra__c\n{row},x\n{row},y\n")
    done = cli("import", "crm", "export.csv", "--kind", kind)
    assert done.code == 1
    line = one_error(done.stderr)
    assert f"no {required[-1]} column, which {kind} need" in line
    assert "rejected" not in done.stderr


def test_a_missing_task_column_lands_nothing_from_that_file_only(cli, workdir):
    (workdir / "a.csv").write_text("ID,TYPE\n00T5e00000Qr001AAA,Call\n")
    (workdir / "b.csv").write_text(
        "id,createddate,type\n00T5e00000Qr002AAA,2026-03-04T13:10:41.000Z,Call\n"
    )
    done = cli("import", "calls", "a.csv", "b.csv", "--format", "salesforce-csv")
    assert done.code == 1
    assert "a.csv: no CreatedDate column, which Tasks need" in done.stderr
    assert store_rows(workdir, "SELECT call_id FROM raw_calls") == [("00T5e00000Qr002AAA",)]
