"""The files people really have (DESIGN §11): dialects, encodings, .gz, folders, broken rows.

Each fixture under tests/fixtures/files/ is byte-exact as the program named in its
README writes it; each test says what lands, what is rejected and why, and that
nothing else is lost. Imports run through the real importers into a real store.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from touchpoint.config import load_settings
from touchpoint.importers import import_calls, import_crm, import_events
from touchpoint.sources.files import dialect

FILES = Path(__file__).parents[1] / "fixtures" / "files"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return load_settings(None, db=tmp_path / "store.duckdb")


def query(settings, sql: str) -> list[tuple]:
    con = duckdb.connect(str(settings.db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def rejects(settings) -> list[tuple[str, str, str]]:
    """(where, why, record) of every reject, in file order."""
    rows = query(settings, "SELECT source, reason, record FROM rejects")
    return sorted(
        ((Path(s).name if ":" not in s else s.rsplit("/", 1)[-1], r, rec) for s, r, rec in rows)
    )


def test_a_semicolon_cp1252_excel_file_lands_with_encoding_cp1252(store):
    path = FILES / "excel-semicolon-cp1252-leads.csv"
    result = import_crm(store, [path], "leads", dialect=dialect(encoding="cp1252"))
    assert (result.seen, result.landed, result.rejected, result.problems) == (4, 4, 0, [])
    rows = query(store, "SELECT id, email, phone, record FROM raw_leads ORDER BY id")
    assert [(r[0][:15], r[1], r[2]) for r in rows] == [
        ("00Q5e00000AbCd1", "juergen.mueller@example.de", "+49301234567"),
        ("00Q5e00000AbCd2", "zoe@example.fr", "+33142685300"),
        ("00Q5e00000AbCd3", "soren@example.dk", "+4532123456"),
        ("00Q5e00000AbCd4", "francois@example.fr", None),
    ]
    records = [json.loads(r[3]) for r in rows]
    # The text as the file meant it: cp1252 decoded, quotes and the quoted ; undone.
    assert records[0]["LastName"] == "Müller" and records[0]["AnnualRevenue"] == "1250000,50"
    assert records[1]["Company"] == "Café Crème; Paris"
    assert records[3]["LastName"] == "L’Écuyer" and records[3]["Company"] == 'Les "Trois" Frères'


def test_a_cp1252_file_read_as_utf8_is_one_file_level_problem_naming_the_flag(store):
    path = FILES / "excel-semicolon-cp1252-leads.csv"
    result = import_crm(store, [path], "leads")
    assert result.seen == 0 and result.failed
    [problem] = result.problems
    assert "is not UTF-8 (line 2:" in problem and "--encoding cp1252" in problem
    assert query(store, "SELECT count(*) FROM rejects") == [(0,)]
    assert query(store, "SELECT count(*) FROM raw_leads") == [(0,)]


def test_excel_unicode_text_utf16_tab_separated_is_detected_without_flags(store):
    path = FILES / "excel-unicode-text-utf16le-tasks.txt"
    result = import_calls(store, [path], "salesforce-csv")
    assert (result.seen, result.landed, result.rejected, result.problems) == (3, 3, 0, [])
    rows = query(store, "SELECT call_id, subject, visitor_id, duration_s FROM raw_calls ORDER BY 1")
    assert [(r[0][:15], r[1], r[2], r[3]) for r in rows] == [
        ("00T5e00000XyZ01", "Anruf von Jürgen – Angebot", "3f9a0c6e2b1d4e8f9a0b1c2d3e4f5a6b", 312),
        ("00T5e00000XyZ02", 'Rückruf "dringend"', None, 45),
        ("00T5e00000XyZ03", "日本からの電話", "9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d", 128),
    ]


def test_an_excel_utf8_csv_with_a_byte_order_mark_and_crlf(store):
    path = FILES / "excel-csv-utf8-bom-crlf-contacts.csv"
    result = import_crm(store, [path], "contacts")
    assert (result.seen, result.landed, result.rejected, result.problems) == (3, 3, 0, [])
    rows = query(store, "SELECT id, email, record FROM raw_contacts ORDER BY id")
    assert [json.loads(r[2])["LastName"] for r in rows] == ["García", "Åström", "Wei, Li"]
    assert "Id" in json.loads(rows[0][2])  # the mark is not part of the first column's name


def test_a_gzip_file_is_read_transparently(store):
    result = import_events(store, [FILES / "events.ndjson.gz"])
    assert (result.seen, result.landed, result.rejected, result.problems) == (3, 3, 0, [])
    rows = query(store, "SELECT type, title, email FROM raw_events ORDER BY occurred_at")
    assert rows == [
        ("page_view", None, None),
        ("page_view", "Preise – Übersicht", None),
        ("form_submit", None, "zoe@example.fr"),
    ]


def test_a_directory_imports_every_file_in_it_each_reported(store, tmp_path):
    folder = tmp_path / "tasks-export"
    shutil.copytree(FILES / "tasks-export", folder)
    (folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")  # hidden: left alone
    result = import_calls(store, [folder], "salesforce-csv")
    assert [(f.path.name, f.seen, f.landed, f.rejected) for f in result.files] == [
        ("tasks-2026-03-01.csv", 2, 2, 0),
        ("tasks-2026-03-02.csv", 1, 1, 0),
    ]
    assert (result.seen, result.landed, result.problems) == (3, 3, [])
    assert len(query(store, "SELECT * FROM raw_calls")) == 3


def test_a_glob_imports_its_matches_and_one_that_matches_nothing_says_so(store, tmp_path):
    pattern = FILES / "tasks-export" / "tasks-*-02.csv"
    result = import_calls(store, [pattern, tmp_path / "none-*.csv"], "salesforce-csv")
    assert [f.path.name for f in result.files] == ["tasks-2026-03-02.csv"]
    assert result.landed == 1
    assert result.problems == [f"{tmp_path / 'none-*.csv'}: no files match"]


def test_a_stray_quote_in_row_3_rejects_that_row_and_the_47_after_it_land(store):
    path = FILES / "stray-quote-row-3-of-50.csv"
    result = import_calls(store, [path], "salesforce-csv")
    assert (result.seen, result.landed, result.rejected, result.problems) == (50, 49, 1, [])
    [(where, why, record)] = rejects(store)
    assert where == "stray-quote-row-3-of-50.csv:4"  # row 3 is line 4, after the header
    assert why == 'an opening quote that is never closed (a stray ")'
    assert record.startswith("00T5e00000S0003,") and record.endswith(",33")
    landed = query(store, "SELECT duration_s FROM raw_calls ORDER BY duration_s")
    assert [r[0] for r in landed] == [30 + n for n in range(1, 51) if n != 3]


def test_a_field_over_the_limit_rejects_its_record_only(store):
    path = FILES / "long-field-200kib.csv.gz"
    result = import_calls(store, [path], "salesforce-csv")
    assert (result.seen, result.landed, result.rejected, result.problems) == (3, 2, 1, [])
    [(where, why, record)] = rejects(store)
    assert where == "long-field-200kib.csv.gz:3"
    assert why == (
        "field 4 is 204,800 characters long, over the limit of 131,072 "
        "(Salesforce's longest text field)"
    )
    assert record.startswith("00T5e00000Lg002,") and len(record) > 204_800
    assert query(store, "SELECT visitor_id FROM raw_calls ORDER BY 1") == [
        ("c" * 32,),
        ("e" * 32,),
    ]


@pytest.mark.parametrize("delimiter", [";", "\t", "|", ","])
def test_each_delimiter_is_detected_from_the_header(store, tmp_path, delimiter):
    rows = [
        ["visitor_id", "type", "occurred_at", "url", "title"],
        ["v1", "page_view", "2026-03-04T12:00:00Z", "https://a.io/", "a, b; c | d"],
    ]
    path = tmp_path / "e.csv"
    path.write_text("".join(delimiter.join(f'"{c}"' for c in row) + "\n" for row in rows))
    result = import_events(store, [path])
    assert (result.seen, result.landed, result.rejected) == (1, 1, 0)
    assert query(store, "SELECT title FROM raw_events") == [("a, b; c | d",)]


def test_the_delimiter_flag_overrides_detection(store, tmp_path):
    # As many commas as pipes in the header: detection takes the comma, the flag the pipe.
    path = tmp_path / "e.csv"
    path.write_text(
        "visitor_id|type|occurred_at|url|notes (a,b,c,d,e)\n"
        "v1|page_view|2026-03-04T12:00:00Z|https://a.io/|x,y\n"
    )
    detected = import_events(store, [path])
    assert (detected.seen, detected.landed, detected.rejected) == (1, 0, 1)
    told = import_events(store, [path], dialect=dialect(delimiter="|"))
    assert (told.seen, told.landed, told.rejected) == (1, 1, 0)
    assert query(store, "SELECT visitor_id, url FROM raw_events") == [("v1", "https://a.io/")]


def test_decimal_commas_in_amounts_of_a_semicolon_file_are_read(store, tmp_path):
    # Amounts as Excel writes them in a locale with a decimal comma; `1,250` could be
    # a thousand and a quarter or 1.25, so it is rejected, not guessed.
    path = tmp_path / "opportunities.csv"
    path.write_bytes(
        b"Id;AccountId;Name;Amount;CreatedDate;CloseDate;IsClosed;IsWon\r\n"
        b"0065e00000Op001;0015e00000Ac001;A;12500,5;2026-03-01T10:00:00.000Z;2026-03-31;true;true\r\n"
        b"0065e00000Op002;0015e00000Ac001;B;1.250.000,50;2026-03-01T10:00:00.000Z;2026-04-30;false;false\r\n"
        b"0065e00000Op003;0015e00000Ac001;C;1,250;2026-03-01T10:00:00.000Z;2026-04-30;false;false\r\n"
    )
    result = import_crm(store, [path], "opportunities")
    assert (result.seen, result.landed, result.rejected) == (3, 2, 1)
    assert query(store, "SELECT name, amount FROM raw_opportunities ORDER BY name") == [
        ("A", 12500.5),
        ("B", 1250000.5),
    ]
    [(where, why, _record)] = rejects(store)
    assert where == "opportunities.csv:4" and why == "Amount '1,250' is not a number"


def test_a_damaged_gzip_or_utf16_file_is_one_file_problem_and_the_next_file_still_lands(
    store, tmp_path
):
    whole = (FILES / "events.ndjson.gz").read_bytes()
    (tmp_path / "cut.ndjson.gz").write_bytes(whole[: len(whole) // 2])  # a download cut short
    # A lone high surrogate: text no UTF-16 reader can make sense of.
    (tmp_path / "odd.csv").write_bytes(
        b"\xff\xfe" + "visitor_id,type\n".encode("utf-16-le") + b"\x00\xd8\x41\x00"
    )
    paths = [tmp_path / "cut.ndjson.gz", tmp_path / "odd.csv", FILES / "events.ndjson.gz"]
    result = import_events(store, paths)
    assert result.problems == [
        f"{tmp_path / 'cut.ndjson.gz'} is a damaged gzip file "
        "(Compressed file ended before the end-of-stream marker was reached)",
        f"{tmp_path / 'odd.csv'} is not UTF-16 text (illegal UTF-16 surrogate)",
    ]
    assert [(f.path.name, f.landed) for f in result.files] == [
        ("cut.ndjson.gz", 0),
        ("odd.csv", 0),
        ("events.ndjson.gz", 3),
    ]
    assert query(store, "SELECT count(*) FROM raw_events") == [(3,)]
