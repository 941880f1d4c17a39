"""Texts and forms through the vendors' webhooks on a real `touchpoint serve` (DESIGN §12).

CallRail's Form Submission and Text Message webhooks and CTM's text messages are
signed as the vendors sign them, posted over HTTP, and must be stored (200, never
a 400: CallRail disables a webhook that keeps failing) as rows of kind `form` /
`text`; `touchpoint build` and `export calls` then show the exact columns.
Twilio's final CallStatus values arrive as statuses.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from twilio.request_validator import RequestValidator

from support.collector_server import Server, logged_rows, start, touchpoint, wait_for
from support.paths import VENDOR_FIXTURES
from touchpoint.schema import CALL_VENDOR_COLUMNS

CALLRAIL_KEY = "callrail-kinds-key-52c1"
CTM_SECRET = "ctm-kinds-secret-9d0e"
TWILIO_TOKEN = "abcdefabcdefabcdefabcdefabcdef12"
PUBLIC_URL = "https://calls.acmehvac.example"
FACTS = CALL_VENDOR_COLUMNS  # DESIGN §12's columns, as the readers fill them


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory: Path = tmp_path_factory.mktemp("webhook-kinds")
    (directory / "touchpoint.toml").write_text(
        '[collector]\nrate_limit_per_minute = 0\nsegment_max_age = "300ms"\n'
        f'[server]\npublic_url = "{PUBLIC_URL}"\n'
        f'[webhooks]\ncallrail_secret = "{CALLRAIL_KEY}"\nctm_secret = "{CTM_SECRET}"\n'
        f'twilio_auth_token = "{TWILIO_TOKEN}"\n'
    )
    running = start(directory)
    yield running
    running.stop()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http


def post_callrail(http: httpx.Client, body: bytes) -> httpx.Response:
    signature = base64.b64encode(hmac.new(CALLRAIL_KEY.encode(), body, hashlib.sha1).digest())
    headers = {"Signature": signature.decode(), "Content-Type": "application/json"}
    return http.post("/webhooks/callrail", content=body, headers=headers)


def post_ctm(http: httpx.Client, body: bytes) -> httpx.Response:
    stamp = str(int(time.time()))
    mac = hmac.new(CTM_SECRET.encode(), stamp.encode() + body, hashlib.sha1).digest()
    headers = {
        "X-CTM-Time": stamp,
        "X-CTM-Signature": base64.b64encode(mac).decode(),
        "Content-Type": "application/json",
    }
    return http.post("/webhooks/ctm", content=body, headers=headers)


def exported_calls(server: Server) -> dict[str, dict[str, Any]]:
    wait_for(lambda: not list(server.intake.glob("*.open")))
    built = touchpoint(server.directory, "build")
    assert built.returncode == 0, built.stderr
    done = touchpoint(server.directory, "export", "calls", "--format", "json")
    assert done.returncode == 0, done.stderr
    return {row["call_id"]: row for row in map(json.loads, done.stdout.splitlines())}


def test_texts_and_forms_are_stored_and_land_with_their_columns(client, server) -> None:
    for name in (
        "callrail-form-submission.json",
        "callrail-form-submission-webhook.json",  # as CallRail delivered one
        "callrail-text-received.json",
        "callrail-text-sent.json",
    ):
        answer = post_callrail(client, (VENDOR_FIXTURES / name).read_bytes())
        assert (answer.status_code, answer.json()) == (200, {"stored": 1, "skipped": 0}), name
    answer = post_ctm(client, (VENDOR_FIXTURES / "ctm-sms-inbound.json").read_bytes())
    assert (answer.status_code, answer.json()) == (200, {"stored": 1, "skipped": 0})
    stored = {r["call_id"]: r for r in logged_rows(server.intake, "raw_calls")}
    assert stored["FOR8c2d1e0f3a4b5c6d7e8f9a0b1c2d3e4f"]["origin"] == "webhook:callrail"
    calls = exported_calls(server)
    form = calls["FOR8c2d1e0f3a4b5c6d7e8f9a0b1c2d3e4f"]
    assert tuple(form[n] for n in FACTS) == ("form", "inbound", None, True, None, None, None, None)
    assert (form["called_at"], form["duration_s"]) == ("2026-03-04T15:42:18.221000Z", None)
    assert form["caller_number"] == "+17815550143"
    delivered = calls["FRMdcd4509d27ac457f85f337a3aa1b960b"]
    assert (delivered["kind"], delivered["called_at"]) == ("form", "2023-01-24T21:18:46.266000Z")
    received = calls["SMS5b9e1c2d3f4a5b6c7d8e9f0a1b2c3d4e"]
    assert tuple(received[n] for n in FACTS) == (
        "text",
        "inbound",
        None,
        None,
        None,
        "good_lead",
        None,
        None,
    )
    assert (received["caller_number"], received["tracking_number"]) == (
        "+17815550143",
        "+16175550111",
    )
    assert received["called_at"] == "2026-03-04T16:05:44.102000Z"
    sent = calls["SMS9a8b7c6d5e4f30211f2e3d4c5b6a7980"]
    assert (sent["kind"], sent["direction"], sent["caller_number"]) == (
        "text",
        "outbound",
        "+17815550143",
    )
    sms = calls["2150395521"]
    assert tuple(sms[n] for n in FACTS) == (
        "text",
        "inbound",
        None,
        False,
        None,
        None,
        "sms lead",
        None,
    )
    assert (sms["called_at"], sms["duration_s"]) == ("2026-01-20T14:12:00Z", None)


def test_callrail_calls_carry_how_they_went(client, server) -> None:
    answer = post_callrail(client, (VENDOR_FIXTURES / "callrail-call-modified.json").read_bytes())
    assert answer.status_code == 200, answer.text
    call = exported_calls(server)["CAL8f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f"]
    assert tuple(call[n] for n in FACTS) == (
        "call",
        "inbound",
        "answered",
        True,
        189.0,
        "good_lead",
        "booked",
        None,
    )


def test_twilio_final_status_is_the_call_s_status(client, server) -> None:
    sid = "CA00000000000000000000000000000b51"
    for status, sequence in (("ringing", "0"), ("busy", "1")):
        params = dict(parse_qsl((VENDOR_FIXTURES / "twilio-status-ringing.form").read_text()))
        params.update(CallSid=sid, CallStatus=status, SequenceNumber=sequence)
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(
            f"{PUBLIC_URL}/webhooks/twilio", params
        )
        answer = client.post(
            "/webhooks/twilio", data=params, headers={"X-Twilio-Signature": signature}
        )
        assert answer.status_code == 200, answer.text
    call = exported_calls(server)[sid]
    assert (call["kind"], call["direction"], call["status"]) == ("call", "inbound", "busy")
