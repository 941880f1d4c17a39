"""`[salesforce.push] mapping`: which Salesforce objects and fields the push writes.

A mapping is a TOML file (the shipped `touchpoint` and `bizible2` ones in
`touchpoint/data/salesforce_mappings/`, or a user's own): a `[touchpoint]`
table for the record written per touchpoint of a known lead or contact, an
`[attribution]` table for the record per (touchpoint, opportunity), each with
its `object`, `external_id`, `[.links]` (our ids -> the org's lookup fields)
and `[.fields]` (our column -> the org's field, its type and limits), and
`[attribution.models]` (our model -> the org's percent and revenue fields).
Anything wrong is one line naming the file and the key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from touchpoint.errors import TouchpointError
from touchpoint.schema import TOUCHPOINT_COLUMNS
from touchpoint.stages.attribution import MODELS

SHIPPED = ("touchpoint", "bizible2")
# Our columns a mapping may send: the touchpoints table's and the CRM ids it links to.
COLUMNS = (*TOUCHPOINT_COLUMNS, "lead_id", "contact_id", "opportunity_id")
TEXT_TYPES = ("text", "textarea", "url", "picklist")
NUMBER_TYPES = ("number", "percent", "currency")
FIELD_TYPES = (*TEXT_TYPES, *NUMBER_TYPES, "datetime", "date", "checkbox")
LINKS = {
    "touchpoint": ("lead_id", "contact_id"),
    "attribution": ("lead_id", "contact_id", "opportunity_id", "touchpoint"),
}
_API_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_FIELD_KEYS = {"field", "type", "length", "precision", "scale", "values", "restricted"}


@dataclass(frozen=True)
class FieldSpec:
    """One of the org's fields and what it holds: the limits the value is fitted to."""

    column: str  # our column (or "<model> percent")
    field: str
    type: str
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    values: tuple[str, ...] = ()
    restricted: bool = True


@dataclass(frozen=True)
class ModelFields:
    model: str
    percent: FieldSpec | None
    revenue: FieldSpec | None


@dataclass(frozen=True)
class ObjectMapping:
    key: str  # "touchpoint" or "attribution"
    object: str
    external_id: str
    links: dict[str, str]
    fields: tuple[FieldSpec, ...]
    models: tuple[ModelFields, ...] = ()


@dataclass(frozen=True)
class Mapping:
    source: str  # the file, as the messages name it
    touchpoint: ObjectMapping
    attribution: ObjectMapping

    @property
    def objects(self) -> tuple[ObjectMapping, ObjectMapping]:
        """In the order they are written: touchpoints first (attribution looks them up)."""
        return (self.touchpoint, self.attribution)


def relationship(field: str) -> str:
    """The relationship name of a lookup field: `Touchpoint__c` -> `Touchpoint__r`.

    >>> relationship("bizible2__Bizible_Touchpoint__c"), relationship("WhoId")
    ('bizible2__Bizible_Touchpoint__r', 'Who')
    """
    if field.endswith("__c"):
        return field[:-3] + "__r"
    return field.removesuffix("Id")


def load_mapping(setting: str) -> Mapping:
    """The mapping `[salesforce.push] mapping` names, read and checked."""
    name = setting.strip()
    if name in SHIPPED:
        source = f"the shipped {name} mapping"
        try:
            text = (
                resources.files("touchpoint")
                .joinpath("data", "salesforce_mappings", f"{name}.toml")
                .read_text()
            )
        except OSError:
            raise TouchpointError(f"{source} is missing from this installation") from None
    else:
        path = Path(name).expanduser()
        source = str(path)
        if not name:
            raise TouchpointError(
                "[salesforce.push] mapping is empty: touchpoint, bizible2 or a TOML file's path"
            )
        try:
            text = path.read_text()
        except OSError as exc:
            raise TouchpointError(
                f"cannot read the [salesforce.push] mapping {path}: {exc.strerror} "
                f"(use {' or '.join(SHIPPED)}, or the path of a mapping TOML file)"
            ) from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TouchpointError(f"{source}: not TOML ({exc})") from None
    return parse_mapping(document, source)


def parse_mapping(document: dict[str, Any], source: str) -> Mapping:
    """A mapping from its TOML tables; one clear line for the first thing wrong."""
    _only(document, {"touchpoint", "attribution"}, source, "")
    return Mapping(
        source=source,
        touchpoint=_object(document, "touchpoint", source),
        attribution=_object(document, "attribution", source),
    )


def _object(document: dict[str, Any], key: str, source: str) -> ObjectMapping:
    table = document.get(key)
    if not isinstance(table, dict):
        raise TouchpointError(f"{source}: [{key}] is missing")
    allowed = {"object", "external_id", "links", "fields"} | (
        {"models"} if key == "attribution" else set()
    )
    _only(table, allowed, source, key)
    links = _table(table, "links", source, key)
    for link, field in links.items():
        if link not in LINKS[key]:
            raise TouchpointError(
                f"{source}: [{key}.links] {link}: not a link of this object "
                f"(links: {', '.join(LINKS[key])})"
            )
        _api_name(field, source, f"{key}.links.{link}")
    fields = []
    for column, spec in _table(table, "fields", source, key).items():
        if column not in COLUMNS:
            raise TouchpointError(
                f"{source}: [{key}.fields] {column}: not one of our columns "
                f"(columns: {', '.join(COLUMNS)})"
            )
        fields.append(_field(spec, column, source, f"{key}.fields.{column}"))
    models = []
    for model, spec in _table(table, "models", source, key).items():
        if model not in MODELS:
            raise TouchpointError(
                f"{source}: [{key}.models] {model}: not a model (models: {', '.join(MODELS)})"
            )
        where = f"{key}.models.{model}"
        if not isinstance(spec, dict):
            raise TouchpointError(f"{source}: [{where}] must be a table of percent and revenue")
        _only(spec, {"percent", "revenue"}, source, where)
        parts = {
            part: _field(spec[part], f"{model} {part}", source, f"{where}.{part}")
            for part in ("percent", "revenue")
            if part in spec
        }
        for part, found in parts.items():
            if found.type not in NUMBER_TYPES:
                raise TouchpointError(
                    f"{source}: [{where}.{part}] type {found.type!r}: a model's {part} needs "
                    f"one of {', '.join(NUMBER_TYPES)}"
                )
        models.append(ModelFields(model, parts.get("percent"), parts.get("revenue")))
    written = [f.field for f in fields] + list(links.values())
    written += [p.field for m in models for p in (m.percent, m.revenue) if p]
    twice = sorted({f for f in written if written.count(f) > 1})
    if twice:
        raise TouchpointError(f"{source}: [{key}] writes {twice[0]} twice")
    return ObjectMapping(
        key=key,
        object=_api_name(table.get("object"), source, f"{key}.object"),
        external_id=_api_name(table.get("external_id"), source, f"{key}.external_id"),
        links=dict(links),
        fields=tuple(fields),
        models=tuple(models),
    )


def _field(spec: Any, column: str, source: str, where: str) -> FieldSpec:
    if not isinstance(spec, dict):
        raise TouchpointError(
            f"{source}: {where} must be a table like {{ field = ..., type = ... }}"
        )
    _only(spec, _FIELD_KEYS, source, where)
    field = _api_name(spec.get("field"), source, f"{where}.field")
    kind = spec.get("type")
    if kind not in FIELD_TYPES:
        raise TouchpointError(
            f"{source}: [{where}] type {kind!r}: not a field type (types: {', '.join(FIELD_TYPES)})"
        )
    length = _whole(spec, "length", source, where, 1, 131_072)
    precision = _whole(spec, "precision", source, where, 1, 18)
    scale = _whole(spec, "scale", source, where, 0, 18)
    values = spec.get("values", [])
    restricted = spec.get("restricted", True)
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise TouchpointError(f"{source}: [{where}] values must be a list of texts")
    if not isinstance(restricted, bool):
        raise TouchpointError(f"{source}: [{where}] restricted must be true or false")
    if kind in ("text", "textarea", "url") and length is None:
        raise TouchpointError(f"{source}: [{where}] a {kind} field needs its length")
    if kind == "picklist" and not values:
        raise TouchpointError(f"{source}: [{where}] a picklist needs its values")
    if kind in NUMBER_TYPES:
        if precision is None or scale is None:
            raise TouchpointError(f"{source}: [{where}] a {kind} field needs precision and scale")
        if scale > precision:
            raise TouchpointError(f"{source}: [{where}] scale is larger than precision")
    return FieldSpec(
        column=column,
        field=field,
        type=kind,
        length=length if kind in TEXT_TYPES else None,
        precision=precision,
        scale=scale,
        values=tuple(values),
        restricted=restricted,
    )


def _whole(
    spec: dict[str, Any], key: str, source: str, where: str, low: int, high: int
) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TouchpointError(
            f"{source}: [{where}] {key} = {value!r}: a whole number from {low} to {high}"
        )
    return value


def _table(table: dict[str, Any], key: str, source: str, where: str) -> dict[str, Any]:
    value = table.get(key, {})
    if not isinstance(value, dict):
        raise TouchpointError(f"{source}: [{where}] {key} must be a table")
    return value


def _api_name(value: Any, source: str, where: str) -> str:
    if not isinstance(value, str) or not _API_NAME.fullmatch(value):
        raise TouchpointError(f"{source}: {where} = {value!r}: not a Salesforce API name")
    return value


def _only(table: dict[str, Any], allowed: set[str], source: str, where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        at = f"[{where}] " if where else ""
        raise TouchpointError(
            f"{source}: {at}{unknown[0]}: unknown key (known: {', '.join(sorted(allowed))})"
        )
