"""Loading the intake log into the store: closed segments exactly once, rows by raw table."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from touchpoint.build.intake import CHECKPOINT, load_intake
from touchpoint.collect.batch import Arrival, collect
from touchpoint.collect.frames import encode_record, frame
from touchpoint.collect.segments import CLOSED, LOADED, OPEN, SegmentWriter, intake_dir
from touchpoint.config import Settings, load_settings
from touchpoint.store import Store

ARRIVAL = Arrival(received_at=datetime(2026, 3, 4, 12, 0), user_agent="Mozilla/5.0", client_ip=None)


def event(n: int, **fields: object) -> dict[str, object]:
    return {
        "event_id": f"e{n}",
        "visitor_id": "0123456789abcdef0123456789abcdef",
        "type": "page_view",
        "occurred_at": 1772626620000 + n,
        "url": f"https://www.example.com/p{n}?utm_source=news",
        **fields,
    }


@pytest.fixture
def settings(workdir: Path) -> Settings:
    return load_settings(None, db=workdir / "tp.duckdb")


def write_segment(settings: Settings, records: list[bytes]) -> Path:
    writer = SegmentWriter(intake_dir(settings), max_bytes=1 << 20, max_age=60)
    writer.write(b"".join(records))
    writer.close()
    return max(intake_dir(settings).glob(f"*{CLOSED}"))


def collected(events: list[object]) -> list[bytes]:
    return collect(events, ARRIVAL).records


def rows(settings: Settings, sql: str) -> list[tuple]:
    with Store.open(settings) as store:
        return store.con.execute(sql).fetchall()


def test_collected_events_and_rejects_land_in_their_raw_tables(settings: Settings):
    write_segment(settings, collected([event(1), {"visitor_id": "v"}, event(2)]))
    with Store.open(settings) as store:
        info = load_intake(store)
    assert (info.segments, info.records) == (1, 3)
    assert info.landed == {"raw_events": 2, "rejects": 1}
    assert rows(
        settings,
        "SELECT event_id, utm_source, origin, user_agent, device FROM raw_events ORDER BY 1",
    ) == [  # DESIGN §16: the device class is kept, the full user agent is not
        ("e1", "news", "collector", None, "other"),
        ("e2", "news", "collector", None, "other"),
    ]
    [(source, kind, reason, record)] = rows(
        settings, "SELECT source, kind, reason, record FROM rejects"
    )
    assert (source, kind, record) == ("collector", "events", '{"visitor_id":"v"}')
    assert reason == "missing required field type"


def test_each_segment_is_loaded_once_and_then_moved_out_of_the_way(settings: Settings):
    segment = write_segment(settings, collected([event(1)]))
    with Store.open(settings) as store:
        load_intake(store)
        again = load_intake(store)
        assert (again.segments, again.records) == (0, 0)
        assert store.con.execute("SELECT count(*) FROM checkpoints").fetchone() == (0,)
    assert not segment.exists()
    assert (intake_dir(settings) / LOADED / segment.name).exists()


def test_duplicate_event_ids_collapse_across_segments_and_loads(settings: Settings):
    write_segment(settings, collected([event(1), event(2), event(1)]))
    write_segment(settings, collected([event(2), event(3)]))
    with Store.open(settings) as store:
        assert load_intake(store).landed["raw_events"] == 3
    # A segment that comes back (a copy restored by hand) changes nothing.
    loaded = next((intake_dir(settings) / LOADED).iterdir())
    (intake_dir(settings) / loaded.name).write_bytes(loaded.read_bytes())
    with Store.open(settings) as store:
        info = load_intake(store)
    assert info.segments == 1 and info.landed["raw_events"] == 0
    assert rows(settings, "SELECT count(*) FROM raw_events") == [(3,)]


def test_a_segment_committed_before_a_crash_is_only_moved_next_time(settings: Settings):
    segment = write_segment(settings, collected([event(1)]))
    with Store.open(settings) as store:
        # What a build that died between its commit and moving the file leaves behind.
        store.set_checkpoint(CHECKPOINT + segment.name, "2026-03-04T12:00:00+00:00")
        info = load_intake(store)
    assert (info.segments, info.records) == (0, 0)
    assert not segment.exists() and rows(settings, "SELECT count(*) FROM checkpoints") == [(0,)]


def test_a_segment_a_crashed_server_left_open_is_recovered_and_loaded(settings: Settings):
    directory = intake_dir(settings)
    directory.mkdir()
    torn = collected([event(1)])[0] + collected([event(2)])[0][:-5]
    (directory / f"20260304T120000000000-99-000001{OPEN}").write_bytes(torn)
    with Store.open(settings) as store:
        info = load_intake(store)
    assert (info.recovered, info.segments, info.landed) == (1, 1, {"raw_events": 1})
    assert info.dropped_bytes == len(collected([event(2)])[0]) - 5


def test_a_segment_still_being_written_waits_for_the_next_build(settings: Settings):
    writer = SegmentWriter(intake_dir(settings), max_bytes=1 << 20, max_age=60)
    writer.write(b"".join(collected([event(1)])))
    with Store.open(settings) as store:
        assert load_intake(store).segments == 0
        writer.close()
        assert load_intake(store).landed == {"raw_events": 1}


def test_call_records_land_in_raw_calls(settings: Settings):
    call = {
        "source_system": "callrail",
        "call_id": "CAL1",
        "called_at": datetime(2026, 3, 4, 12, 30),
        "called_us": 1772627400000000,
        "duration_s": 42,
        "is_deleted": False,
        "record": "{}",
        "record_hash": "h1",
    }
    write_segment(settings, [encode_record("raw_calls", call), encode_record("raw_calls", call)])
    with Store.open(settings) as store:
        assert load_intake(store).landed == {"raw_calls": 1}
    assert rows(settings, "SELECT call_id, called_at, duration_s, is_deleted FROM raw_calls") == [
        ("CAL1", datetime(2026, 3, 4, 12, 30), 42, False)
    ]


def test_unusable_log_records_become_rejects_instead_of_failing_the_build(settings: Settings):
    write_segment(
        settings,
        [
            frame(b"not json"),
            encode_record("no_such_table", {"a": 1}),
            encode_record("raw_calls", {"call_id": "C1", "duration_s": "long", "record_hash": "x"}),
            *collected([event(1)]),
        ],
    )
    with Store.open(settings) as store:
        info = load_intake(store)
    assert info.landed["raw_events"] == 1
    reasons = [r for (r,) in rows(settings, "SELECT reason FROM rejects WHERE kind = 'intake'")]
    assert len(reasons) == 3
    assert all(r.startswith("intake log") for r in reasons)


def test_loaded_segments_are_removed_after_the_retention(workdir: Path):
    settings = load_settings(None, db=workdir / "tp.duckdb")
    write_segment(settings, collected([event(1)]))
    with Store.open(settings) as store:
        assert load_intake(store).removed == 0
    [kept] = (intake_dir(settings) / LOADED).iterdir()
    os.utime(kept, (0, 0))  # loaded long ago
    with Store.open(settings) as store:
        assert load_intake(store).removed == 1
    assert not kept.exists()


def test_the_intake_directory_can_be_set(workdir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TOUCHPOINT_COLLECTOR__INTAKE_DIR", str(workdir / "elsewhere"))
    settings = load_settings(None, db=workdir / "tp.duckdb")
    assert intake_dir(settings) == workdir / "elsewhere"
    assert (
        intake_dir(
            load_settings(None, db=workdir / "a.duckdb").model_copy(
                update={"collector": settings.collector.model_copy(update={"intake_dir": ""})}
            )
        )
        == workdir / "a.duckdb.intake"
    )
