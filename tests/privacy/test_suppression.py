"""The suppression list (DESIGN §16): an erased person's visitor id, email and phone, however
a later file writes them, are dropped where rows land, counted and never rejected."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from hypothesis import given
from hypothesis import strategies as st

from conftest import run_touchpoint
from touchpoint.config import Settings
from touchpoint.importers import import_calls, import_crm, import_events
from touchpoint.privacy.erase import erase
from touchpoint.privacy.suppression import SUPPRESSED, digest
from touchpoint.store import Store

VISITOR = "5f0c6f4bd0a94b7c8d2e61f3a9b04c17"


def count(settings: Settings, sql: str) -> int:
    with Store.open(settings) as store:
        row = store.con.execute(sql).fetchone()
    return int(row[0]) if row else 0


@given(st.text(max_size=40), st.text(max_size=80))
def test_the_python_hash_is_the_one_sql_computes(salt: str, value: str):
    if "\x00" in salt + value:
        return  # DuckDB strings end at NUL
    sql = duckdb.execute("SELECT sha256($s || $v)", {"s": salt, "v": value}).fetchone()
    assert sql is not None and sql[0] == digest(salt, value)


def test_a_later_file_of_the_erased_person_is_dropped_however_it_writes_them(workdir: Path):
    settings = Settings(db=workdir / "touchpoint.duckdb")
    erased = erase(settings, [VISITOR], ["Pat.Doe@Example.com"], ["+44 20 7946 0018"])
    assert erased.suppressed == 3 and erased.rows == {}  # nothing held yet: listed all the same
    leads = workdir / "leads.csv"
    leads.write_text(
        "Id,Email,Phone,CreatedDate\n"
        "00Q000000000001AAA,  PAT.DOE@example.COM ,,2026-03-01T10:00:00.000+0000\n"
        "00Q000000000002AAA,other@example.com,+44 (0)20 7946 0018,2026-03-01T10:00:00.000+0000\n"
        "00Q000000000003AAA,kept@example.com,+44 20 7946 0999,2026-03-01T10:00:00.000+0000\n"
    )
    result = import_crm(settings, [leads], "leads")
    assert (result.landed, result.skipped[SUPPRESSED], result.rejected) == (1, 2, 0)
    calls = workdir / "calls.csv"
    calls.write_text(
        "call_id,called_at,visitor_id,caller_number\n"
        f"c1,2026-03-01T10:00:00Z,{VISITOR},\n"
        "c2,2026-03-01T10:00:00Z,someone,020 7946 0018\n"  # national: [phone] default_region
        "c3,2026-03-01T10:00:00Z,someone,+442079460018\n"
        "c4,2026-03-01T10:00:00Z,someone,+442079460999\n"
    )
    gb = Settings(db=settings.db, phone={"default_region": "GB"})
    assert import_calls(gb, [calls], "calls-csv").skipped[SUPPRESSED] == 3
    assert count(settings, "SELECT count(*) FROM raw_calls") == 1


def test_a_rejected_record_of_the_erased_person_is_not_kept_either(workdir: Path):
    settings = Settings(db=workdir / "touchpoint.duckdb")
    erase(settings, [], ["pat@example.com"], [])
    events = workdir / "events.ndjson"
    lines = [
        {"visitor_id": "v1", "type": "form_submit", "url": "https://e.com/", "email": "pat@example.com"},
        {"visitor_id": "v2", "type": "form_submit", "url": "https://e.com/", "email": "kim@example.com"},
    ]  # fmt: skip
    events.write_text("".join(json.dumps(line) + "\n" for line in lines))  # no time: rejects
    result = import_events(settings, [events])
    assert result.rejected == 2
    rejects = count(settings, "SELECT count(*) FROM rejects WHERE record LIKE '%pat@example.com%'")
    assert rejects == 0
    assert count(settings, "SELECT count(*) FROM rejects WHERE record LIKE '%kim@%'") == 1


def test_the_list_holds_hashes_not_the_values(workdir: Path):
    settings = Settings(db=workdir / "touchpoint.duckdb")
    erase(settings, [VISITOR], ["pat@example.com"], [])
    with Store.open(settings) as store:
        rows = store.con.execute("SELECT hash, kind FROM suppression ORDER BY kind").fetchall()
        salt = store.con.execute("SELECT salt FROM suppression_salt").fetchall()
    assert [kind for _hash, kind in rows] == ["email", "visitor"]
    assert len(salt) == 1 and {h for h, _k in rows} == {
        digest(salt[0][0], "pat@example.com"),
        digest(salt[0][0], VISITOR),
    }
    data = settings.db.read_bytes()
    assert b"pat@example.com" not in data and VISITOR.encode() not in data


def test_the_cli_says_in_one_line_what_is_wrong(workdir: Path):
    cases = [
        ((), "name the person to erase: --visitor ID, --email E or --phone P"),
        (("--phone", "12"), "'12' is not a phone number (read with [phone] default_region US)"),
        (("--email", "pat.example.com"), "'pat.example.com' is not an email address"),
        (("--visitor", "not a cookie!"), "'not a cookie!' is not a visitor id"),
    ]
    for args, message in cases:
        done = run_touchpoint(workdir, "erase", *args)
        assert done.code == 1, args
        assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert not (workdir / "touchpoint.duckdb").exists()  # checked before the store is opened


def test_the_summary_names_tables_counts_and_files_but_not_the_person(workdir: Path):
    events = workdir / "events.ndjson"
    lines = [
        {"visitor_id": v, "type": "form_submit", "occurred_at": "2026-03-01T10:00:00Z",
         "url": "https://e.com/", "email": f"{v}@example.com"}
        for v in ("pat", "kim")
    ]  # fmt: skip
    events.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert run_touchpoint(workdir, "import", "events", str(events)).code == 0
    done = run_touchpoint(workdir, "erase", "--email", "pat@example.com")
    assert done.code == 0, done.stderr
    assert "the person: 1 visitor ids, 1 emails, 0 phones" in done.stderr
    assert "rows removed" in done.stderr and "raw_events" in done.stderr
    assert "written without the person: touchpoint.duckdb" in done.stderr
    assert "suppression list: 2 new entries" in done.stderr
    assert "pat" not in done.stderr.replace("pattern", "")
    settings = Settings(db=workdir / "touchpoint.duckdb")
    assert count(settings, "SELECT count(*) FROM raw_events") == 1


def test_conversions_sent_loses_the_persons_rows_when_the_table_exists(workdir: Path):
    """DESIGN §13's ledger (destination, conversion id, click id, sent at, status, error),
    in whatever store has it: the person's calls and clicks go, the others' stay."""
    settings = Settings(db=workdir / "touchpoint.duckdb")
    events = workdir / "events.ndjson"
    lines = [
        {"visitor_id": VISITOR, "type": "page_view", "occurred_at": "2026-03-01T10:00:00Z",
         "url": "https://e.com/?gclid=Cj0KCQiA-hers"},
        {"visitor_id": "someone-else", "type": "page_view", "occurred_at": "2026-03-01T10:00:00Z",
         "url": "https://e.com/?gclid=Cj0KCQiA-theirs"},
    ]  # fmt: skip
    events.write_text("".join(json.dumps(line) + "\n" for line in lines))
    import_events(settings, [events])
    calls = workdir / "calls.csv"
    calls.write_text(
        "call_id,called_at,visitor_id\n"
        f"81,2026-03-01T10:05:00Z,{VISITOR}\n"
        "82,2026-03-01T10:05:00Z,someone-else\n"
    )
    import_calls(settings, [calls], "calls-csv")
    with Store.open(settings) as store:
        store.con.execute(
            "CREATE TABLE conversions_sent (destination VARCHAR, conversion_id VARCHAR, "
            "click_id VARCHAR, sent_at TIMESTAMP, status VARCHAR, error VARCHAR)"
        )
        store.con.execute(
            "INSERT INTO conversions_sent VALUES "
            "('google-ads', '81', 'Cj0KCQiA-hers', now(), 'sent', NULL), "
            "('google-ads', 'lead-9', 'Cj0KCQiA-hers', now(), 'sent', NULL), "
            "('google-ads', '82', 'Cj0KCQiA-theirs', now(), 'sent', NULL), "
            "('meta', '81x', NULL, now(), 'failed', 'click 81 not found')"
        )
    erased = erase(settings, [VISITOR], [], [])
    assert erased.rows["conversions_sent"] == 2
    kept = "SELECT count(*) FROM conversions_sent WHERE conversion_id IN ('82', '81x')"
    assert count(settings, kept) == 2  # a short id inside someone's text is not hers
    assert count(settings, "SELECT count(*) FROM raw_calls") == 1
