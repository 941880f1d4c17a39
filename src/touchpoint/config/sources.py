"""Where settings come from: the settings file, `TOUCHPOINT_*` variables and flags.

Each is read strictly: a variable that names no setting stops the command (with
the closest name), and a relative path in the file is read from the file's folder.
`origins` says, for every setting, which of them gave its value.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from touchpoint.config.sections import FileLocation
from touchpoint.errors import TouchpointError

PREFIX = "TOUCHPOINT_"
# Variables touchpoint reads that are not settings.
OTHER_VARIABLES = {
    "TOUCHPOINT_CONFIG": "the settings file",
    "TOUCHPOINT_DEBUG": "show the traceback of an unexpected error",
}


def _fields(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted name, field) of every setting, sections' fields and nested models' too."""
    for name, field in model.model_fields.items():
        yield prefix + name, field
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from _fields(field.annotation, f"{prefix}{name}.")


def setting_variables(model: type[BaseModel]) -> dict[str, str]:
    """Every `TOUCHPOINT_*` variable that sets something, to the dotted name it sets."""
    return {PREFIX + name.upper().replace(".", "__"): name for name, _ in _fields(model)}


def check_environment(model: type[BaseModel], environ: Mapping[str, str]) -> None:
    """Refuse a `TOUCHPOINT_*` variable that is no setting: a typo must not be ignored."""
    known = {**setting_variables(model), **OTHER_VARIABLES}
    for variable in sorted(environ):
        if variable.upper().startswith(PREFIX) and variable.upper() not in known:
            # Compared without the prefix, which every name shares.
            rest = [name.removeprefix(PREFIX) for name in known]
            close = difflib.get_close_matches(variable.upper()[len(PREFIX) :], rest, n=1)
            hint = f"; did you mean {PREFIX}{close[0]}?" if close else ""
            raise TouchpointError(
                f"unknown setting variable {variable}{hint} "
                f"(settings are {PREFIX}<SECTION>__<KEY>, two underscores)"
            )


def location_settings(model: type[BaseModel]) -> tuple[str, ...]:
    """The dotted names of the settings that name a file or folder."""
    return tuple(
        name
        for name, field in _fields(model)
        if any(isinstance(marker, FileLocation) for marker in field.metadata)
    )


def read_config_file(model: type[BaseModel], path: Path | None) -> dict[str, Any]:
    """The settings file's values, relative file and folder names read from its folder."""
    if path is None:
        return {}
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TouchpointError(f"settings file {path}: {exc}") from None
    for name in location_settings(model):
        *sections, key = name.split(".")
        holder: Any = values
        for section in sections:
            holder = holder.get(section) if isinstance(holder, dict) else None
        value = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            holder[key] = str(path.parent / value)
    return values


Kind = Literal["flag", "environment", "file", "default"]


@dataclass(frozen=True)
class Origin:
    """Where a setting's value came from, and its name there (a path, a variable, a flag)."""

    kind: Kind
    where: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.where}".strip()


def _given(values: Mapping[str, Any], name: str) -> bool:
    holder: Any = values
    for part in name.split("."):
        if not isinstance(holder, Mapping) or part not in holder:
            return False
        holder = holder[part]
    return True


def _variables_by_setting(model: type[BaseModel], environ: Mapping[str, str]) -> dict[str, str]:
    """The dotted names the environment sets, each with the variable that sets it."""
    by_name = {v.upper(): v for v in environ}
    given: dict[str, str] = {}
    for variable, name in setting_variables(model).items():
        if variable not in by_name:
            continue
        actual = by_name[variable]
        given[name] = actual
        # A whole section (or model) as JSON sets each of the keys it has.
        try:
            parsed = json.loads(environ[actual])
        except ValueError:
            continue
        if isinstance(parsed, dict):
            for key in parsed:
                given.setdefault(f"{name}.{key}", actual)
    return given


def origins(
    model: type[BaseModel],
    names: list[str],
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    file_values: Mapping[str, Any],
    path: Path | None,
) -> dict[str, Origin]:
    """For each dotted setting name: the flag, variable, file or default it came from."""
    variables = _variables_by_setting(model, environ)
    found: dict[str, Origin] = {}
    for name in names:
        if _given(flags, name):
            found[name] = Origin("flag", "--" + name.replace("_", "-") if "." not in name else "")
        elif name in variables:
            found[name] = Origin("environment", variables[name])
        elif any(v.startswith(name + ".") for v in variables):  # a key of a nested model
            variable = next(variables[v] for v in variables if v.startswith(name + "."))
            found[name] = Origin("environment", variable)
        elif _given(file_values, name):
            found[name] = Origin("file", str(path))
        else:
            found[name] = Origin("default")
    return found
