"""What the settings say about themselves: the rows of the docs' and the CLI's table,
and which settings are secret (marked `Credential` where they are declared)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from touchpoint.config.sections import Secret, Section
from touchpoint.config.settings import Settings
from touchpoint.config.sources import Origin

MASK = "•••"


def describe_settings() -> list[tuple[str, str, str]]:
    """(name, default, help) for every setting, in file order, for docs and the CLI."""
    rows: list[tuple[str, str, str]] = []
    for section_name, section_field in Settings.model_fields.items():
        annotation = section_field.annotation
        if isinstance(annotation, type) and issubclass(annotation, Section):
            defaults = annotation().model_dump(mode="json")
            for name, field in annotation.model_fields.items():
                rows.append(
                    (f"{section_name}.{name}", _toml_value(defaults[name]), field.description or "")
                )
        else:
            default = section_field.default
            rows.append((section_name, _toml_value(str(default)), section_field.description or ""))
    return rows


def settings_markdown() -> str:
    """Every setting as a Markdown table, for docs/configuration.md (`settings --markdown`)."""
    lines = ["| setting | default | what it does |", "|---|---|---|"]
    for name, default, description in describe_settings():
        section, _, key = name.partition(".")
        shown = f"`[{section}] {key}`" if key else f"`{section}`"
        lines.append(f"| {shown} | `{default}` | {description} |")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{ " + ", ".join(pairs) + " }"
    return str(value)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def _secret_paths(model: type[BaseModel], prefix: str) -> Iterator[str]:
    for name, field in model.model_fields.items():
        path = prefix + name
        if any(isinstance(marker, Secret) for marker in field.metadata):
            yield path
        elif isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from _secret_paths(field.annotation, path + ".")


# Every secret setting by its dotted name (`webhooks.ctm_secret`), in file order.
SECRET_SETTINGS: tuple[str, ...] = tuple(_secret_paths(Settings, ""))


def without_secrets(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Settings as `model_dump(mode="json")` gives them, without the secret ones."""
    return {
        name: without_secrets(value, f"{prefix}{name}.") if isinstance(value, dict) else value
        for name, value in values.items()
        if prefix + name not in SECRET_SETTINGS
    }


def masked_secrets(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Settings as `model_dump(mode="json")` gives them, each secret that is set as •••."""
    return {
        name: MASK
        if prefix + name in SECRET_SETTINGS and value
        else masked_secrets(value, f"{prefix}{name}.")
        if isinstance(value, dict)
        else value
        for name, value in values.items()
    }


def settings_in_force(
    settings: Settings, origins: dict[str, Origin]
) -> list[tuple[str, str, str, str, str]]:
    """(name, value in force, where it came from, default, help) for every setting, in file
    order; a secret that is set shows as •••."""
    now = settings.model_dump(mode="json")
    rows = []
    for name, default, description in describe_settings():
        value = now
        for part in name.split("."):
            value = value[part]
        if isinstance(value, dict):  # a nested section ([destinations.google-ads]): its secrets too
            value = masked_secrets(value, name + ".")
        shown = json.dumps(value) if not isinstance(value, str) else f'"{value}"'
        if name in SECRET_SETTINGS and value:
            shown = f'"{MASK}"'
        rows.append((name, shown, str(origins.get(name, Origin("default"))), default, description))
    return rows


def settings_document(settings: Settings, origins: dict[str, Origin]) -> dict[str, Any]:
    """The settings in force by section, secrets masked, and an `origins` object saying where
    each came from (`{"merge.window": {"from": "file", "where": "touchpoint.toml"}}`)."""
    document = masked_secrets(settings.model_dump(mode="json"))
    document["origins"] = {
        name: {"from": origin.kind, "where": origin.where} for name, origin in origins.items()
    }
    return document
