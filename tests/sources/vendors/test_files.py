"""`touchpoint import calls --format ctm | callrail | invoca | calls-csv`: each vendor's file
round-trips to the `calls` table with the right UTC time, numbers and visitor id."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from support.paths import VENDOR_FIXTURES
from touchpoint.config import load_settings
from touchpoint.errors import TouchpointError
from touchpoint.importers import CALL_FORMATS, import_calls

FIXTURES = VENDOR_FIXTURES


def exported(cli, table: str) -> dict[str, dict]:
    result = cli("export", table, "--format", "json")
    assert result.code == 0, result.stderr
    return {row["call_id"]: row for row in map(json.loads, result.stdout.splitlines())}


@pytest.fixture(scope="module")
def world_cli(tmp_path_factory: pytest.TempPathFactory):
    """The real `touchpoint` command in one directory shared by this module's round trips."""
    directory = tmp_path_factory.mktemp("vendor-world")
    env = {  # without TOUCHPOINT_* but conftest's retention off
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TOUCHPOINT_") or k.startswith("TOUCHPOINT_RETENTION__")
    }

    def run(*args: str) -> SimpleNamespace:
        done = subprocess.run(
            [sys.executable, "-m", "touchpoint", *args],
            cwd=directory,
            capture_output=True,
            text=True,
            env={**env, "COLUMNS": "200"},
            timeout=300,
        )
        return SimpleNamespace(code=done.returncode, stdout=done.stdout, stderr=done.stderr)

    run.directory = directory  # type: ignore[attr-defined]
    return run


@pytest.fixture(scope="module")
def vendor_world(world_cli) -> dict[str, dict]:
    """Every vendor fixture imported with the real command and built, once."""
    cli = world_cli
    for name in FIXTURES.iterdir():
        if name.is_file():  # ui_exports/ has its own test
            shutil.copy(name, cli.directory / name.name)
    imports = [
        ("ctm", ["ctm-calls.json", "ctm-webhook-call.json"]),
        ("callrail", ["callrail-post-call-docs-vector.json", "callrail-post-call.json"]),
        ("callrail", ["callrail-call-modified.json"]),
        ("invoca", ["invoca-transactions.json"]),
        ("invoca", ["invoca-transactions.csv"]),
        ("calls-csv", ["calls.csv"]),
    ]
    for fmt, files in imports:
        result = cli("import", "calls", *files, "--format", fmt)
        assert result.code == 0, result.stderr
    assert cli("build").code == 0
    return exported(cli, "calls")


def test_ctm_calls_round_trip(vendor_world) -> None:
    first = vendor_world["2150371827"]
    assert first["source_system"] == "ctm"
    assert first["called_at"] == "2026-01-19T17:00:00Z"
    assert (first["caller_number"], first["tracking_number"]) == ("+16175550182", "+18885550147")
    assert first["visitor_id"] == "3f9a2c1e8b7d4f60a1b2c3d4e5f60718"
    assert first["duration_s"] == 184
    second = vendor_world["2150380044"]
    assert second["called_at"] == "2026-01-19T19:47:00Z"
    assert second["caller_number"] == "+16175550199"
    assert second["visitor_id"] == "e61b0a9f2c7d4b3a8e5f1c2d3b4a5968"
    no_visitor = vendor_world["2150390077"]
    assert (no_visitor["visitor_id"], no_visitor["outcome"]) == (None, "no_visitor_id")
    assert vendor_world["2150381200"]["kind"] == "form"  # a form lands as one (DESIGN §12)


def test_callrail_calls_round_trip(vendor_world) -> None:
    modern = vendor_world["CAL8f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f"]
    assert modern["external_id"] == "912345678"
    assert modern["called_at"] == "2026-03-04T15:20:07.512000Z"
    assert (modern["caller_number"], modern["tracking_number"]) == ("+17815550143", "+16175550111")
    assert modern["visitor_id"] == "9c1d7e2a4b6f48d0a3e5c7b9d1f20384"
    assert modern["attribution_basis"] == "vendor"
    vector = vendor_world["766970532"]
    assert vector["called_at"] == "2018-02-19T18:41:00.236000Z"
    assert vector["duration_s"] == 13


def test_invoca_json_and_csv_round_trip_and_corrections_win(vendor_world) -> None:
    first = vendor_world["B4F1A2C3-7D9E6F10"]
    assert first["called_at"] == "2026-03-04T12:45:00Z"
    assert first["caller_number"] == "+16175550177"
    assert first["visitor_id"] == "5b2e9d1c7a3f4e60b8c1d2e3f4a5b6c7"
    corrected = vendor_world["C7E2D9A0-11AB34CD"]
    assert corrected["duration_s"] == 71
    assert "C7E2D9A0-11AB34CE" not in vendor_world  # the correction is not a call of its own
    assert "B4F1A2C3-7D9E6F11" not in vendor_world  # a signal


def test_calls_csv_round_trip(vendor_world) -> None:
    row = vendor_world["PBX-000481"]
    assert (row["source_system"], row["called_at"]) == ("pbx", "2026-03-04T14:14:00Z")
    assert row["caller_number"] == "+16175550105"
    assert row["visitor_id"] == "7d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a"
    blank = vendor_world["PBX-000482"]
    assert (blank["visitor_id"], blank["caller_number"]) == (None, "+16175550106")


def test_vendor_touchpoints_take_the_vendors_channel(world_cli, vendor_world) -> None:
    touchpoints = exported(world_cli, "touchpoints")
    assert touchpoints["2150371827"]["channel"] == "Paid Search"
    assert touchpoints["2150371827"]["campaign"] == "winter-furnace"
    assert touchpoints["2150380044"]["channel"] == "Organic Search"
    assert touchpoints["C7E2D9A0-11AB34CD"]["subchannel"] == "Bing"
    assert touchpoints["PBX-000481"]["channel"] == "Email"
    assert {row["attribution_basis"] for row in touchpoints.values()} == {"vendor"}
    # No visitor id, but CTM's own source ("Direct"): a vendor touchpoint on the caller's
    # number (DESIGN §12, [merge] vendor_fallback); the call's outcome stays no_visitor_id.
    no_visitor = touchpoints["2150390077"]
    assert (no_visitor["channel"], no_visitor["person_id"]) == ("Direct", "phone:+14155550132")
    assert vendor_world["2150390077"]["outcome"] == "no_visitor_id"
    assert touchpoints["2150381200"]["touchpoint_type"] == "Web Form"  # CTM's form


def test_reimporting_vendor_files_changes_nothing(cli, workdir: Path) -> None:
    shutil.copy(FIXTURES / "ctm-calls.json", workdir)
    assert cli("import", "calls", "ctm-calls.json", "--format", "ctm").code == 0
    again = cli("import", "calls", "ctm-calls.json", "--format", "ctm", "--json")
    assert again.code == 0, again.stderr
    summary = json.loads(again.stdout)
    assert (summary["new"], summary["already_present"], summary["rejected"]) == (0, 4, 0)


def test_bad_vendor_records_are_rejected_with_reasons_and_the_rest_land(cli, workdir: Path):
    calls = [
        {"id": 1, "unix_time": 1768842000, "caller_number": "+16175550182"},
        {"id": 2, "called_at": "yesterday"},
        {"sid": "CAL-no-id", "unix_time": 1768842000},
        {"id": 3, "unix_time": 1768842000, "duration": "a while"},
        "not a call",
    ]
    (workdir / "ctm.json").write_text(json.dumps({"calls": calls}))
    result = cli("import", "calls", "ctm.json", "--format", "ctm")
    assert result.code == 0, result.stderr
    assert "read 5, accepted 1" in result.stderr
    rejects = [
        json.loads(line)
        for line in cli("export", "rejects", "--format", "json").stdout.splitlines()
    ]
    reasons = {row["source"]: row["reason"] for row in rejects}
    assert "called_at 'yesterday'" in reasons["ctm.json:calls[1]"]
    assert reasons["ctm.json:calls[2]"] == "missing required field id"
    assert "duration 'a while'" in reasons["ctm.json:calls[3]"]
    assert "JSON object" in reasons["ctm.json:calls[4]"]
    strict = cli("import", "calls", "ctm.json", "--format", "ctm", "--strict")
    assert strict.code == 1 and "nothing was imported" in strict.stderr


def test_unreadable_vendor_files_are_one_clear_line(cli, workdir: Path) -> None:
    (workdir / "broken.json").write_text('{"calls": [')
    result = cli("import", "calls", "broken.json", "--format", "callrail")
    assert result.code == 1
    assert "not valid CallRail JSON" in result.stderr
    assert "Traceback" not in result.stderr
    unknown = cli("import", "calls", "broken.json", "--format", "ringba")
    assert unknown.code == 1 and "ctm, ctm-csv, callrail, callrail-csv, invoca" in unknown.stderr


def test_saved_webhook_bodies_one_per_line(workdir: Path) -> None:
    body = (FIXTURES / "callrail-post-call.json").read_text().strip()
    modified = (FIXTURES / "callrail-call-modified.json").read_text().strip()
    (workdir / "webhooks.ndjson").write_text(f"{body}\n{{broken\n{modified}\n")
    settings = load_settings(None)
    result = import_calls(settings, [workdir / "webhooks.ndjson"], "callrail")
    assert (result.seen, result.landed, result.rejected) == (3, 2, 1)


def test_calls_csv_notes_unknown_columns_and_ignores_build_columns(workdir: Path) -> None:
    (workdir / "calls.csv").write_text(
        "call_id,called_at,outcome,touchpoint_id,agent_name\n"
        "X1,2026-03-04T12:00:00Z,merged,abc,Sam\n"
    )
    result = import_calls(load_settings(None), [workdir / "calls.csv"], "calls-csv")
    assert result.landed == 1
    assert any("agent_name" in note and "outcome" not in note for note in result.notes)


def test_the_formats_are_registered() -> None:
    assert {"ctm", "callrail", "invoca", "calls-csv"} <= set(CALL_FORMATS)
    with pytest.raises(TouchpointError):
        import_calls(load_settings(None, db=Path("x.duckdb")), [], "twilio")
