"""`touchpoint report`: the terminal tables, `--json`, and the numbers behind both.

The numbers are checked against `touchpoint export`, a separate path through the
same build, so a query that double counts or drops rows shows up here.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from support.collector_server import clean_env
from support.report_world import (
    FORMULA_CAMPAIGN,
    HOSTILE_CALL,
    HOSTILE_VISITOR,
    XSS_CHANNEL,
    touchpoint,
)
from touchpoint.stages.merge import OUTCOMES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(report_world: Path) -> Path:
    """The built demo world with the hostile visitor; these tests only read it."""
    return report_world


@pytest.fixture(scope="module")
def report(world: Path) -> dict:
    return json.loads(touchpoint(world, "report", "--json"))


def exported(world: Path, table: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(touchpoint(world, "export", table))))


def test_the_terminal_report_shows_every_table(world):
    text = touchpoint(world, "report", env=clean_env(COLUMNS="200"))
    for title in (
        "Touchpoints by channel and type",
        "Call outcomes (window 30 minutes from the session start)",
        "Calls by channel and outcome",
        "Attributed conversions and revenue, W-shaped model",
        "By week (UTC, weeks start on Monday)",
    ):
        assert title in text
    assert "would merge" in text
    assert XSS_CHANNEL[:10] in text  # stored strings are shown as text, not as Rich markup


def test_call_figures_agree_with_the_exported_calls(world, report):
    calls = exported(world, "calls")
    outcomes = Counter(c["outcome"] for c in calls)
    assert report["summary"]["calls"] == len(calls)
    assert report["summary"]["merged_calls"] == outcomes["merged"]
    assert {o["outcome"]: o["calls"] for o in report["merge_outcomes"]["outcomes"]} == {
        name: outcomes[name] for name in OUTCOMES
    }
    by_channel = report["calls_by_channel"]
    assert sum(row["total"] for row in by_channel) == len(calls)
    assert all(row["total"] == sum(row[name] for name in OUTCOMES) for row in by_channel)
    binned = report["merge_outcomes"]["gap_bins"]
    with_session = [c for c in calls if c["outcome"] in ("merged", "outside_window")]
    assert sum(b["merged"] + b["outside_window"] for b in binned) == len(with_session)


def test_what_if_counts_the_outside_window_calls_a_wider_window_would_merge(world, report):
    calls = exported(world, "calls")
    for what_if in report["merge_outcomes"]["what_if"]:
        wider = what_if["window_minutes"] * 60
        expected = sum(
            1
            for c in calls
            if c["outcome"] == "outside_window" and float(c["seconds_from_session_start"]) <= wider
        )
        assert what_if["more_merged"] == expected
        assert what_if["merged"] == report["summary"]["merged_calls"] + expected
    assert report["merge_outcomes"]["what_if"][1]["more_merged"] > 0  # the demo has late calls


def test_revenue_by_channel_adds_up_to_the_exported_attribution(world, report):
    rows = [r for r in exported(world, "attribution") if r["model"] == "w_shaped"]
    won = sum(float(r["revenue"]) for r in rows if r["is_won"] == "true")
    open_ = sum(float(r["revenue"]) for r in rows if r["is_closed"] == "false")
    credit = report["attribution"]
    assert credit["model"] == "w_shaped" == report["summary"]["model"]
    assert credit["won_revenue"] == pytest.approx(won)
    assert credit["open_pipeline"] == pytest.approx(open_)
    assert sum(c["won_revenue"] for c in credit["channels"]) == pytest.approx(won)
    assert won > 0 and open_ > 0
    # Each opportunity's weights sum to 1: first touch credits every opportunity once,
    # and no model credits more.
    opportunities = {r["conversion_id"] for r in rows}
    per_model: Counter[str] = Counter()
    for c in report["models"]["credits"]:
        per_model[c["model"]] += c["opportunities"]
    assert per_model["first_touch"] == pytest.approx(len(opportunities))
    assert all(v <= len(opportunities) + 1e-6 for v in per_model.values())


def test_touchpoint_mix_matches_the_exported_touchpoints(world, report):
    touchpoints = exported(world, "touchpoints")
    expected = Counter((t["touchpoint_type"], t["channel"]) for t in touchpoints)
    got = {
        (c["touchpoint_type"], c["channel"]): c["touchpoints"]
        for c in report["touchpoint_mix"]["cells"]
    }
    assert got == dict(expected)
    assert XSS_CHANNEL in report["touchpoint_mix"]["channels"]


def test_unmerged_calls_carry_explain_s_words(world, report):
    listed = report["unmerged_calls"]
    calls = exported(world, "calls")
    assert listed["total"] == sum(1 for c in calls if c["outcome"] != "merged")
    hostile = next(c for c in listed["calls"] if c["call_id"] == HOSTILE_CALL)
    explained = json.loads(touchpoint(world, "explain", "call", HOSTILE_CALL, "--json"))
    assert hostile["explanation"] == explained["text"]
    assert "did not merge" in hostile["explanation"] and "150 minutes" in hostile["explanation"]


def test_a_chosen_person_s_journey_comes_first(world):
    report = json.loads(
        touchpoint(world, "report", "--json", "--person", HOSTILE_VISITOR, "--model", "linear")
    )
    journey = report["journeys"][0]
    assert journey["person_id"] == HOSTILE_VISITOR and journey["model"] == "linear"
    assert [t["touchpoint_type"] for t in journey["touchpoints"]] == [
        "Web Form",
        "Inbound Call",
        "Inbound Call",
    ]
    assert journey["touchpoints"][1]["campaign"] == FORMULA_CAMPAIGN


def test_weeks_are_counted_in_the_site_time_zone(tmp_path):
    (tmp_path / "events.ndjson").write_text(
        # Monday 03:00 UTC is still Sunday in Los Angeles: the week before.
        json.dumps(
            {
                "visitor_id": "tz-visitor",
                "type": "page_view",
                "occurred_at": "2026-03-09T03:00:00Z",
                "url": "https://example.com/",
            }
        )
        + "\n"
    )
    touchpoint(tmp_path, "-q", "import", "events", "events.ndjson")
    touchpoint(tmp_path, "-q", "build")
    utc = json.loads(touchpoint(tmp_path, "report", "--json"))
    los_angeles = json.loads(
        touchpoint(
            tmp_path,
            "report",
            "--json",
            env=clean_env(TOUCHPOINT_SITE__TIMEZONE="America/Los_Angeles"),
        )
    )
    assert [w["week"] for w in utc["trend"]] == ["2026-03-09"]
    assert [w["week"] for w in los_angeles["trend"]] == ["2026-03-02"]
    assert los_angeles["summary"]["first_day"] == "2026-03-08"


def test_a_build_with_nothing_in_it_reports_empty_tables(cli, workdir):
    assert cli("build").code == 0
    result = cli("report")
    assert result.code == 0, result.stderr
    assert "(no touchpoints yet)" in result.stdout and "(no activity yet)" in result.stdout
    page = workdir / "empty.html"
    assert cli("report", "--html", str(page)).code == 0
    html = page.read_text()
    # No chart is drawn without data: empty states instead.
    assert re.search(r"<div[^>]* data-chart=", html) is None
    assert "No calls yet." in html and "No journeys yet." in html


def test_report_before_any_build_is_one_line(cli):
    result = cli("report")
    assert result.code == 1
    assert result.stderr.strip().count("\n") == 0
    assert "run `touchpoint build` first" in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (("report", "--model", "nope"), {}, "unknown model 'nope'"),
        (("report",), {"TOUCHPOINT_SITE__TIMEZONE": "Mars/Olympus"}, "'Mars/Olympus'"),
        (("report", "--person", "nobody"), {}, "no touchpoints for person 'nobody'"),
    ],
)
def test_bad_report_options_are_one_line(world, args, env, says):
    done = subprocess.run(
        [sys.executable, "-m", "touchpoint", *args],
        cwd=world,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert says in done.stderr and "Traceback" not in done.stderr


def test_the_build_reports_exactly_the_steps_its_progress_bar_counts(workdir):
    from touchpoint.build.build import build, build_steps
    from touchpoint.config import load_settings

    seen: list[str] = []
    build(load_settings(None, db=workdir / "touchpoint.duckdb"), seen.append)
    assert tuple(seen) == build_steps("duckdb")
    assert build_steps("spark")[-2:] == ("collect results", "publish")


def test_explaining_many_calls_at_once_says_what_explain_says_for_each(world):
    from touchpoint.config import load_settings
    from touchpoint.report.explain import calls_with_id, explain_call, explain_calls
    from touchpoint.store import open_snapshot

    settings = load_settings(None, db=world / "touchpoint.duckdb")
    with open_snapshot(settings) as con:
        ids = [
            row[0] for row in con.execute("SELECT call_id FROM calls ORDER BY call_id").fetchall()
        ]
        calls = [call for call_id in ids for call in calls_with_id(con, call_id)]
        together = explain_calls(con, calls)
    one_by_one = [e for call_id in ids for e in explain_call(settings, call_id)]
    assert together == one_by_one


def test_json_and_quiet_keep_output_clean_for_scripts(world, tmp_path):
    env = clean_env()
    page = tmp_path / "page.html"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "touchpoint", *args],
            cwd=world,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    quiet = run("-q", "report", "--html", str(page))
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    assert page.stat().st_size > 1_000_000  # the chart library is inside
    built = run("build", "--json")
    assert built.returncode == 0 and built.stderr == ""
    assert json.loads(built.stdout)["rows"]["calls"] > 0
    settings = run("settings", "--json")
    shown = json.loads(settings.stdout)
    assert shown["server"]["token"] == "•••" and shown["site"]["currency"] == "USD"


DIMENSIONS = ["channel", "campaign", "landing_page", "tracking_number", "vendor_source"]


def _breakdown(report: dict, dimension: str) -> list[dict]:
    return next(b for b in report["slices"]["breakdowns"] if b["dimension"] == dimension)["rows"]


def test_every_breakdown_adds_up_to_the_calls_and_the_credit(world, report):
    calls = exported(world, "calls")
    credit = report["attribution"]
    assert [b["dimension"] for b in report["slices"]["breakdowns"]] == DIMENSIONS
    for dimension in DIMENSIONS:
        rows = _breakdown(report, dimension)
        assert sum(r["calls"] for r in rows) == len(calls), dimension
        assert sum(r["merged_calls"] for r in rows) == report["summary"]["merged_calls"]
        assert sum(r["won_revenue"] for r in rows) == pytest.approx(credit["won_revenue"])
        assert sum(r["open_pipeline"] for r in rows) == pytest.approx(credit["open_pipeline"])
        assert sum(r["opportunities"] for r in rows) == pytest.approx(credit["opportunities"])
    assert credit["won_revenue"] > 0


def test_calls_break_down_by_their_touchpoint_and_their_own_fields(world, report):
    calls = exported(world, "calls")
    touchpoints = {t["touchpoint_id"]: t for t in exported(world, "touchpoints")}

    def of_touchpoint(call: dict[str, str], column: str) -> str:
        if not call["touchpoint_id"]:
            return "(no touchpoint)"
        value = touchpoints[call["touchpoint_id"]][column]
        if column == "landing_page":
            value = re.sub(r"[?#].*$", "", value)
        return value or "(not set)"

    expected = {
        "channel": Counter(of_touchpoint(c, "channel") for c in calls),
        "campaign": Counter(of_touchpoint(c, "campaign") for c in calls),
        "landing_page": Counter(of_touchpoint(c, "landing_page") for c in calls),
        "tracking_number": Counter(c["tracking_number"] or "(not set)" for c in calls),
    }
    for dimension, counts in expected.items():
        got = {r["value"]: r["calls"] for r in _breakdown(report, dimension) if r["calls"]}
        assert got == dict(counts), dimension
    assert FORMULA_CAMPAIGN in expected["campaign"]  # stored strings come through verbatim
    by_channel = {row["channel"]: row["total"] for row in report["calls_by_channel"]}
    assert {r["value"]: r["calls"] for r in _breakdown(report, "channel") if r["calls"]} == (
        by_channel
    )


def test_calls_break_down_by_the_vendor_s_own_source(world, report):
    from touchpoint.config import load_settings
    from touchpoint.store import open_snapshot

    with open_snapshot(load_settings(None, db=world / "touchpoint.duckdb")) as con:
        sources = Counter(
            value or "(not set)"
            for (value,) in con.execute("SELECT vendor_source FROM calls").fetchall()
        )
    got = {r["value"]: r["calls"] for r in _breakdown(report, "vendor_source") if r["calls"]}
    assert got == dict(sources)
    assert len(sources) > 2  # the demo's vendors say where their callers came from


def test_the_reconciliation_of_the_demo_equals_its_crm_file(world, report):
    with (world / "input" / "opportunities.csv").open(newline="") as handle:
        opportunities = list(csv.DictReader(handle))
    rec = report["reconciliation"]
    won = sum(float(o["Amount"]) for o in opportunities if o["IsWon"] == "true")
    pipeline = sum(float(o["Amount"]) for o in opportunities if o["IsClosed"] == "false")
    assert rec["crm"]["opportunities"] == len(opportunities)
    assert rec["crm"]["won_revenue"] == pytest.approx(won)
    assert rec["crm"]["open_pipeline"] == pytest.approx(pipeline)
    assert rec["attributed"]["won_revenue"] + rec["unattributed"]["won_revenue"] == (
        pytest.approx(won)
    )
    assert rec["attributed"]["won_revenue"] == pytest.approx(report["attribution"]["won_revenue"])


def test_a_date_range_limits_every_figure_to_its_days(world):
    first, last = "2026-03-09", "2026-03-15"
    report = json.loads(touchpoint(world, "report", "--json", "--from", first, "--to", last))
    assert report["period"] == {"from_day": first, "to_day": last, "timezone": "UTC"}
    calls = [c for c in exported(world, "calls") if first <= c["called_at"][:10] <= last]
    touchpoints = [
        t for t in exported(world, "touchpoints") if first <= t["touchpoint_date"][:10] <= last
    ]
    assert 0 < len(calls) < len(exported(world, "calls"))
    assert report["summary"]["calls"] == len(calls)
    assert report["summary"]["merged_calls"] == sum(c["outcome"] == "merged" for c in calls)
    assert sum(row["total"] for row in report["calls_by_channel"]) == len(calls)
    assert report["merge_outcomes"]["calls"] == len(calls)
    assert sum(c["touchpoints"] for c in report["touchpoint_mix"]["cells"]) == len(touchpoints)
    assert [w["week"] for w in report["trend"]] == ["2026-03-09"]
    assert report["unmerged_calls"]["total"] == sum(c["outcome"] != "merged" for c in calls)
    for dimension in DIMENSIONS:
        assert sum(r["calls"] for r in _breakdown(report, dimension)) == len(calls)
    # Revenue by the opportunity's day: its close date when closed, its creation when open.
    with (world / "input" / "opportunities.csv").open(newline="") as handle:
        days = {
            o["Id"]: o["CloseDate"] if o["IsClosed"] == "true" else o["CreatedDate"][:10]
            for o in csv.DictReader(handle)
        }
    rows = [
        r
        for r in exported(world, "attribution")
        if r["model"] == "w_shaped" and first <= days[r["conversion_id"]] <= last
    ]
    won = sum(float(r["revenue"]) for r in rows if r["is_won"] == "true")
    assert report["attribution"]["won_revenue"] == pytest.approx(won)
    assert report["reconciliation"]["crm"]["opportunities"] == sum(
        first <= day <= last for day in days.values()
    )
    assert sum(r["won_revenue"] for r in _breakdown(report, "campaign")) == pytest.approx(won)
