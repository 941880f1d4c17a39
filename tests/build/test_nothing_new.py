"""A build with nothing new publishes nothing and says so (DESIGN §17); any change builds.

Each change that can move a result (a new raw row, a changed setting, a new intake
segment, an erased person, retention deleting rows) makes the next build a real
one, whose tables equal those of a build of a fresh copy of the changed store.
`--full` always builds. Speed is measured by bench/build.py, not here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from conftest import run_touchpoint
from touchpoint.build.build import RESULT_TABLES, BuildResult, build, build_steps
from touchpoint.collect.batch import Arrival, collect
from touchpoint.collect.segments import SegmentWriter, intake_dir
from touchpoint.config import Settings, load_settings
from touchpoint.config.sections import RetentionSettings
from touchpoint.importers import import_calls, import_events
from touchpoint.privacy.erase import erase
from touchpoint.stages import pipeline
from touchpoint.store import current_snapshot_path, snapshot_dir

VISITORS = ("0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210")


def page_view(n: int, visitor: str, at: datetime, source: str = "news") -> dict[str, object]:
    return {
        "event_id": f"e{n}",
        "visitor_id": visitor,
        "type": "page_view",
        "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "url": f"https://www.example.com/p{n}?utm_source={source}&utm_medium=email",
    }


def write_events(path: Path, events: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(event) + "\n" for event in events))
    return path


def world(directory: Path, settings: Settings, at: datetime | None = None) -> None:
    """Two visitors' page views and a call of the first, imported."""
    at = at or datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    events = [page_view(n, VISITORS[n % 2], at + timedelta(minutes=n)) for n in range(4)]
    assert import_events(settings, [write_events(directory / "events.ndjson", events)]).landed == 4
    calls = directory / "calls.csv"
    called = (at + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    calls.write_text(f"call_id,called_at,visitor_id\nc1,{called},{VISITORS[0]}\n")
    assert import_calls(settings, [calls], "calls-csv").landed == 1


def tables(snapshot: Path) -> dict[str, list[tuple]]:
    """Every result table of a published snapshot, its rows sorted."""
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        return {
            name: sorted(con.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
            for name in (*RESULT_TABLES, "people", "journeys")
        }
    finally:
        con.close()


def fresh_build(settings: Settings, directory: Path) -> dict[str, list[tuple]]:
    """The tables of a first build of a copy of the store as it is now."""
    directory.mkdir()
    for part in (settings.db, settings.db.with_name(settings.db.name + ".wal")):
        if part.exists():
            shutil.copy(part, directory / part.name)
    copy = settings.model_copy(update={"db": directory / settings.db.name})
    result = build(copy)
    assert not result.nothing_new
    return tables(result.snapshot)


def assert_real_and_fresh(result: BuildResult, before: str, settings: Settings, tmp: Path) -> None:
    """`result` was a real build, published, with the tables of a fresh copy's build."""
    assert not result.nothing_new
    assert result.build_id != before
    assert current_snapshot_path(settings.db) == result.snapshot
    assert tables(result.snapshot) == fresh_build(settings, tmp / "fresh")


@pytest.fixture
def settings(workdir: Path) -> Settings:
    settings = load_settings(None, db=workdir / "tp.duckdb")
    world(workdir, settings)
    return settings


def test_a_build_with_nothing_new_publishes_nothing_and_says_so(settings: Settings):
    first = build(settings)
    assert not first.nothing_new
    snapshots = sorted(snapshot_dir(settings.db).iterdir())
    again = build(settings)
    assert again.nothing_new
    assert (again.build_id, again.snapshot, again.rows) == (
        first.build_id,
        first.snapshot,
        first.rows,
    )
    assert [stage.stage for stage in again.stages] == ["intake", "retention"]
    assert sorted(snapshot_dir(settings.db).iterdir()) == snapshots  # no file written or pruned
    assert build(settings).nothing_new  # and so on


def test_full_builds_anyway_and_gives_the_same_tables(settings: Settings):
    first = build(settings)
    forced = build(settings, full=True)
    assert not forced.nothing_new and forced.build_id != first.build_id
    assert tables(forced.snapshot) == tables(first.snapshot)
    assert build(settings).nothing_new  # the forced build's fingerprint is kept too


def test_a_new_raw_row_builds(settings: Settings, workdir: Path):
    before = build(settings).build_id
    late = page_view(9, VISITORS[1], datetime(2026, 3, 4, 12, 2, 30, tzinfo=UTC), "partner")
    assert import_events(settings, [write_events(workdir / "late.ndjson", [late])]).landed == 1
    assert_real_and_fresh(build(settings), before, settings, workdir)


def test_a_changed_setting_builds(settings: Settings, workdir: Path):
    before = build(settings).build_id
    shorter = settings.sessions.model_copy(update={"timeout": timedelta(seconds=90)})
    changed = settings.model_copy(update={"sessions": shorter})
    result = build(changed)
    assert_real_and_fresh(result, before, changed, workdir)
    assert len(result.rows) == len(RESULT_TABLES) and result.rows["sessions"] == 4
    assert build(changed).nothing_new
    assert not build(settings).nothing_new  # and back again


def test_a_new_intake_segment_builds(settings: Settings, workdir: Path):
    before = build(settings).build_id
    arrival = Arrival(datetime(2026, 3, 4, 12, 30), user_agent="Mozilla/5.0", client_ip=None)
    collected = page_view(7, VISITORS[0], datetime(2026, 3, 4, 12, 20, tzinfo=UTC))
    collected["occurred_at"] = 1772627000000
    writer = SegmentWriter(intake_dir(settings), max_bytes=1 << 20, max_age=60)
    writer.write(b"".join(collect([collected], arrival).records))
    writer.close()
    result = build(settings)
    assert result.stages[0].rows_out == 1  # the intake landed the event
    assert_real_and_fresh(result, before, settings, workdir)


def test_an_erased_person_builds(settings: Settings, workdir: Path):
    before = build(settings).build_id
    done = erase(settings, [VISITORS[1]], [], [])
    assert done.build_id is not None and done.build_id != before  # erase's own build was real
    assert current_snapshot_path(settings.db) is not None
    published = current_snapshot_path(settings.db)
    assert published is not None and published.stem == done.build_id
    assert tables(published) == fresh_build(settings, workdir / "fresh")
    assert build(settings).nothing_new


def test_retention_deleting_rows_builds(workdir: Path):
    """An event that passes `[retention]` between two builds, with nothing else changing."""
    keep = timedelta(hours=1)
    settings = Settings(db=workdir / "tp.duckdb", retention=RetentionSettings(events="1h"))
    expires = datetime.now(UTC).replace(microsecond=0) - keep + timedelta(seconds=15)
    world(workdir, settings, at=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5))
    old = page_view(8, VISITORS[1], expires)
    assert import_events(settings, [write_events(workdir / "old.ndjson", [old])]).landed == 1
    first = build(settings)
    assert first.retention == {} and first.rows["events"] == 5  # still within the hour
    time.sleep(max(0.0, (expires + keep - datetime.now(UTC)).total_seconds()) + 1)
    result = build(settings)
    assert result.retention == {"raw_events": 1}
    assert_real_and_fresh(result, first.build_id, settings, workdir)
    assert result.rows["events"] == 4


def test_the_cli_says_nothing_new_and_full_builds(workdir: Path, settings: Settings):
    db = str(settings.db)
    assert run_touchpoint(workdir, "--db", db, "build").code == 0
    again = run_touchpoint(workdir, "--db", db, "build")
    assert again.code == 0 and "nothing new since the last build" in again.stderr
    first = current_snapshot_path(settings.db)
    quiet = run_touchpoint(workdir, "--db", db, "build", "--json")
    summary = json.loads(quiet.stdout)
    assert summary["nothing_new"] is True and summary["build_id"] == first.stem  # type: ignore[union-attr]
    assert summary["rows"]["events"] == 4
    full = run_touchpoint(workdir, "--db", db, "build", "--full", "--json")
    forced = json.loads(full.stdout)
    assert full.code == 0 and forced["nothing_new"] is False and forced["build_id"] != first.stem  # type: ignore[union-attr]
    assert current_snapshot_path(settings.db).stem == forced["build_id"]  # type: ignore[union-attr]


def test_a_build_with_nothing_new_imports_no_ibis(settings: Settings, workdir: Path):
    """What keeps it fast: the stages and Ibis (and pandas) stay unimported."""
    build(settings)
    script = (
        "import sys; from pathlib import Path; from touchpoint.build.build import build; "
        "from touchpoint.config import load_settings; import touchpoint.cli; "
        f"r = build(load_settings(None, db=Path({str(settings.db)!r}))); "
        "print(r.nothing_new, sorted(m for m in ('ibis', 'pandas', 'touchpoint.stages.pipeline') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=workdir, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True []"


def test_the_names_kept_beside_the_stages_are_the_stages_names():
    assert build_steps()[:-1] == tuple(stage.name for stage in pipeline.STAGES)
    assert RESULT_TABLES == pipeline.RESULT_TABLES
