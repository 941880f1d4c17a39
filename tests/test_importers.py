"""Importing files: bad input gets a clear answer and loses nothing (DESIGN §6, §7)."""

from __future__ import annotations

import codecs
import json
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

GOOD = {"visitor_id": "v1", "type": "page_view", "url": "https://example.com/"}


def line(**fields) -> str:
    return json.dumps({**GOOD, "occurred_at": "2026-03-04T12:00:00Z", **fields}, ensure_ascii=False)


def raw_events(workdir) -> list[tuple]:
    con = duckdb.connect(str(workdir / "touchpoint.duckdb"), read_only=True)
    try:
        return con.execute("SELECT visitor_id, occurred_at FROM raw_events ORDER BY 1").fetchall()
    finally:
        con.close()


def test_a_bad_line_is_rejected_with_its_reason_and_the_rest_land(cli, workdir):
    (workdir / "e.ndjson").write_text(
        "\n".join(
            [
                line(visitor_id="a"),
                '{"visitor_id": "b", "type": "page_view"',
                line(visitor_id="c", occurred_at="2026-03-04 12:00"),
                line(visitor_id="d", occurred_at="yesterday"),
                line(visitor_id="e", url="example.com/x"),
                json.dumps(
                    {"type": "page_view", "occurred_at": 1772625600000, "url": "https://x.io"}
                ),
                line(visitor_id="f", occurred_at=1772625600000),
            ]
        )
        + "\n"
    )
    result = cli("import", "events", "e.ndjson")
    assert result.code == 0, result.stderr
    assert "read 7, accepted 2" in result.stderr
    assert [row[0] for row in raw_events(workdir)] == ["a", "f"]
    rejects = cli("export", "rejects", "--format", "json")
    reasons = {
        json.loads(r)["source"]: json.loads(r)["reason"] for r in rejects.stdout.splitlines()
    }
    assert "not valid JSON" in reasons["e.ndjson:2"]
    assert "has no UTC offset" in reasons["e.ndjson:3"]
    assert "not an RFC 3339 time" in reasons["e.ndjson:4"]
    assert "not an absolute http(s) URL" in reasons["e.ndjson:5"]
    assert reasons["e.ndjson:6"] == "missing required field visitor_id"
    kept = [json.loads(r)["record"] for r in rejects.stdout.splitlines()]
    assert '{"visitor_id": "b", "type": "page_view"' in kept


def test_non_utf8_bytes_reject_only_their_line(cli, workdir):
    # The file holds UTF-8 text before the bad byte ("Zoë"), so it is UTF-8 with one damaged line.
    (workdir / "e.ndjson").write_bytes(
        (line(visitor_id="a", title="Zoë") + "\n").encode()
        + b'{"visitor_id": "b", "title": "caf\xe9", "type": "page_view"}\n'
        + (line(visitor_id="c") + "\n").encode()
    )
    result = cli("import", "events", "e.ndjson")
    assert result.code == 0
    assert [row[0] for row in raw_events(workdir)] == ["a", "c"]
    rejects = cli("export", "rejects", "--format", "json").stdout.splitlines()
    assert len(rejects) == 1
    reject = json.loads(rejects[0])
    assert "not valid UTF-8" in reject["reason"] and "0xe9" in reject["reason"]
    assert "caf\\xe9" in reject["record"]


def test_a_byte_order_mark_is_skipped(cli, workdir):
    (workdir / "e.ndjson").write_bytes(codecs.BOM_UTF8 + (line() + "\n").encode())
    (workdir / "e.csv").write_bytes(
        codecs.BOM_UTF8
        + b"visitor_id,type,occurred_at,url\nv2,page_view,2026-03-04T12:00:00Z,https://a.io/\n"
    )
    assert cli("import", "events", "e.ndjson", "e.csv").code == 0
    assert [row[0] for row in raw_events(workdir)] == ["v1", "v2"]


def test_an_empty_file_says_so(cli, workdir):
    (workdir / "empty.ndjson").write_text("\n\n")
    result = cli("import", "events", "empty.ndjson")
    assert result.code == 1
    assert "empty.ndjson is empty" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_file_whose_first_non_ascii_text_is_not_utf8_gets_one_line_suggesting_cp1252(
    cli, workdir
):
    (workdir / "e.ndjson").write_bytes(
        (line(visitor_id="a") + "\n" + line(visitor_id="b", title="Café") + "\n").encode("cp1252")
    )
    result = cli("import", "events", "e.ndjson")
    assert result.code == 1
    assert "e.ndjson is not UTF-8 (line 2:" in result.stderr
    assert "--encoding cp1252" in result.stderr and "Traceback" not in result.stderr
    assert raw_events(workdir) == []  # nothing from that file
    assert cli("export", "rejects").stdout.strip().splitlines()[1:] == []
    assert cli("import", "events", "e.ndjson", "--encoding", "cp1252").code == 0
    assert [row[0] for row in raw_events(workdir)] == ["a", "b"]


def test_a_utf16_file_is_read_by_its_byte_order_mark(cli, workdir):
    (workdir / "e.ndjson").write_bytes((line(title="Zoë") + "\n").encode("utf-16"))
    result = cli("import", "events", "e.ndjson")
    assert result.code == 0, result.stderr
    assert "accepted 1 (1 new" in result.stderr


def test_a_json_array_is_read_with_a_note(cli, workdir):
    items = [json.loads(line(visitor_id=v)) for v in ("a", "b")]
    (workdir / "e.ndjson").write_text(json.dumps(items, indent=2))
    result = cli("import", "events", "e.ndjson")
    assert result.code == 0
    assert "holds a JSON array" in result.stderr
    assert len(raw_events(workdir)) == 2


def test_reimport_is_a_no_op(cli, workdir):
    (workdir / "e.ndjson").write_text(line(visitor_id="a") + "\nnot json\n")
    first = cli("import", "events", "e.ndjson")
    second = cli("import", "events", "e.ndjson")
    assert "1 new, 0 already present" in first.stderr
    assert "0 new, 1 already present" in second.stderr
    assert len(raw_events(workdir)) == 1
    assert len(cli("export", "rejects").stdout.strip().splitlines()) == 2  # header + one reject


def test_strict_lands_nothing_when_anything_is_rejected(cli, workdir):
    (workdir / "e.ndjson").write_text(line(visitor_id="a") + "\nnot json\n")
    result = cli("import", "events", "--strict", "e.ndjson")
    assert result.code == 1
    assert "with --strict nothing was imported" in result.stderr
    assert not (workdir / "touchpoint.duckdb").exists() or raw_events(workdir) == []


def test_every_record_rejected_exits_1_and_keeps_the_rejects(cli, workdir):
    (workdir / "e.ndjson").write_text("nope\n[1]\n")
    result = cli("import", "events", "e.ndjson")
    assert result.code == 1
    assert "every event record was rejected" in result.stderr
    assert len(cli("export", "rejects").stdout.strip().splitlines()) == 3


def test_unknown_fields_are_ignored_with_a_warning(cli, workdir):
    (workdir / "e.ndjson").write_text(line(colour="blue", size=3) + "\n")
    result = cli("import", "events", "e.ndjson")
    assert result.code == 0
    assert "ignored unknown fields colour, size" in result.stderr


def test_csv_rows_with_the_wrong_number_of_fields_are_rejected(cli, workdir):
    (workdir / "e.csv").write_text(
        "visitor_id,type,occurred_at,url\n"
        "a,page_view,2026-03-04T12:00:00Z,https://a.io/\n"
        "b,page_view,2026-03-04T12:00:00Z\n"
        "c,page_view,1772625600000,https://a.io/\n"
    )
    result = cli("import", "events", "e.csv")
    assert result.code == 0
    assert "rejected e.csv:3: row has 3 fields, the header has 4" in result.stderr
    assert [row[0] for row in raw_events(workdir)] == ["a", "c"]


def test_parquet_native_timestamps_with_and_without_zone(cli, workdir):
    table = pa.table(
        {
            "visitor_id": ["zoned", "naive"],
            "type": ["page_view", "page_view"],
            "url": ["https://a.io/", "https://a.io/"],
        }
    )
    zoned = pa.array([datetime(2026, 3, 4, 12, tzinfo=UTC)] * 2, pa.timestamp("us", "+05:30"))
    naive = pa.array([datetime(2026, 3, 4, 12)] * 2, pa.timestamp("ms"))
    pq.write_table(table.append_column("occurred_at", zoned).slice(0, 1), workdir / "z.parquet")
    pq.write_table(table.append_column("occurred_at", naive).slice(1, 1), workdir / "n.parquet")
    result = cli("import", "events", "z.parquet", "n.parquet")
    assert result.code == 0, result.stderr
    assert raw_events(workdir) == [
        ("naive", datetime(2026, 3, 4, 12)),
        ("zoned", datetime(2026, 3, 4, 12)),
    ]


def test_salesforce_task_problems_are_rejected_with_reasons(cli, workdir):
    (workdir / "t.csv").write_text(
        "Id,CreatedDate,Type,bizible2__BizibleId__c,CallDurationInSeconds,IsDeleted\n"
        "00T000000000001AAA,2026-03-04T13:05:00.000+0000,Inbound Call,v1,60,false\n"
        ",2026-03-04T13:05:00.000+0000,Inbound Call,v1,60,false\n"
        "00T000000000003AAA,,Inbound Call,v1,60,false\n"
        "00T000000000004AAA,2026-03-04T13:05:00.000+0000,Inbound Call,v1,sixty,false\n"
        "00T000000000005AAA,2026-03-04T13:05:00.000+0000,Inbound Call,v1,60,maybe\n"
        "not-an-id,2026-03-04T13:05:00.000+0000,Inbound Call,v1,60,false\n"
    )
    result = cli("import", "calls", "t.csv", "--format", "salesforce-csv")
    assert result.code == 0
    assert "read 6, accepted 1" in result.stderr
    reasons = [
        json.loads(r)["reason"]
        for r in cli("export", "rejects", "--format", "json").stdout.splitlines()
    ]
    assert "missing required field Id" in reasons
    assert "missing required field CreatedDate" in reasons
    assert any("is not a number of seconds" in r for r in reasons)
    assert any("is not true or false" in r for r in reasons)
    assert any("is not a Salesforce id" in r for r in reasons)


def test_salesforce_json_query_results_import(cli, workdir):
    records = {
        "totalSize": 1,
        "done": True,
        "records": [
            {
                "attributes": {"type": "Task", "url": "/services/data/v61.0/sobjects/Task/00T"},
                "Id": "00T000000000001AAA",
                "CreatedDate": "2026-03-04T13:05:00.000+0000",
                "Type": "Inbound Call",
                "IsDeleted": False,
                "CallDurationInSeconds": 95,
                "bizible2__BizibleId__c": "v1",
            }
        ],
    }
    (workdir / "t.json").write_text(json.dumps(records))
    result = cli("import", "calls", "t.json", "--format", "salesforce-json")
    assert result.code == 0, result.stderr
    assert "accepted 1 (1 new" in result.stderr


def test_task_values_no_column_can_hold_are_rejected_not_fatal(cli, workdir):
    header = "Id,CreatedDate,bizible2__BizibleId__c,CallDurationInSeconds\n"
    durations = ["nan", "inf", "99999999999999999999", "1e20", "60"]
    rows = [
        f"00T00000000000000{n},2026-03-12T11:54:40.000+0000,{'a' * 32},{seconds}\n"
        for n, seconds in enumerate(durations)
    ]
    (workdir / "t.csv").write_text(header + "".join(rows))
    # A lone surrogate escape is valid JSON but not text.
    (workdir / "t.json").write_text(
        '{"records": [{"Id": "00T000000000000009", "CreatedDate": "2026-03-12T11:54:40Z",'
        ' "Subject": "a\\ud800b"}, {"Id": "00T00000000000000A", "CreatedDate": "2026-03-12T11:54:40Z", "Type": "Call"}]}'
    )
    assert cli("import", "calls", "t.csv", "--format", "salesforce-csv").code == 0
    assert cli("import", "calls", "t.json", "--format", "salesforce-json").code == 0
    assert cli("build").code == 0
    calls = cli("export", "calls", "--format", "json").stdout.splitlines()
    assert sorted(json.loads(line)["call_id"] for line in calls) == [
        "00T000000000000004",
        "00T00000000000000A",
    ]
    rejects = [
        json.loads(line)
        for line in cli("export", "rejects", "--format", "json").stdout.splitlines()
    ]
    reasons = sorted(r["reason"] for r in rejects)
    assert len(reasons) == 5
    assert sum("too large" in r for r in reasons) == 2
    assert sum("whole, non-negative" in r for r in reasons) == 2
    assert any("surrogate" in r for r in reasons)


def test_a_directory_import_reports_each_file_and_bad_dialect_flags_are_usage_errors(cli, workdir):
    folder = workdir / "exports"
    folder.mkdir()
    header = "Id,CreatedDate,Type,bizible2__BizibleId__c\n"
    (folder / "a.csv").write_text(header + "00T000000000001,2026-03-04T13:05:00.000Z,Call,v1\n")
    (folder / "b.csv").write_text(header + "00T000000000002,2026-03-04T13:06:00.000Z,Call,\n")
    result = cli("import", "calls", "exports", "--format", "salesforce-csv")
    assert result.code == 0, result.stderr
    assert "read 2, accepted 2 (2 new" in result.stderr
    assert "exports/a.csv: read 1, 1 new, rejected 0" in result.stderr
    assert "exports/b.csv: read 1, 1 new, rejected 0" in result.stderr
    bad = cli("import", "calls", "exports", "--format", "salesforce-csv", "--delimiter", ":")
    assert bad.code == 2 and "--delimiter ':' is not one of , ; tab |" in bad.stderr
    bad = cli("import", "crm", "exports", "--kind", "leads", "--encoding", "klingon")
    assert bad.code == 2 and "is not a text encoding" in bad.stderr
    assert "Traceback" not in bad.stderr
