"""Settings: secrets declared once and obeyed everywhere; every source read strictly
(unknown variables, durations without a unit, time zones, paths from the file's folder);
where each value came from."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from touchpoint.config import (
    MASK,
    SECRET_SETTINGS,
    Origin,
    Settings,
    describe_settings,
    load_settings,
    masked_secrets,
    settings_origins,
    without_secrets,
)
from touchpoint.config.sources import check_environment, location_settings, setting_variables
from touchpoint.console import settings_json
from touchpoint.errors import TouchpointError

CREDENTIAL_WORDS = re.compile(r"secret|token|password|session_id|key")


def _every_secret_set() -> dict[str, Any]:
    flags: dict[str, Any] = {}
    for name in SECRET_SETTINGS:  # a nested section's too: destinations.google_ads.refresh_token
        *sections, key = name.split(".")
        holder = flags
        for section in sections:
            holder = holder.setdefault(section, {})
        holder[key] = f"value-of-{key}"
    return flags


def _holder(values: dict[str, Any], name: str) -> tuple[dict[str, Any], str]:
    """The dict holding a dotted setting's key, and the key."""
    *sections, key = name.split(".")
    for section in sections:
        values = values[section]
    return values, key


def test_a_setting_named_like_a_credential_is_declared_secret() -> None:
    named = {name for name, _, _ in describe_settings() if CREDENTIAL_WORDS.search(name)}
    assert named == {name for name in SECRET_SETTINGS if name.count(".") == 1}
    assert "server.token" in SECRET_SETTINGS and "salesforce.client_secret" in SECRET_SETTINGS


def test_settings_json_masks_exactly_the_secrets_that_are_set() -> None:
    settings = load_settings(None, **_every_secret_set())
    shown = json.loads(settings_json(settings, settings_origins(None, **_every_secret_set())))
    for name in SECRET_SETTINGS:
        holder, key = _holder(shown, name)
        assert holder[key] == MASK
    assert "value-of-" not in json.dumps(shown)
    unset = json.loads(settings_json(load_settings(None), settings_origins(None)))
    assert unset["server"]["token"] == "" and unset["site"]["currency"] == "USD"


def test_the_settings_kept_with_a_build_leave_the_secrets_out() -> None:
    dumped = load_settings(None, **_every_secret_set()).model_dump(mode="json")
    kept = without_secrets(dumped)
    for name in SECRET_SETTINGS:
        holder, key = _holder(kept, name)
        assert key not in holder
    assert kept["merge"] == dumped["merge"] and kept["crm"] == dumped["crm"]
    assert masked_secrets(kept) == kept  # nothing left to mask


# -- strict settings (DESIGN §11) ------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "closest"),
    [
        ("TOUCHPOINT_MERG__WINDOW", "TOUCHPOINT_MERGE__WINDOW"),  # misspelt section
        ("TOUCHPOINT_MERGE_WINDOW", "TOUCHPOINT_MERGE__WINDOW"),  # one underscore
        ("TOUCHPOINT_SITE__TIMEZON", "TOUCHPOINT_SITE__TIMEZONE"),  # misspelt key
        ("touchpoint_store__thread", "TOUCHPOINT_STORE__THREADS"),  # any case
    ],
)
def test_an_unknown_variable_stops_loading_and_names_the_closest(
    workdir, monkeypatch, variable, closest
):
    monkeypatch.setenv(variable, "1h")
    with pytest.raises(TouchpointError) as raised:
        load_settings(None)
    assert f"unknown setting variable {variable}; did you mean {closest}?" in str(raised.value)


def test_every_setting_has_a_variable_that_is_accepted(workdir, monkeypatch):
    variables = setting_variables(Settings)
    assert {
        "TOUCHPOINT_DB",
        "TOUCHPOINT_MERGE__WINDOW",
        "TOUCHPOINT_ATTRIBUTION__CUSTOM__FT",
    } <= set(variables)
    for name in ("TOUCHPOINT_CONFIG", "TOUCHPOINT_DEBUG", *variables):
        monkeypatch.setenv(name, "")
    check_environment(Settings, os.environ)  # raises on the first it does not know


@pytest.mark.parametrize(
    ("written", "seconds"), [('"45m"', 2700), ('"30s"', 30), ('"7d"', 604800), ('"1h30m"', 5400)]
)
def test_a_duration_with_a_unit_is_read(workdir, written, seconds):
    (workdir / "touchpoint.toml").write_text(f"[merge]\nwindow = {written}\n")
    assert load_settings(None).merge.window.total_seconds() == seconds


@pytest.mark.parametrize("written", ['"45"', "45", "45.5", '"0"'])
def test_a_duration_without_a_unit_is_an_error(workdir, written):
    (workdir / "touchpoint.toml").write_text(f"[merge]\nwindow = {written}\n")
    with pytest.raises(TouchpointError) as raised:
        load_settings(None)
    number = written.strip('"')
    assert str(raised.value).startswith(f"setting [merge] window: {number} has no unit: write")
    assert "(from file touchpoint.toml)" in str(raised.value)


def test_a_time_zone_is_checked_when_settings_load(workdir, monkeypatch):
    monkeypatch.setenv("TOUCHPOINT_SITE__TIMEZONE", "America/New_York")
    assert load_settings(None).site.timezone == "America/New_York"
    monkeypatch.setenv("TOUCHPOINT_SITE__TIMEZONE", "Europe/Pariss")
    with pytest.raises(TouchpointError) as raised:
        load_settings(None)
    assert str(raised.value) == (
        "setting [site] timezone: unknown time zone 'Europe/Pariss' (an IANA name like "
        "Europe/Berlin or America/New_York) (from environment TOUCHPOINT_SITE__TIMEZONE)"
    )


def test_relative_paths_in_a_settings_file_are_read_from_its_folder(workdir, monkeypatch):
    folder = workdir / "deploy"
    folder.mkdir()
    absolute = workdir / "elsewhere" / "rules.csv"
    (folder / "tp.toml").write_text(
        f'db = "data/tp.duckdb"\n[channels]\nrules = "rules.csv"\n'
        f'[collector]\nintake_dir = "{absolute.parent.as_posix()}"\n[spark]\nstaging_dir = ""\n'
    )
    settings = load_settings(folder / "tp.toml")
    assert settings.db == folder / "data" / "tp.duckdb"
    assert Path(settings.channels.rules) == folder / "rules.csv"
    assert Path(settings.collector.intake_dir) == absolute.parent  # absolute: as written
    assert settings.spark.staging_dir == ""  # empty keeps its meaning
    # Flags and variables are read from where the command runs, as always.
    monkeypatch.setenv("TOUCHPOINT_CHANNELS__RULES", "mine.csv")
    assert load_settings(folder / "tp.toml", db=Path("here.duckdb")).channels.rules == "mine.csv"
    assert load_settings(folder / "tp.toml", db=Path("here.duckdb")).db == Path("here.duckdb")
    assert set(location_settings(Settings)) >= {"db", "channels.rules", "collector.intake_dir"}


def test_origins_say_flag_environment_file_or_default(workdir, monkeypatch):
    (workdir / "touchpoint.toml").write_text(
        '[merge]\nwindow = "45m"\nanchor = "last_activity"\n[attribution.custom]\nft = 30\n'
        "middle = 2.5\n"
    )
    monkeypatch.setenv("TOUCHPOINT_MERGE__WINDOW", "1h")
    monkeypatch.setenv("TOUCHPOINT_SITE", '{"timezone": "Europe/Berlin"}')
    found = settings_origins(None, db=Path("x.duckdb"))
    assert found["db"] == Origin("flag", "--db")
    assert found["merge.window"] == Origin("environment", "TOUCHPOINT_MERGE__WINDOW")
    assert found["merge.anchor"] == Origin("file", "touchpoint.toml")
    assert found["attribution.custom"] == Origin("file", "touchpoint.toml")
    assert found["site.timezone"] == Origin("environment", "TOUCHPOINT_SITE")
    assert found["site.domains"] == Origin("default")
    assert set(found) == {name for name, _, _ in describe_settings()}
    settings = load_settings(None, db=Path("x.duckdb"))
    assert (
        settings.merge.window.total_seconds() == 3600 and settings.site.timezone == "Europe/Berlin"
    )


@pytest.mark.parametrize(
    ("toml", "line"),
    [
        (
            '[merge]\nwindo = "30m"\n',
            "setting [merge] windo: unknown setting; did you mean [merge] window?",
        ),
        ('[merg]\nwindow = "30m"\n', "setting merg: unknown setting; did you mean merge?"),
        ('[merge]\nzzzz = "30m"\n', "setting [merge] zzzz: unknown setting (from"),
    ],
)
def test_a_misspelt_key_in_the_file_names_the_closest(workdir, toml, line):
    (workdir / "touchpoint.toml").write_text(toml)
    with pytest.raises(TouchpointError) as raised:
        load_settings(None)
    assert str(raised.value).startswith(line)
