"""Which settings are secret is declared once, on the fields, and every reader obeys it."""

from __future__ import annotations

import json
import re

from touchpoint.config import (
    MASK,
    SECRET_SETTINGS,
    describe_settings,
    load_settings,
    masked_secrets,
    without_secrets,
)
from touchpoint.console import settings_json

CREDENTIAL_WORDS = re.compile(r"secret|token|password|session_id|key")


def _every_secret_set() -> dict[str, dict[str, str]]:
    flags: dict[str, dict[str, str]] = {}
    for name in SECRET_SETTINGS:
        section, key = name.split(".")
        flags.setdefault(section, {})[key] = f"value-of-{key}"
    return flags


def test_a_setting_named_like_a_credential_is_declared_secret() -> None:
    named = {name for name, _, _ in describe_settings() if CREDENTIAL_WORDS.search(name)}
    assert named == set(SECRET_SETTINGS)
    assert "server.token" in SECRET_SETTINGS and "salesforce.client_secret" in SECRET_SETTINGS


def test_settings_json_masks_exactly_the_secrets_that_are_set() -> None:
    settings = load_settings(None, **_every_secret_set())
    shown = json.loads(settings_json(settings))
    for name in SECRET_SETTINGS:
        section, key = name.split(".")
        assert shown[section][key] == MASK
    assert "value-of-" not in json.dumps(shown)
    unset = json.loads(settings_json(load_settings(None)))
    assert unset["server"]["token"] == "" and unset["site"]["currency"] == "USD"


def test_the_settings_kept_with_a_build_leave_the_secrets_out() -> None:
    dumped = load_settings(None, **_every_secret_set()).model_dump(mode="json")
    kept = without_secrets(dumped)
    for name in SECRET_SETTINGS:
        section, key = name.split(".")
        assert key not in kept[section]
    assert kept["merge"] == dumped["merge"] and kept["crm"] == dumped["crm"]
    assert masked_secrets(kept) == kept  # nothing left to mask
