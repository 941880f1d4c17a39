"""`POST /numbers` on a real `touchpoint serve` (DESIGN §15): assignments, their log rows,
a restart (and a crash) that keeps them, the build's `raw_number_assignments`, the
channels filter, bad input and DNT / GPC."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.collector_server import Server, logged_payloads, logged_rows, start, touchpoint

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126 Safari"
TABLE = "raw_number_assignments"
CONFIG = """
[site]
domains = ["northwind-plumbing.example"]
[collector]
rate_limit_per_minute = 0
segment_max_age = "300ms"
max_body_bytes = 4096
[phone]
default_region = "US"

[[numbers.pools]]
name = "main"
numbers = ["(512) 555-0101", "+1 512 555 0102"]
replace = "512-555-0100"
fallback = "+1 512 555 0199"
hold = "30m"

[[numbers.pools]]
name = "ads"
numbers = ["+15125550111"]
replace = "+15125550100"
channels = ["Paid Search"]
"""
PAGE = "https://www.northwind-plumbing.example/"


def _write_config(directory: Path) -> None:
    (directory / "touchpoint.toml").write_text(CONFIG)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    _write_config(tmp_path)
    running = start(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def ask(server: Server, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"user-agent": BROWSER, "content-type": "application/json", **headers}
    return httpx.post(f"{server.url}/numbers", content=content, headers=sent, timeout=10)


def numbers_of(response: httpx.Response) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    return {given["pool"]: given for given in response.json()["numbers"]}


def logged(server: Server) -> list[dict[str, Any]]:
    """The assignment rows of the log, in the order they were given (segments are not)."""
    return sorted(logged_rows(server.intake, TABLE), key=lambda row: row["assigned_us"])


def visit(visitor: str, pools: list[str] | None = None, url: str = PAGE, **more: Any) -> Any:
    body: dict[str, Any] = {"visitor_id": visitor, "url": url, "referrer": "", **more}
    if pools is not None:
        body["pools"] = pools
    return body


def test_two_visitors_get_two_numbers_each_held_and_logged_before_the_answer(server: Server):
    before = datetime.now(UTC)
    first = numbers_of(ask(server, visit("visitor-a", ["main"])))["main"]
    second = numbers_of(ask(server, visit("visitor-b", ["main"])))["main"]
    assert first["number"] == "+15125550101" and second["number"] == "+15125550102"
    assert first["replace"] == "+15125550100" and first["fallback"] is False
    held_until = datetime.fromisoformat(first["held_until"])
    assert before + timedelta(minutes=29) < held_until <= datetime.now(UTC) + timedelta(minutes=30)
    # Acknowledged means on disk: the rows are in the log when the answers are back.
    rows = logged(server)
    assert [(r["visitor_id"], r["number"], r["fallback"]) for r in rows] == [
        ("visitor-a", "+15125550101", False),
        ("visitor-b", "+15125550102", False),
    ]
    row = rows[0]
    assert row["held_until_us"] - row["assigned_us"] == 30 * 60 * 1_000_000
    assert row["pool"] == "main" and row["origin"] == "collector" and row["channel"] == "Direct"
    assert len({r["assignment_id"] for r in rows}) == 2


def test_a_visitor_keeps_its_number_the_pool_runs_out_to_its_fallback(server: Server):
    a = numbers_of(ask(server, visit("visitor-a", ["main"])))["main"]["number"]
    numbers_of(ask(server, visit("visitor-b", ["main"])))
    again = numbers_of(ask(server, visit("visitor-a", ["main"])))["main"]
    assert again["number"] == a
    exhausted = numbers_of(ask(server, visit("visitor-c", ["main"])))["main"]
    assert exhausted == {**exhausted, "number": "+15125550199", "fallback": True}
    rows = logged(server)
    assert [r["visitor_id"] for r in rows] == ["visitor-a", "visitor-b", "visitor-a", "visitor-c"]
    assert rows[-1]["fallback"] is True and rows[-1]["number"] == "+15125550199"


def test_every_pool_by_default_and_the_channels_filter_by_the_builds_rules(server: Server):
    direct = numbers_of(ask(server, visit("visitor-d")))
    assert set(direct) == {"main", "ads"}
    # A direct visitor is not in the ads pool's channels: it sees the business number.
    assert direct["ads"]["number"] == "+15125550100"
    paid = numbers_of(ask(server, visit("visitor-p", url=PAGE + "?gclid=abc123")))
    assert paid["ads"]["number"] == "+15125550111"
    # On its next page (no click id now) the visitor keeps the number it holds.
    later = numbers_of(ask(server, visit("visitor-p", ["ads"], referrer=PAGE)))
    assert later["ads"]["number"] == "+15125550111"
    rows = [r for r in logged(server) if r["pool"] == "ads"]
    assert [(r["visitor_id"], r["channel"]) for r in rows] == [
        ("visitor-p", "Paid Search"),
        ("visitor-p", "Direct"),
    ]


def test_a_restart_and_a_crash_keep_every_assignment(tmp_path: Path):
    _write_config(tmp_path)
    server = start(tmp_path)
    try:
        a = numbers_of(ask(server, visit("visitor-a", ["main"])))["main"]["number"]
    finally:
        server.stop()
    server = start(tmp_path)
    try:
        assert numbers_of(ask(server, visit("visitor-a", ["main"])))["main"]["number"] == a
        b = numbers_of(ask(server, visit("visitor-b", ["main"])))["main"]["number"]
        assert b != a
    finally:
        server.kill()  # kill -9: the answered requests are on disk all the same
    server = start(tmp_path)
    try:
        c = numbers_of(ask(server, visit("visitor-c", ["main"])))["main"]
        assert c["number"] == "+15125550199" and c["fallback"] is True
        assert numbers_of(ask(server, visit("visitor-b", ["main"])))["main"]["number"] == b
    finally:
        server.stop()


def test_a_build_lands_the_assignments_in_raw_number_assignments(server: Server):
    numbers_of(ask(server, visit("visitor-a", ["main"])))
    numbers_of(ask(server, visit("visitor-a", ["main"])))
    numbers_of(ask(server, visit("visitor-b", ["main"])))
    server.stop()  # closes the segment
    built = touchpoint(server.directory, "build")
    assert built.returncode == 0, built.stderr
    exported = touchpoint(server.directory, "export", TABLE, "--format", "json")
    assert exported.returncode == 0, exported.stderr
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert sorted((r["visitor_id"], r["number"]) for r in rows) == [
        ("visitor-a", "+15125550101"),
        ("visitor-a", "+15125550101"),
        ("visitor-b", "+15125550102"),
    ]
    assert {r["origin"] for r in rows} == {"collector"}
    # A second build of the same log adds nothing (assignment_id is the key).
    assert touchpoint(server.directory, "build").returncode == 0
    again = touchpoint(server.directory, "export", TABLE, "--format", "json")
    assert len(again.stdout.splitlines()) == 3
    # DESIGN §16: erasing a visitor removes its holds from the store and from the log.
    erased = touchpoint(server.directory, "erase", "--visitor", "visitor-a")
    assert erased.returncode == 0, erased.stderr
    left = touchpoint(server.directory, "export", TABLE, "--format", "json")
    assert [json.loads(line)["visitor_id"] for line in left.stdout.splitlines()] == ["visitor-b"]
    assert b"visitor-a" not in b"".join(logged_payloads(server.intake))


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b"{not json", 400, "not JSON"),
        (b"[1, 2]", 400, "JSON object"),
        ({"pools": ["main"]}, 400, "visitor_id"),
        ({"visitor_id": "has spaces"}, 400, "visitor_id"),
        ({"visitor_id": "v" * 65}, 400, "visitor_id"),
        ({"visitor_id": "v1", "pools": "main"}, 400, "list of pool names"),
        ({"visitor_id": "v1", "pools": [1]}, 400, "list of pool names"),
        ({"visitor_id": "v1", "pools": ["nope"]}, 400, "no pool named 'nope'"),
        ({"visitor_id": "v1", "url": 7}, 400, "url must be a string"),
        ({"visitor_id": "v1", "referrer": ["x"]}, 400, "referrer must be a string"),
        ({"visitor_id": "v1", "url": "https://x.example/" + "a" * 5000}, 413, "over 4096"),
    ],
)
def test_bad_requests_get_a_4xx_with_the_reason_and_nothing_is_logged(
    server: Server, body: Any, status: int, reason: str
):
    answer = ask(server, body)
    assert answer.status_code == status, answer.text
    assert reason in answer.json()["error"]
    assert logged(server) == []


def test_other_refusals_are_those_of_collect(server: Server):
    url = f"{server.url}/numbers"
    assert httpx.get(url).status_code == 405
    plain = ask(server, visit("visitor-a"), **{"content-type": "application/xml"})
    assert plain.status_code == 415
    foreign = ask(server, visit("visitor-a"), origin="https://elsewhere.example")
    assert foreign.status_code == 403
    own = "https://www.northwind-plumbing.example"
    preflight = httpx.options(url, headers={"origin": own, "access-control-request-method": "POST"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == own
    answered = ask(server, visit("visitor-a", ["main"]), origin=own)
    assert answered.headers["access-control-allow-origin"] == own
    assert answered.headers["cache-control"] == "no-store"
    assert logged(server)[0]["visitor_id"] == "visitor-a"


@pytest.mark.parametrize(
    "headers",
    [{"dnt": "1"}, {"sec-gpc": "1"}, {"user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"}],
)
def test_dnt_gpc_and_bots_get_no_number_and_nothing_is_kept(server: Server, headers: dict):
    answer = ask(server, visit("visitor-private", ["main"]), **headers)
    assert answer.status_code == 200 and answer.json() == {"numbers": []}
    # The next visitor still gets the pool's first number: nothing was held.
    given = numbers_of(ask(server, visit("visitor-next", ["main"])))["main"]["number"]
    assert given == "+15125550101"
    assert b"visitor-private" not in b"".join(logged_payloads(server.intake))
