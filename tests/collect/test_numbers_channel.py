"""The channel `POST /numbers` gives a visit is the build's: every GA4 case of the channels
fixture, a user's rules file, and a rules file that cannot be read stopping `serve`."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from support.collector_server import start
from support.paths import FIXTURES
from touchpoint.collect.numbers_channel import ChannelClassifier
from touchpoint.config import Settings

CASES: list[dict[str, Any]] = tomllib.loads(
    (FIXTURES / "channels" / "ga4_default_channel_group.toml").read_text()
)["case"]


@pytest.fixture(scope="module")
def classifiers() -> dict[tuple[tuple[str, Any], ...], ChannelClassifier]:
    """One classifier per distinct `[channels]` settings of the cases."""
    return {}


@pytest.mark.parametrize("case", CASES, ids=[case["title"] for case in CASES])
def test_every_ga4_case_gets_the_channel_the_build_gives(
    case: dict[str, Any], classifiers: dict[tuple[tuple[str, Any], ...], ChannelClassifier]
) -> None:
    key = tuple(sorted(case.get("settings", {}).items()))
    if key not in classifiers:
        settings = Settings(site={"domains": ["example.com"]}, channels=dict(key))
        classifiers[key] = ChannelClassifier(settings)
    assert classifiers[key].classify(case["url"], case["referrer"]) == case["channel"]


def test_a_users_rules_come_first_and_answers_are_kept_per_kind_of_visit(tmp_path: Path) -> None:
    rules = tmp_path / "channels.csv"
    rules.write_text(
        "channel,subchannel,campaign,medium,source,landing_page,referrer\n"
        "Partners,,,,,,*partner.example*\n"
        "Spring sale,,,,,*example.com/spring*,\n"
    )
    classifier = ChannelClassifier(Settings(channels={"rules": str(rules)}))
    assert (
        classifier.classify("https://example.com/", "https://www.partner.example/x") == "Partners"
    )
    assert classifier.classify("https://example.com/spring?x=1", None) == "Spring sale"
    assert (
        classifier.classify("https://example.com/", "https://www.google.com/") == "Organic Search"
    )
    # Not a page: no channel (the pool's channels then leave the visitor on `replace`).
    assert classifier.classify("not a url", None) is None
    assert classifier.classify(None, None) is None

    plain = ChannelClassifier(Settings())
    for n in range(5):  # a click id of its own on every ad click: one kind of visit
        assert plain.classify(f"https://example.com/?gclid=click{n}", None) == "Paid Search"
    assert len(plain._answers) == 1


def test_a_channel_rules_file_that_cannot_be_read_stops_serve(tmp_path: Path) -> None:
    (tmp_path / "touchpoint.toml").write_text(
        '[channels]\nrules = "missing.csv"\n[[numbers.pools]]\nname = "ads"\n'
        'numbers = ["+15125550111"]\nreplace = "+15125550100"\nchannels = ["Paid Search"]\n'
    )
    with pytest.raises(RuntimeError) as failed:
        start(tmp_path).stop()
    assert "channel rules" in str(failed.value) and "missing.csv" in str(failed.value)
    assert "Traceback" not in str(failed.value)
