"""CTM's replay window by default (DESIGN §16): `X-CTM-Time` within 5 minutes of now.

A real `touchpoint serve` whose settings name only the CTM secret, so the
window in force is the default one. A request signed right but six minutes ago
is refused and leaves nothing in the intake log; one signed four minutes ago
lands.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import httpx
import pytest

from support.collector_server import Server, logged_rows, start
from support.paths import VENDOR_FIXTURES

SECRET = "ctm-replay-test-secret-5d0c"
CALL = json.loads((VENDOR_FIXTURES / "ctm-webhook-call.json").read_text())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("ctm-replay")
    (directory / "touchpoint.toml").write_text(
        '[collector]\nrate_limit_per_minute = 0\nsegment_max_age = "300ms"\n'
        f'[webhooks]\nctm_secret = "{SECRET}"\n'
    )
    running = start(directory)
    yield running
    running.stop()


def signed(body: bytes, seconds_ago: float) -> dict[str, str]:
    """The headers CTM sends with `body`, as if it had signed it `seconds_ago`."""
    stamp = str(int(time.time() - seconds_ago))
    mac = hmac.new(SECRET.encode(), stamp.encode() + body, hashlib.sha1).digest()
    return {
        "X-CTM-Time": stamp,
        "X-CTM-Signature": base64.b64encode(mac).decode(),
        "Content-Type": "application/json",
    }


def call_body(call_id: int) -> bytes:
    return json.dumps({**CALL, "id": call_id, "sid": f"CAL{call_id}"}).encode()


def stored_ids(server: Server) -> set[str]:
    return {row["call_id"] for row in logged_rows(server.intake, "raw_calls")}


def test_a_request_signed_six_minutes_ago_is_refused_and_nothing_is_stored(server):
    body = call_body(7100000006)
    answer = httpx.post(
        f"{server.url}/webhooks/ctm", content=body, headers=signed(body, 6 * 60), timeout=10
    )
    assert answer.status_code == 401, answer.text
    assert "replay window is 300 s" in answer.json()["error"]
    assert "7100000006" not in stored_ids(server)
    assert logged_rows(server.intake, "rejects") == []


def test_a_request_signed_four_minutes_ago_lands(server):
    body = call_body(7100000004)
    answer = httpx.post(
        f"{server.url}/webhooks/ctm", content=body, headers=signed(body, 4 * 60), timeout=10
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["stored"] == 1
    assert "7100000004" in stored_ids(server)


def test_a_request_signed_six_minutes_ahead_is_refused_too(server):
    body = call_body(7100000106)
    answer = httpx.post(
        f"{server.url}/webhooks/ctm", content=body, headers=signed(body, -6 * 60), timeout=10
    )
    assert answer.status_code == 401, answer.text
    assert "7100000106" not in stored_ids(server)


def test_a_signed_request_without_its_signing_time_is_refused(server):
    body = call_body(7100000200)
    headers = signed(body, 0)
    del headers["X-CTM-Time"]
    answer = httpx.post(f"{server.url}/webhooks/ctm", content=body, headers=headers, timeout=10)
    assert answer.status_code == 401, answer.text
    assert "X-CTM-Time" in answer.json()["error"]
    assert "7100000200" not in stored_ids(server)
