"""`touchpoint import calls` of texts and forms, and an exported calls file read back.

The vendors' text and form records land through the real command as rows of
kind `text` / `form` (DESIGN §12), counted as new rows, not skipped; the §12
columns of `touchpoint export calls --format csv` import again with
`--format calls-csv` unchanged (qualified and disqualified_reason are output only).
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from conftest import run_touchpoint
from support.paths import VENDOR_FIXTURES
from touchpoint.schema import CALL_VENDOR_COLUMNS

FACTS = CALL_VENDOR_COLUMNS  # DESIGN §12's columns, as the readers fill them


def exported(cli) -> dict[str, dict]:
    result = cli("export", "calls", "--format", "json")
    assert result.code == 0, result.stderr
    return {row["call_id"]: row for row in map(json.loads, result.stdout.splitlines())}


def test_callrail_and_ctm_texts_and_forms_import_as_rows(cli, workdir: Path) -> None:
    names = ["callrail-form-submission.json", "callrail-text-received.json", "ctm-sms-inbound.json"]
    for name in names:
        shutil.copy(VENDOR_FIXTURES / name, workdir)
    result = cli("import", "calls", *names[:2], "--format", "callrail", "--json")
    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["new"], summary["rejected"]) == (2, 0)
    assert cli("import", "calls", names[2], "--format", "ctm").code == 0
    assert cli("build").code == 0
    calls = exported(cli)
    form = calls["FOR8c2d1e0f3a4b5c6d7e8f9a0b1c2d3e4f"]
    assert tuple(form[n] for n in FACTS) == ("form", "inbound", None, True, None, None, None, None)
    text = calls["SMS5b9e1c2d3f4a5b6c7d8e9f0a1b2c3d4e"]
    assert (text["kind"], text["direction"], text["lead_status"]) == (
        "text",
        "inbound",
        "good_lead",
    )
    sms = calls["2150395521"]
    assert (sms["kind"], sms["tags"], sms["duration_s"]) == ("text", "sms lead", None)


def test_an_exported_calls_file_reads_back_with_its_vendor_columns(cli, workdir: Path) -> None:
    (workdir / "pbx.csv").write_text(
        "call_id,source_system,called_at,caller_number,duration_s,kind,direction,status,"
        "first_time_caller,value,lead_status,tags,spam\n"
        "PBX-1,pbx,2026-03-04T14:14:00Z,+16175550105,133,call,inbound,answered,true,250.5,"
        'good_lead,"quote,booked",false\n'
        "PBX-2,pbx,2026-03-04T15:00:00Z,+16175550106,,text,outbound,,,,,,\n"
    )
    assert cli("import", "calls", "pbx.csv", "--format", "calls-csv").code == 0
    assert cli("build").code == 0
    first = exported(cli)
    done = cli("export", "calls", "--format", "csv", "--output", "calls-export.csv")
    assert done.code == 0, done.stderr
    with (workdir / "calls-export.csv").open(newline="") as handle:
        header = next(csv.reader(handle))
    assert {*FACTS, "qualified", "disqualified_reason"} <= set(header)
    again = workdir / "again"
    again.mkdir()
    shutil.move(workdir / "calls-export.csv", again / "calls-export.csv")
    imported = run_touchpoint(again, "import", "calls", "calls-export.csv", "--format", "calls-csv")
    assert imported.code == 0, imported.stderr
    assert "qualified" not in imported.stderr  # output-only columns give no note
    assert run_touchpoint(again, "build").code == 0
    reread = run_touchpoint(again, "export", "calls", "--format", "json")
    second = {row["call_id"]: row for row in map(json.loads, reread.stdout.splitlines())}
    for call_id in ("PBX-1", "PBX-2"):
        assert tuple(second[call_id][n] for n in FACTS) == tuple(first[call_id][n] for n in FACTS)
    assert tuple(first["PBX-1"][n] for n in FACTS) == (
        "call",
        "inbound",
        "answered",
        True,
        250.5,
        "good_lead",
        "quote,booked",
        False,
    )
