"""`STAGES`, the declaration of every stage, and `run_stages`, the one loop that runs it."""

from __future__ import annotations

import inspect
from pathlib import Path

from support.number_assignments import import_with_numbers
from support.scenario import Case
from touchpoint.build.backends import DuckDBBackend
from touchpoint.schema import CRM_TABLES, OUTPUT_COLUMNS, RAW_TABLES
from touchpoint.stages.params import BuildParams
from touchpoint.stages.pipeline import (
    PUBLISHED_TABLES,
    RESULT_TABLES,
    SCRATCH_TABLES,
    STAGES,
    run_stages,
)
from touchpoint.store import Store

RAW_INPUTS = ("raw_events", "raw_calls", *CRM_TABLES.values(), "raw_number_assignments")
# A tiny world with a row for every stage: a visitor who fills a form, calls, and
# becomes a lead, then a contact on a won opportunity, and a campaign member; who also
# holds a pool number, which a call without a visitor id rings (DESIGN §15).
EVERY_STAGE = Case(
    file="pipeline",
    title="every stage has rows",
    events=[
        """
visitor_id,type,occurred_at,url,referrer,email
v1,page_view,2026-03-01T10:00:00Z,https://example.com/?gclid=g1,https://www.google.com/,
v1,form_submit,2026-03-01T10:05:00Z,https://example.com/demo,https://example.com/,jo@example.org
v1,page_view,2026-03-03T10:00:00Z,https://example.com/?utm_source=newsletter&utm_medium=email,,
"""
    ],
    tasks=[
        """
Id,CreatedDate,Type,bizible2__BizibleId__c
00T000000000901AAA,2026-03-03T10:10:00.000+0000,Inbound Call,v1
"""
    ],
    settings={
        "numbers": {
            "pools": [{"name": "main", "numbers": ["+15125550101"], "replace": "+15125550100"}]
        }
    },
    expect={},
    crm={
        "leads": """
Id,Email,Phone,CreatedDate,IsConverted,ConvertedContactId,ConvertedAccountId,ConvertedOpportunityId
00Q000000000901AAA,jo@example.org,,2026-03-01T10:06:00.000+0000,true,003000000000901AAA,001000000000901AAA,
""",
        "contacts": """
Id,Email,Phone,AccountId,CreatedDate
003000000000901AAA,jo@example.org,,001000000000901AAA,2026-03-02T10:00:00.000+0000
""",
        "opportunities": """
Id,AccountId,Name,Amount,CreatedDate,CloseDate,IsClosed,IsWon,StageName
006000000000901AAA,001000000000901AAA,Jo's deal,5000,2026-03-04T12:00:00.000+0000,2026-03-20,true,true,Closed Won
""",
        "contact_roles": """
Id,OpportunityId,ContactId,IsPrimary,Role
00K000000000901AAA,006000000000901AAA,003000000000901AAA,true,Decision Maker
""",
        "campaign_members": """
Id,CampaignId,LeadId,ContactId,CreatedDate,HasResponded,FirstRespondedDate,Campaign.Name,Campaign.Type
00v000000000901AAA,701000000000901AAA,00Q000000000901AAA,,2026-03-02T15:00:00.000+0000,true,2026-03-02,March webinar,Webinar
""",
    },
)


EVERY_STAGE_CALLS = """
call_id,source_system,called_at,tracking_number
CA901,twilio,2026-03-03T10:20:00Z,+15125550101
"""
EVERY_STAGE_HOLDS = """
pool,number,visitor_id,assigned_at,held_until
main,+15125550101,v1,2026-03-03T10:00:00Z,2026-03-03T10:30:00Z
"""


def test_every_stage_reads_raw_tables_or_earlier_stages_and_names_a_new_table() -> None:
    # ... and the build's lookup (stages.phones) and pools (stages.numbers)
    made = {*RAW_INPUTS, "phone_numbers", "number_pools"}
    for stage in STAGES:
        assert set(stage.inputs) <= made, stage.name
        assert stage.name not in made and stage.name not in RAW_TABLES, stage.name
        made.add(stage.name)
    assert len({stage.name for stage in STAGES}) == len(STAGES)


def test_every_stage_function_takes_its_inputs_then_the_params() -> None:
    for stage in STAGES:
        parameters = inspect.signature(stage.fn).parameters
        assert len(parameters) == int(stage.on_backend) + len(stage.inputs) + 1, stage.name
        assert 1 <= stage.rows_from <= len(stage.inputs), stage.name


def test_the_results_are_the_contract_tables_and_every_table_is_kept_one_way() -> None:
    built = set(OUTPUT_COLUMNS) - set(RAW_TABLES)  # rejects is kept by the importers
    assert set(RESULT_TABLES) == built
    assert set(PUBLISHED_TABLES) >= set(RESULT_TABLES)
    assert set(PUBLISHED_TABLES) | set(SCRATCH_TABLES) == {stage.name for stage in STAGES}
    assert not set(PUBLISHED_TABLES) & set(SCRATCH_TABLES)
    # Every scratch table is read by a later stage; otherwise nothing needs it.
    read = {name for stage in STAGES for name in stage.inputs}
    assert set(SCRATCH_TABLES) <= read


def test_the_loop_runs_every_stage_in_order_and_reports_what_it_made(tmp_path: Path) -> None:
    settings = import_with_numbers(EVERY_STAGE, EVERY_STAGE_CALLS, EVERY_STAGE_HOLDS, tmp_path)
    seen: list[str] = []
    with Store.open(settings) as store:
        snapshot = store.new_snapshot()
        try:
            backend = DuckDBBackend(store.con)
            results, infos = run_stages(
                backend,
                backend.raw("raw_events"),
                backend.raw("raw_calls"),
                BuildParams.from_settings(settings),
                seen.append,
                raw_crm={name: backend.raw(name) for name in CRM_TABLES.values()},
                number_assignments=backend.raw("raw_number_assignments"),
            )
            names = [stage.name for stage in STAGES]
            assert seen == names
            assert [info.stage for info in infos] == names
            assert set(results) == set(PUBLISHED_TABLES)
            kept = {
                row[0]
                for row in store.con.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'snap'"
                ).fetchall()
            }
            # Every stage's table is kept under its name, and nothing made on the way stays.
            assert kept == set(names)
            counts = {name: store.count(f'snap.main."{name}"') for name in names}
            raw = {name: store.count(name) for name in RAW_INPUTS}
            for stage, info in zip(STAGES, infos, strict=True):
                assert info.rows_out == counts[stage.name], stage.name
                leading = stage.inputs[: stage.rows_from]
                assert info.rows_in == sum({**raw, **counts}[name] for name in leading)
                assert info.seconds >= 0
            assert all(counts.values()), counts
            # Touchpoints are made from sessions and calls; the rest are lookups.
            by_stage = {info.stage: info for info in infos}
            assert by_stage["person_touchpoints"].rows_in == counts["sessions"] + counts["calls"]
            for name in RESULT_TABLES:
                columns = results[name].columns
                assert tuple(columns[: len(OUTPUT_COLUMNS[name])]) == OUTPUT_COLUMNS[name]
        finally:
            store.discard(snapshot)
