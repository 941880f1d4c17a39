"""GA4's default channel group on real URLs and referrers (DESIGN §3, §12).

Every case of tests/fixtures/channels/ga4_default_channel_group.toml is one visitor's
page view; they go through the real importer and a real build on DuckDB, and each
session's source, medium and channel is checked against the case.
"""

from __future__ import annotations

import csv
import io
import tomllib
from pathlib import Path
from typing import Any

import pytest

from support.paths import FIXTURES
from support.scenario import Case, run_duckdb

CASES_FILE = FIXTURES / "channels" / "ga4_default_channel_group.toml"
CASES: list[dict[str, Any]] = tomllib.loads(CASES_FILE.read_text())["case"]

# The channels of Google's table, in its order (the rule each case quotes names one).
GA4_CHANNELS = (
    "Direct",
    "Cross-network",
    "Paid Shopping",
    "Paid Search",
    "Paid Social",
    "Paid Video",
    "Display",
    "Paid Other",
    "Organic Shopping",
    "Organic Social",
    "Organic Video",
    "Organic Search",
    "Referral",
    "Email",
    "Affiliates",
    "Audio",
    "SMS",
    "Mobile Push Notifications",
    "Unassigned",
)


def _settings_key(case: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(case.get("settings", {}).items()))


def _events_csv(cases: list[tuple[int, dict[str, Any]]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["visitor_id", "type", "occurred_at", "url", "referrer"])
    for index, case in cases:
        writer.writerow(
            [f"case-{index}", "page_view", "2026-03-04T10:00:00Z", case["url"], case["referrer"]]
        )
    return out.getvalue()


@pytest.fixture(scope="module")
def sessions_by_visitor(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """One build per distinct settings, every case of those settings a visitor in it."""
    groups: dict[tuple[tuple[str, Any], ...], list[tuple[int, dict[str, Any]]]] = {}
    for index, case in enumerate(CASES):
        groups.setdefault(_settings_key(case), []).append((index, case))
    sessions: dict[str, dict[str, Any]] = {}
    for number, (key, cases) in enumerate(groups.items()):
        run = Case(
            file="ga4_default_channel_group",
            title=f"settings {dict(key)}",
            events=[_events_csv(cases)],
            tasks=[],
            settings={"channels": dict(key)} if key else {},
            expect={},
        )
        tables = run_duckdb(run, Path(tmp_path_factory.mktemp(f"channels-{number}")))
        for row in tables["sessions"]:
            sessions[row["visitor_id"]] = row
    return sessions


@pytest.mark.parametrize("index", range(len(CASES)), ids=[case["title"] for case in CASES])
def test_ga4_default_channel_group(
    index: int, sessions_by_visitor: dict[str, dict[str, Any]]
) -> None:
    case = CASES[index]
    session = sessions_by_visitor[f"case-{index}"]
    got = (session["source"], session["medium"], session["channel"])
    assert got == (case["source"], case["medium"], case["channel"]), case["rule"]


def test_every_rule_of_the_group_has_a_case_and_each_case_quotes_its_channels_rule() -> None:
    for case in CASES:
        assert case["rule"].split(":", 1)[0] == case["channel"], case["title"]
        assert case["title"].split(":", 1)[0] == case["channel"], case["title"]
    assert {case["channel"] for case in CASES} == set(GA4_CHANNELS)
