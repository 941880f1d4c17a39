"""What `push salesforce` writes by its mapping: the shipped ones, a user's, the fitting of values.

The one-line errors go through the real CLI; what lands comes from the push engine
run in this process on each test's copy of a store synced and built once for the
module (support.salesforce_push); the fitting of values (`fit`) is checked on its
own for the limits Salesforce's field types have.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.paths import FIXTURES
from support.salesforce_collections import answer, route
from support.salesforce_push import World, built_world, org_records, pushed
from support.salesforce_server import Tls, make_tls
from touchpoint.destinations import DESTINATIONS
from touchpoint.destinations.salesforce_mapping import SHIPPED, FieldSpec, load_mapping
from touchpoint.destinations.salesforce_records import Records, Refused, fit

SHIPPED_TOUCHPOINT = (
    Path(__file__).parents[2]
    / "src"
    / "touchpoint"
    / "data"
    / "salesforce_mappings"
    / "touchpoint.toml"
)
BIZIBLE_TOUCHPOINT = "bizible2__Bizible_Touchpoint__c"
BIZIBLE_ATTRIBUTION = "bizible2__Bizible_Attribution_Touchpoint__c"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def built(tls: Tls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with built_world(tls, tmp_path_factory.mktemp("built")) as made:
        yield made


@pytest.fixture
def world(built: World, tls: Tls, cli, workdir: Path) -> Iterator[World]:
    """This test's copy of the built store and of the org."""
    made = built.copy(tls, cli, workdir)
    yield made
    made.stop()


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_mapping_loads(name: str) -> None:
    mapping = load_mapping(name)
    assert mapping.touchpoint.object and mapping.attribution.models


def test_the_bizible2_mapping_writes_marketo_measures_objects(world: World) -> None:
    world.settings(push={"mapping": "bizible2"})
    summary = pushed(world)
    by_object = {o["object"]: o for o in summary["objects"]}
    assert list(by_object) == [BIZIBLE_TOUCHPOINT, BIZIBLE_ATTRIBUTION]
    touchpoints = org_records(
        world.org, BIZIBLE_TOUCHPOINT, "Id, bizible2__UniqueId__c, bizible2__Contact__c"
    )
    # Buyer Touchpoint links contacts only: the leads' calls are not written.
    assert sorted(r["bizible2__Contact__c"] for r in touchpoints) == sorted(world.contacts)
    credits = org_records(
        world.org,
        BIZIBLE_ATTRIBUTION,
        "Id, bizible2__Opportunity__c, bizible2__Attribution_First_Touch__c, "
        "bizible2__Revenue_First_Touch__c",
    )
    assert {r["bizible2__Opportunity__c"] for r in credits} == {world.opportunity}
    assert sum(r["bizible2__Attribution_First_Touch__c"] for r in credits) == pytest.approx(100)
    assert sum(r["bizible2__Revenue_First_Touch__c"] for r in credits) == pytest.approx(1200.5)
    assert org_records(world.org, "Touchpoint__c") == []


def test_a_users_mapping_cuts_text_and_refuses_what_a_picklist_does_not_hold(
    world: World,
) -> None:
    mapping = world.workdir / "mine.toml"
    mapping.write_text(
        SHIPPED_TOUCHPOINT.read_text()
        .replace(
            'channel = { field = "Channel__c", type = "text", length = 255 }',
            'channel = { field = "Channel__c", type = "text", length = 3 }',
            1,
        )
        .replace(
            'call_id = { field = "Call_Id__c", type = "text", length = 255 }',
            'call_id = { field = "Call_Id__c", type = "picklist", values = ["none"] }',
            1,
        )
    )
    world.settings(push={"mapping": str(mapping)})
    summary = pushed(world)
    assert [o["rejected"] for o in summary["objects"]] == [5, 0]
    assert summary["rejects"][0]["reason"].startswith("call_id '00T")
    assert (
        "is not a value of the picklist Touchpoint__c.Call_Id__c (none)"
        in (summary["rejects"][0]["reason"])
    )
    assert "values of Touchpoint__c.Channel__c (3 characters) cut to fit the field" in " ".join(
        summary["notes"]
    )
    assert org_records(world.org, "Touchpoint__c") == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("channel = {", "chanel = {", "[touchpoint.fields] chanel: not one of our columns"),
        ("first_touch = {", "first_tuch = {", "[attribution.models] first_tuch: not a model"),
        ('type = "datetime"', 'type = "timestamp"', "type 'timestamp': not a field type"),
        ("length = 255", "length = 0", "length = 0: a whole number from 1 to 131072"),
    ],
)
def test_a_bad_mapping_is_one_line_naming_the_file_and_key(
    cli, workdir: Path, old: str, new: str, expected: str
) -> None:
    (workdir / "bad.toml").write_text(SHIPPED_TOUCHPOINT.read_text().replace(old, new, 1))
    (workdir / "touchpoint.toml").write_text('[salesforce.push]\nmapping = "bad.toml"\n')
    line = one_error_line(cli("push", "salesforce").stderr)
    assert line.startswith("error: bad.toml: ")
    assert expected in line


def test_the_command_names_what_it_knows(cli, workdir: Path) -> None:
    line = one_error_line(cli("push", "hubspot").stderr)
    known = ", ".join(d.name for d in DESTINATIONS)
    assert line == f"error: unknown destination 'hubspot'; known: {known}"
    assert "salesforce" in known
    (workdir / "touchpoint.toml").write_text('[salesforce.push]\nmapping = "nowhere.toml"\n')
    line = one_error_line(cli("push", "salesforce").stderr)
    assert line.startswith("error: cannot read the [salesforce.push] mapping nowhere.toml")
    (workdir / "touchpoint.toml").write_text("[salesforce.push]\nbatch_size = 201\n")
    assert "batch_size" in one_error_line(cli("push", "salesforce").stderr)
    (workdir / "touchpoint.toml").write_text("")
    line = one_error_line(cli("push", "salesforce").stderr)
    assert line.startswith("error: connect a Salesforce org first")
    line = one_error_line(cli("push", "salesforce", "--dry-run").stderr)
    assert "nothing has been built yet" in line


def test_the_org_answers_in_the_documented_shapes(world: World) -> None:
    pushed(world)
    documented_upsert = json.loads(
        (FIXTURES / "salesforce/collections-upsert-response.json").read_text()
    )
    documented_delete = json.loads(
        (FIXTURES / "salesforce/collections-delete-response.json").read_text()
    )
    upsert = route(
        "PATCH", "/services/data/v61.0/composite/sobjects/Touchpoint__c/Touchpoint_Id__c"
    )
    assert upsert is not None
    body = json.dumps(
        {
            "allOrNone": False,
            "records": [{"attributes": {"type": "Touchpoint__c"}, "Touchpoint_Id__c": "x"}],
        }
    )
    with world.org.lock:
        status, results, headers = answer(world.org, upsert, "", body.encode())
    assert status == 200 and set(results[0]) == set(documented_upsert[0])
    assert headers["Sforce-Limit-Info"].startswith("api-usage=")
    delete = route("DELETE", "/services/data/v61.0/composite/sobjects")
    assert delete is not None
    with world.org.lock:
        status, results, _headers = answer(
            world.org, delete, f"ids={results[0]['id']}&allOrNone=false", b""
        )
    assert status == 200 and set(results[0]) == set(documented_delete[0])


# -- fitting values to the org's fields -----------------------------------------------


def test_numbers_are_rounded_to_their_scale_and_refused_beyond_their_precision() -> None:
    percent = FieldSpec("first_touch percent", "P__c", "percent", precision=5, scale=2)
    out = Records()
    assert fit(percent, 33.333333, "X.P__c", out) == 33.33
    assert fit(percent, 66.666666, "X.P__c", out) == 66.67
    assert fit(percent, 999.994, "X.P__c", out) == 999.99
    with pytest.raises(Refused, match=r"beyond X\.P__c.s precision"):
        fit(percent, 999.995, "X.P__c", out)  # rounds to 1000.00: four digits before the point


def test_datetimes_go_as_salesforce_writes_them() -> None:
    spec = FieldSpec("touchpoint_date", "D__c", "datetime")
    assert fit(spec, datetime(2026, 3, 4, 20, 8, 0, 999999), "X.D__c", Records()) == (
        "2026-03-04T20:08:00.999+0000"
    )
    assert (
        fit(
            FieldSpec("touchpoint_date", "D__c", "date"), datetime(2026, 3, 4, 23, 0), "", Records()
        )
        == "2026-03-04"
    )


def test_an_unrestricted_picklist_takes_any_value() -> None:
    spec = FieldSpec(
        "channel", "C__c", "picklist", length=255, values=("Paid Search",), restricted=False
    )
    assert fit(spec, "Organic", "X.C__c", Records()) == "Organic"


@given(st.text(min_size=0, max_size=40), st.integers(min_value=1, max_value=20))
def test_text_is_cut_between_characters_to_its_length(text: str, length: int) -> None:
    out = Records()
    fitted = fit(FieldSpec("channel", "C__c", "text", length=length), text, "X.C__c", out)
    assert fitted == text[:length] and len(fitted) <= length
    assert out.cut.total() == (len(text) > length)


def test_a_field_the_org_lacks_stops_the_push_with_one_line(world: World) -> None:
    mapping = world.workdir / "mine.toml"
    mapping.write_text(SHIPPED_TOUCHPOINT.read_text().replace('"Medium__c"', '"Medium_Typo__c"', 1))
    world.settings(push={"mapping": str(mapping)})
    line = one_error_line(world.cli("push", "salesforce").stderr)
    assert "INVALID_FIELD: No such column 'Medium_Typo__c' on sobject of type Touchpoint__c" in line
    assert "(check [salesforce.push] mapping against the org's fields" in line
    assert "[salesforce] field settings" not in line
