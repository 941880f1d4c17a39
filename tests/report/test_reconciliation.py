"""Reconciliation with the CRM (DESIGN §11): the report's totals equal the CRM's, and every
opportunity and lead no touchpoint earned is listed with the reason.

Small stores built from `tests/fixtures/report/reconciliation.toml` (CRM files as Data
Loader exports them) through the real importers and build. The CRM's sums are taken from
those files, not from the store, so a query that drops or double counts shows up.
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
from datetime import date
from pathlib import Path

import pytest

from conftest import run_touchpoint
from support.paths import FIXTURES
from support.scenario import CRM_KINDS, Case, import_case, parse_table
from touchpoint.build.build import build
from touchpoint.report.period import Period
from touchpoint.report.reader import reading
from touchpoint.report.reconcile import LEAD_REASONS, REASONS
from touchpoint.stages.attribution.rows import LEAD_MODELS, MODELS

pytestmark = pytest.mark.slow

CASES = tomllib.loads((FIXTURES / "report" / "reconciliation.toml").read_text())["case"]


def _case(raw: dict) -> Case:
    return Case(
        file="reconciliation",
        title=raw["title"],
        events=[raw["events"]],
        tasks=[],
        settings=raw.get("settings", {}),
        expect=raw["expect"],
        crm={key: raw[key] for key in CRM_KINDS if key in raw},
    )


def crm_opportunities(raw: dict) -> list[dict[str, str]]:
    """The opportunities file as the CRM wrote it (upper-case Data Loader header)."""
    found = csv.DictReader(io.StringIO(raw["opportunities"].strip()))
    return [{k.lower(): v for k, v in row.items()} for row in found]


def crm_sums(opportunities: list[dict[str, str]]) -> dict[str, float]:
    """Count and amount by state, straight from the CRM's rows."""
    sums = {"opportunities": len(opportunities), "open": 0.0, "won": 0.0, "lost": 0.0}
    for o in opportunities:
        state = "open" if o["isclosed"] != "true" else "won" if o["iswon"] == "true" else "lost"
        sums[state] += float(o["amount"] or 0)
    return sums


def as_sums(totals) -> dict[str, float]:
    return {
        "opportunities": totals.opportunities,
        "open": totals.open_pipeline,
        "won": totals.won_revenue,
        "lost": totals.lost_revenue,
    }


@pytest.fixture(scope="module", params=range(len(CASES)), ids=[c["title"] for c in CASES])
def store(request, tmp_path_factory):
    raw = CASES[request.param]
    directory = tmp_path_factory.mktemp("reconciliation")
    settings = import_case(_case(raw), directory)
    build(settings)
    return raw, settings, directory


def test_every_model_s_totals_equal_the_crm_s(store):
    raw, settings, _directory = store
    expected = crm_sums(crm_opportunities(raw))
    with reading(settings) as reader:
        for model in MODELS:
            rec = reader.reconciliation(model)
            assert as_sums(rec.crm) == pytest.approx(expected), model
            together = {
                k: as_sums(rec.attributed)[k] + as_sums(rec.unattributed)[k] for k in expected
            }
            assert together == pytest.approx(expected), model
            by_reason = {k: sum(as_sums(r)[k] for r in rec.reasons) for k in expected}
            assert by_reason == pytest.approx(as_sums(rec.unattributed)), model
            # What is attributed is what the attribution table credits.
            credited = reader.con.execute(
                "SELECT coalesce(sum(revenue), 0), count(DISTINCT conversion_id) FROM attribution "
                "WHERE model = ? AND conversion_type = 'opportunity'",
                [model],
            ).fetchone()
            assert credited is not None
            assert rec.attributed.won_revenue + rec.attributed.open_pipeline + (
                rec.attributed.lost_revenue
            ) == pytest.approx(credited[0])
            assert rec.attributed.opportunities == credited[1]


def test_each_opportunity_no_touchpoint_earned_says_why(store):
    raw, settings, _directory = store
    _header, expected = parse_table(raw["expect"]["reasons"])
    wanted = {opportunity: reason for opportunity, reason in expected}
    amounts = {o["id"]: float(o["amount"]) for o in crm_opportunities(raw)}
    with reading(settings) as reader:
        for model in MODELS:
            rec = reader.reconciliation(model)
            assert {o.opportunity_id: o.reason for o in rec.opportunities} == wanted, model
            assert all(o.amount == amounts[o.opportunity_id] for o in rec.opportunities)
            assert [o.amount for o in rec.opportunities] == sorted(
                (o.amount for o in rec.opportunities), reverse=True
            )


def test_the_terminal_and_json_reports_reconcile(store):
    raw, _settings, directory = store
    expected = crm_sums(crm_opportunities(raw))
    result = run_touchpoint(directory, "report")
    assert result.code == 0, result.stderr
    assert "Reconciliation with the CRM" in result.stdout
    crm_line = next(line for line in result.stdout.splitlines() if "in the CRM" in line)
    assert f"${expected['won']:,.0f}" in crm_line
    for _opportunity, reason in parse_table(raw["expect"]["reasons"])[1]:
        assert f"not attributed: {REASONS[reason]}" in result.stdout
    report = json.loads(run_touchpoint(directory, "report", "--json").stdout)
    assert report["reconciliation"]["crm"]["won_revenue"] == pytest.approx(expected["won"])
    assert report["period"] == {"from_day": None, "to_day": None, "timezone": "UTC"}


def _day_of(o: dict[str, str]) -> date:
    """The day an opportunity counts on: its close date when closed, else its creation."""
    if o["isclosed"] == "true":
        return date.fromisoformat(o["closedate"])
    return date.fromisoformat(o["createddate"][:10])


@pytest.mark.parametrize(
    ("first", "last"), [("2026-03-11", "2026-03-31"), ("2026-03-01", "2026-03-10")]
)
def test_a_period_reconciles_the_opportunities_of_its_days(store, first, last):
    raw, settings, _directory = store
    period = Period.of(first, last)
    inside = [
        o
        for o in crm_opportunities(raw)
        if period.first <= _day_of(o) <= period.last  # type: ignore[operator]
    ]
    with reading(settings) as reader:
        scoped = reader.within(period)
        rec = scoped.reconciliation()
        credit = scoped.report().attribution
    assert as_sums(rec.crm) == pytest.approx(crm_sums(inside))
    assert rec.attributed.won_revenue == pytest.approx(credit.won_revenue)
    assert rec.attributed.open_pipeline == pytest.approx(credit.open_pipeline)


def test_days_are_the_site_s_days(store):
    _raw, settings, directory = store
    # v1 arrived at 2026-03-02T10:00Z: still 2 March in UTC, already 3 March at UTC+14.
    kiribati = {"TOUCHPOINT_SITE__TIMEZONE": "Pacific/Kiritimati"}
    args = ("report", "--json", "--from", "2026-03-03", "--to", "2026-03-03")
    there = json.loads(run_touchpoint(directory, *args, env=kiribati).stdout)
    here = json.loads(run_touchpoint(directory, *args).stdout)
    assert there["summary"]["touchpoints"] >= 1 and here["summary"]["touchpoints"] == 0
    assert there["period"]["timezone"] == "Pacific/Kiritimati"
    with reading(settings) as reader:
        whole = reader.summary()
    assert whole.touchpoints > there["summary"]["touchpoints"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--from", "2026-13-01"), "from must be a date like 2026-03-01, not '2026-13-01'"),
        (("--to", "yesterday"), "to must be a date like 2026-03-01"),
        (("--from", "2026-03-10", "--to", "2026-03-01"), "from (2026-03-10) is after to"),
    ],
)
def test_a_bad_period_is_one_line(store, args, says):
    _raw, _settings, directory = store
    result = run_touchpoint(Path(directory), "report", *args)
    assert result.code == 1
    assert says in result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr


def crm_leads(raw: dict) -> list[dict[str, str]]:
    """The leads file as the CRM wrote it (none when the case has no leads)."""
    found = csv.DictReader(io.StringIO(raw.get("leads", "").strip()))
    return [{k.lower(): v for k, v in row.items()} for row in found]


def test_every_model_s_lead_counts_equal_the_crm_s(store):
    raw, settings, _directory = store
    leads = {lead["id"] for lead in crm_leads(raw)}
    with reading(settings) as reader:
        for model in MODELS:
            rec = reader.reconciliation(model).leads
            assert rec.crm == len(leads), model
            assert rec.attributed + rec.unattributed == rec.crm, model
            assert sum(r.leads for r in rec.reasons) == rec.unattributed, model
            # What is attributed is what the attribution table credits, counted apart.
            credited = reader.con.execute(
                "SELECT DISTINCT conversion_id FROM attribution "
                "WHERE model = ? AND conversion_type = 'lead'",
                [model],
            ).fetchall()
            assert rec.attributed == len({row[0] for row in credited} & leads), model
            assert {lead.lead_id for lead in rec.leads} <= leads


def test_each_lead_no_touchpoint_earned_says_why(store):
    raw, settings, _directory = store
    _header, expected = parse_table(raw["expect"].get("lead_reasons", "lead_id,reason"))
    wanted = {lead: reason for lead, reason in expected}
    with reading(settings) as reader:
        for model in LEAD_MODELS:
            rec = reader.reconciliation(model).leads
            assert {lead.lead_id: lead.reason for lead in rec.leads} == wanted, model
        # A model that credits opportunities only leaves every lead with that reason.
        rec = reader.reconciliation("w_shaped").leads
        assert {lead.reason for lead in rec.leads} <= {"opportunities_only"}
        assert rec.unattributed == len(crm_leads(raw))


def test_lead_reconciliation_in_the_terminal_and_json_reports(store):
    raw, _settings, directory = store
    leads = crm_leads(raw)
    result = run_touchpoint(directory, "report", "--model", "u_shaped")
    assert result.code == 0, result.stderr
    crm_line = next(line for line in result.stdout.splitlines() if "leads in the CRM" in line)
    assert f" {len(leads)} " in crm_line
    for _lead, reason in parse_table(raw["expect"].get("lead_reasons", "lead_id,reason"))[1]:
        assert f"leads not attributed: {LEAD_REASONS[reason]}" in result.stdout
    report = json.loads(run_touchpoint(directory, "report", "--json").stdout)
    assert report["reconciliation"]["leads"]["crm"] == len(leads)


def test_a_period_reconciles_the_leads_created_in_its_days(store):
    raw, settings, _directory = store
    period = Period.of("2026-03-03", "2026-03-13")
    inside = [
        lead
        for lead in crm_leads(raw)
        if period.first <= date.fromisoformat(lead["createddate"][:10]) <= period.last  # type: ignore[operator]
    ]
    with reading(settings) as reader:
        assert reader.within(period).reconciliation("u_shaped").leads.crm == len(inside)


def test_the_dashboard_page_shows_the_lead_reconciliation(store, tmp_path):
    raw, _settings, directory = store
    leads = crm_leads(raw)
    page = tmp_path / "report.html"
    result = run_touchpoint(directory, "report", "--model", "u_shaped", "--html", str(page))
    assert result.code == 0, result.stderr
    html = page.read_text()
    if not leads:
        assert 'id="lead-reconciliation"' not in html
        return
    crm_row = html.split('data-reconciliation="crm-leads"', 1)[1].split("</tr>", 1)[0]
    assert f">{len(leads)}<" in crm_row
    for _lead, reason in parse_table(raw["expect"]["lead_reasons"])[1]:
        assert f'data-lead-reason="{reason}"' in html
