"""The call-tracking breakdowns: answered vs not, first-time vs repeat, qualified vs not, texts
and forms apart, by channel and campaign (report/call_quality.py).

One small world built from real files (tests/fixtures/report/call-quality: web events and
a calls-csv file with DESIGN §12's columns) through the real import and build. Figures are
checked against a hand count of the input file, against DuckDB SQL over what `touchpoint
export` writes, in the terminal at 100 columns, on a real uvicorn server and in a real
headless Chromium.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import duckdb
import httpx
import pytest

from support.browser import chromium
from support.collector_server import Server, clean_env, start
from support.report_world import touchpoint

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).parents[1] / "fixtures" / "report" / "call-quality"
TOKEN = "call-quality-test-token-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
COUNTS = (
    "calls", "answered", "not_answered", "missed", "voicemail", "abandoned", "busy", "failed",
    "status_unknown", "first_time", "repeat", "caller_unknown", "qualified", "not_qualified",
    "qualified_unknown", "texts", "forms", "valued_calls",
)  # fmt: skip


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("call-quality")
    for name in ("touchpoint.toml", "events.ndjson", "calls.csv"):
        shutil.copy(FIXTURE / name, directory / name)
    touchpoint(directory, "-q", "import", "events", "events.ndjson")
    touchpoint(directory, "-q", "import", "calls", "calls.csv", "--format", "calls-csv")
    touchpoint(directory, "-q", "build")
    touchpoint(directory, "-q", "export", "calls", "-o", "exported-calls.csv")
    touchpoint(directory, "-q", "export", "sessions", "-o", "exported-sessions.csv")
    return directory


@pytest.fixture(scope="module")
def quality(world: Path) -> dict[str, Any]:
    return json.loads(touchpoint(world, "report", "--json"))["call_quality"]


def by_dimension(quality: dict[str, Any], dimension: str) -> list[dict[str, Any]]:
    return next(b for b in quality["breakdowns"] if b["dimension"] == dimension)["rows"]


def test_channel_figures_are_the_hand_counted_ones(quality):
    with (FIXTURE / "expected-by-channel.csv").open(newline="") as handle:
        expected = list(csv.DictReader(handle))
    rows = by_dimension(quality, "channel")
    # Most calls first, then texts and forms, then the name; no touchpoint last.
    assert [r["value"] for r in rows] == [e["value"] for e in expected]
    for want, got in zip(expected, rows, strict=True):
        for name, text in want.items():
            if name == "value":
                continue
            value = float(text) if name == "call_value" else int(text)
            assert got[name] == value, (want["value"], name)
    total = quality["total"]
    assert (total["calls"], total["texts"], total["forms"]) == (17, 2, 1)
    assert (total["answered"], total["not_answered"], total["status_unknown"]) == (9, 6, 2)
    assert (total["first_time"], total["repeat"], total["caller_unknown"]) == (6, 5, 6)
    assert (total["call_value"], total["valued_calls"]) == (875.5, 7)
    assert (total["qualified"], total["not_qualified"]) == (15, 2)
    assert quality["disqualified_reasons"] == [
        {"reason": "outbound", "calls": 1},
        {"reason": "spam", "calls": 1},
    ]


def exported_figures(world: Path, dimension: str | None) -> dict[str, dict[str, Any]]:
    """The breakdown, counted again with DuckDB over the exported calls and sessions."""
    group = "'all'" if dimension is None else "label"
    con = duckdb.connect()
    calls, sessions = (str(world / f"exported-{name}.csv") for name in ("calls", "sessions"))
    found = con.execute(
        f"""
        WITH c AS (
            SELECT *, coalesce(kind, 'call') NOT IN ('text', 'form') AS is_call
            FROM read_csv('{calls}', all_varchar = true)
        ), s AS (SELECT * FROM read_csv('{sessions}', all_varchar = true)),
        labelled AS (
            SELECT c.*, CASE
                WHEN c.touchpoint_id IS NOT NULL THEN coalesce(c.{dimension or "channel"}, '(not set)')
                WHEN c.outcome = 'merged' AND s.session_id IS NOT NULL
                    THEN coalesce(s.{dimension or "channel"}, '(not set)')
                ELSE '(no touchpoint)' END AS label
            FROM c LEFT JOIN s ON s.session_id = c.session_id
        )
        SELECT {group} AS value,
            count(*) FILTER (is_call) AS calls,
            count(*) FILTER (is_call AND status = 'answered') AS answered,
            count(*) FILTER (is_call AND status IN
                ('missed', 'voicemail', 'abandoned', 'busy', 'failed')) AS not_answered,
            count(*) FILTER (is_call AND status = 'missed') AS missed,
            count(*) FILTER (is_call AND status = 'voicemail') AS voicemail,
            count(*) FILTER (is_call AND status = 'abandoned') AS abandoned,
            count(*) FILTER (is_call AND status = 'busy') AS busy,
            count(*) FILTER (is_call AND status = 'failed') AS failed,
            count(*) FILTER (is_call AND status IS NULL) AS status_unknown,
            count(*) FILTER (is_call AND first_time_caller = 'true') AS first_time,
            count(*) FILTER (is_call AND first_time_caller = 'false') AS repeat,
            count(*) FILTER (is_call AND first_time_caller IS NULL) AS caller_unknown,
            count(*) FILTER (is_call AND qualified = 'true') AS qualified,
            count(*) FILTER (is_call AND qualified = 'false') AS not_qualified,
            count(*) FILTER (is_call AND qualified IS NULL) AS qualified_unknown,
            count(*) FILTER (kind = 'text') AS texts,
            count(*) FILTER (kind = 'form') AS forms,
            sum(value::DOUBLE) FILTER (is_call) AS call_value,
            count(value) FILTER (is_call) AS valued_calls
        FROM labelled GROUP BY ALL
        """
    )
    names = [d[0] for d in found.description]
    return {row[0]: dict(zip(names, row, strict=True)) for row in found.fetchall()}


@pytest.mark.parametrize("dimension", ["channel", "campaign", None])
def test_every_figure_agrees_with_sql_over_the_exported_calls(world, quality, dimension):
    counted = exported_figures(world, dimension)
    rows = [quality["total"]] if dimension is None else by_dimension(quality, dimension)
    assert {r["value"] for r in rows} == set(counted)
    for row in rows:
        assert row == counted[row["value"]], row["value"]


def test_unknown_is_counted_never_guessed(quality):
    rows = [quality["total"], *(r for b in quality["breakdowns"] for r in b["rows"])]
    for r in rows:
        assert r["answered"] + r["not_answered"] + r["status_unknown"] == r["calls"]
        assert r["not_answered"] == sum(
            r[s] for s in ("missed", "voicemail", "abandoned", "busy", "failed")
        )
        assert r["first_time"] + r["repeat"] + r["caller_unknown"] == r["calls"]
        assert r["qualified"] + r["not_qualified"] + r["qualified_unknown"] == r["calls"]
    for b in quality["breakdowns"]:
        for name in COUNTS:
            assert sum(r[name] for r in b["rows"]) == quality["total"][name], (b, name)
    reasons = sum(r["calls"] for r in quality["disqualified_reasons"])
    assert reasons == quality["total"]["not_qualified"]
    # The record with no kind, direction, status or caller flag is a call of unknowns.
    no_touchpoint = next(
        r for r in by_dimension(quality, "channel") if r["value"] == "(no touchpoint)"
    )
    assert (no_touchpoint["status_unknown"], no_touchpoint["caller_unknown"]) == (1, 2)


def calls_on_days(first: str, last: str) -> dict[str, int]:
    """The input file's records whose day in Chicago is in [first, last], by kind."""
    zone = ZoneInfo("America/Chicago")
    kinds: dict[str, int] = {}
    with (FIXTURE / "calls.csv").open(newline="") as handle:
        for record in csv.DictReader(handle):
            at = datetime.fromisoformat(record["called_at"].replace("Z", "+00:00"))
            if first <= str(at.astimezone(zone).date()) <= last:
                kind = record["kind"] or "call"
                kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


@pytest.mark.parametrize(
    "first,last",
    [("2026-03-09", "2026-03-09"), ("2026-03-10", "2026-03-31"), ("2026-03-02", "2026-03-07")],
)
def test_a_date_range_counts_records_on_the_site_s_days(world, first, last):
    found = json.loads(touchpoint(world, "report", "--json", "--from", first, "--to", last))
    total = found["call_quality"]["total"]
    kinds = calls_on_days(first, last)
    assert (total["calls"], total["texts"], total["forms"]) == (
        kinds.get("call", 0),
        kinds.get("text", 0),
        kinds.get("form", 0),
    )
    assert total["calls"] == found["summary"]["calls"] - total["texts"] - total["forms"]
    if first == "2026-03-09":
        # c19, at 04:30 UTC on the 10th, is 23:30 on the 9th in Chicago: a repeat caller.
        assert by_dimension(found["call_quality"], "channel") == [{**total, "value": "Unassigned"}]
        assert (total["calls"], total["repeat"], total["call_value"]) == (1, 1, None)


def test_the_terminal_tables_fit_100_columns(world):
    done = touchpoint(world, "report", env=clean_env(COLUMNS="100"))
    lines = done.splitlines()
    assert max(len(line) for line in lines) <= 100
    for title in (
        "Calls by channel: answered, first-time callers",
        "Calls by channel: qualified, value",
        "Calls by campaign: answered, first-time callers",
        "Calls by campaign: qualified, value",
    ):
        assert title in done
    numbers = [re.findall(r"[\d,.$–]+", line) for line in lines if line.startswith("│ all ")]
    # answered table: calls, answered, not answered, no status, first-time, repeat, unknown;
    # qualified table: calls, qualified, not qualified, value, texts, forms. Both dimensions.
    assert (
        numbers
        == [
            ["17", "9", "6", "2", "6", "5", "6"],
            ["17", "15", "2", "$876", "2", "1"],
        ]
        * 2
    )
    assert "counted apart; not qualified: outbound 1, spam 1." in " ".join(done.split())
    for row in ("│ Paid Search ", "│ spring-sale ", "│ march-news "):
        assert row in done


@pytest.fixture(scope="module")
def server(world: Path) -> Iterator[Server]:
    served = start(world)
    yield served
    served.stop()


def test_the_api_serves_the_breakdowns_as_the_report_does(world, quality, server):
    days = ("--from", "2026-03-02", "--to", "2026-03-09")
    dated = json.loads(touchpoint(world, "report", "--json", *days))["call_quality"]
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as client:
        assert client.get("/api/calls/breakdown").json() == quality
        assert client.get("/api/report").json()["call_quality"] == quality
        answer = client.get("/api/calls/breakdown?from=2026-03-02&to=2026-03-09")
        assert answer.status_code == 200 and answer.json() == dated
        assert dated["total"]["calls"] == quality["total"]["calls"] - 1  # c20 is on the 10th
        campaign = client.get("/api/calls/breakdown?by=campaign").json()
        assert [b["dimension"] for b in campaign["breakdowns"]] == ["campaign"]
        assert campaign["breakdowns"][0] == quality["breakdowns"][1]
        folded = client.get("/api/calls/breakdown?by=channel&limit=2").json()["breakdowns"][0]
        assert folded["values"] == 6
        assert [r["value"] for r in folded["rows"]] == [
            "Paid Search",
            "Organic Search",
            "(others: 4)",
        ]
        for name in COUNTS:
            assert sum(r[name] for r in folded["rows"]) == quality["total"][name]
        assert folded["rows"][2]["call_value"] == 75 + 50 + 100 + 300
        assert client.get("/api/calls/breakdown?by=weather").status_code == 400
        assert client.get("/api/calls/breakdown?limit=0").status_code == 400
        assert httpx.get(f"{server.url}/api/calls/breakdown", timeout=60).status_code == 401
        spec = client.get("/api/openapi.json").json()
        assert "/api/calls/breakdown" in spec["paths"]
        assert "CallQuality" in spec["components"]["schemas"]


def page_rows(page: Any, dimension: str) -> list[list[str]]:
    return page.evaluate(
        """(d) => Array.from(document.querySelectorAll(
                `[data-call-quality="${d}"] tbody tr, [data-call-quality="${d}"] tfoot tr`))
            .map(tr => Array.from(tr.cells).map(td => td.innerText.trim()))""",
        dimension,
    )


def shown(row: dict[str, Any], label: str | None = None) -> list[str]:
    """A row as the page prints it."""
    value = "–" if row["call_value"] is None else f"${row['call_value']:,.0f}"
    counts = [row[n] for n in ("calls", "answered", "not_answered", "status_unknown")]
    counts += [row[n] for n in ("first_time", "repeat", "caller_unknown", "qualified")]
    cells = [f"{n:,}" for n in (*counts, row["not_qualified"])]
    return [label or row["value"], *cells, value, f"{row['texts']:,}", f"{row['forms']:,}"]


def test_the_dashboard_shows_the_breakdowns_with_the_real_numbers(world, quality, server, tmp_path):
    page_file = tmp_path / "dashboard.html"
    touchpoint(world, "-q", "report", "--html", str(page_file))
    dated = json.loads(
        touchpoint(world, "report", "--json", "--from", "2026-03-10", "--to", "2026-03-10")
    )["call_quality"]
    with chromium() as browser:
        context = browser.new_context(
            viewport={"width": 1440, "height": 900}, extra_http_headers=AUTH
        )
        page = context.new_page()
        problems: list[str] = []
        page.on(
            "console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None
        )
        page.on("pageerror", lambda e: problems.append(str(e)))
        for url, figures in (
            (page_file.as_uri(), quality),
            (f"{server.url}/?from=2026-03-10&to=2026-03-10", dated),
        ):
            page.goto(url)
            page.wait_for_function("document.documentElement.dataset.chartsReady !== undefined")
            assert page.locator("#call-quality").is_visible()
            for dimension in ("channel", "campaign"):
                expected = [shown(r) for r in by_dimension(figures, dimension)]
                assert page_rows(page, dimension) == [*expected, shown(figures["total"], "All")]
        page.goto(page_file.as_uri())
        page.locator("#call-quality").screenshot(path=str(tmp_path / "call-quality.png"))
        assert (
            "Not qualified: outbound 1, spam 1." in page.locator("[data-disqualified]").inner_text()
        )
        assert problems == []
    # The panel's CSV download carries the same figures.
    link = re.search(r'download="call-quality.csv" href="([^"]+)"', page_file.read_text())
    assert link is not None
    text = unquote(html.unescape(link.group(1)).split(",", 1)[1]).lstrip("\ufeff")
    downloaded = list(csv.DictReader(io.StringIO(text)))
    assert [(r["dimension"], r["value"], int(r["calls"])) for r in downloaded] == [
        *(
            (b["dimension"], r["value"], r["calls"])
            for b in quality["breakdowns"]
            for r in b["rows"]
        ),
        ("all", "all", 17),
    ]
