"""A published build -> the Salesforce records a push writes, each fitted to its field.

A touchpoint record for every touchpoint of a person the CRM knows (a lead or
a contact joined by identity stitching, or a CRM-only person `sf:<id>`),
linked to the person's earliest lead and earliest contact; an attribution
record for every (touchpoint, opportunity) with each mapped model's percent
(weight x 100) and revenue. Values are fitted to the mapping's limits: text
cut to its length (a note says how often), numbers rounded to their scale and
refused beyond their precision, a value outside a restricted picklist refuses
the record (a reject with the reason), datetimes as Salesforce writes them.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import duckdb

from touchpoint.destinations.salesforce_mapping import (
    NUMBER_TYPES,
    TEXT_TYPES,
    FieldSpec,
    Mapping,
    ObjectMapping,
    relationship,
)
from touchpoint.schema import TOUCHPOINT_COLUMNS

SEPARATOR = "|"  # an attribution record's external id: touchpoint_id|opportunity_id

_PEOPLE_SQL = f"""
WITH crm AS (
    SELECT person_id, node_id AS crm_id FROM people WHERE node_kind = 'crm'
    UNION
    SELECT DISTINCT person_id, substr(person_id, 4) FROM touchpoints WHERE person_id LIKE 'sf:%'
),
lead_of AS (
    SELECT crm.person_id, arg_min(leads.id, (leads.created_us, leads.id)) AS lead_id
    FROM crm JOIN leads ON leads.id = crm.crm_id GROUP BY ALL
),
contact_of AS (
    SELECT crm.person_id, arg_min(contacts.id, (contacts.created_us, contacts.id)) AS contact_id
    FROM crm JOIN contacts ON contacts.id = crm.crm_id GROUP BY ALL
)
SELECT {", ".join(f"t.{c}" for c in TOUCHPOINT_COLUMNS)}, lead_of.lead_id, contact_of.contact_id
FROM touchpoints t
LEFT JOIN lead_of USING (person_id)
LEFT JOIN contact_of USING (person_id)
WHERE lead_of.lead_id IS NOT NULL OR contact_of.contact_id IS NOT NULL
ORDER BY t.touchpoint_id
"""
_ATTRIBUTION_SQL = """
SELECT touchpoint_id, conversion_id, model, weight, revenue FROM attribution
WHERE conversion_type = 'opportunity'
ORDER BY touchpoint_id, conversion_id, model
"""


class Refused(Exception):
    """A value the org's field cannot hold: the record is a reject for this reason."""


@dataclass(frozen=True)
class OutRecord:
    """One record to write: its object, external id, the fields sent and their hash."""

    object: str
    external_id: str
    body: dict[str, Any]  # field -> value, the external id and lookups included
    record_hash: str


@dataclass(frozen=True)
class LocalReject:
    object: str
    external_id: str
    record: str  # our row, as JSON
    reason: str


@dataclass
class Records:
    """What the build gives for the org, per object in the order it is written."""

    records: dict[str, list[OutRecord]] = field(default_factory=dict)
    rejects: list[LocalReject] = field(default_factory=list)
    cut: Counter[str] = field(default_factory=Counter)  # "Object.Field (n chars)" -> values cut

    def notes(self) -> list[str]:
        return [
            f"{count:,} values of {where} cut to fit the field" for where, count in self.cut.items()
        ]


def read_records(con: duckdb.DuckDBPyConnection, mapping: Mapping) -> Records:
    """Every record of both objects the snapshot on `con` gives."""
    out = Records()
    rows = _dicts(con, _PEOPLE_SQL)
    by_id = {row["touchpoint_id"]: row for row in rows}
    tp = mapping.touchpoint
    out.records[tp.object] = []
    written: set[str] = set()
    people_links = [link for link in tp.links if link in ("lead_id", "contact_id")]
    for row in rows:
        if people_links and all(row[link] is None for link in people_links):
            continue  # a lead's touchpoint where the object links contacts only
        made = _record(tp, row, row["touchpoint_id"], {}, out)
        if made is not None:
            out.records[tp.object].append(made)
            written.add(row["touchpoint_id"])
    at = mapping.attribution
    out.records[at.object] = []
    credits: dict[tuple[str, str], dict[str, tuple[float, float | None]]] = {}
    for touchpoint_id, opportunity_id, model, weight, revenue in con.execute(
        _ATTRIBUTION_SQL
    ).fetchall():
        if touchpoint_id in written:  # its lookup needs the touchpoint record in the org
            credits.setdefault((touchpoint_id, opportunity_id), {})[model] = (weight, revenue)
    for (touchpoint_id, opportunity_id), models in credits.items():
        row = {**by_id[touchpoint_id], "opportunity_id": opportunity_id}
        external_id = f"{touchpoint_id}{SEPARATOR}{opportunity_id}"
        made = _record(at, row, external_id, models, out, tp)
        if made is not None:
            out.records[at.object].append(made)
    return out


def _record(
    obj: ObjectMapping,
    row: dict[str, Any],
    external_id: str,
    models: dict[str, tuple[float, float | None]],
    out: Records,
    touchpoint: ObjectMapping | None = None,
) -> OutRecord | None:
    body: dict[str, Any] = {obj.external_id: external_id}
    try:
        for link, target in obj.links.items():
            if link == "touchpoint":
                assert touchpoint is not None
                body[relationship(target)] = {touchpoint.external_id: row["touchpoint_id"]}
            else:
                body[target] = row.get(link)
        for spec in obj.fields:
            body[spec.field] = fit(spec, row.get(spec.column), f"{obj.object}.{spec.field}", out)
        for model in obj.models:
            weight, revenue = models.get(model.model, (0.0, 0.0))
            if model.percent is not None:
                where = f"{obj.object}.{model.percent.field}"
                body[model.percent.field] = fit(model.percent, weight * 100, where, out)
            if model.revenue is not None:
                where = f"{obj.object}.{model.revenue.field}"
                body[model.revenue.field] = fit(model.revenue, revenue, where, out)
    except Refused as exc:
        record = json.dumps({"object": obj.object, **row}, default=str, sort_keys=True)
        out.rejects.append(LocalReject(obj.object, external_id, record, str(exc)))
        return None
    text = json.dumps([obj.object, body], sort_keys=True, separators=(",", ":"))
    return OutRecord(obj.object, external_id, body, hashlib.sha256(text.encode()).hexdigest())


def fit(spec: FieldSpec, value: Any, where: str, out: Records) -> Any:
    """`value` as the org's field holds it, or `Refused` when it cannot."""
    if value is None:
        return None
    kind = spec.type
    if kind in TEXT_TYPES:
        text = str(value)
        if kind == "picklist" and spec.restricted and text not in spec.values:
            raise Refused(
                f"{spec.column} {text!r} is not a value of the picklist {where} "
                f"({', '.join(spec.values)})"
            )
        limit = spec.length or 255
        if len(text) > limit:
            out.cut[f"{where} ({limit:,} characters)"] += 1
            text = text[:limit]  # Python cuts between characters, never inside one
        return text
    if kind in NUMBER_TYPES:
        return _number(spec, value, where)
    if kind == "checkbox":
        return bool(value)
    if kind == "date":
        return value.date().isoformat() if isinstance(value, datetime) else str(value)[:10]
    return sf_datetime(value)


def _number(spec: FieldSpec, value: Any, where: str) -> float:
    assert spec.precision is not None and spec.scale is not None
    try:
        number = Decimal(str(value))
        rounded = number.quantize(Decimal(1).scaleb(-spec.scale), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        raise Refused(f"{spec.column} {value!r} is not a number for {where}") from None
    digits = spec.precision - spec.scale
    if abs(rounded) >= Decimal(10) ** digits:
        raise Refused(
            f"{spec.column} {value} is beyond {where}'s precision "
            f"({digits} digits before the point)"
        )
    return float(rounded)


def sf_datetime(value: Any) -> str:
    """A UTC datetime as Salesforce writes one: `2026-03-04T20:21:30.000+0000`.

    >>> sf_datetime(datetime(2026, 3, 4, 20, 21, 30, 123456))
    '2026-03-04T20:21:30.123+0000'
    """
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
    if isinstance(value, date):
        return value.isoformat() + "T00:00:00.000+0000"
    return str(value)


def _dicts(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
