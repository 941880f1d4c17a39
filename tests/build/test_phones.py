"""Phone numbers follow `[phone] default_region` at every build (DESIGN §11: raw means raw).

National numbers are imported under one region, built, and built again under
another: the calls' numbers, a Task's caller number, a lead's phone and the
person matched by that phone follow the region in force, and a build that brings
no new number parses none (the store keeps the lookup).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from touchpoint.build.build import BuildResult, build
from touchpoint.config import Settings, load_settings
from touchpoint.importers import import_calls, import_crm, import_events
from touchpoint.store import Store, open_snapshot

LEAD = "00Q5e00000ABcdEEAW"
CALLS_CSV = """call_id,called_at,visitor_id,caller_number,tracking_number
c1,2026-03-02T10:05:00Z,v1,020 7946 0018,(415) 555-0134
c2,2026-03-02T11:00:00Z,v2,,
"""
TASKS_CSV = """Id,CreatedDate,Type,Subject,Caller__c
00T5e00000ABcdEEAT,2026-03-02T12:00:00.000+0000,Call,Call,07700 900123
"""
LEADS_CSV = f"""Id,Email,Phone,CreatedDate
{LEAD},ann@example.com,020 7946 0018,2026-03-01T00:00:00.000+0000
"""
EVENTS = (
    '{"visitor_id":"v1","type":"page_view","occurred_at":1772445600000,'
    '"url":"https://www.example.com/"}\n'
)


def _settings(directory: Path, region: str) -> Settings:
    config = directory / "touchpoint.toml"
    config.write_text(
        f'[phone]\ndefault_region = "{region}"\n\n[salesforce]\ncaller_number_field = "Caller__c"\n'
    )
    return load_settings(config, db=directory / "touchpoint.duckdb")


def _imported(directory: Path) -> Settings:
    """National numbers imported under region US."""
    settings = _settings(directory, "US")
    files = {"events.ndjson": EVENTS, "calls.csv": CALLS_CSV, "tasks.csv": TASKS_CSV}
    files["leads.csv"] = LEADS_CSV
    for name, text in files.items():
        (directory / name).write_text(text)
    import_events(settings, [directory / "events.ndjson"])
    import_calls(settings, [directory / "calls.csv"], "calls-csv")
    import_calls(settings, [directory / "tasks.csv"], "salesforce-csv")
    import_crm(settings, [directory / "leads.csv"], "leads")
    return settings


def _parsed(result: BuildResult) -> int:
    """How many numbers the build made E.164 (it reports the lookup like a stage)."""
    (info,) = [stage for stage in result.stages if stage.stage == "phone_numbers"]
    assert info.rows_in == info.rows_out
    return info.rows_out


def _published(settings: Settings) -> dict[str, Any]:
    with open_snapshot(settings) as con:
        calls = {
            row[0]: row[1:]
            for row in con.execute(
                "SELECT call_id, caller_number, tracking_number FROM calls"
            ).fetchall()
        }
        phone = con.execute("SELECT phone FROM leads").fetchone()
        person = con.execute(
            "SELECT person_id FROM people WHERE node_kind = 'crm' AND node_id = ?", [LEAD]
        ).fetchone()
    return {"calls": calls, "lead_phone": phone and phone[0], "lead_person": person and person[0]}


US = {
    "calls": {
        "c1": (None, "+14155550134"),  # a London number is no US number
        "c2": (None, None),
        "00T5e00000ABcdEEAT": (None, None),
    },
    "lead_phone": None,
    "lead_person": "sf:" + LEAD,
}
GB = {
    "calls": {
        "c1": ("+442079460018", "+444155550134"),
        "c2": (None, None),
        "00T5e00000ABcdEEAT": ("+447700900123", None),
    },
    "lead_phone": "+442079460018",
    # The caller's number is now the lead's phone: the lead is visitor v1's person.
    "lead_person": "v1",
}


def test_a_changed_region_applies_to_numbers_already_imported(tmp_path: Path) -> None:
    settings = _imported(tmp_path)
    # Three numbers as written: the London number (call and lead), the US one, the mobile.
    assert _parsed(build(settings)) == 3
    assert _published(settings) == US
    # Nothing new: nothing parsed again (full: a build with nothing new runs no lookup at all).
    assert _parsed(build(settings, full=True)) == 0

    settings = _settings(tmp_path, "GB")
    assert _parsed(build(settings)) == 3
    assert _published(settings) == GB

    settings = _settings(tmp_path, "us")  # the store remembers both regions
    assert _parsed(build(settings)) == 0
    assert _published(settings) == US


def test_a_number_imported_after_a_build_is_parsed_at_the_next(tmp_path: Path) -> None:
    settings = _imported(tmp_path)
    assert _parsed(build(settings)) == 3
    more = tmp_path / "more.csv"
    more.write_text(
        "call_id,called_at,visitor_id,caller_number,tracking_number\n"
        "c3,2026-03-03T10:00:00Z,v3,(415) 555-0199,(415) 555-0134\n"
    )
    import_calls(settings, [more], "calls-csv")
    assert _parsed(build(settings)) == 1  # the tracking number is known
    assert _published(settings)["calls"]["c3"] == ("+14155550199", "+14155550134")
    assert _parsed(build(settings, full=True)) == 0


def test_the_region_from_the_environment_applies_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _imported(tmp_path)
    monkeypatch.setenv("TOUCHPOINT_PHONE__DEFAULT_REGION", "GB")
    settings = _settings(tmp_path, "US")  # the environment wins over the file
    assert settings.phone.default_region == "GB"
    build(settings)
    assert _published(settings) == GB


def test_a_call_without_its_number_as_written_keeps_the_number_of_its_import(
    tmp_path: Path,
) -> None:
    """Stores from before the raw columns: the import's E.164 stays."""
    settings = _imported(tmp_path)
    with Store.open(settings) as store:
        store.con.execute("UPDATE raw_calls SET tracking_number_raw = NULL WHERE call_id = 'c1'")
    settings = _settings(tmp_path, "GB")
    build(settings)
    assert _published(settings)["calls"]["c1"] == ("+442079460018", "+14155550134")


@pytest.mark.spark
@pytest.mark.xdist_group("spark")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore:unclosed <socket.socket:ResourceWarning")
def test_a_spark_build_reads_the_same_lookup(tmp_path: Path, spark) -> None:
    settings = _imported(tmp_path)
    build(settings)  # the US lookup
    settings = _settings(tmp_path, "GB")
    assert _parsed(build(settings, engine="spark")) == 3
    assert _published(settings) == GB
