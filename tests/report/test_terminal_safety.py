"""Text from outside prints as text (DESIGN §16), from the real command line.

A visit whose `utm_source` and `utm_campaign` carry a clear-screen sequence, an
OSC 8 hyperlink, Rich markup (`[link=...]`, `[bold]`) and bidi controls, and a
Salesforce Task whose `Type` does the same, are imported and built; then
`touchpoint explain call` and `touchpoint report` run as processes. Their output
holds no raw ESC, BEL or bidi control, shows each one as a visible escape, and
prints the markup literally. With colours forced on (FORCE_COLOR, as on a
terminal) Rich's own styles are the only escape sequences, and none is a link.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.collector_server import clean_env
from touchpoint.report.safe_text import UNSAFE, visible

CLEAR = "\x1b[2J"
OSC8_LINK = "\x1b]8;;http://evil.example\x07click\x1b]8;;\x07"
RICH_LINK = "[link=http://evil.example]x[/link]"
SOURCE = f"news{CLEAR}{OSC8_LINK}{RICH_LINK}\u202eevil"
CAMPAIGN = f"spring{CLEAR}{OSC8_LINK}[bold]{RICH_LINK}\u2066"
TASK_TYPE = f"Call{OSC8_LINK}[red]x[/red]"
CALL_ID = "00T000000000001AAA"
RAW = ("\x1b", "\x07", "\u202e", "\u2066")


def run(directory: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "touchpoint", *args],
        cwd=directory,
        env=clean_env(COLUMNS="250", **env),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("terminal-safety")
    url = (
        "https://www.example.com/?utm_source="
        + quote(SOURCE, safe="")
        + "&utm_medium=email&utm_campaign="
        + quote(CAMPAIGN, safe="")
    )
    event = {
        "visitor_id": "v1",
        "type": "page_view",
        "occurred_at": "2026-03-04T12:17:00Z",
        "url": url,
        "title": f"Home{CLEAR}",
    }
    (directory / "events.ndjson").write_text(json.dumps(event) + "\n")
    with (directory / "tasks.csv").open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["Id", "CreatedDate", "Type", "Subject", "bizible2__BizibleId__c"])
        writer.writerow([CALL_ID, "2026-03-04T12:30:00.000+0000", TASK_TYPE, "call", "v1"])
    run(directory, "import", "events", "events.ndjson")
    run(directory, "import", "calls", "tasks.csv", "--format", "salesforce-csv")
    run(directory, "build", "--quiet")
    return directory


def assert_no_raw_controls(text: str) -> None:
    for raw in RAW:
        assert raw not in text, (raw, text[:2000])


def test_explain_call_shows_escapes_and_markup_as_text(world):
    done = run(world, "explain", "call", CALL_ID)
    assert_no_raw_controls(done.stdout + done.stderr)
    text = done.stdout
    # utm_source is lower-cased (DESIGN §3); its escapes are shown, its markup kept.
    assert "news\\x1b[2j\\x1b]8;;http://evil.example\\x07click\\x1b]8;;\\x07" in text
    assert RICH_LINK in text and "\\u202eevil" in text
    assert "Call\\x1b]8;;http://evil.example\\x07click" in text


def test_explain_call_json_keeps_the_values_in_escapes_that_read_back(world):
    done = run(world, "explain", "call", CALL_ID, "--json")
    assert_no_raw_controls(done.stdout)
    explained = json.loads(done.stdout)
    assert explained["session_source"] == SOURCE.lower()
    assert explained["activity_type"] == TASK_TYPE


def test_report_prints_campaigns_and_types_literally(world):
    done = run(world, "report")
    assert_no_raw_controls(done.stdout + done.stderr)
    assert "spring\\x1b[2J\\x1b]8;;http://evil.example\\x07click" in done.stdout
    assert f"[bold]{RICH_LINK}\\u2066" in done.stdout


def test_report_on_a_colour_terminal_has_only_rich_s_own_styles(world):
    done = run(world, "report", FORCE_COLOR="1")
    assert "\x1b[" in done.stdout  # colours are on: the test sees what a terminal gets
    for sequence in ("\x1b]", "\x1b[2J", "\x07", "\u202e", "\u2066"):
        assert sequence not in done.stdout, sequence
    assert RICH_LINK in done.stdout


def test_report_json_escapes_bidi_controls_and_keeps_the_data(world):
    done = run(world, "report", "--json")
    assert_no_raw_controls(done.stdout)
    assert CAMPAIGN in strings(json.loads(done.stdout))


def strings(value: object) -> set[str]:
    """Every string in a JSON document."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return set().union(*(strings(v) for v in value)) if value else set()
    return set()


@given(st.text())
def test_visible_text_holds_no_control_or_bidi_character(text):
    shown = visible(text)
    assert UNSAFE.search(shown) is None
    assert visible(shown) == shown
    assert visible(text, keep_newlines=True).split("\n") == [visible(p) for p in text.split("\n")]
