"""The command line as users run it: exports, explanations, exit codes, settings, locks."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from conftest import run_touchpoint

EVENTS = """\
visitor_id,type,occurred_at,url,referrer
v1,page_view,2026-03-04T12:17:00Z,https://example.com/?gclid=abc,https://www.google.com/
v1,page_view,2026-03-04T12:20:00.250Z,https://example.com/pricing,https://example.com/
v2,page_view,2026-03-04T09:00:00Z,https://example.com/,https://www.bing.com/
"""
TASKS = """\
Id,CreatedDate,Type,bizible2__BizibleId__c
00T000000000001AAA,2026-03-04T13:05:00.000+0000,Inbound Call,v1
00T000000000002AAA,2026-03-04T09:10:00.000+0000,,v2
00T000000000003AAA,2026-03-04T09:10:00.000+0000,Inbound Call,
"""


@pytest.fixture(scope="module")
def built_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store, imported and built once for the module's read-only tests."""
    directory = tmp_path_factory.mktemp("built")
    (directory / "events.csv").write_text(EVENTS)
    (directory / "tasks.csv").write_text(TASKS)
    assert run_touchpoint(directory, "import", "events", "events.csv").code == 0
    assert (
        run_touchpoint(directory, "import", "calls", "tasks.csv", "--format", "salesforce-csv").code
        == 0
    )
    result = run_touchpoint(directory, "build")
    assert result.code == 0, result.stderr
    return directory


@pytest.fixture
def built(built_dir: Path):
    """Run `touchpoint` on the built store."""
    return partial(run_touchpoint, built_dir)


def test_build_prints_its_stages(built):
    result = built("build", "--full", "--json")  # built already: without --full, nothing new
    summary = json.loads(result.stdout)
    assert summary["rows"]["calls"] == 3
    # The collector's intake log is loaded first (touchpoint.build.intake), then records
    # past [retention] go (touchpoint.privacy.retention), then the phone-number lookup is
    # made (touchpoint.build.phones).
    assert [s["stage"] for s in summary["stages"]][:5] == [
        "intake",
        "retention",
        "phone_numbers",
        "referrer_sources",
        "events",
    ]


def test_export_csv_is_the_contract_with_iso_utc_times_and_empty_nulls(built):
    result = built("export", "calls")
    lines = result.stdout.splitlines()
    assert lines[0].startswith(
        "call_id,source_system,external_id,visitor_id,called_at,activity_type,caller_number,"
        "tracking_number,duration_s,outcome,session_id,seconds_from_session_start,"
        "touchpoint_id,attribution_basis"
    )
    no_id = next(row for row in lines if row.startswith("00T000000000003AAA"))
    assert ",2026-03-04T09:10:00Z," in no_id and ",no_visitor_id,,,,," in no_id
    events = built("export", "events").stdout
    assert "2026-03-04T12:20:00.250000Z" in events


def test_export_json_is_one_object_per_line(built):
    rows = [
        json.loads(line)
        for line in built("export", "touchpoints", "--format", "json").stdout.splitlines()
    ]
    assert {row["touchpoint_type"] for row in rows} == {"Web Visit", "Inbound Call"}
    assert all(row["touchpoint_date"].endswith("Z") for row in rows)


def test_export_parquet_to_a_file(built, built_dir):
    result = built("export", "sessions", "--format", "parquet", "-o", "out/sessions.parquet")
    assert result.code == 0 and "wrote 2 sessions rows" in result.stderr
    table = pq.read_table(built_dir / "out/sessions.parquet")
    assert table.column_names[:3] == ["session_id", "visitor_id", "started_at"]
    assert str(table.schema.field("started_at").type) == "timestamp[us, tz=UTC]"


def test_explain_says_48_minutes_and_the_window(built):
    text = built("explain", "call", "00T000000000001AAA").stdout
    assert "48 minutes after the session started" in text
    assert "the window is 30 minutes, so it did not merge" in text
    assert "12:17" in text


def test_explain_says_when_there_is_no_visitor_id(built):
    text = built("explain", "call", "00T000000000003AAA").stdout
    assert "carries no visitor id" in text and "no_visitor_id" in text


def test_explain_says_a_blank_type_keeps_a_web_visit(built):
    result = built("explain", "call", "00T000000000002AAA", "--json")
    explanation = json.loads(result.stdout)
    assert explanation["outcome"] == "merged"
    assert explanation["minutes_from_session_start"] == 10
    assert explanation["touchpoint_type"] == "Web Visit"
    assert "activity type was blank, so the touchpoint stays a Web Visit" in explanation["text"]


def test_explain_an_unknown_call_is_one_line(built):
    result = built("explain", "call", "nope")
    assert result.code == 1
    assert result.stderr.strip() == "error: no call 'nope' in the latest build"


def test_export_before_any_build_is_one_clear_line(cli):
    result = cli("export", "calls")
    assert result.code == 1
    assert "nothing has been built yet" in result.stderr and "Traceback" not in result.stderr


def test_usage_errors_exit_2(cli):
    assert cli("frobnicate").code == 2
    assert cli("export").code == 2
    assert cli("import", "calls", "x.csv").code == 2  # --format is required


def test_unknown_table_or_format_exits_1(built):
    assert built("export", "widgets").code == 1
    assert built("export", "calls", "--format", "xml").code == 1
    assert built("import", "calls", "tasks.csv", "--format", "salesforce-xml").code == 1


def test_a_command_that_meets_a_lock_says_so(built, built_dir):
    holder = duckdb.connect(str(built_dir / "touchpoint.duckdb"))
    try:
        result = built("import", "events", "events.csv")
    finally:
        holder.close()
    assert result.code == 1
    assert "is in use by another touchpoint command" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_readers_are_not_blocked_by_a_writer(built, built_dir):
    holder = duckdb.connect(str(built_dir / "touchpoint.duckdb"))
    try:
        result = built("export", "calls")
    finally:
        holder.close()
    assert result.code == 0 and "00T000000000001AAA" in result.stdout


def test_a_failed_build_leaves_the_previous_results_readable(built):
    before = built("export", "touchpoints").stdout
    failed = built("build", env={"TOUCHPOINT_STORE__MEMORY_LIMIT": "1KB"})
    assert failed.code == 1
    assert len(failed.stderr.strip().splitlines()) == 1
    assert built("export", "touchpoints").stdout == before


def test_settings_come_from_the_file_then_environment_then_flags(cli, workdir):
    (workdir / "touchpoint.toml").write_text(
        '[merge]\nwindow = "45m"\n[site]\ndomains = ["a.io"]\n'
    )
    shown = cli("settings").stdout
    assert '"45m"' in shown and "a.io" in shown
    shown = cli("settings", env={"TOUCHPOINT_MERGE__WINDOW": "1h"}).stdout
    assert '"1h"' in shown


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[merge]\nwindow = "soon"\n', "setting [merge] window"),
        ('[merge]\nwindo = "30m"\n', "unknown setting"),
        ("[merge\n", "settings file"),
    ],
)
def test_bad_settings_are_one_line(cli, workdir, toml, message):
    (workdir / "touchpoint.toml").write_text(toml)
    result = cli("settings")
    assert result.code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# -- strict settings and global flags (DESIGN §11) ------------------------------------


@pytest.mark.parametrize("variable", ["TOUCHPOINT_MERG__WINDOW", "TOUCHPOINT_MERGE_WINDOW"])
def test_an_unknown_variable_stops_the_command_with_one_line(cli, variable):
    result = cli("settings", env={variable: "45m"})
    assert result.code == 1
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert line.startswith(
        f"error: unknown setting variable {variable}; did you mean TOUCHPOINT_MERGE__WINDOW?"
    )


def test_a_duration_without_a_unit_stops_the_command_with_one_line(cli):
    result = cli("build", env={"TOUCHPOINT_MERGE__WINDOW": "45"})
    assert result.code == 1
    assert result.stderr.strip() == (
        "error: setting [merge] window: 45 has no unit: write 45s, 45m, 45h or 45d "
        "(from environment TOUCHPOINT_MERGE__WINDOW)"
    )


def test_settings_say_where_each_value_came_from(cli, workdir):
    (workdir / "touchpoint.toml").write_text('[merge]\nwindow = "45m"\nanchor = "last_activity"\n')
    env = {"TOUCHPOINT_MERGE__WINDOW": "1h"}
    shown = json.loads(cli("settings", "--json", "--db", "x.duckdb", env=env).stdout)
    assert shown["merge"] == {"window": "1h", "anchor": "last_activity", "vendor_fallback": True}
    origins = shown["origins"]
    assert origins["merge.window"] == {"from": "environment", "where": "TOUCHPOINT_MERGE__WINDOW"}
    assert origins["merge.anchor"] == {"from": "file", "where": "touchpoint.toml"}
    assert origins["db"] == {"from": "flag", "where": "--db"}
    assert origins["site.timezone"] == {"from": "default", "where": ""}
    table = cli("settings", env=env).stdout
    rows = {line.split("│")[1].strip(): line for line in table.splitlines() if line.count("│") > 4}
    assert "environment TOUCHPOINT_MERGE__WINDOW" in rows["merge.window"]
    assert "file touchpoint.toml" in rows["merge.anchor"]
    assert "default" in rows["db"] and "default" in rows["site.timezone"]


def test_global_flags_work_after_the_command(cli, workdir):
    (workdir / "other.toml").write_text('[site]\ntimezone = "Europe/Berlin"\n')
    before = json.loads(
        cli("--db", "a.duckdb", "--config", "other.toml", "settings", "--json").stdout
    )
    after = json.loads(cli("settings", "--json", "--db", "a.duckdb", "--config=other.toml").stdout)
    assert before == after
    assert after["db"] == "a.duckdb" and after["site"]["timezone"] == "Europe/Berlin"
    (workdir / "events.csv").write_text(EVENTS)
    loud = cli("import", "events", "events.csv", "--db", "b.duckdb")
    quiet = cli("import", "events", "events.csv", "--db", "b.duckdb", "-q")
    assert "events: read 3" in loud.stderr and quiet.stderr == "" and quiet.code == 0
    assert (workdir / "b.duckdb").exists() and not (workdir / "touchpoint.duckdb").exists()


def test_version(cli):
    from touchpoint import __version__

    result = cli("--version")
    assert result.code == 0 and result.stdout == f"touchpoint {__version__}\n"


def _commands(command, path=()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_help_shows_every_bracketed_default_and_variable(cli):
    import re

    import typer

    from touchpoint.cli import app

    root = typer.main.get_command(app)
    checked = 0
    for path, command in _commands(root):
        texts = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
        wanted = [t.replace("\\[", "[") for t in texts if "[" in t]
        if not wanted:
            continue
        shown = cli(*path, "--help").stdout
        flat = " ".join(re.sub(r"[│╭╮╰╯─]", " ", shown).split())
        for text in wanted:
            assert " ".join(text.split()) in flat, (
                f"touchpoint {' '.join(path)} --help lost {text!r}"
            )
            checked += 1
    assert checked >= 5
    top = cli("--help").stdout
    assert "[env TOUCHPOINT_DB; default ./touchpoint.duckdb]" in top
    assert "[env TOUCHPOINT_CONFIG; default ./touchpoint.toml]" in top
