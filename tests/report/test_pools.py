"""The number-pool report (report/pools.py, DESIGN §15): utilisation per hour, the share of a
pool's calls ambiguous or on the fallback, the size the site's traffic needs.

One small world from real files (tests/fixtures/report/pools): a pool of two numbers
and a fallback, six page views, six `raw_number_assignments` rows as `POST /numbers`
writes them and six Twilio calls, landed in a real store and built by the real build.
Figures are checked against a hand count (expected-hours.csv and below), against a
plain sweep over the assignment file in Python, in the terminal at 100 columns, in the
JSON API and in the dashboard of a real `touchpoint serve`.

By hand (UTC; Chicago is UTC-6): a holds 101 over [15:00, 15:40] (two requests,
merged), b 102 over [15:05, 15:35], c gets the fallback at 15:20 (both numbers held),
d 102 over [15:36, 16:06], e 101 over [16:30, 17:00]. The calls: 15:45 to 102 meets b
and d within a 30-minute hold (ambiguous), 15:25 to 101 is a's, 15:30 rings the
fallback, 16:40 to 101 is e's, 18:00 to 101 finds nobody (unassigned); the call to
the business number itself is no pool call. Counted over [held_from, held_until + 30
min], a, b, c and d overlap at 15:36: four numbers are needed.
"""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.collector_server import Server, clean_env, start
from support.number_assignments import land_assignments
from support.raw_calls import land_raw_calls
from support.report_world import touchpoint
from touchpoint.config import load_settings
from touchpoint.report.pools import PoolShape, pool_report
from touchpoint.report.queries import Scope

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).parents[1] / "fixtures" / "report" / "pools"
TOKEN = "number-pools-test-token-0123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOLD = timedelta(minutes=30)
ZONE = ZoneInfo("America/Chicago")
FALLBACK_NUMBER = "+15125550199"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pools")
    for name in ("touchpoint.toml", "events.ndjson"):
        shutil.copy(FIXTURE / name, directory / name)
    touchpoint(directory, "-q", "import", "events", "events.ndjson")
    settings = load_settings(directory / "touchpoint.toml", db=directory / "touchpoint.duckdb")
    assert land_raw_calls(settings, (FIXTURE / "calls.csv").read_text()) == 6
    assert land_assignments(settings, (FIXTURE / "assignments.csv").read_text()) == 6
    touchpoint(directory, "-q", "build")
    return directory


@pytest.fixture(scope="module")
def pools(world: Path) -> dict[str, Any]:
    return json.loads(touchpoint(world, "report", "--json"))["pools"]


def test_the_figures_are_the_hand_counted_ones(pools):
    (main,) = pools["pools"]
    assert pools["timezone"] == "America/Chicago"
    assert (main["pool"], main["size"], main["hold_minutes"]) == ("main", 2, 30.0)
    assert (main["peak_held"], main["peak_utilisation"]) == (2, 1.0)
    assert (main["busy_hours"], main["exhausted_hours"]) == (1, 1)
    counts = [main[k] for k in ("calls", "matched", "ambiguous", "fallback", "unassigned")]
    assert counts == [5, 2, 1, 1, 1]
    assert (main["ambiguous_share"], main["fallback_share"]) == (0.2, 0.2)
    assert (main["recommended_size"], main["busiest_hour_visitors"]) == (4, 4)
    with (FIXTURE / "expected-hours.csv").open(newline="") as handle:
        expected = [
            {
                "hour": row["hour"],
                "peak_held": int(row["peak_held"]),
                "utilisation": float(row["utilisation"]),
                "fallback_served": int(row["fallback_served"]),
            }
            for row in csv.DictReader(handle)
        ]
    assert main["hours"] == expected


def _holds() -> list[tuple[str, str, datetime, datetime, bool]]:
    """The assignment file's rows merged per (number, visitor) as a plain loop does it."""
    with (FIXTURE / "assignments.csv").open(newline="") as handle:
        rows = sorted(
            (
                r["number"],
                r["visitor_id"],
                datetime.fromisoformat(r["assigned_at"]),
                datetime.fromisoformat(r["held_until"]),
                r["fallback"] == "true",
            )
            for r in csv.DictReader(handle)
        )
    merged: list[list[Any]] = []
    for number, visitor, begins, end, fallback in rows:
        last = merged[-1] if merged else None
        if last and last[:2] == [number, visitor] and begins <= last[3]:
            last[3] = max(last[3], end)
        else:
            merged.append([number, visitor, begins, end, fallback])
    return [tuple(m) for m in merged]  # type: ignore[misc]


def _peak(intervals: list[tuple[datetime, datetime]]) -> int:
    """Most intervals open at one instant; one ending as another starts is not both."""
    edges = sorted([(s, 1) for s, _e in intervals] + [(e, -1) for _s, e in intervals])
    level = peak = 0
    for _at, step in edges:
        level += step
        peak = max(peak, level)
    return peak


def test_the_figures_agree_with_a_plain_sweep_over_the_assignments(pools):
    (main,) = pools["pools"]
    holds = _holds()
    numbers = [(s, e) for _n, _v, s, e, fallback in holds if not fallback]
    assert main["peak_held"] == _peak(numbers)
    assert main["recommended_size"] == _peak([(s, e + HOLD) for _n, _v, s, e, _f in holds])
    for hour in main["hours"]:
        start = datetime.fromisoformat(hour["hour"]).replace(tzinfo=ZONE).astimezone(UTC)
        end = start + timedelta(hours=1)
        clipped = [(max(s, start), min(e, end)) for s, e in numbers if s < end and e > start]
        assert hour["peak_held"] == _peak(clipped), hour
        assert hour["utilisation"] == hour["peak_held"] / main["size"]


def test_a_date_range_without_holds_has_zeros(world):
    found = json.loads(touchpoint(world, "report", "--json", "--from", "2026-03-03"))["pools"]
    (main,) = found["pools"]
    assert (main["calls"], main["peak_held"], main["recommended_size"], main["hours"]) == (
        0, 0, 0, [],
    )  # fmt: skip
    assert (main["ambiguous_share"], main["fallback_share"]) == (None, None)


def test_the_terminal_shows_the_pools_in_100_columns(world, pools):
    done = touchpoint(world, "report", env=clean_env(COLUMNS="100"))
    assert max(len(line) for line in done.splitlines()) <= 100
    assert "Number pools (hours in America/Chicago)" in done
    (row,) = [line for line in done.splitlines() if line.startswith("│ main ")]
    assert re.findall(r"[\d.%]+", row.replace(" min", "")) == [
        "2", "30", "100%", "1", "1", "5", "20%", "20%", "4", "4",
    ]  # fmt: skip
    text = " ".join(done.split())
    assert f"at ≤75% use (main: {math.ceil(4 / 0.75)}; docs/dni.md)" in text


def test_without_pools_the_report_has_none(world, tmp_path):
    plain = tmp_path / "plain.toml"
    plain.write_text((FIXTURE / "touchpoint.toml").read_text().split("[[numbers.pools]]")[0])
    db = str(world / "touchpoint.duckdb")
    found = json.loads(touchpoint(world, "--config", str(plain), "--db", db, "report", "--json"))
    assert found["pools"] is None
    done = touchpoint(world, "--config", str(plain), "--db", db, "report")
    assert "Number pools" not in done


@pytest.fixture(scope="module")
def server(world: Path) -> Iterator[Server]:
    served = start(world)
    yield served
    served.stop()


def test_the_api_and_the_dashboard_show_what_the_report_does(world, pools, server):
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as client:
        assert client.get("/api/pools").json() == pools
        assert client.get("/api/report").json()["pools"] == pools
        dated = client.get("/api/pools?from=2026-03-03").json()
        assert dated["pools"][0]["calls"] == 0
        assert client.get("/api/pools?from=yesterday").status_code == 400
        assert httpx.get(f"{server.url}/api/pools", timeout=60).status_code == 401
        spec = client.get("/api/openapi.json").json()
        assert "/api/pools" in spec["paths"]
        assert "PoolReport" in spec["components"]["schemas"]
        page = client.get("/").text
    panel = page.split('id="number-pools"', 1)[1].split("</article>", 1)[0]
    row = panel.split('data-pool="main"', 1)[1].split("</tr>", 1)[0]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
    assert cells == ["main", "2", "30 min", "100%", "1", "1", "5", "20%", "20%", "4", "6"]
    assert 'class="warn"' in panel.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    hours = panel.split('data-pool-hours="main"', 1)[1]
    assert re.findall(r"<td>(2026-03-02 \d\d:00)</td>", hours) == [
        "2026-03-02 09:00",
        "2026-03-02 10:00",
    ]


# The invariants on any holds, on a DuckDB table of the shape the build publishes.
_spans = st.lists(
    st.tuples(
        st.sampled_from(["+15125550101", "+15125550102", "+15125550103", FALLBACK_NUMBER]),
        st.sampled_from([f"w{i}" for i in range(6)]),
        st.integers(0, 6 * 60),  # start, minutes after 2026-03-02 14:00 UTC
        st.integers(1, 90),  # length in minutes
    ),
    max_size=25,
)


@given(_spans)
def test_peaks_and_the_needed_size_are_those_of_a_plain_sweep(spans):
    base = datetime(2026, 3, 2, 14, 0)
    rows = [
        ("main", number, visitor, base + timedelta(minutes=a), base + timedelta(minutes=a + n),
         number == FALLBACK_NUMBER)
        for number, visitor, a, n in spans
    ]  # fmt: skip
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE number_holds (pool VARCHAR, number VARCHAR, visitor_id VARCHAR, "
        "held_from TIMESTAMP, held_until TIMESTAMP, fallback BOOLEAN)"
    )
    if rows:
        con.executemany("INSERT INTO number_holds VALUES (?, ?, ?, ?, ?, ?)", rows)
    shape = PoolShape("main", 3, HOLD)
    found = pool_report(con, (shape,), Scope("America/Chicago", "USD"))
    assert found is not None
    (main,) = found.pools
    utc = [(r[3].replace(tzinfo=UTC), r[4].replace(tzinfo=UTC), r[5]) for r in rows]
    held = [(s, e) for s, e, fallback in utc if not fallback]
    assert main.peak_held == _peak(held)
    assert main.recommended_size == _peak([(s, e + HOLD) for s, e, _f in utc])
    for hour in main.hours:
        start = datetime.fromisoformat(hour.hour).replace(tzinfo=ZONE).astimezone(UTC)
        end = start + timedelta(hours=1)
        clipped = [(max(s, start), min(e, end)) for s, e in held if s < end and e > start]
        assert hour.peak_held == _peak(clipped)
        assert hour.fallback_served == len(
            {r[2] for r, (s, _e, f) in zip(rows, utc, strict=True) if f and start <= s < end}
        )
    # Every hour with a number held at some moment is listed, and no other.
    listed = {h.hour for h in main.hours}
    for s, e in held:
        moment = s
        while moment < e:
            local = moment.astimezone(ZONE).strftime("%Y-%m-%dT%H:00")
            assert local in listed
            moment += timedelta(minutes=1)
