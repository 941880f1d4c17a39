"""Raw means raw (DESIGN §11): a setting that says how to read a record applies, at the
next build, to everything already imported.

Each test imports once, builds, changes one setting, builds again without
importing, and looks where the value shows: the calls, sessions, touchpoints,
opportunities and revenue. The readers' own value for the same text is the oracle
for the SQL that reads the kept records again (times, days in a zone).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import ibis
from hypothesis import given, settings
from hypothesis import strategies as st

from support.scenario import arrow_of, rows_of
from touchpoint.build.backends import DuckDBBackend
from touchpoint.build.build import build
from touchpoint.config import Settings, load_settings
from touchpoint.importers import import_calls, import_crm, import_events
from touchpoint.sources.records import parse_time
from touchpoint.sources.salesforce.crm import day_bounds_us
from touchpoint.stages.record_fields import with_day_bounds, with_time_us
from touchpoint.store import open_snapshot


def _settings(directory: Path, **sections: dict[str, Any]) -> Settings:
    return load_settings(None, db=directory / "touchpoint.duckdb", **sections)


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text.strip() + "\n")
    return path


def _built(settings: Settings, *tables: str) -> dict[str, list[dict[str, Any]]]:
    build(settings)
    with open_snapshot(settings) as con:
        return {name: rows_of(arrow_of(con, f'SELECT * FROM "{name}"')) for name in tables}


EVENTS = """
visitor_id,type,occurred_at,url,referrer
v1,page_view,2026-03-04T12:00:00Z,https://example.com/,https://www.google.com/
v2,page_view,2026-03-04T12:05:00Z,https://example.com/?utm_source=news&utm_medium=email,
"""
# One call Task naming two visitors in two fields, and three times in three fields.
TASKS = """
Id,CreatedDate,Type,bizible2__BizibleId__c,Visitor__c,bizible2__Bizible_Touchpoint_Date__c,Call_Start__c
00T000000000901AAA,2026-03-04T12:45:00.000+0000,Inbound Call,v1,v2,2026-03-04T12:10:00.000+0000,2026-03-04T13:20:00+01:00
"""


def _calls_world(directory: Path) -> Settings:
    configured = _settings(directory)
    import_events(configured, [_write(directory / "in", "events.csv", EVENTS)])
    import_calls(configured, [_write(directory / "in", "tasks.csv", TASKS)], "salesforce-csv")
    return configured


def _the_call(tables: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    (call,) = tables["calls"]
    return call


def _session_of(tables: dict[str, list[dict[str, Any]]], visitor_id: str) -> str:
    (session,) = [row for row in tables["sessions"] if row["visitor_id"] == visitor_id]
    return session["session_id"]


def test_a_changed_visitor_id_field_rebinds_calls_already_imported(tmp_path: Path) -> None:
    _calls_world(tmp_path)
    tables = ("calls", "sessions", "touchpoints")
    before = _built(_settings(tmp_path), *tables)
    call = _the_call(before)
    assert (call["visitor_id"], call["outcome"]) == ("v1", "merged")
    assert call["session_id"] == _session_of(before, "v1")

    after = _built(_settings(tmp_path, salesforce={"visitor_id_field": "Visitor__c"}), *tables)
    call = _the_call(after)
    assert (call["visitor_id"], call["outcome"]) == ("v2", "merged")
    assert call["session_id"] == _session_of(after, "v2")
    (touch,) = [row for row in after["touchpoints"] if row["call_id"] == call["call_id"]]
    assert (touch["visitor_id"], touch["channel"]) == ("v2", "Email")

    unknown = _built(_settings(tmp_path, salesforce={"visitor_id_field": "Nobody__c"}), "calls")
    call = _the_call(unknown)
    assert (call["visitor_id"], call["outcome"], call["touchpoint_id"]) == (
        None,
        "no_visitor_id",
        None,
    )


def test_a_changed_call_time_field_retimes_calls_already_imported(tmp_path: Path) -> None:
    _calls_world(tmp_path)
    call = _the_call(_built(_settings(tmp_path), "calls"))
    assert (call["called_at"], call["seconds_from_session_start"]) == ("2026-03-04T12:10:00Z", 600)
    assert call["outcome"] == "merged"

    moved = _settings(tmp_path, salesforce={"call_time_field": "Call_Start__c"})
    call = _the_call(_built(moved, "calls"))
    assert (call["called_at"], call["seconds_from_session_start"]) == ("2026-03-04T12:20:00Z", 1200)

    created = _settings(tmp_path, salesforce={"call_time_field": ""})
    call = _the_call(_built(created, "calls"))
    assert (call["called_at"], call["outcome"]) == ("2026-03-04T12:45:00Z", "outside_window")


CRM_EVENTS = """
visitor_id,type,occurred_at,url,referrer,email
v9,page_view,2026-03-01T10:00:00Z,https://example.com/,https://www.bing.com/,
v9,form_submit,2026-03-01T10:05:00Z,https://example.com/demo,https://example.com/,kai@example.org
v9,page_view,2026-03-21T03:00:00Z,https://example.com/?gclid=g9,https://www.google.com/,
v9,form_submit,2026-03-21T03:01:00Z,https://example.com/demo,https://example.com/,kai@example.org
"""
CONTACTS = """
Id,Email,Phone,AccountId,CreatedDate
003000000000901AAA,kai@example.org,,001000000000901AAA,2026-03-01T10:10:00.000+0000
"""
# CloseDate is a day: in UTC it ends before the 03:00Z visit of the 21st, in Los
# Angeles (UTC-7 then) after it.
OPPORTUNITIES = """
Id,AccountId,Name,Amount,Expected__c,CreatedDate,CloseDate,IsClosed,IsWon,StageName
006000000000901AAA,001000000000901AAA,Kai's deal,5000,7250.5,2026-03-05T12:00:00.000+0000,2026-03-20,true,true,Closed Won
"""
# Responded on the 3rd, created at 03:00Z on the 4th: the 3rd in Los Angeles (UTC-8).
MEMBERS = """
Id,CampaignId,LeadId,ContactId,CreatedDate,HasResponded,FirstRespondedDate,Campaign.Name,Campaign.Type
00v000000000901AAA,701000000000901AAA,,003000000000901AAA,2026-03-04T03:00:00.000+0000,true,2026-03-03,Spring webinar,Webinar
"""


def _crm_world(directory: Path) -> Settings:
    configured = _settings(directory)
    import_events(configured, [_write(directory / "in", "events.csv", CRM_EVENTS)])
    for kind, text in (
        ("contacts", CONTACTS),
        ("opportunities", OPPORTUNITIES),
        ("campaign-members", MEMBERS),
    ):
        import_crm(configured, [_write(directory / "in", f"{kind}.csv", text)], kind)
    return configured


def _revenue(tables: dict[str, list[dict[str, Any]]], model: str) -> float:
    return sum(
        row["revenue"]
        for row in tables["attribution"]
        if row["model"] == model and row["conversion_type"] == "opportunity"
    )


def test_a_changed_amount_field_revalues_opportunities_already_imported(tmp_path: Path) -> None:
    _crm_world(tmp_path)
    before = _built(_settings(tmp_path), "opportunities", "attribution")
    assert [row["amount"] for row in before["opportunities"]] == [5000.0]
    assert _revenue(before, "linear") == 5000.0

    expected = _settings(tmp_path, attribution={"amount_field": "Expected__c"})
    after = _built(expected, "opportunities", "attribution")
    assert [row["amount"] for row in after["opportunities"]] == [7250.5]
    assert abs(_revenue(after, "linear") - 7250.5) < 1e-6
    assert abs(_revenue(after, "w_shaped") - 7250.5) < 1e-6


def _closed_touch(tables: dict[str, list[dict[str, Any]]]) -> str:
    (touch,) = [row for row in tables["touchpoints"] if "Closed" in (row["positions"] or "")]
    return touch["touchpoint_date"]


def test_a_changed_site_timezone_moves_date_only_fields_already_imported(tmp_path: Path) -> None:
    _crm_world(tmp_path)
    tables = ("opportunities", "campaign_members", "touchpoints")
    before = _built(_settings(tmp_path), *tables)
    assert [row["close_us"] for row in before["opportunities"]] == [
        parse_time("2026-03-20T23:59:59.999999Z", "close")
    ]
    assert _closed_touch(before) == "2026-03-03T00:00:00Z"  # the campaign response
    assert [row["responded_at"] for row in before["campaign_members"]] == ["2026-03-03T00:00:00Z"]

    pacific = _settings(tmp_path, site={"timezone": "America/Los_Angeles"})
    after = _built(pacific, *tables)
    assert [row["close_us"] for row in after["opportunities"]] == [
        parse_time("2026-03-21T06:59:59.999999Z", "close")
    ]
    assert _closed_touch(after) == "2026-03-21T03:00:00Z"
    # Created on the day it responded, there: the creation is the response.
    assert [row["responded_at"] for row in after["campaign_members"]] == ["2026-03-04T03:00:00Z"]


# The SQL that reads kept records again, against the readers' own Python.
_con = duckdb.connect()
_backend = DuckDBBackend(_con)
_moments = st.datetimes(
    min_value=datetime(1990, 1, 2), max_value=datetime(2199, 12, 30), timezones=st.just(UTC)
)
_offsets = st.sampled_from(["Z", "+0000", "+00:00", "-05:00", "+0530", "+14:00", "-1200"])


def _sql_values(expr_of, texts: list[str]) -> list[Any]:
    table = ibis.memtable({"text": texts}, schema=ibis.schema({"text": "string"}))
    result = _backend.ibis.to_pyarrow(expr_of(table))
    return result.column("value").to_pylist()


def _salesforce_text(moment: datetime, offset: str, fraction_digits: int) -> str:
    zone_minutes = 0 if offset == "Z" else int(offset[1:3]) * 60 + int(offset[-2:])
    sign = -1 if offset.startswith("-") else 1
    local = moment + timedelta(minutes=sign * zone_minutes)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction_digits:
        text += "." + f"{local.microsecond:06d}"[:fraction_digits]
    return text + offset


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(_moments, _offsets, st.integers(0, 6)), min_size=1, max_size=20))
def test_times_read_in_sql_are_the_readers_times(parts) -> None:
    texts = [_salesforce_text(moment, offset, digits) for moment, offset, digits in parts]
    texts += [str(parse_time(texts[0], "t") // 1000)]  # epoch milliseconds
    expected = []
    for text in texts:
        try:
            expected.append(parse_time(text, "t"))
        except ValueError:  # outside 1990-2199 once the offset is applied
            expected.append(None)
    assert _sql_values(lambda t: with_time_us(t, "value", t.text), texts) == expected


def test_what_the_readers_refuse_as_a_time_is_no_time_in_sql() -> None:
    texts = [
        "",
        "2026-03-04",
        "2026-03-04T12:17:00",
        "1772644620",
        "yesterday",
        "2026-03-04T24:00:00Z",
    ]
    assert _sql_values(lambda t: with_time_us(t, "value", t.text), texts) == [None] * len(texts)


@settings(max_examples=20, deadline=None)
@given(
    st.lists(
        st.dates(min_value=datetime(1990, 1, 2).date(), max_value=datetime(2199, 12, 30).date()),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from(
        ["UTC", "America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe"]
    ),
)
def test_days_in_a_zone_read_in_sql_are_the_readers_days(days, zone) -> None:
    texts = [day.isoformat() for day in days]
    bounds = [day_bounds_us(text, "CloseDate", ZoneInfo(zone)) for text in texts]
    starts = _sql_values(lambda t: with_day_bounds(t, ("value", "end"), t.text, zone), texts)
    ends = _sql_values(lambda t: with_day_bounds(t, ("start", "value"), t.text, zone), texts)
    assert starts == [b[0] for b in bounds]
    assert ends == [b[1] for b in bounds]
