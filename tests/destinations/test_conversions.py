"""Which conversions the latest build holds and which Google clicks earn each (DESIGN §13).

The world (tests/fixtures/destinations/world, described in its README) is imported
and built as users do; the scenario table conversions.csv says, per model, every
conversion with its time, value and clicks.
"""

from __future__ import annotations

import csv
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from conftest import run_touchpoint
from support.google_ads_server import build_world
from support.paths import FIXTURES
from touchpoint.config import load_settings
from touchpoint.destinations.conversions import (
    GOOGLE_CLICK_IDS,
    Conversion,
    denied_visitors,
    find_conversions,
    load_conversions,
)
from touchpoint.stages.attribution.rows import LEAD_MODELS
from touchpoint.store import open_snapshot

HERE = FIXTURES / "destinations"
V1_LEAD = "lead:00Q000000000001AAA"
V1_OPPORTUNITY = "opportunity:006000000000001AAA"
V1_WON = "won:006000000000001AAA"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("conversions-world")
    build_world(directory, HERE / "world")
    return directory


def _shown(conversion: Conversion) -> dict[str, str]:
    at = conversion.occurred_at.strftime("%Y-%m-%dT%H:%M:%S.%f").removesuffix(".000000") + "Z"
    value = "" if conversion.value is None else f"{conversion.value:g}"
    clicks = ";".join(f"{c.param}={c.click_id}@{c.credit:g}" for c in conversion.clicks)
    return {"occurred_at": at, "value": value, "clicks": clicks}


def _expected(model: str) -> dict[str, dict[str, str]]:
    with (HERE / "conversions.csv").open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["model"] == model]
    return {r["conversion_id"]: {k: r[k] for k in ("occurred_at", "value", "clicks")} for r in rows}


@pytest.mark.parametrize("model", ["last_touch", "linear"])
def test_each_conversion_is_earned_by_the_clicks_the_table_says(world: Path, model: str) -> None:
    settings = load_settings(None, db=world / "touchpoint.duckdb", destinations={"model": model})
    found = load_conversions(settings, GOOGLE_CLICK_IDS)
    assert {c.conversion_id: _shown(c) for c in found} == _expected(model)
    assert [c.occurred_at for c in found] == sorted(c.occurred_at for c in found)


def test_a_visitor_who_denied_consent_is_never_sent(world: Path) -> None:
    settings = load_settings(None, db=world / "touchpoint.duckdb")
    with duckdb.connect(str(settings.db), read_only=True) as store:
        denied = denied_visitors(store)
    assert denied == {"v5"}
    with open_snapshot(settings) as con:
        kept = find_conversions(con, GOOGLE_CLICK_IDS, denied=denied)
        unfiltered = find_conversions(con, GOOGLE_CLICK_IDS, denied=set())
    assert not [c for c in kept if c.person_id == "v5" or "C5" in c.conversion_id]
    # Without the denial the same build would send v5's call with the wbraid.
    call = next(c for c in unfiltered if c.conversion_id == "call:C5")
    assert [(k.param, k.click_id) for k in call.clicks] == [("wbraid", "W5-denied")]


def test_the_lookback_decides_whether_an_old_click_still_earns(world: Path) -> None:
    with open_snapshot(load_settings(None, db=world / "touchpoint.duckdb")) as con:
        long = {c.conversion_id: c for c in find_conversions(con, GOOGLE_CLICK_IDS)}
        short = {
            c.conversion_id: c
            for c in find_conversions(con, GOOGLE_CLICK_IDS, lookback=timedelta(days=13))
        }
    # The call 14 days after the click: inside 90 days, outside 13.
    assert [k.click_id for k in long["call:C3-early"].clicks] == ["G3-old"]
    assert short["call:C3-early"].clicks == ()
    # Exactly at the edge still counts (inclusive): 14 days.
    with open_snapshot(load_settings(None, db=world / "touchpoint.duckdb")) as con:
        edge = find_conversions(con, GOOGLE_CLICK_IDS, lookback=timedelta(days=14))
    assert [k.click_id for k in next(c for c in edge if c.conversion_id == "call:C3-early").clicks]


def test_a_click_of_another_platform_earns_nothing_for_google(world: Path) -> None:
    with open_snapshot(load_settings(None, db=world / "touchpoint.duckdb")) as con:
        google = {c.conversion_id: c for c in find_conversions(con, GOOGLE_CLICK_IDS)}
        bing = {c.conversion_id: c for c in find_conversions(con, ("msclkid",))}
    assert google["call:C2"].clicks == ()
    assert [k.click_id for k in bing["call:C2"].clicks] == ["M2-bing"]
    assert google["call:C4"].clicks == () and bing["call:C4"].clicks == ()


@pytest.mark.parametrize("model", [m for m in LEAD_MODELS if m != "last_touch"])
def test_multi_touch_credit_sums_to_one_when_every_touch_has_a_click(
    world: Path, model: str
) -> None:
    # Both of v1's touchpoints carry a Google click: every share of her lead, her
    # opportunity and its win goes to a click.
    with open_snapshot(load_settings(None, db=world / "touchpoint.duckdb")) as con:
        found = {c.conversion_id: c for c in find_conversions(con, GOOGLE_CLICK_IDS, model=model)}
    for conversion_id in (V1_LEAD, V1_OPPORTUNITY, V1_WON):
        conversion = found[conversion_id]
        assert conversion.model == model
        assert sum(c.credit for c in conversion.clicks) == pytest.approx(1.0)
        assert all(0.0 < c.credit <= 1.0 for c in conversion.clicks)
    # A call has no attribution rows: it is credited by its last click.
    assert found["call:C1"].model == "last_touch"


def test_since_leaves_out_what_happened_before(world: Path) -> None:
    settings = load_settings(None, db=world / "touchpoint.duckdb")
    since = datetime.fromisoformat("2026-03-04T00:00:00+00:00")
    later = load_conversions(settings, GOOGLE_CLICK_IDS, since)
    assert {c.conversion_id for c in later} == {V1_OPPORTUNITY, "call:C4", "lead:v4", V1_WON}


def test_an_unknown_model_is_one_clear_line(world: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(world, copy)
    done = run_touchpoint(
        copy,
        "export",
        "conversions",
        "--destination",
        "google-ads",
        env={"TOUCHPOINT_DESTINATIONS__MODEL": "last_click"},
    )
    assert done.code == 1
    assert done.stderr.strip().count("\n") == 0
    assert "unknown model 'last_click'" in done.stderr and "Traceback" not in done.stderr
