"""Salesforce Ids wherever one is accepted (DESIGN §11): the 15- and 18-character forms
are the same record in `explain call`, the API and `report --person`, and a person is
found by their lead, contact or opportunity Id or their email."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conftest import run_touchpoint
from support.collector_server import start

TOKEN = "test-token-for-salesforce-ids"
VISITOR = "9c1d7e2a4b6f48d0a3e5c7b9d1f20384"
# Each Id in the form Salesforce shows in a URL (15) and in the API (18).
TASK = ("00T5e00000Qr013", "00T5e00000Qr013EAB")
LEAD = ("00Q5e00000Lx2Pa", "00Q5e00000Lx2PaEAJ")
CONTACT = ("0035e00000Bq7Zk", "0035e00000Bq7ZkAAJ")
OPPORTUNITY = ("0065e00000Tg4Rs", "0065e00000Tg4RsAAJ")
FILES = {
    "events.csv": (
        "visitor_id,type,occurred_at,url,referrer\n"
        f"{VISITOR},page_view,2026-03-04T15:10:00Z,https://www.acmehvac.com/?utm_source=google"
        "&utm_medium=cpc&utm_campaign=spring,https://www.google.com/\n"
    ),
    # The Task names its lead by the 15-character Id, as a rep pasting it from a URL would.
    "tasks.csv": (
        "Id,CreatedDate,Type,WhoId,bizible2__BizibleId__c\n"
        f"{TASK[1]},2026-03-04T15:20:07.000Z,Inbound Call,{LEAD[0]},{VISITOR}\n"
    ),
    "leads.csv": (
        "Id,Email,CreatedDate,IsConverted,ConvertedContactId,ConvertedOpportunityId\n"
        f"{LEAD[1]},Jordan.Fiske@Example.com,2026-03-04T15:22:41.000Z,true,{CONTACT[0]},"
        f"{OPPORTUNITY[0]}\n"
    ),
    "contacts.csv": (
        "Id,Email,AccountId,CreatedDate\n"
        f"{CONTACT[1]},jordan.fiske@example.com,0015e00000AbCdEAAV,2026-03-05T09:00:00.000Z\n"
    ),
    "opportunities.csv": (
        "Id,AccountId,Name,Amount,CreatedDate,CloseDate,IsClosed,IsWon,StageName\n"
        f"{OPPORTUNITY[1]},0015e00000AbCdEAAV,AC install,4200,2026-03-05T09:05:00.000Z,"
        "2026-03-20,true,true,Closed Won\n"
    ),
    "roles.csv": (
        "Id,OpportunityId,ContactId,IsPrimary,Role\n"
        f"00K5e00000Rl9QaEAJ,{OPPORTUNITY[0]},{CONTACT[1]},true,Decision Maker\n"
    ),
}
KINDS = {
    "leads.csv": "leads",
    "contacts.csv": "contacts",
    "opportunities.csv": "opportunities",
    "roles.csv": "contact-roles",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("ids-world")
    (directory / "touchpoint.toml").write_text(f'[server]\ntoken = "{TOKEN}"\n')
    for name, text in FILES.items():
        (directory / name).write_text(text)

    def touchpoint(*args: str) -> None:
        done = run_touchpoint(directory, "-q", *args)
        assert done.code == 0, done.stderr

    touchpoint("import", "events", "events.csv")
    touchpoint("import", "calls", "tasks.csv", "--format", "salesforce-csv")
    for name, kind in KINDS.items():
        touchpoint("import", "crm", name, "--kind", kind)
    touchpoint("build")
    return directory


@pytest.fixture(scope="module")
def api(world: Path) -> Iterator[httpx.Client]:
    """The API of a real `touchpoint serve` over the world."""
    server = start(world)
    try:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
        ) as client:
            yield client
    finally:
        server.stop()


def cli_json(world: Path, *args: str) -> dict:
    done = run_touchpoint(world, *args, "--json")
    assert done.code == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("task_id", TASK)
def test_explain_call_takes_either_form_of_the_task_id(world, api, task_id):
    explained = cli_json(world, "explain", "call", task_id)
    assert explained["call_id"] == TASK[1]
    assert explained["outcome"] == "merged"
    answer = api.get(f"/api/calls/{task_id}/explanation")
    assert answer.status_code == 200, answer.text
    [call] = answer.json()["calls"]
    assert call["call_id"] == TASK[1]


@pytest.mark.parametrize(
    "key",
    [
        VISITOR,
        *LEAD,
        *CONTACT,
        *OPPORTUNITY,
        "jordan.fiske@example.com",
        "JORDAN.FISKE@example.com",
    ],
)
def test_a_person_is_found_by_any_of_their_ids_or_email(world, api, key):
    journey = cli_json(world, "report", "--person", key)["journeys"][0]
    assert journey["person_id"] == VISITOR
    assert TASK[1] in [t["call_id"] for t in journey["touchpoints"]]
    answer = api.get(f"/api/people/{key}/journey")
    assert answer.status_code == 200, answer.text
    assert answer.json()["person_id"] == VISITOR
    assert answer.json()["touchpoints"] == journey["touchpoints"]


@pytest.mark.parametrize("key", ["00Q5e00000Zz9Zz", "nobody@example.com", "not-an-id"])
def test_an_id_or_email_of_no_one_is_one_line_and_a_404(world, api, key):
    done = run_touchpoint(world, "report", "--person", key)
    assert done.code == 1
    assert done.stderr.strip() == f"error: no touchpoints for person {key!r} in the latest build"
    assert api.get(f"/api/people/{key}/journey").status_code == 404
