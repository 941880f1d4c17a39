"""`touchpoint demo`: the synthetic month goes through the real paths and scores itself.

The demo is run as a newcomer runs it (`touchpoint demo --no-serve`, in a
subprocess); what it built is then read back with `touchpoint export`, and its
intake log shows the events and calls really came over HTTP.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from support.collector_server import clean_env, logged_rows
from touchpoint.demo.numbers import FALLBACK, NUMBERS
from touchpoint.demo.world import generate_world

pytestmark = pytest.mark.slow
DEMO = Path(".touchpoint-demo")


def run(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "touchpoint", *args],
        cwd=directory,
        env=clean_env(COLUMNS="200"),
        capture_output=True,
        text=True,
        timeout=600,
    )


def number(text: str) -> int:
    return int(text.replace(",", ""))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("demo")
    done = run(directory, "demo", "--no-serve")
    assert done.returncode == 0, done.stderr
    return directory, done.stdout


def exported(directory: Path, table: str) -> list[dict[str, str]]:
    done = run(directory, "--db", str(DEMO / "touchpoint.duckdb"), "export", table)
    assert done.returncode == 0, done.stderr
    return list(csv.DictReader(io.StringIO(done.stdout)))


def test_every_merge_decision_matches_the_truth(demo):
    _directory, summary = demo
    found = re.search(
        r"Merge decisions that match the demo's ground truth: ([\d,]+) of ([\d,]+)\.", summary
    )
    assert found, summary
    agree, calls = number(found[1]), number(found[2])
    assert agree == calls > 150


def test_the_accuracy_line_counts_the_calls_credited_right(demo):
    directory, summary = demo
    found = re.search(
        r"([\d,]+) of ([\d,]+) calls \((\d+)%\) credited to the channel that really produced "
        r"them, ([\d,]+) of them through the vendor's own record of the visit",
        summary.replace("\n", " "),
    )
    assert found, summary
    right, calls, share, by_vendor = (number(found[i]) for i in (1, 2, 3, 4))
    assert share == round(100 * right / calls)
    calls_table = exported(directory, "calls")
    assert len(calls_table) == calls
    # Merged calls take their session's channel; late calls the vendor recorded take the
    # vendor's: both count. Calls without a visitor id or a tracked visit cannot.
    merged = sum(1 for c in calls_table if c["outcome"] == "merged")
    by_basis = Counter(c["attribution_basis"] for c in calls_table)
    assert 0 < by_vendor <= by_basis["vendor"]
    assert merged < right <= merged + by_basis["vendor"]


def test_the_month_went_through_http_into_the_intake_log(demo):
    directory, summary = demo
    text = " ".join(summary.split())
    sent = re.search(
        r"sent ([\d,]+) page views and forms in ([\d,]+) requests to POST /collect, and "
        r"([\d,]+) calls to the vendors' webhooks",
        text,
    )
    assert sent, summary
    events, requests, webhook_calls = (number(sent[i]) for i in (1, 2, 3))
    assert events > requests > 0
    intake = directory / DEMO / "touchpoint.duckdb.intake"
    assert not list(intake.glob("*.open")) and not list(intake.glob("*.seg"))  # all loaded
    logged_events = logged_rows(intake, "raw_events")
    logged_calls = logged_rows(intake, "raw_calls")
    assert len(logged_events) == events
    assert {e["origin"] for e in logged_events} == {"collector"}
    # DESIGN §16: the browsers' user agents, reduced to what they say.
    assert {e["user_agent"] for e in logged_events} == {None}
    assert {e["device"] for e in logged_events} == {"desktop", "mobile"}
    origins = Counter(c["origin"] for c in logged_calls)
    assert set(origins) == {"webhook:ctm", "webhook:callrail", "webhook:invoca", "webhook:twilio"}
    assert len({(c["source_system"], c["call_id"]) for c in logged_calls}) == webhook_calls
    assert len(exported(directory, "events")) == events
    # Every page view asked POST /numbers, on the month's clock; each answer is logged.
    asked = re.search(r"asked POST /numbers for the number of each of ([\d,]+) page views", text)
    views = sum(e["type"] == "page_view" for e in logged_events)
    assert asked and number(asked[1]) == views
    assignments = logged_rows(intake, "raw_number_assignments")
    assert len(assignments) == views
    assert {a["origin"] for a in assignments} == {"collector"}
    months = {f"{datetime.fromtimestamp(a['assigned_us'] / 1e6, UTC):%Y-%m}" for a in assignments}
    assert months <= {"2026-03", "2026-04"}  # the month's time, not the demo's


def test_calls_come_from_every_vendor_and_each_is_listed_once(demo):
    directory, summary = demo
    calls = exported(directory, "calls")
    assert set(Counter(c["source_system"] for c in calls)) == {
        "ctm",
        "callrail",
        "invoca",
        "twilio",
        "salesforce",
    }
    ids = Counter((c["source_system"], c["call_id"]) for c in calls)
    assert max(ids.values()) == 1
    # Twilio knows no visitor id: its calls rang the pool number the visitor was shown, and
    # the build found the visitor who held it (DESIGN §15).
    twilio = [c for c in calls if c["source_system"] == "twilio"]
    assert {c["tracking_number"] for c in twilio} <= {*NUMBERS, FALLBACK}
    assert {c["number_pool"] for c in twilio} == {"demo"}
    matched = [c for c in twilio if c["number_match"] == "matched"]
    assert len(matched) > len(twilio) / 2
    assert all(c["visitor_id"] and c["match_candidates"] == "1" for c in matched)
    assert {c["outcome"] for c in matched} <= {"merged", "outside_window", "no_session"}
    shown = re.search(
        r"the ([\d,]+) Twilio callers dialled the number they were shown, and touchpoint "
        r"found the visitor of ([\d,]+) of them",
        " ".join(summary.split()),
    )
    assert shown and (number(shown[1]), number(shown[2])) == (len(twilio), len(matched))
    # The same call by webhook and as the vendor's Salesforce Task: one call, keeping the
    # vendor's id and taking the Task's WhoId.
    linked = [
        c
        for c in calls
        if c["source_system"] != "salesforce" and c["external_id"].startswith("00T")
    ]
    assert linked and all(c["activity_type"] == "Inbound Call" for c in linked)
    found = re.search(r"One call, whatever the route: ([\d,]+) calls", summary.replace("\n", " "))
    assert found and number(found[1]) == len(linked)


def test_json_gives_the_score_for_scripts(tmp_path):
    done = run(tmp_path, "demo", "--json", "--visitors", "80", "--seed", "3")
    assert done.returncode == 0, done.stderr
    score = json.loads(done.stdout)
    assert score["outcomes_agree"] == score["calls"] == sum(score["by_outcome"].values())
    assert 0 < score["credited_right_share"] <= 1


def test_the_world_is_reproducible_and_its_calls_take_every_route():
    first, again = generate_world(300, 7), generate_world(300, 7)
    assert first.truth == again.truth and first.events == again.events
    routes = Counter(call.route for call in first.calls)
    assert set(routes) == {"ctm", "callrail", "invoca", "twilio", "salesforce"}
    assert all(not c.visitor_id for c in first.calls if c.route == "twilio")
    assert any(c.task_id for c in first.calls)
    assert len(first.truth) == len(first.calls)  # every call under its own id
