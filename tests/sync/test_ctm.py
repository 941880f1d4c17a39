"""`touchpoint sync ctm` against a local CallTrackingMetrics API v1 speaking its wire format.

The API (tests/support/ctm_server.py) is a real HTTP server on 127.0.0.1 with
CTM's documented page layout; calls are CTM call objects from
tests/fixtures/vendors/ctm-calls.json. The command runs in a subprocess, except
where a test needs to see the pauses.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from support.ctm_server import ACCESS_KEY, ACCOUNT, SECRET_KEY, CtmApi
from support.paths import VENDOR_FIXTURES
from support.sync_setup import query, write_settings
from touchpoint.config import load_settings
from touchpoint.sync.ctm import PER_PAGE
from touchpoint.sync.feeds import CALL_FEEDS
from touchpoint.sync.vendor_calls import sync_calls

FEED = CALL_FEEDS["ctm"]
FIXTURE_CALLS = json.loads((VENDOR_FIXTURES / "ctm-calls.json").read_text())["calls"]
START = 1_768_842_000  # 2026-01-19 17:00 UTC
CALLS = 2 * PER_PAGE + 1  # three pages


def ctm_call(n: int, unix_time: int) -> dict[str, Any]:
    """The fixture's first call with an id and time of its own (both ways CTM writes it)."""
    call = dict(FIXTURE_CALLS[0])
    call["id"] = 2_150_400_000 + n
    call["sid"] = f"CAL{n:032X}"
    call["unix_time"] = unix_time
    local = datetime.fromtimestamp(unix_time, UTC) - timedelta(hours=5)
    call["called_at"] = local.strftime("%Y-%m-%d %-I:%M %p -05:00")
    return call


@pytest.fixture
def api():
    server = CtmApi()
    for n in range(CALLS):
        server.add(ctm_call(n, START + 600 * n))
    server.add(dict(FIXTURE_CALLS[2]))  # a form in the activity list: kept, as a form
    server.start()
    yield server
    server.stop()
    assert server.errors == []


def configure(workdir: Path, api: CtmApi, **ctm: Any) -> Path:
    values = {
        "access_key": ACCESS_KEY,
        "secret_key": SECRET_KEY,
        "account_id": ACCOUNT,
        "base_url": api.base_url,
        **ctm,
    }
    return write_settings(workdir, "ctm", values)


def test_pages_follow_next_page_and_the_watermark_moves_at_the_end(
    cli, workdir: Path, api: CtmApi
) -> None:
    configure(workdir, api)
    done = cli("sync", "ctm", "--json")
    assert done.code == 0, done.stderr
    summary = json.loads(done.stdout)
    # The form lands too, as kind form (DESIGN §12): a conversion, never a call.
    assert (summary["read"], summary["new"], summary["skipped"]) == (CALLS + 1, CALLS + 1, 0)
    asked = api.calls_requests()
    assert [q["page"] for q in asked] == ["1", "2", "3"]
    # The link names only the page: the page size goes with it.
    assert {q["per_page"] for q in asked} == {str(PER_PAGE)}
    assert "start_date" not in asked[0]
    newest = datetime.fromtimestamp(START + 600 * (CALLS - 1), UTC)
    assert summary["watermark"] == newest.strftime("%Y-%m-%dT%H:%M:%SZ")
    stored = query(workdir, "SELECT kind, count(DISTINCT call_id) FROM raw_calls GROUP BY 1")
    assert sorted(stored) == [("call", CALLS), ("form", 1)]

    again = json.loads(cli("sync", "ctm", "--json").stdout)
    second = api.calls_requests()[3:]
    # CTM filters by day: from the day before the watermark's, and every page keeps it.
    assert {q["start_date"] for q in second} == {(newest - timedelta(days=1)).date().isoformat()}
    assert again["new"] == 0 and again["already_present"] == again["read"] - again["skipped"] > 0


def test_rate_limits_and_server_errors_are_waited_out(workdir: Path, api: CtmApi) -> None:
    settings = load_settings(configure(workdir, api))
    api.fail(429, retry_after="3")
    api.fail(502)
    waits: list[float] = []
    result = sync_calls(settings, FEED, sleep=waits.append)
    assert waits[0] == 3.0 and len(waits) == 2
    assert result.new == CALLS + 1  # and the form
    assert [s.status for s in api.seen[:3]] == [429, 502, 200]


def test_refused_keys_are_one_line_naming_the_settings(cli, workdir: Path, api: CtmApi) -> None:
    configure(workdir, api, secret_key="wrong-secret-9c1d")
    done = cli("sync", "ctm")
    assert done.code == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert lines[0].startswith("error: CallTrackingMetrics refused the credentials (401")
    assert "[ctm] access_key, secret_key and account_id" in lines[0]
    assert "wrong-secret-9c1d" not in done.stderr + done.stdout


def test_a_call_by_webhook_and_by_api_is_one_call(cli, workdir: Path, api: CtmApi) -> None:
    webhook = json.loads((VENDOR_FIXTURES / "ctm-webhook-call.json").read_text())
    (workdir / "webhook.json").write_text(json.dumps(webhook))
    assert cli("import", "calls", "webhook.json", "--format", "ctm").code == 0
    api.calls[:] = [dict(FIXTURE_CALLS[0])]  # the same call, as the Calls API lists it
    assert FIXTURE_CALLS[0]["id"] == webhook["id"]
    configure(workdir, api)
    assert json.loads(cli("sync", "ctm", "--json").stdout)["new"] == 1
    assert cli("build").code == 0
    calls = [
        json.loads(line) for line in cli("export", "calls", "--format", "json").stdout.splitlines()
    ]
    assert [(c["source_system"], c["call_id"]) for c in calls] == [("ctm", str(webhook["id"]))]
