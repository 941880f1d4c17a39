"""`touchpoint build` on DuckDB: what it publishes and reports, read from `STAGES`."""

from __future__ import annotations

from pathlib import Path

from support.scenario import import_case, load_cases
from touchpoint.build.build import build, build_steps
from touchpoint.stages.pipeline import PUBLISHED_TABLES, RESULT_TABLES, STAGES
from touchpoint.store import open_snapshot


def test_a_build_publishes_the_published_stages_and_reports_every_stage(tmp_path: Path) -> None:
    settings = import_case(load_cases("attribution")[0], tmp_path)
    seen: list[str] = []
    result = build(settings, seen.append)
    assert tuple(seen) == build_steps() == (*(stage.name for stage in STAGES), "publish")
    # The collector's intake log is loaded first, then records past [retention] go
    # (privacy.retention), then the phone-number lookup is made (build.phones), before
    # the stages.
    assert [info.stage for info in result.stages] == [
        "intake",
        "retention",
        "phone_numbers",
        *(s.name for s in STAGES),
    ]
    assert list(result.rows) == list(RESULT_TABLES)
    with open_snapshot(settings) as con:
        tables = {
            row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        assert tables == {*PUBLISHED_TABLES, "rejects", "build_info"}
        for name, rows in result.rows.items():
            assert (con.execute(f'SELECT count(*) FROM "{name}"').fetchone() or (0,))[0] == rows
