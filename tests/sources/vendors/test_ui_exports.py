"""`touchpoint import calls --format callrail-csv | ctm-csv`: the call logs the vendors' web
apps export, as the apps save them and as Excel saves them again (cp1252 and `;` from
German Excel, day-first dates from UK Excel, a UTF-8 BOM), land as exact rows through
the real command; broken rows are rejected with their reason and the rest land.

The files are in tests/fixtures/vendors/ui_exports (see ../ORIGINS.md: built from the
apps' documented column labels, not verbatim samples)."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import CliResult, run_touchpoint
from support.paths import VENDOR_FIXTURES
from touchpoint.sources.local_times import (
    DateOrder,
    calendar_day,
    file_order,
    local_time_us,
    zone_named,
)
from touchpoint.sources.records import RecordError, to_us
from touchpoint.sources.vendors.ui_export import _duration

EXPORTS = VENDOR_FIXTURES / "ui_exports"
# (file, format, extra arguments, settings as environment variables)
IMPORTS: tuple[tuple[str, str, tuple[str, ...], dict[str, str]], ...] = (
    ("callrail-call-log.csv", "callrail-csv", (), {}),
    (
        "callrail-excel-de.csv",
        "callrail-csv",
        ("--encoding", "cp1252"),
        {"TOUCHPOINT_SITE__TIMEZONE": "Europe/Berlin", "TOUCHPOINT_PHONE__DEFAULT_REGION": "DE"},
    ),
    ("callrail-ambiguous.csv", "callrail-csv", (), {}),
    ("ctm-call-log.csv", "ctm-csv", (), {}),
    (
        "ctm-excel-uk.csv",
        "ctm-csv",
        (),
        {"TOUCHPOINT_SITE__TIMEZONE": "Europe/London", "TOUCHPOINT_PHONE__DEFAULT_REGION": "GB"},
    ),
    ("ctm-mixed-orders.csv", "ctm-csv", (), {}),
)


def _json_lines(result: CliResult) -> list[dict]:
    assert result.code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every export imported with the real command, once: the outputs, rows and rejects."""
    directory = tmp_path_factory.mktemp("ui-exports")
    for name in EXPORTS.iterdir():
        shutil.copy(name, directory / name.name)
    outputs = {}
    for name, fmt, extra, env in IMPORTS:
        result = run_touchpoint(
            directory, "import", "calls", name, "--format", fmt, *extra, env=env
        )
        assert result.code == 0, result.stderr
        outputs[name] = result.stdout + result.stderr
    rows = _json_lines(run_touchpoint(directory, "export", "raw_calls", "--format", "json"))
    rejects = _json_lines(run_touchpoint(directory, "export", "rejects", "--format", "json"))
    return {
        "directory": directory,
        "outputs": outputs,
        "rows": {(row["source_system"], row["call_id"]): row for row in rows},
        "rejects": {
            (Path(r["source"].rpartition(":")[0]).name, int(r["source"].rpartition(":")[2])): r[
                "reason"
            ]
            for r in rejects
        },
    }


def _pick(row: dict, *names: str) -> tuple:
    return tuple(row[name] for name in names)


FACTS = (
    *("called_at", "kind", "direction", "status", "duration_s", "caller_number"),
    *("tracking_number", "first_time_caller", "value", "lead_status", "tags", "spam"),
)
VISIT = (
    *("visitor_id", "vendor_source", "vendor_medium", "vendor_campaign", "vendor_term"),
    *("vendor_click_id", "vendor_click_id_param"),
)


def test_callrail_call_log_rows_land_exactly(world) -> None:
    rows = world["rows"]
    answered = rows["callrail", "CAL8f1a2b3c"]
    assert _pick(answered, *FACTS) == (
        "2026-03-31T18:05:00Z",  # 02:05 PM in New York (EDT)
        "call",
        "inbound",
        "answered",
        184,
        "+16175550182",
        "+18885550147",
        True,
        150.0,
        "Good Lead",
        "new customer,booked",
        None,
    )
    assert _pick(answered, *VISIT) == (
        "3f9a2c1e8b7d4f60a1b2c3d4e5f60718",
        "google",  # "Google Paid" is google / cpc
        "cpc",
        "Spring Promo",
        "emergency plumber",
        "Cj0KCQjw-test-gclid",
        "gclid",
    )
    missed = rows["callrail", "CAL8f1a2b3d"]  # 04/01: month-first, as 03/31 in the file shows
    assert _pick(missed, "called_at", "status", "first_time_caller", "vendor_medium") == (
        "2026-04-01T13:12:00Z",
        "missed",
        False,
        "organic",
    )
    outbound = rows["callrail", "CAL8f1a2b3e"]  # its own zone column: Chicago
    assert _pick(outbound, "called_at", "direction", "tracking_number", "vendor_source") == (
        "2026-04-01T15:30:00Z",
        "outbound",
        "+13125550123",
        "(direct)",
    )
    spam = rows["callrail", "CAL8f1a2b41"]
    assert _pick(spam, "lead_status", "spam") == ("Spam", True)


def test_callrail_texts_and_forms_are_not_calls(world) -> None:
    text = world["rows"]["callrail", "TXT5d6e7f80"]
    form = world["rows"]["callrail", "FRM1a2b3c4d"]
    assert _pick(text, "kind", "direction", "called_at", "duration_s") == (
        "text",
        "inbound",
        "2026-04-02T15:00:00Z",
        None,
    )
    assert _pick(form, "kind", "visitor_id", "vendor_source", "vendor_click_id_param") == (
        "form",
        "9b1c2d3e4f5a6b7c",
        "facebook",
        "fbclid",
    )


def test_german_excel_resave_lands_with_day_first_dates_and_decimal_commas(world) -> None:
    rows = world["rows"]
    first = rows["callrail", "CAL9a01b2c3"]
    assert _pick(first, "called_at", "value", "caller_number", "vendor_campaign") == (
        "2026-03-31T12:05:00Z",  # 31.03.2026 14:05 in Berlin (CEST)
        150.0,
        "+49301234567",
        "Frühling",  # cp1252 read as cp1252
    )
    assert json.loads(first["record"])["Customer Name"] == "Jürgen Müller"
    second = rows["callrail", "CAL9a01b2c4"]
    assert _pick(second, "called_at", "value", "status") == (
        "2026-04-01T07:12:00Z",
        1250.5,
        "voicemail",
    )


def test_ctm_call_log_rows_land_exactly(world) -> None:
    rows = world["rows"]
    answered = rows["ctm", "2150371901"]
    assert _pick(answered, *FACTS) == (
        "2026-01-19T17:00:00Z",
        "call",
        "inbound",
        "answered",
        184,
        "+16175550182",
        "+18885550147",
        True,
        99.5,
        None,
        "hot lead,booked",
        False,
    )
    assert _pick(answered, *VISIT) == (
        "3f9a2c1e8b7d4f60a1b2c3d4e5f60718",
        "google",
        "cpc",
        "Winter HVAC",
        "hvac repair",
        "EAIaIQ-test",
        "gclid",
    )
    assert _pick(rows["ctm", "2150371902"], "direction", "status") == ("outbound", "missed")
    assert _pick(rows["ctm", "2150371903"], "kind", "direction", "visitor_id") == (
        "form",
        None,
        "7c8d9e0f1a2b3c4d",
    )
    assert _pick(rows["ctm", "2150371904"], "kind", "direction") == ("text", "inbound")
    assert _pick(rows["ctm", "2150371908"], "status", "spam", "tags") == ("busy", True, "robocall")
    assert ("ctm", "2150371905") not in rows  # a chat
    assert "skipped 1 records that are not calls" in world["outputs"]["ctm-call-log.csv"]


def test_uk_excel_dates_are_day_first_as_the_file_shows(world) -> None:
    rows = world["rows"]
    assert _pick(rows["ctm", "2150372001"], "called_at", "duration_s", "caller_number") == (
        "2026-03-05T14:05:00Z",  # 05/03 is the 5th of March: 19/03 in the file is day-first
        184,  # 0:03:04
        "+442079460958",
    )
    assert rows["ctm", "2150372002"]["called_at"] == "2026-03-19T09:00:00Z"
    assert rows["ctm", "2150372003"]["called_at"] == "2026-04-03T09:00:00Z"  # BST
    assert "read 05/03/2026 14:05 as day-first" in world["outputs"]["ctm-excel-uk.csv"]


def test_a_file_no_date_decides_is_read_as_the_app_writes_it_and_says_so(world) -> None:
    assert world["rows"]["callrail", "CAL7e000001"]["called_at"] == "2026-04-05T10:00:00Z"
    output = world["outputs"]["callrail-ambiguous.csv"]
    assert "04/05/2026 10:00 AM are read month-first as the app writes them" in output
    assert "[site] date_order" in output


@pytest.mark.parametrize(
    ("name", "fmt", "setting", "expected"),
    [
        ("callrail-ambiguous.csv", "callrail-csv", "day-first", ["2026-05-04T10:00:00Z"]),
        ("callrail-ambiguous.csv", "callrail-csv", "month-first", ["2026-04-05T10:00:00Z"]),
        (
            "ctm-mixed-orders.csv",
            "ctm-csv",
            "month-first",
            ["2026-03-04T12:00:00Z", "2026-03-31T10:00:00Z", "2026-03-31T11:00:00Z"],
        ),
    ],
)
def test_the_date_order_setting_decides_what_the_file_does_not(
    tmp_path: Path, name: str, fmt: str, setting: str, expected: list[str]
) -> None:
    shutil.copy(EXPORTS / name, tmp_path / name)
    env = {"TOUCHPOINT_SITE__DATE_ORDER": setting}
    result = run_touchpoint(tmp_path, "import", "calls", name, "--format", fmt, env=env)
    assert result.code == 0, result.stderr
    assert "rejected 0" in result.stdout + result.stderr
    assert "date_order" not in result.stdout + result.stderr  # no note: the setting decided
    rows = _json_lines(run_touchpoint(tmp_path, "export", "raw_calls", "--format", "json"))
    assert sorted(row["called_at"] for row in rows) == expected


def test_importing_again_after_the_settings_changed_reads_the_calls_anew(tmp_path: Path) -> None:
    shutil.copy(EXPORTS / "callrail-ambiguous.csv", tmp_path / "log.csv")
    no_zone = "Start Time,Call ID,Customer Phone Number\n04/05/2026 10:00 AM,CAL7e000002,x\n"
    (tmp_path / "no-zone.csv").write_text(no_zone, encoding="utf-8")
    args = ("import", "calls", "log.csv", "no-zone.csv", "--format", "callrail-csv")
    assert run_touchpoint(tmp_path, *args).code == 0
    again = run_touchpoint(tmp_path, *args)
    assert "(0 new, 2 already present)" in again.stdout + again.stderr
    later = {"TOUCHPOINT_SITE__DATE_ORDER": "day-first", "TOUCHPOINT_SITE__TIMEZONE": "Asia/Tokyo"}
    assert run_touchpoint(tmp_path, *args, env=later).code == 0
    assert run_touchpoint(tmp_path, "build", env=later).code == 0
    calls = _json_lines(run_touchpoint(tmp_path, "export", "calls", "--format", "json"))
    assert {row["call_id"]: row["called_at"] for row in calls} == {
        "CAL7e000001": "2026-05-04T10:00:00Z",  # its own Time Zone column: UTC
        "CAL7e000002": "2026-05-04T01:00:00Z",  # 10:00 in Tokyo
    }


def test_broken_rows_are_rejected_with_their_reason_and_the_others_land(world) -> None:
    assert world["rejects"] == {
        ("callrail-call-log.csv", 7): "Start Time '04/31/2026 10:00 AM' is not a valid date "
        "and time",
        ("callrail-call-log.csv", 8): "Time Zone 'Mars/Olympus_Mons' is not a time zone",
        ("callrail-excel-de.csv", 4): "Start Time '32.03.2026 10:00' is not a valid date and time",
        ("ctm-call-log.csv", 7): "missing required field Called At",
        ("ctm-call-log.csv", 8): "Duration 'abc' is not a number of seconds",
        ("ctm-mixed-orders.csv", 4): "Called At '03/04/2026 12:00' could be day-first or "
        "month-first, and the file writes dates both ways; set [site] date_order",
    }
    mixed = [
        row
        for (system, _id), row in world["rows"].items()
        if system == "ctm" and row["caller_number"] in MIXED_CALLERS
    ]
    assert sorted(row["called_at"] for row in mixed) == [
        "2026-03-31T10:00:00Z",
        "2026-03-31T11:00:00Z",
    ]


MIXED_CALLERS = ("+16175550101", "+16175550102", "+16175550103")


def test_importing_an_export_again_changes_nothing(world) -> None:
    again = run_touchpoint(
        world["directory"], "import", "calls", "ctm-mixed-orders.csv", "--format", "ctm-csv"
    )
    assert again.code == 0, again.stderr
    assert "accepted 2 (0 new, 2 already present)" in again.stdout + again.stderr


def test_a_file_that_is_not_the_export_is_one_file_level_error(tmp_path: Path) -> None:
    shutil.copy(VENDOR_FIXTURES / "calls.csv", tmp_path / "calls.csv")
    result = run_touchpoint(tmp_path, "import", "calls", "calls.csv", "--format", "callrail-csv")
    assert result.code == 1
    assert "is not CallRail's call log export: no column 'Start Time'" in result.stderr


def test_labels_match_in_any_case_and_order(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_text(
        "\ufeffduration,CALLER NUMBER,called at,extra column\n45,+16175550101,2026-03-31 14:05,x\n",
        encoding="utf-8",
    )
    result = run_touchpoint(tmp_path, "import", "calls", "log.csv", "--format", "ctm-csv")
    assert result.code == 0, result.stderr
    assert "ignored 1 columns touchpoint does not use (extra column)" in result.stderr
    [row] = _json_lines(run_touchpoint(tmp_path, "export", "raw_calls", "--format", "json"))
    assert _pick(row, "called_at", "duration_s", "caller_number") == (
        "2026-03-31T14:05:00Z",
        45,
        "+16175550101",
    )


def test_a_date_and_a_time_in_two_columns_are_one_time(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_text(
        "Date,Time,Time Zone,Phone Number,Call Status\n"
        "03/31/2026,2:05 PM,(GMT-08:00) Pacific Time (US & Canada),(415) 555-0132,Left Voicemail\n",
        encoding="utf-8",
    )
    result = run_touchpoint(tmp_path, "import", "calls", "log.csv", "--format", "callrail-csv")
    assert result.code == 0, result.stderr
    [row] = _json_lines(run_touchpoint(tmp_path, "export", "raw_calls", "--format", "json"))
    assert _pick(row, "called_at", "caller_number", "status") == (
        "2026-03-31T21:05:00Z",  # PDT
        "+14155550132",
        "voicemail",
    )


@pytest.mark.parametrize(
    ("shown", "seconds"),
    [
        *(("184", 184), ("184.0", 184), ("3:04", 184), ("0:03:04", 184), ("1:00:00", 3600)),
        *(("3m 4s", 184), ("3 min 4 sec", 184), ("45s", 45), ("2m", 120), ("1h 2m", 3720)),
    ],
)
def test_durations_as_exports_write_them(shown: str, seconds: int) -> None:
    assert _duration("Duration", shown) == seconds


@pytest.mark.parametrize("shown", ["abc", "3:75", "-5", "3m 4x"])
def test_durations_that_are_none_are_rejects(shown: str) -> None:
    with pytest.raises(RecordError, match="Duration"):
        _duration("Duration", shown)


def test_a_gzipped_export_reads_as_the_export(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "log.csv.gz", "wb") as packed:
        packed.write((EXPORTS / "ctm-excel-uk.csv").read_bytes())
    env = {"TOUCHPOINT_SITE__TIMEZONE": "Europe/London"}
    result = run_touchpoint(
        tmp_path, "import", "calls", "log.csv.gz", "--format", "ctm-csv", env=env
    )
    assert result.code == 0, result.stderr
    rows = _json_lines(run_touchpoint(tmp_path, "export", "raw_calls", "--format", "json"))
    assert sorted(row["called_at"] for row in rows) == [
        "2026-03-05T14:05:00Z",
        "2026-03-19T09:00:00Z",
        "2026-04-03T09:00:00Z",
    ]


def test_date_only_fields_day_first_or_month_first() -> None:
    assert calendar_day("31.03.2026", "CloseDate") == "2026-03-31"
    assert calendar_day("03.04.2026", "CloseDate") == "2026-04-03"  # dotted: day-first
    assert calendar_day("31/03/2026", "CloseDate") == "2026-03-31"
    assert calendar_day("03/31/26", "CloseDate") == "2026-03-31"
    assert calendar_day("04/04/2026", "CloseDate") == "2026-04-04"
    assert calendar_day("2026-03-31", "CloseDate") is None  # ISO: not this reader's
    assert calendar_day("31.03.2026 14:05", "CloseDate") is None  # a time: not a day
    with pytest.raises(RecordError, match="could be day-first or month-first"):
        calendar_day("03/04/2026", "CloseDate")
    with pytest.raises(RecordError, match="is not a valid date"):
        calendar_day("31.02.2026", "CloseDate")


def _cases(name: str) -> list[dict[str, str]]:
    with (EXPORTS / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _order(shown: str) -> DateOrder | None:
    assert shown in ("", "day-first", "month-first")
    return cast(DateOrder, shown) if shown else None


@pytest.mark.parametrize("case", _cases("local-times-cases.csv"), ids=lambda c: c["case"])
def test_wall_clock_times_in_every_layout(case: dict[str, str]) -> None:
    zone = zone_named(case["zone"])
    assert zone is not None
    order = _order(case["order"])
    expected = datetime.fromisoformat(case["utc"])
    assert local_time_us(case["text"], "Start Time", zone, order) == to_us(expected)


@pytest.mark.parametrize("case", _cases("local-times-rejects.csv"), ids=lambda c: c["case"])
def test_times_that_are_not_read_say_why(case: dict[str, str]) -> None:
    order = _order(case["order"])
    with pytest.raises(RecordError, match=case["reason"]):
        local_time_us(case["text"], "Start Time", UTC, order)


def test_zone_names_as_exports_write_them() -> None:
    assert zone_named("(GMT-05:00) Eastern Time (US & Canada)") == ZoneInfo("America/New_York")
    assert zone_named("Pacific Time (US & Canada)") == ZoneInfo("America/Los_Angeles")
    winter = datetime(2026, 1, 15, tzinfo=UTC)
    zones = {name: zone_named(name) for name in ("UTC+1", "-05:00", "EST")}
    offsets = {name: zone.utcoffset(winter) if zone else None for name, zone in zones.items()}
    assert offsets == {
        "UTC+1": timedelta(hours=1),
        "-05:00": timedelta(hours=-5),
        "EST": timedelta(hours=-5),
    }
    assert zone_named("Mars/Olympus_Mons") is None and zone_named("../etc/passwd") is None


def test_a_file_decides_its_order_from_its_own_dates() -> None:
    assert (
        file_order(["03/04/2026 10:00", "19/03/2026 09:00"], "auto", "month-first").order
        == "day-first"
    )
    assert (
        file_order(["03/04/2026 10:00", "03/19/2026 09:00"], "auto", "day-first").order
        == "month-first"
    )
    assert file_order(["31/03/2026", "03/31/2026"], "auto", "month-first").order is None
    assert file_order(["31.03.2026 10:00"], "auto", "month-first").reason == ""
    assert file_order(["31/03/2026"], "month-first", "month-first").order == "month-first"


@given(
    moment=st.datetimes(min_value=datetime(1991, 1, 1), max_value=datetime(2190, 12, 31)),
    zone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
)
def test_every_layout_of_one_wall_clock_is_the_same_moment(moment: datetime, zone: str) -> None:
    wall = moment.replace(microsecond=0)
    place = ZoneInfo(zone)
    expected = to_us(wall.replace(tzinfo=place))
    layouts: dict[str, DateOrder | None] = {
        wall.strftime("%Y-%m-%d %H:%M:%S"): None,
        wall.strftime("%d.%m.%Y %H:%M:%S"): None,
        wall.strftime("%d/%m/%Y %H:%M:%S"): "day-first",
        wall.strftime("%m/%d/%Y %I:%M:%S %p"): "month-first",
    }
    for text, order in layouts.items():
        assert local_time_us(text, "Start Time", place, order) == expected, text
