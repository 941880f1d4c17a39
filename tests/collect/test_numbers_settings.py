"""`[[numbers.pools]]` (DESIGN §15): numbers in E.164 for `[phone] default_region`, one pool
per number, and one clear line from the CLI for a bad pool."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from support.collector_server import clean_env
from touchpoint.config import Settings, load_settings
from touchpoint.errors import TouchpointError

POOLS = """
[[numbers.pools]]
name = "main"
numbers = ["(512) 555-0101", "+1 512 555 0102", "512.555.0103"]
replace = "512-555-0100"
fallback = "1-512-555-0199"

[[numbers.pools]]
name = "london"
numbers = ["+44 20 7946 0018"]
replace = "+44 20 7946 0000"
forward_to = "+44 20 7946 0001"
hold = "2h"
channels = ["Paid Search"]
"""


def _load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "touchpoint.toml"
    path.write_text(text)
    return load_settings(path)


def test_pools_are_read_with_every_number_in_e164(tmp_path: Path):
    settings = _load(tmp_path, POOLS)
    main, london = settings.numbers.pools
    assert main.numbers == ("+15125550101", "+15125550102", "+15125550103")
    assert (main.replace, main.fallback, main.forward_to) == (
        "+15125550100",
        "+15125550199",
        "+15125550100",  # empty forward_to: calls go to replace
    )
    assert london.forward_to == "+442079460001" and london.channels == ("Paid Search",)
    assert main.hold_or(settings.sessions.timeout) == timedelta(minutes=30)
    assert london.hold_or(settings.sessions.timeout) == timedelta(hours=2)
    assert settings.numbers.pool_for_number("+15125550102") is main
    assert settings.numbers.pool_for_number("+15125550199") is main  # the fallback
    assert settings.numbers.pool_for_number("+15125550100") is None  # replace is no pool call
    assert settings.numbers.pool_for_number("+442079460018") is london


def test_numbers_without_a_country_code_follow_the_default_region(tmp_path: Path):
    text = '[phone]\ndefault_region = "GB"\n[[numbers.pools]]\nname = "uk"\n'
    text += 'numbers = ["020 7946 0018"]\nreplace = "020 7946 0000"\n'
    (pool,) = _load(tmp_path, text).numbers.pools
    assert pool.numbers == ("+442079460018",) and pool.replace == "+442079460000"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("(512) 555-0101", "12"), "pool main: numbers '12' is not a phone number"),
        (('name = "london"', 'name = "main"'), "pool name 'main' is used by more than one pool"),
        (
            ("+44 20 7946 0018", "+1 512 555 0103"),
            "number +15125550103 is in pools main and london",
        ),
        (('"512.555.0103"', '"512.555.0102"'), "pool main: a number is listed twice in numbers"),
        (("1-512-555-0199", "512 555 0101"), "pool main: fallback '512 555 0101' is also in"),
        (('replace = "512-555-0100"', 'replace = "5125550101"'), "replace '5125550101' is also"),
        (('hold = "2h"', 'hold = "90"'), "90 has no unit"),
        (('hold = "2h"', 'hold = "0s"'), "must be longer than 0s"),
        (('hold = "2h"', 'hold = "4d"'), "hold 4d is longer than [collector] log_retention 3d"),
        (('name = "london"', 'name = "two words"'), "[numbers] pools.1.name"),
        (('replace = "+44 20 7946 0000"\n', ""), "[numbers] pools.1.replace: Field required"),
    ],
)
def test_a_bad_pool_is_one_clear_line(tmp_path: Path, change: tuple[str, str], message: str):
    assert change[0] in POOLS
    with pytest.raises(TouchpointError) as raised:
        _load(tmp_path, POOLS.replace(*change, 1))
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_the_cli_says_it_in_one_line_without_a_traceback(tmp_path: Path):
    (tmp_path / "touchpoint.toml").write_text(POOLS.replace("+44 20 7946 0018", "+15125550101"))
    done = subprocess.run(
        [sys.executable, "-m", "touchpoint", "settings"],
        cwd=tmp_path,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: setting numbers: number +15125550101 is in pools main and london: a number may "
        "be in one pool only (from touchpoint.toml or TOUCHPOINT_* variables)"
    ]
