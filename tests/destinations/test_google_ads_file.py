"""`touchpoint export conversions --destination google-ads`: Google's upload file, byte for byte."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import run_touchpoint
from support.google_ads_server import build_world
from support.paths import FIXTURES

HERE = FIXTURES / "destinations"
GOLDEN = HERE / "google_ads"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("google-ads-file")
    build_world(directory, HERE / "world")
    shutil.copy(GOLDEN / "touchpoint.toml", directory / "touchpoint.toml")
    return directory


def test_the_upload_file_is_the_golden_file(world: Path) -> None:
    done = run_touchpoint(
        world, "export", "conversions", "--destination", "google-ads", "-o", "up.csv"
    )
    assert done.code == 0, done.stderr
    assert (world / "up.csv").read_bytes() == (GOLDEN / "expected-upload.csv").read_bytes()
    assert "wrote 4 conversions to up.csv" in done.stderr
    assert "3 conversions earned by iOS clicks" in done.stderr


def test_the_file_opens_with_googles_template_lines(world: Path) -> None:
    done = run_touchpoint(world, "export", "conversions", "--destination", "google-ads")
    assert done.code == 0, done.stderr
    head = (GOLDEN / "template-head.csv").read_text().splitlines()
    lines = done.stdout.splitlines()
    assert lines[:2] == head
    for line in lines[2:]:  # yyyy-mm-dd hh:mm:ss, no T, no offset
        time = line.rsplit(",", 3)[1]
        assert len(time) == 19 and time[10] == " " and time[4] == "-" and time[13] == ":"


def test_the_time_zone_setting_moves_every_time(world: Path) -> None:
    env = {"TOUCHPOINT_DESTINATIONS__GOOGLE_ADS__TIME_ZONE": "Europe/Berlin"}
    done = run_touchpoint(world, "export", "conversions", "--destination", "google-ads", env=env)
    assert done.code == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "Parameters:TimeZone=Europe/Berlin"
    # v1's lead: 11:00 UTC on 2 March is 12:00 in Berlin (06:00 in New York).
    assert 'G1-first,"Lead, qualified",2026-03-02 12:00:00,,' in lines


def test_an_action_without_a_name_sends_none_of_its_kind(world: Path) -> None:
    env = {"TOUCHPOINT_DESTINATIONS__GOOGLE_ADS__ACTIONS": '{"call": "Phone call"}'}
    done = run_touchpoint(world, "export", "conversions", "--destination", "google-ads", env=env)
    assert done.code == 0, done.stderr
    rows = done.stdout.splitlines()[2:]
    assert rows == ["G3-old,Phone call,2025-11-15 07:00:00,,"]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--destination", "bing"), "unknown destination 'bing'"),
        (("--destination", "salesforce"), "salesforce takes no upload file"),
        ((), "export conversions needs --destination"),
    ],
)
def test_a_wrong_destination_is_one_clear_line(
    world: Path, args: tuple[str, ...], said: str
) -> None:
    done = run_touchpoint(world, "export", "conversions", *args)
    assert done.code == 1
    assert said in done.stderr and done.stderr.strip().count("\n") == 0
