"""`[retention]` (DESIGN §16): raw records past it are deleted at build, newer ones kept.

The suite keeps every record (conftest.RETENTION_OFF); these tests give their own
`[retention]`, which wins over the environment as flags do.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from conftest import run_touchpoint
from touchpoint.build.build import build
from touchpoint.config import Settings, load_settings
from touchpoint.config.sections import RetentionSettings
from touchpoint.errors import TouchpointError
from touchpoint.importers import import_calls, import_events
from touchpoint.privacy.retention import cutoff, months_before
from touchpoint.store import Store

NOW = datetime.now(UTC).replace(microsecond=0)
RECENT = NOW - timedelta(days=3)
OLD = datetime(2020, 1, 6, 9, 0, tzinfo=UTC)  # far past 25 months, in 2026 and in 2029


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_inputs(directory: Path) -> tuple[Path, Path]:
    events = directory / "events.ndjson"
    lines = [
        {"event_id": "old", "visitor_id": "v-old", "type": "page_view",
         "occurred_at": stamp(OLD), "url": "https://example.com/old"},
        {"event_id": "new", "visitor_id": "v-new", "type": "page_view",
         "occurred_at": stamp(RECENT), "url": "https://example.com/new"},
        {"event_id": "bad", "visitor_id": "v-bad", "type": "page_view", "url": "no time"},
    ]  # fmt: skip
    events.write_text("".join(json.dumps(line) + "\n" for line in lines))
    calls = directory / "calls.csv"
    calls.write_text(
        "call_id,called_at,visitor_id\n"
        f"c-old,{stamp(OLD + timedelta(minutes=5))},v-old\n"
        f"c-new,{stamp(RECENT + timedelta(minutes=5))},v-new\n"
    )
    return events, calls


def imported(workdir: Path, retention: RetentionSettings) -> Settings:
    settings = Settings(db=workdir / "touchpoint.duckdb", retention=retention)
    events, calls = write_inputs(workdir)
    assert import_events(settings, [events]).rejected == 1
    assert import_calls(settings, [calls], "calls-csv").landed == 2
    return settings


def raw(settings: Settings, sql: str) -> list[tuple]:
    with Store.open(settings) as store:
        return store.con.execute(sql).fetchall()


def test_a_build_deletes_what_is_past_retention_and_keeps_the_rest(workdir: Path):
    retention = RetentionSettings(events="25 months", calls="25 months", rejects="1ms")
    settings = imported(workdir, retention)
    result = build(settings)
    assert raw(settings, "SELECT event_id FROM raw_events") == [("new",)]
    assert raw(settings, "SELECT call_id FROM raw_calls") == [("c-new",)]
    assert raw(settings, "SELECT count(*) FROM rejects") == [(0,)]
    assert result.retention == {"raw_events": 1, "raw_calls": 1, "rejects": 1}
    line = next(stage for stage in result.stages if stage.stage == "retention")
    assert (line.rows_in, line.rows_out) == (5, 2)
    assert result.rows["events"] == 1 and result.rows["calls"] == 1
    # Nothing older is left: the next build deletes nothing.
    assert build(settings).retention == {}


def test_forever_keeps_everything(workdir: Path):
    settings = imported(workdir, RetentionSettings(events="forever", calls="0s", rejects="forever"))
    result = build(settings)
    assert result.retention == {}
    assert result.rows["events"] == 2 and result.rows["calls"] == 2


def test_the_defaults_keep_25_months_of_visits_and_calls_and_90_days_of_rejects(workdir: Path):
    defaults = RetentionSettings()
    assert (defaults.events, defaults.calls, defaults.rejects) == ("25 months", "25 months", "90d")
    now = datetime(2029, 1, 31, 12, 0)
    assert cutoff(defaults.events, now) == datetime(2026, 12, 31, 12, 0)
    assert cutoff(defaults.rejects, now) == now - timedelta(days=90)
    assert cutoff("forever", now) is None and cutoff("2 years", now) == datetime(2027, 1, 31, 12)
    assert months_before(datetime(2026, 5, 31), 3) == datetime(2026, 2, 28)


def test_the_cli_build_applies_retention_from_the_environment(workdir: Path):
    events, _calls = write_inputs(workdir)
    assert run_touchpoint(workdir, "import", "events", str(events)).code == 0
    env = {"TOUCHPOINT_RETENTION__EVENTS": "25 months"}
    done = run_touchpoint(workdir, "build", "--json", env=env)
    assert done.code == 0, done.stderr
    stages = {s["stage"]: s for s in json.loads(done.stdout)["stages"]}
    assert (stages["retention"]["rows_in"], stages["retention"]["rows_out"]) == (3, 2)


@pytest.mark.parametrize("written", ["45", "25 fortnights", "soon", "-3 months"])
def test_a_retention_period_that_means_nothing_is_one_error(
    workdir: Path, written: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("TOUCHPOINT_RETENTION__EVENTS")  # conftest's, which would win
    (workdir / "touchpoint.toml").write_text(f'[retention]\nevents = "{written}"\n')
    with pytest.raises(TouchpointError) as raised:
        load_settings(None)
    assert "is not a retention period like 25 months, 2 years, 90d or forever" in str(raised.value)
