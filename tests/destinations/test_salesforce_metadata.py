"""touchpoint's Salesforce objects (salesforce/, DESIGN §14) and the shipped push mappings.

The XML is checked against the rule table tests/fixtures/salesforce/metadata_rules.toml
and the structure of Salesforce's own published samples (kept verbatim in
tests/fixtures/salesforce/metadata/, which must pass the same checks), and the
`touchpoint` mapping against the metadata. With the Salesforce CLI (`sf`) on the PATH,
it also converts the project. test_salesforce_mappings.py checks the mappings themselves.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]
PROJECT = ROOT / "salesforce"
SOURCE = PROJECT / "force-app" / "main" / "default"
FIXTURES = ROOT / "tests" / "fixtures" / "salesforce"
SAMPLES = FIXTURES / "metadata"
RULES = tomllib.loads((FIXTURES / "metadata_rules.toml").read_text())
NS = "{" + RULES["namespace"] + "}"
MAPPINGS = ROOT / "src" / "touchpoint" / "data" / "salesforce_mappings"
MARKETO_MEASURE_MODELS = {
    "first_touch",
    "lead_creation",
    "u_shaped",
    "w_shaped",
    "full_path",
    "custom",
}

OURS = sorted(PROJECT.rglob("*.xml"))
PUBLISHED = sorted(SAMPLES.rglob("*.xml"))


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def local(element: ET.Element) -> str:
    """An element's tag without its namespace."""
    return element.tag.removeprefix(NS)


def parse(path: Path) -> ET.Element:
    return ET.parse(path).getroot()


def value(element: ET.Element, tag: str) -> str | None:
    found = element.find(NS + tag)
    return None if found is None else (found.text or "")


def mapping(name: str) -> dict[str, Any]:
    return tomllib.loads((MAPPINGS / f"{name}.toml").read_text())


def objects() -> dict[str, ET.Element]:
    return {
        path.parent.name: parse(path)
        for path in sorted((SOURCE / "objects").glob("*/*.object-meta.xml"))
    }


def fields(object_name: str) -> dict[str, ET.Element]:
    folder = SOURCE / "objects" / object_name / "fields"
    return {path.name.split(".")[0]: parse(path) for path in sorted(folder.glob("*.xml"))}


def permission_set(name: str) -> ET.Element:
    return parse(SOURCE / "permissionsets" / f"{name}.permissionset-meta.xml")


def test_there_is_something_to_check() -> None:
    assert len(OURS) > 40 and len(PUBLISHED) >= 10
    assert set(objects()) == {"Touchpoint__c", "Attribution_Touchpoint__c"}


@pytest.mark.parametrize("path", OURS + PUBLISHED, ids=relative)
def test_every_file_is_metadata_with_its_required_elements(path: Path) -> None:
    root = parse(path)
    assert root.tag.startswith(NS), f"{relative(path)}: not in {RULES['namespace']}"
    kind = local(root)
    assert kind in RULES["required"], f"{relative(path)}: unexpected root {kind}"
    assert all(child.tag.startswith(NS) for child in root.iter())
    present = {local(child) for child in root}
    missing = set(RULES["required"][kind]) - present
    assert not missing, f"{relative(path)}: {kind} lacks {sorted(missing)}"
    if kind == "CustomField":
        field_type = value(root, "type") or ""
        needed = set(RULES["field_required"][field_type]) - present
        assert not needed, f"{relative(path)}: a {field_type} field lacks {sorted(needed)}"
        forbidden = set(RULES["field_forbidden"].get(field_type, ())) & present
        assert not forbidden, f"{relative(path)}: a {field_type} field has {sorted(forbidden)}"


def in_salesforce_order(element: ET.Element) -> bool:
    """fullName first, then the other elements alphabetically, at every level: how
    Salesforce writes source files (and the order of the Metadata API's schema)."""
    tags = [local(child) for child in element]
    rest = tags[1:] if tags[:1] == ["fullName"] else tags
    return rest == sorted(rest) and all(in_salesforce_order(child) for child in element)


@pytest.mark.parametrize("path", OURS + PUBLISHED, ids=relative)
def test_elements_are_in_the_order_salesforce_writes_them(path: Path) -> None:
    assert in_salesforce_order(parse(path)), relative(path)


@pytest.mark.parametrize("path", OURS, ids=relative)
def test_files_are_written_as_the_samples_are(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    assert text.endswith("\n") and "\t" not in text and "\r" not in text


def test_names_labels_and_limits() -> None:
    name = re.compile(r"^[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)*__c$")
    for object_name, definition in objects().items():
        assert name.match(object_name) and len(object_name) <= RULES["api_name_max"]
        for tag in ("label", "pluralLabel"):
            assert len(value(definition, tag) or "") <= RULES["label_max"], (object_name, tag)
        name_field = definition.find(NS + "nameField")
        assert name_field is not None and value(name_field, "type") == "AutoNumber"
        assert len(value(name_field, "label") or "") <= RULES["label_max"]
        for field_name, field in fields(object_name).items():
            where = f"{object_name}.{field_name}"
            assert value(field, "fullName") == field_name, where
            assert name.match(field_name) and len(field_name) <= RULES["api_name_max"], where
            assert 0 < len(value(field, "label") or "") <= RULES["label_max"], where
            kind = value(field, "type")
            if kind == "Text":
                assert 1 <= int(value(field, "length") or 0) <= RULES["text_max"], where
            if kind == "LongTextArea":
                length = int(value(field, "length") or 0)
                assert RULES["long_text_min"] <= length <= RULES["long_text_max"], where
            if kind in ("Number", "Percent", "Currency"):
                precision, scale = (
                    int(value(field, "precision") or 0),
                    int(value(field, "scale") or -1),
                )
                assert 1 <= precision <= RULES["number_precision_max"], where
                assert 0 <= scale <= precision, where


def test_each_object_has_a_unique_case_sensitive_external_id() -> None:
    for object_name in objects():
        external = {
            n: f for n, f in fields(object_name).items() if value(f, "externalId") == "true"
        }
        assert list(external) == ["Touchpoint_Id__c"], object_name
        key = external["Touchpoint_Id__c"]
        assert value(key, "type") == "Text" and value(key, "length") == "255"
        # Salesforce Ids in their 15-character form differ only in case.
        assert value(key, "unique") == "true" and value(key, "caseSensitive") == "true"


def test_relationship_names_are_unique_on_each_parent() -> None:
    seen: dict[tuple[str, str], str] = {}
    for object_name in objects():
        for field_name, field in fields(object_name).items():
            if value(field, "type") in ("Lookup", "MasterDetail"):
                key = (value(field, "referenceTo") or "", value(field, "relationshipName") or "")
                assert key not in seen, f"{object_name}.{field_name} and {seen[key]}"
                seen[key] = f"{object_name}.{field_name}"


def test_attribution_touchpoints_belong_to_their_opportunity() -> None:
    """Master-detail: deleting an opportunity deletes its attribution touchpoints, and
    their sharing is the opportunity's (revenue is as private as the deal)."""
    opportunity = fields("Attribution_Touchpoint__c")["Opportunity__c"]
    assert value(opportunity, "type") == "MasterDetail"
    assert value(opportunity, "referenceTo") == "Opportunity"
    assert value(opportunity, "reparentableMasterDetail") == "false"
    assert value(objects()["Attribution_Touchpoint__c"], "sharingModel") == "ControlledByParent"
    for field in fields("Touchpoint__c").values():
        if value(field, "type") == "Lookup":
            assert value(field, "deleteConstraint") == "SetNull"


def check_field(object_name: str, spec: dict[str, Any], where: str) -> None:
    """The mapping's field exists on the object with the same type and limits."""
    field = fields(object_name).get(spec["field"])
    assert field is not None, f"{where}: {object_name} has no {spec['field']}"
    assert value(field, "type") == RULES["mapping_types"][spec["type"]], where
    if spec["type"] in ("text", "textarea", "url"):
        assert int(value(field, "length") or 255) == spec["length"], where
    if spec["type"] in ("number", "percent", "currency"):
        assert int(value(field, "precision") or 0) == spec["precision"], where
        assert int(value(field, "scale") or 0) == spec["scale"], where


@pytest.mark.parametrize("section", ["touchpoint", "attribution"])
def test_the_touchpoint_mapping_names_exactly_the_metadata_fields(section: str) -> None:
    table = mapping("touchpoint")[section]
    object_name = table["object"]
    assert object_name in objects()
    named = {table["external_id"]}
    for link, field_name in table["links"].items():
        field = fields(object_name)[field_name]
        assert value(field, "type") in ("Lookup", "MasterDetail"), link
        assert value(field, "referenceTo") == RULES["link_targets"][link], link
        named.add(field_name)
    for column, spec in table["fields"].items():
        check_field(object_name, spec, f"{section}.fields.{column}")
        named.add(spec["field"])
    for model, specs in table.get("models", {}).items():
        for kind in ("percent", "revenue"):
            check_field(object_name, specs[kind], f"{section}.models.{model}.{kind}")
            named.add(specs[kind]["field"])
    assert named == set(fields(object_name)), "the mapping and the metadata differ"


def field_permissions(name: str) -> dict[str, tuple[str | None, str | None]]:
    return {
        value(grant, "field") or "": (value(grant, "readable"), value(grant, "editable"))
        for grant in permission_set(name).iter(NS + "fieldPermissions")
    }


def object_permissions(name: str) -> dict[str, dict[str, str]]:
    return {
        value(grant, "object") or "": {
            local(c): c.text or "" for c in grant if local(c) != "object"
        }
        for grant in permission_set(name).iter(NS + "objectPermissions")
    }


def all_fields() -> dict[str, ET.Element]:
    return {f"{o}.{n}": field for o in objects() for n, field in fields(o).items()}


@pytest.mark.parametrize(
    ("name", "editable"), [("Touchpoint_Push", "true"), ("Touchpoint_Reader", "false")]
)
def test_the_permission_sets_grant_every_field(name: str, editable: str) -> None:
    granted = field_permissions(name)
    for full_name, field in all_fields().items():
        if value(field, "type") == "MasterDetail" or value(field, "required") == "true":
            # Always readable and writable with the object; Salesforce refuses a grant.
            assert full_name not in granted, full_name
        else:
            assert granted.get(full_name) == ("true", editable), full_name
    assert set(granted) <= set(all_fields())


CRUD = {"allowCreate", "allowRead", "allowEdit", "allowDelete"}


def granted(grants: dict[str, str]) -> set[str]:
    return {permission for permission, on in grants.items() if on == "true"}


def test_the_push_user_may_write_and_delete_the_records() -> None:
    push = object_permissions("Touchpoint_Push")
    # Touchpoints: every record, whoever owns it. Attribution touchpoints: those of the
    # opportunities the user can read (their access is the opportunity's).
    assert granted(push["Touchpoint__c"]) == CRUD | {"viewAllRecords", "modifyAllRecords"}
    assert granted(push["Attribution_Touchpoint__c"]) == CRUD
    for standard in ("Lead", "Contact", "Opportunity"):  # what the lookups point at
        assert granted(push[standard]) == {"allowRead"}, standard
    reader = object_permissions("Touchpoint_Reader")
    assert set(reader) == set(objects()) | {"Opportunity"}
    assert all(granted(grants) == {"allowRead"} for grants in reader.values())


@pytest.mark.parametrize("name", ["Touchpoint_Push", "Touchpoint_Reader"])
def test_a_detail_objects_permissions_come_with_read_on_its_master(name: str) -> None:
    """Salesforce makes a detail object's permissions depend on its master's: a permission
    set granting one without the other does not deploy as written."""
    grants = object_permissions(name)
    for object_name in objects():
        for field in fields(object_name).values():
            if value(field, "type") == "MasterDetail" and object_name in grants:
                master = grants.get(value(field, "referenceTo") or "", {})
                assert master.get("allowRead") == "true", (name, object_name)
                for permission in ("viewAllRecords", "modifyAllRecords"):
                    if grants[object_name][permission] == "true":
                        assert master.get(permission) == "true", (name, object_name, permission)


def test_the_manifest_lists_every_component() -> None:
    package = parse(PROJECT / "manifest" / "package.xml")
    listed = {
        value(types, "name"): sorted(m.text or "" for m in types.iter(NS + "members"))
        for types in package.iter(NS + "types")
    }
    assert listed == {
        "CustomObject": sorted(objects()),
        "CustomField": sorted(all_fields()),
        "CustomTab": sorted(p.name.split(".")[0] for p in (SOURCE / "tabs").glob("*.xml")),
        "ListView": sorted(
            f"{p.parents[1].name}.{p.name.split('.')[0]}"
            for p in SOURCE.glob("objects/*/listViews/*.xml")
        ),
        "PermissionSet": sorted(
            p.name.split(".")[0] for p in (SOURCE / "permissionsets").glob("*.xml")
        ),
    }
    project = json.loads((PROJECT / "sfdx-project.json").read_text())
    assert value(package, "version") == project["sourceApiVersion"]


def test_the_project_file_is_shaped_as_salesforces_sample() -> None:
    ours = json.loads((PROJECT / "sfdx-project.json").read_text())
    sample = json.loads((SAMPLES / "ebikes-lwc" / "sfdx-project.json").read_text())
    assert set(sample) <= set(ours)
    assert [d["path"] for d in ours["packageDirectories"]] == ["force-app"]
    assert re.fullmatch(r"\d{2}\.0", ours["sourceApiVersion"])


def test_list_views_show_fields_that_exist() -> None:
    for path in SOURCE.glob("objects/*/listViews/*.xml"):
        known = set(fields(path.parents[1].name)) | {"NAME"}
        columns = {c.text for c in parse(path).iter(NS + "columns")}
        assert columns and columns <= known, relative(path)


@pytest.mark.skipif(shutil.which("sf") is None, reason="the Salesforce CLI (sf) is not installed")
def test_the_salesforce_cli_converts_the_project(tmp_path: Path) -> None:
    """`sf project convert source` reads the project as a deploy does (offline: no org),
    from the source folder and from the manifest, into Metadata API files."""
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "SF_DISABLE_TELEMETRY": "true",
        "SF_AUTOUPDATE_DISABLE": "true",
    }
    for how in (["--source-dir", "force-app"], ["--manifest", "manifest/package.xml"]):
        out = tmp_path / how[0].strip("-")
        done = subprocess.run(
            ["sf", "project", "convert", "source", *how, "--output-dir", str(out), "--json"],
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        for object_name in objects():
            converted = parse(out / "objects" / f"{object_name}.object")
            names = {value(f, "fullName") for f in converted.iter(NS + "fields")}
            assert names == set(fields(object_name)), object_name
            assert [value(v, "fullName") for v in converted.iter(NS + "listViews")] == ["All"]
        assert {p.name for p in (out / "permissionsets").iterdir()} == {
            "Touchpoint_Push.permissionset",
            "Touchpoint_Reader.permissionset",
        }
        assert value(parse(out / "package.xml"), "version") == "67.0"
