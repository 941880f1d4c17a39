"""`touchpoint push salesforce` against the local org: what lands, what is sent again, what goes.

The org (support.salesforce_server with support.salesforce_collections) holds
leads, contacts, calls logged as Tasks and an opportunity; `sync salesforce`
and `build` run as users run them, once per module, and each test pushes from its
own copy of that store to its own copy of that org (support.salesforce_push).
The push engine runs in this process; the tests of what the command prints run
`touchpoint push salesforce`. What the org holds afterwards is read back through
simple-salesforce's query, as a report would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from support.salesforce_push import (
    ATTRIBUTION,
    TOUCHPOINT,
    World,
    built_world,
    org_records,
    pushed,
    pushed_cli,
    requests_after,
)
from support.salesforce_server import Tls, make_tls
from support.sync_setup import query
from touchpoint.config import load_settings
from touchpoint.sync.schedule import SyncSchedule


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def built(tls: Tls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Three leads and two contacts who each made a call; the contacts' won opportunity."""
    with built_world(tls, tmp_path_factory.mktemp("built")) as made:
        yield made


@pytest.fixture(scope="module")
def built_450(tls: Tls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The same with 445 more calls of the first lead: 450 touchpoints."""
    with built_world(tls, tmp_path_factory.mktemp("built-450"), calls=445) as made:
        yield made


@pytest.fixture
def world(built: World, tls: Tls, cli, workdir: Path) -> Iterator[World]:
    """This test's copy of the built store and of the org."""
    made = built.copy(tls, cli, workdir)
    yield made
    made.stop()


@pytest.fixture
def unbuilt(tls: Tls, cli, workdir: Path) -> Iterator[World]:
    """The same org, nothing synced or built yet."""
    made = World.start(tls, cli, workdir)
    yield made
    made.stop()


@pytest.fixture
def world_450(built_450: World, tls: Tls, cli, workdir: Path) -> Iterator[World]:
    made = built_450.copy(tls, cli, workdir)
    yield made
    made.stop()


def test_push_writes_each_known_persons_touchpoints_and_their_attribution(world: World) -> None:
    summary = pushed_cli(world)  # the command's --json summary
    by_object = {o["object"]: o for o in summary["objects"]}
    assert by_object[TOUCHPOINT]["created"] == 5
    assert by_object[ATTRIBUTION]["created"] == 2
    assert summary["stopped"] is None

    touchpoints = org_records(world.org, TOUCHPOINT)
    # One per call, linked to the lead or contact the Task names.
    links = {(r["Call_Id__c"], r["Lead__c"], r["Contact__c"]) for r in touchpoints}
    expected = {
        (task, who if who.startswith("00Q") else None, who if who.startswith("003") else None)
        for task, who in world.calls.items()
    }
    assert links == expected
    assert all(r["Touchpoint_Date__c"].endswith(".000+0000") for r in touchpoints)

    attribution = org_records(world.org, ATTRIBUTION)
    by_touchpoint = {r["Id"]: r for r in touchpoints}
    credited = {by_touchpoint[r["Touchpoint__c"]]["Contact__c"] for r in attribution}
    assert credited == set(world.contacts)
    assert {r["Opportunity__c"] for r in attribution} == {world.opportunity}
    assert sum(r["First_Touch_Percent__c"] for r in attribution) == pytest.approx(100)
    assert sum(r["Linear_Percent__c"] for r in attribution) == pytest.approx(100)
    assert sum(r["Linear_Revenue__c"] for r in attribution) == pytest.approx(1200.5)
    for record in attribution:
        touchpoint = by_touchpoint[record["Touchpoint__c"]]
        assert record["Touchpoint_Id__c"] == f"{touchpoint['Touchpoint_Id__c']}|{world.opportunity}"
        assert record["Contact__c"] == touchpoint["Contact__c"]


def test_a_second_push_sends_nothing_and_leaves_the_org_as_it_was(world: World) -> None:
    pushed(world)
    before = (
        world.org.current(TOUCHPOINT, ["Id", "LastModifiedDate"]),
        world.org.current(ATTRIBUTION, ["Id", "LastModifiedDate"]),
    )
    since = len(world.org.seen)
    again = pushed(world)
    assert world.org.seen[since:] == []  # not even a sign-in
    assert [(o["unchanged"], o["upserted"], o["deleted"]) for o in again["objects"]] == [
        (5, 0, 0),
        (2, 0, 0),
    ]
    after = (
        world.org.current(TOUCHPOINT, ["Id", "LastModifiedDate"]),
        world.org.current(ATTRIBUTION, ["Id", "LastModifiedDate"]),
    )
    assert after == before


def test_a_changed_record_is_sent_again_and_a_gone_one_deleted(world: World) -> None:
    pushed(world)
    first_contact = world.contacts[0]
    gone_task = next(t for t, who in world.calls.items() if who == first_contact)
    world.org.delete("Task", gone_task)  # the call's touchpoint and its credit go
    world.org.put("Opportunity", world.opportunity, Amount=2000.0)  # the other's credit changes
    world.sync_and_build()
    since = len(world.org.seen)
    summary = pushed(world)
    by_object = {o["object"]: o for o in summary["objects"]}
    assert (by_object[TOUCHPOINT]["deleted"], by_object[TOUCHPOINT]["upserted"]) == (1, 0)
    assert (by_object[ATTRIBUTION]["deleted"], by_object[ATTRIBUTION]["updated"]) == (1, 1)
    assert [(s.method, s.status) for s in requests_after(world.org, since)] == [
        ("PATCH", 200),
        ("DELETE", 200),
        ("DELETE", 200),
    ]
    touchpoints = org_records(world.org, TOUCHPOINT)
    assert gone_task not in {r["Call_Id__c"] for r in touchpoints}
    (attribution,) = org_records(world.org, ATTRIBUTION)
    assert attribution["Linear_Revenue__c"] == pytest.approx(2000.0)
    assert attribution["Contact__c"] == world.contacts[1]


def test_450_records_go_in_three_calls(world_450: World) -> None:
    world = world_450
    since = len(world.org.seen)
    summary = pushed(world)
    assert summary["objects"][0]["created"] == 450
    sizes = [n for method, sobject, n in world.org.collections.calls if sobject == TOUCHPOINT]
    assert sizes == [200, 200, 50]
    assert len(org_records(world.org, TOUCHPOINT)) == 450
    assert [s.method for s in requests_after(world.org, since)].count("PATCH") == 4  # and 1 credit


def test_a_record_the_org_refuses_is_a_reject_and_the_others_land(world: World) -> None:
    lead_call = next(task for task, who in world.calls.items() if who == world.leads[0])
    refused = world.touchpoint_of()[lead_call]
    world.org.collections.refuse[refused] = (
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "Touchpoints need an owner",
    )
    summary = pushed(world)
    touchpoint = summary["objects"][0]
    assert (touchpoint["created"], touchpoint["rejected"]) == (4, 1)
    assert refused not in {r["Touchpoint_Id__c"] for r in org_records(world.org, TOUCHPOINT)}
    rows = query(world.workdir, "SELECT source, reason FROM rejects WHERE kind = 'salesforce push'")
    assert rows == [
        (
            f"salesforce push:{TOUCHPOINT}/{refused}",
            "FIELD_CUSTOM_VALIDATION_EXCEPTION: Touchpoints need an owner",
        )
    ]
    # Once the org takes it, the next push writes it (a refused record is tried again).
    del world.org.collections.refuse[refused]
    again = pushed(world)
    assert again["objects"][0]["created"] == 1
    assert len(org_records(world.org, TOUCHPOINT)) == 5


def test_the_api_allowance_stops_the_push_and_the_next_one_finishes(world_450: World) -> None:
    world = world_450
    world.settings(api_limit_reserve=100)
    world.org.api_used = world.org.api_total - 100  # after one call, 99 are left
    done = world.cli("push", "salesforce")
    assert done.code == 0, done.stderr
    stopped = [line for line in done.stderr.splitlines() if "api_limit_reserve" in line]
    assert len(stopped) == 1
    assert "the next push resumes where this one ended" in stopped[0]
    assert len(org_records(world.org, TOUCHPOINT)) == 200
    world.org.api_used = 0
    summary = pushed(world)
    assert (summary["objects"][0]["created"], summary["objects"][0]["unchanged"]) == (250, 200)
    assert len(org_records(world.org, TOUCHPOINT)) == 450


def test_an_expired_session_signs_in_again(world: World) -> None:
    world.org.token_lifetime = 1  # every session lasts one call
    since = len(world.org.seen)
    summary = pushed(world)
    assert [o["upserted"] for o in summary["objects"]] == [5, 2]
    seen = world.org.seen[since:]
    expired = [s for s in seen if s.status == 401]
    grants = [s for s in seen if s.grant == "client_credentials" and s.status == 200]
    assert len(expired) == 1 and len(grants) == 2


def test_transient_failures_are_retried(world: World) -> None:
    world.org.collections.fail_calls = [503, 502]
    world.org.collections.locked[next(iter(world.touchpoint_of().values()))] = 1
    summary = pushed(world)
    assert [o["upserted"] for o in summary["objects"]] == [5, 2]
    statuses = [s.status for s in world.org.seen if s.method == "PATCH"]
    assert statuses == [503, 502, 200, 200, 200]  # the locked row went again on its own


def test_a_dry_run_sends_nothing_and_shows_what_would_go(world: World) -> None:
    since = len(world.org.seen)
    done = world.cli("push", "salesforce", "--dry-run")
    assert done.code == 0, done.stderr
    assert world.org.seen[since:] == []
    assert "dry run: nothing sent" in done.stderr
    assert "Touchpoint_Id__c" in done.stderr or "Touchpoint_Date__c" in done.stderr
    plan = json.loads(world.cli("push", "salesforce", "--dry-run", "--json").stdout)
    assert [(o["object"], o["to_upsert"]) for o in plan["objects"]] == [
        (TOUCHPOINT, 5),
        (ATTRIBUTION, 2),
    ]
    assert len(plan["objects"][0]["examples"]) == 3
    assert world.org.seen[since:] == []
    assert org_records(world.org, TOUCHPOINT) == []


def test_serve_pushes_after_its_scheduled_sync_and_build(unbuilt: World) -> None:
    world = unbuilt
    world.settings(push={"interval": "1h"})
    settings = load_settings(world.workdir / "touchpoint.toml")
    schedule = SyncSchedule(settings, timedelta(hours=1), lambda _line: None)
    first = schedule.run_once()
    assert "; Salesforce push: 7 upserted, 0 deleted, 0 rejected; next in 1h" in first
    assert len(org_records(world.org, TOUCHPOINT)) == 5
    second = schedule.run_once()  # within the push's interval: sync and build only
    assert "push" not in second and second.endswith("; next in 1h")


def test_an_erased_persons_records_leave_the_org_with_the_next_push(world: World) -> None:
    pushed(world)
    erased = world.cli("erase", "--email", "c1@example.com")
    assert erased.code == 0, erased.stderr
    world.sync_and_build()
    summary = pushed(world)
    assert [o["deleted"] for o in summary["objects"]] == [1, 1]
    assert world.contacts[0] not in {r["Contact__c"] for r in org_records(world.org, TOUCHPOINT)}
    assert world.contacts[0] not in {r["Contact__c"] for r in org_records(world.org, ATTRIBUTION)}


def test_a_touchpoint_deleted_by_hand_in_the_org_comes_back(world: World) -> None:
    pushed(world)
    credited = {r["Touchpoint__c"] for r in org_records(world.org, ATTRIBUTION)}
    gone = sorted(credited)[0]
    world.org.delete(TOUCHPOINT, gone)  # someone deleted it in Salesforce
    world.org.put("Opportunity", world.opportunity, Amount=2000.0)  # its credit changes
    world.sync_and_build()
    summary = pushed(world)
    assert [o["rejected"] for o in summary["objects"]] == [0, 1]
    assert "Foreign key external ID" in summary["rejects"][0]["reason"]
    healed = pushed(world)
    assert [(o["created"], o["updated"]) for o in healed["objects"]] == [(1, 0), (0, 1)]
    attribution = org_records(world.org, ATTRIBUTION)
    live = {r["Id"] for r in org_records(world.org, TOUCHPOINT)}
    assert len(live) == 5 and {r["Touchpoint__c"] for r in attribution} <= live
    assert sum(r["Linear_Revenue__c"] for r in attribution) == pytest.approx(2000.0)
