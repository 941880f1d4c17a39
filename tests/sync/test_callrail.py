"""`touchpoint sync callrail` against a local CallRail API v3 speaking its wire format.

The API (tests/support/callrail_server.py) is a real HTTP server on 127.0.0.1;
the command runs as users run it, in a subprocess, except where a test needs
to see the pauses (then `sync_calls` runs in the test with a `sleep` that
records them). Assertions look at what the API was asked and at the store.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from support.callrail_server import (
    ACCOUNT,
    API_KEY,
    DOCS_PAGE,
    CallRailApi,
    call_of_webhook,
    docs_call,
)
from support.paths import VENDOR_FIXTURES
from support.sync_setup import query, write_settings
from touchpoint.config import load_settings
from touchpoint.sync.callrail import PER_PAGE
from touchpoint.sync.feeds import CALL_FEEDS
from touchpoint.sync.schedule import SOURCES, SyncSchedule
from touchpoint.sync.vendor_api import ATTEMPTS, MAX_WAIT_S
from touchpoint.sync.vendor_calls import sync_calls

FEED = CALL_FEEDS["callrail"]
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CALLS = 2 * PER_PAGE + 3  # three pages


def start_time(n: int) -> str:
    """CallRail's way of writing a time: the company's offset, milliseconds."""
    moment = (START + timedelta(minutes=7 * n)).astimezone(timezone(timedelta(hours=-5)))
    return moment.isoformat(timespec="milliseconds")


@pytest.fixture
def api():
    server = CallRailApi()
    for n in range(CALLS):
        server.add(docs_call(n, start_time(n)))
    server.start()
    yield server
    server.stop()
    assert server.errors == []


def configure(workdir: Path, api: CallRailApi, **callrail: Any) -> Path:
    values = {"api_key": API_KEY, "account_id": ACCOUNT, "base_url": api.base_url, **callrail}
    return write_settings(workdir, "callrail", values)


def watermark(workdir: Path) -> str | None:
    rows = query(workdir, f"SELECT value FROM checkpoints WHERE name = '{FEED.checkpoint}'")
    return rows[0][0] if rows else None


def newest_start(calls: list[dict[str, Any]]) -> str:
    """The newest start_time, as the watermark keeps it (UTC, whole seconds)."""
    newest = max(datetime.fromisoformat(c["start_time"]) for c in calls)
    return newest.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_first_sync_pages_through_every_call(cli, workdir: Path, api: CallRailApi) -> None:
    configure(workdir, api)
    done = cli("sync", "callrail", "--json")
    assert done.code == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["read"], summary["new"], summary["pages"]) == (CALLS, CALLS, 3)
    asked = api.calls_requests()
    assert [q["page"] for q in asked] == ["1", "2", "3"]
    assert {q["per_page"] for q in asked} == {str(PER_PAGE)}
    assert {(q["sort"], q["order"], q.get("date_range")) for q in asked} == {
        ("start_time", "asc", "all_time")
    }
    assert {"source", "utm_source", "gclid", "landing_page_url", "custom_fields"} <= set(
        asked[0]["fields"].split(",")
    )
    stored = query(
        workdir, "SELECT DISTINCT call_id FROM raw_calls WHERE source_system = 'callrail'"
    )
    assert {r[0] for r in stored} == {c["id"] for c in api.calls}
    assert watermark(workdir) == summary["watermark"] == newest_start(api.calls)


def test_the_documented_page_is_read_by_the_vendor_parser(
    cli, workdir: Path, api: CallRailApi
) -> None:
    api.calls[:] = []
    for call in DOCS_PAGE["calls"]:
        api.add(dict(call))
    configure(workdir, api)
    assert cli("sync", "callrail").code == 0
    rows = query(
        workdir,
        "SELECT call_id, called_at, caller_number, tracking_number, duration_s, call_type "
        "FROM raw_calls ORDER BY called_at",
    )
    # The documentation's two calls share its one placeholder id: two versions of one call.
    assert rows == [
        (
            "CAL8154748ae6bd4e278a7cddd38a662f4f",
            datetime(2017, 1, 24, 16, 27, 48, 119000),
            "+13036231131",
            "+13038163491",
            60,
            "inbound",
        ),
        (
            "CAL8154748ae6bd4e278a7cddd38a662f4f",
            datetime(2017, 1, 25, 0, 50, 3, 456000),
            "+17064558047",
            "+17708243899",
            120,
            "inbound",
        ),
    ]
    assert cli("build").code == 0
    calls = cli("export", "calls", "--format", "json")
    assert [json.loads(line)["call_id"] for line in calls.stdout.splitlines()] == [
        "CAL8154748ae6bd4e278a7cddd38a662f4f"
    ]


def test_a_second_sync_asks_from_the_watermark_and_lands_nothing_new(
    cli, workdir: Path, api: CallRailApi
) -> None:
    configure(workdir, api)
    assert cli("sync", "callrail").code == 0
    first_watermark = watermark(workdir)
    again = cli("sync", "callrail", "--json")
    assert again.code == 0, again.stderr
    summary = json.loads(again.stdout)
    asked = api.calls_requests()[-1]
    assert asked["start_date"] == first_watermark and "date_range" not in asked
    # Only the newest call started at the watermark; it comes again and is already there.
    assert (summary["read"], summary["new"], summary["already_present"]) == (1, 0, 1)
    assert summary["since"] == summary["watermark"] == first_watermark
    later = api.add(docs_call(CALLS, start_time(CALLS + 1)))
    third = json.loads(cli("sync", "callrail", "--json").stdout)
    assert (third["read"], third["new"]) == (2, 1)
    assert watermark(workdir) == newest_start([later])
    assert query(workdir, "SELECT count(*) FROM raw_calls") == [(CALLS + 1,)]


def test_rate_limited_answers_wait_as_retry_after_says(workdir: Path, api: CallRailApi) -> None:
    settings = load_settings(configure(workdir, api))
    api.fail(429, retry_after="7")
    api.fail(429, retry_after="100000")  # bounded: no sync waits a day
    waits: list[float] = []
    result = sync_calls(settings, FEED, sleep=waits.append)
    assert waits == [7.0, MAX_WAIT_S]
    assert result.waited == waits
    assert result.new == CALLS
    assert [s.status for s in api.seen[:3]] == [429, 429, 200]


def test_server_errors_are_retried_with_a_growing_pause(workdir: Path, api: CallRailApi) -> None:
    settings = load_settings(configure(workdir, api))
    api.fail(503, times=2)
    waits: list[float] = []
    result = sync_calls(settings, FEED, sleep=waits.append)
    assert len(waits) == 2 and 0 < waits[0] < waits[1]
    assert result.new == CALLS


def test_a_failure_between_pages_resumes_after_the_last_stored_page(
    cli, workdir: Path, api: CallRailApi
) -> None:
    settings = load_settings(configure(workdir, api))
    pages: list[int] = []

    def break_after_the_first_page(_what: str, done: int, _total: int) -> None:
        pages.append(done)
        if len(pages) == 1:
            api.fail(500, times=ATTEMPTS)

    with pytest.raises(Exception, match=r"CallRail answered 500.*gave up after \d+ attempts"):
        sync_calls(settings, FEED, on_page=break_after_the_first_page, sleep=lambda _s: None)
    first_page = sorted(api.calls, key=lambda c: c["start_time"])[:PER_PAGE]
    assert watermark(workdir) == newest_start(first_page)
    assert query(workdir, "SELECT count(*) FROM raw_calls") == [(PER_PAGE,)]
    done = json.loads(cli("sync", "callrail", "--json").stdout)
    assert api.calls_requests()[-1]["start_date"] == newest_start(first_page)
    assert done["new"] == CALLS - PER_PAGE and done["already_present"] == 1
    assert query(workdir, "SELECT count(DISTINCT call_id) FROM raw_calls") == [(CALLS,)]


def test_a_refused_key_is_one_line_naming_the_setting(cli, workdir: Path, api: CallRailApi) -> None:
    configure(workdir, api, api_key="not-the-key-4a7f")
    done = cli("sync", "callrail")
    assert done.code == 1
    line = one_error_line(done.stderr)
    assert "CallRail refused the credentials (401" in line
    assert "[callrail] api_key" in line
    assert "not-the-key-4a7f" not in done.stderr + done.stdout
    configure(workdir, api, account_id="ACC0000")
    assert "check [callrail] api_key and account_id" in one_error_line(
        cli("sync", "callrail").stderr
    )


def test_missing_settings_are_one_line(cli, workdir: Path) -> None:
    done = cli("sync", "callrail")
    assert done.code == 1
    assert "set [callrail] api_key" in one_error_line(done.stderr)


def test_a_call_by_webhook_and_by_api_is_one_call(cli, workdir: Path, api: CallRailApi) -> None:
    webhook = json.loads((VENDOR_FIXTURES / "callrail-post-call.json").read_text())
    (workdir / "post-call.json").write_text(json.dumps(webhook))
    assert cli("import", "calls", "post-call.json", "--format", "callrail").code == 0
    api.calls[:] = []
    api.add(call_of_webhook(webhook))
    configure(workdir, api)
    assert json.loads(cli("sync", "callrail", "--json").stdout)["new"] == 1
    assert cli("build").code == 0
    calls = [
        json.loads(line) for line in cli("export", "calls", "--format", "json").stdout.splitlines()
    ]
    assert [(c["source_system"], c["call_id"]) for c in calls] == [
        ("callrail", webhook["resource_id"])
    ]
    assert calls[0]["visitor_id"] == webhook["custom_fields"]["tp_uid"]


def test_the_schedule_syncs_callrail_and_builds(workdir: Path, api: CallRailApi) -> None:
    from support.collector_server import wait_for

    settings = load_settings(configure(workdir, api, interval="1h"))
    source = next(s for s in SOURCES if s.section == "callrail")
    lines: list[str] = []
    schedule = SyncSchedule(settings, timedelta(hours=1), lines.append, source)
    schedule.start()
    try:
        wait_for(lambda: lines, timeout=120, every=0.05)
    finally:
        schedule.stop()
    assert lines[0].startswith(f"scheduled CallRail sync: {CALLS:,} new records; build build-")
    assert lines[0].endswith("; next in 1h")
