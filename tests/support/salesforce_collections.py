"""The local org's sObject Collections: upsert on an external id and delete by id.

`PATCH /services/data/vXX.X/composite/sobjects/{SObject}/{ExternalIdField}` with
`{"allOrNone": false, "records": [...]}` answers 200 and one result per record
in order: `{"id", "success", "errors", "created"}`, errors as
`{"statusCode", "message", "fields"}`. `DELETE
/services/data/vXX.X/composite/sobjects?ids=a,b&allOrNone=false` answers
`{"id", "success", "errors"}` per id. Both refuse more than 200 records
(`EXCEEDED_ID_LIMIT`, 400). Values are checked against the objects' describe:
the touchpoint objects as `salesforce/force-app` in this repository defines
them, Marketo Measure's `bizible2__` objects as
the shipped `bizible2` mapping declares them (Marketo Measure publishes its
fields' names, not their types and limits) (`STRING_TOO_LONG`, `INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST`,
`NUMBER_OUTSIDE_VALID_RANGE`, a lookup to a missing record
`INVALID_CROSS_REFERENCE_KEY`, a relationship's external id that matches
nothing `INVALID_FIELD` "Foreign key external ID: ... not found"). The shapes
follow Salesforce's REST API Developer Guide (tests/fixtures/salesforce/README.md).

`CollectionsState` holds the knobs: records to refuse with a code, rows locked
for a number of calls, whole calls failing with a status.
"""

from __future__ import annotations

import json
import re
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from support.paths import ROOT

if TYPE_CHECKING:
    from support.salesforce_server import SalesforceOrg

MAX_RECORDS = 200
METADATA = ROOT / "salesforce" / "force-app" / "main" / "default" / "objects"
BIZIBLE2 = ROOT / "src" / "touchpoint" / "data" / "salesforce_mappings" / "bizible2.toml"
_NS = {"m": "http://soap.sforce.com/2006/04/metadata"}
_PATH = re.compile(r"/services/data/v(\d+\.\d)/composite/sobjects(?:/(\w+)/(\w+))?")
TYPES = {  # metadata <type> -> describe type
    "Text": "string",
    "LongTextArea": "textarea",
    "TextArea": "textarea",
    "Url": "url",
    "Picklist": "picklist",
    "Number": "double",
    "Percent": "percent",
    "Currency": "currency",
    "DateTime": "datetime",
    "Date": "date",
    "Checkbox": "boolean",
    "Lookup": "reference",
    "MasterDetail": "reference",
}


@dataclass(frozen=True)
class Describe:
    """One field as the org describes it."""

    type: str
    label: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    values: tuple[str, ...] = ()
    restricted: bool = False
    reference_to: str | None = None
    external_id: bool = False
    required: bool = False


def _from_metadata(root: Path) -> dict[str, dict[str, Describe]]:
    objects: dict[str, dict[str, Describe]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        fields = objects.setdefault(folder.name, {})
        for path in sorted((folder / "fields").glob("*.field-meta.xml")):
            node = ET.parse(path).getroot()

            def text(tag: str, node: ET.Element = node) -> str | None:
                found = node.find(f"m:{tag}", _NS)
                return None if found is None else (found.text or "")

            values = tuple(
                v.text or "" for v in node.findall(".//m:valueSet//m:value/m:fullName", _NS)
            )
            kind = TYPES[text("type") or ""]
            fields[text("fullName") or path.name] = Describe(
                type=kind,
                label=text("label") or "",
                length=int(text("length") or 0) or None,
                precision=int(text("precision") or 0) or None,
                scale=int(text("scale") or 0) if text("scale") is not None else None,
                values=values,
                restricted=(text("valueSet/m:restricted") or "").strip() == "true",
                reference_to=text("referenceTo"),
                external_id=text("externalId") == "true",
                required=text("type") == "MasterDetail" or text("required") == "true",
            )
    return objects


MAPPING_TYPES = {"text": "string", "number": "double", "checkbox": "boolean"}
LOOKUPS = {"lead_id": "Lead", "contact_id": "Contact", "opportunity_id": "Opportunity"}


def _from_mapping(path: Path) -> dict[str, dict[str, Describe]]:
    """The objects a mapping writes, each field as the mapping declares it."""
    if not path.exists():
        return {}
    document = tomllib.loads(path.read_text())
    objects: dict[str, dict[str, Describe]] = {}
    for table in (document["touchpoint"], document["attribution"]):
        fields = objects.setdefault(table["object"], {})
        fields[table["external_id"]] = Describe("string", "External Id", 255, external_id=True)
        specs = list(table.get("fields", {}).values())
        specs += [p for m in table.get("models", {}).values() for p in m.values()]
        for spec in specs:
            fields[spec["field"]] = Describe(
                type=MAPPING_TYPES.get(spec["type"], spec["type"]),
                label=spec["field"],
                length=spec.get("length"),
                precision=spec.get("precision"),
                scale=spec.get("scale"),
                values=tuple(spec.get("values", ())),
                restricted=spec.get("restricted", True),
            )
        for link, name in table.get("links", {}).items():
            target = LOOKUPS.get(link, document["touchpoint"]["object"])
            fields[name] = Describe("reference", name, reference_to=target)
    return objects


CUSTOM: dict[str, dict[str, Describe]] = {**_from_metadata(METADATA), **_from_mapping(BIZIBLE2)}
KEY_PREFIXES = {sobject: f"a0{chr(65 + n)}" for n, sobject in enumerate(sorted(CUSTOM))}


def custom_schema() -> dict[str, set[str]]:
    """The custom objects' fields, for the org's SOQL reader."""
    common = {"Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp", "Name"}
    return {sobject: common | set(fields) for sobject, fields in CUSTOM.items()}


@dataclass
class CollectionsState:
    """Knobs on the org's collections: how it refuses and fails."""

    refuse: dict[str, tuple[str, str]] = field(default_factory=dict)  # external id -> (code, msg)
    locked: dict[str, int] = field(default_factory=dict)  # external id -> calls it stays locked
    fail_calls: list[int] = field(default_factory=list)  # statuses the next calls answer
    calls: list[tuple[str, str, int]] = field(default_factory=list)  # (method, sobject, records)


def route(method: str, path: str) -> re.Match[str] | None:
    match = _PATH.fullmatch(path)
    if match is None:
        return None
    upsert = match[2] is not None
    return match if (method == "PATCH" and upsert) or (method == "DELETE" and not upsert) else None


def answer(
    org: SalesforceOrg, match: re.Match[str], query: str, body: bytes
) -> tuple[int, Any, dict[str, str]]:
    """A collections call, after the org has checked the session and counted the call."""
    state = org.collections
    if state.fail_calls:
        status = state.fail_calls.pop(0)
        code = "SERVER_UNAVAILABLE" if status == 503 else "UNKNOWN_EXCEPTION"
        return status, [{"message": "try again later", "errorCode": code}], org._limit_header()
    if match[2] is None:
        ids = [i for i in (parse_qs(query).get("ids") or [""])[0].split(",") if i]
        return _delete(org, ids)
    try:
        request = json.loads(body)
    except ValueError:
        return _error(org, 400, "JSON_PARSER_ERROR", "The request body is not JSON")
    return _upsert(org, match[2], match[3], request)


def _error(
    org: SalesforceOrg, status: int, code: str, message: str
) -> tuple[int, Any, dict[str, str]]:
    return status, [{"message": message, "errorCode": code}], org._limit_header()


def _upsert(
    org: SalesforceOrg, sobject: str, external: str, request: Any
) -> tuple[int, Any, dict[str, str]]:
    describe = CUSTOM.get(sobject)
    if describe is None:
        return _error(org, 404, "NOT_FOUND", "The requested resource does not exist")
    if external not in describe or not describe[external].external_id:
        return _error(
            org,
            404,
            "NOT_FOUND",
            f"Provided external ID field does not exist or is not accessible: {external}",
        )
    records = request.get("records") if isinstance(request, dict) else None
    if not isinstance(records, list):
        return _error(org, 400, "JSON_PARSER_ERROR", "records is required")
    if len(records) > MAX_RECORDS:
        return _error(
            org,
            400,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        )
    for record in records:
        unknown = sorted(
            k
            for k in record
            if k != "attributes" and k not in describe and _relationship_field(describe, k) is None
        )
        if unknown:
            return _error(
                org,
                400,
                "INVALID_FIELD",
                f"No such column '{unknown[0]}' on sobject of type {sobject}",
            )
    org.collections.calls.append(("PATCH", sobject, len(records)))
    return (
        200,
        [_upsert_one(org, sobject, external, describe, r) for r in records],
        org._limit_header(),
    )


def _relationship_field(describe: dict[str, Describe], key: str) -> str | None:
    if not key.endswith("__r"):
        return None
    name = key[:-3] + "__c"
    return name if name in describe and describe[name].type == "reference" else None


def _upsert_one(
    org: SalesforceOrg,
    sobject: str,
    external: str,
    describe: dict[str, Describe],
    record: dict[str, Any],
) -> dict[str, Any]:
    key = record.get(external)
    if not key:
        return _failed("MISSING_ARGUMENT", f"{external} not specified", [])
    state = org.collections
    if state.locked.get(key, 0) > 0:
        state.locked[key] -= 1
        return _failed("UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record", [])
    if key in state.refuse:
        code, message = state.refuse[key]
        return _failed(code, message, [])
    values: dict[str, Any] = {}
    for name, value in record.items():
        if name == "attributes":
            continue
        target = _relationship_field(describe, name)
        if target is not None:
            parent = describe[target].reference_to or ""
            (parent_key, parent_value), *_ = value.items()
            found = _by_external(org, parent, parent_key, parent_value)
            if found is None:
                return _failed(
                    "INVALID_FIELD",
                    f"Foreign key external ID: {parent_value} not found for field {parent_key} "
                    f"in entity {parent}",
                    [],
                )
            values[target] = found["Id"]
            continue
        problem, kept = _checked(org, name, describe[name], value)
        if problem is not None:
            return {"success": False, "errors": [problem]}
        values[name] = kept
    missing = [n for n, d in describe.items() if d.required and values.get(n) is None]
    existing = _by_external(org, sobject, external, key)
    if existing is None and missing:
        return _failed(
            "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{missing[0]}]", missing
        )
    now = _sf_now(org)
    if existing is None:
        record_id = org.new_id(sobject)
        org.records[sobject][record_id] = {
            "Id": record_id,
            "IsDeleted": False,
            "CreatedDate": now,
            "LastModifiedDate": now,
            "SystemModstamp": now,
            **values,
        }
        return {"id": record_id, "success": True, "errors": [], "created": True}
    existing.update(values, LastModifiedDate=now, SystemModstamp=now)
    return {"id": existing["Id"], "success": True, "errors": [], "created": False}


def _checked(
    org: SalesforceOrg, name: str, spec: Describe, value: Any
) -> tuple[dict[str, Any] | None, Any]:
    """(an error, or None; the value as the org keeps it)."""
    if value is None:
        return None, None
    label = spec.label or name
    if spec.type in ("string", "textarea", "url", "picklist"):
        text = str(value)
        if spec.type == "picklist" and spec.restricted and text not in spec.values:
            return _error_of(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{label}: bad value for restricted picklist field: {text}",
                name,
            ), None
        if len(text) > (spec.length or 255):
            return _error_of(
                "STRING_TOO_LONG",
                f"{label}: data value too large: {text[:40]} (max length={spec.length or 255})",
                name,
            ), None
        return None, text
    if spec.type in ("double", "percent", "currency"):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            return _error_of(
                "INVALID_TYPE_ON_FIELD_IN_RECORD",
                f"{label}: value not of required type: {value}",
                name,
            ), None
        digits = (spec.precision or 18) - (spec.scale or 0)
        if abs(number) >= Decimal(10) ** digits:
            return _error_of(
                "NUMBER_OUTSIDE_VALID_RANGE",
                f"{label}: value outside of valid range on numeric field: {value}",
                name,
            ), None
        return None, float(round(number, spec.scale or 0))
    if spec.type == "reference":
        prefix = {"Lead": "00Q", "Contact": "003", "Opportunity": "006"}.get(
            spec.reference_to or ""
        )
        target = org.records.get(spec.reference_to or "", {})
        if not isinstance(value, str) or (prefix and not value.startswith(prefix)):
            return _error_of(
                "FIELD_INTEGRITY_EXCEPTION", f"{label}: id value of incorrect type: {value}", name
            ), None
        if value not in target or target[value]["IsDeleted"]:
            return _error_of(
                "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", name
            ), None
        return None, value
    if spec.type == "datetime":
        try:
            datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return _error_of(
                "INVALID_TYPE_ON_FIELD_IN_RECORD",
                f"{label}: value not of required type: {value}",
                name,
            ), None
        return None, str(value)
    return None, value


def _by_external(
    org: SalesforceOrg, sobject: str, field_name: str, value: Any
) -> dict[str, Any] | None:
    for record in org.records.get(sobject, {}).values():
        if not record["IsDeleted"] and record.get(field_name) == value:
            return record
    return None


def _delete(org: SalesforceOrg, ids: list[str]) -> tuple[int, Any, dict[str, str]]:
    if len(ids) > MAX_RECORDS:
        return _error(
            org,
            400,
            "EXCEEDED_ID_LIMIT",
            "record limit reached. cannot submit more than 200 records into this call",
        )
    org.collections.calls.append(("DELETE", "", len(ids)))
    results = []
    for record_id in ids:
        found = next((r[record_id] for r in org.records.values() if record_id in r), None)
        if not re.fullmatch(r"[A-Za-z0-9]{15}([A-Za-z0-9]{3})?", record_id):
            results.append(_failed("MALFORMED_ID", f"malformed id {record_id}", []))
        elif found is None or found["IsDeleted"]:
            results.append(_failed("ENTITY_IS_DELETED", "entity is deleted", []))
        else:
            found.update(IsDeleted=True, SystemModstamp=_sf_now(org))
            results.append({"id": record_id, "success": True, "errors": []})
    return 200, results, org._limit_header()


def _failed(code: str, message: str, fields: list[str]) -> dict[str, Any]:
    return {
        "success": False,
        "errors": [{"statusCode": code, "message": message, "fields": fields}],
    }


def _error_of(code: str, message: str, name: str) -> dict[str, Any]:
    return {"statusCode": code, "message": message, "fields": [name]}


def _sf_now(org: SalesforceOrg) -> str:
    from support.salesforce_server import sf_time

    return sf_time(org.tick())
