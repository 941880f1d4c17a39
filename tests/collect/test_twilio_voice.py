"""`POST /webhooks/twilio/voice` on a real `touchpoint serve`: verified, logged, answered with TwiML.

Requests are signed by Twilio's own `RequestValidator` for the URL Twilio would call
(`[server] public_url`); the answers are checked against Twilio's TwiML schema and
against what Twilio's `VoiceResponse` builds; the calls are followed through the
intake log, `touchpoint build` and `touchpoint export calls`, with the status
callbacks of `/webhooks/twilio` in either order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from lxml import etree
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Dial, VoiceResponse

from support.collector_server import Server, logged_rows, start, touchpoint, wait_for
from support.paths import FIXTURES, VENDOR_FIXTURES

TWILIO = FIXTURES / "twilio"
SCHEMA = etree.XMLSchema(etree.parse(str(TWILIO / "twiml.xsd")))
TOKEN = "12345678901234567890123456789012"
PUBLIC_URL = "https://calls.northwind-plumbing.example"
VOICE = "/webhooks/twilio/voice"
CONFIG = f"""
[site]
domains = ["northwind-plumbing.example"]
[collector]
rate_limit_per_minute = 0
segment_max_age = "300ms"
max_body_bytes = 20000
[server]
token = "voice-test-dashboard-token-0123456789"
public_url = "{PUBLIC_URL}"
[webhooks]
twilio_auth_token = "{TOKEN}"

[[numbers.pools]]
name = "boston"
numbers = ["+16175550190", "+16175550191"]
replace = "+16175550100"
forward_to = "+16175550142"
fallback = "+16175550199"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("voice")
    (directory / "touchpoint.toml").write_text(CONFIG)
    running = start(directory)
    yield running
    running.stop()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        yield http


def voice_params(sid: str, **changes: str) -> dict[str, str]:
    return {
        **dict(parse_qsl((TWILIO / "voice-request-inbound.form").read_text())),
        "CallSid": sid,
        **changes,
    }


def post_signed(
    http: httpx.Client, params: dict[str, str], path: str = VOICE, signed: str | None = None
) -> httpx.Response:
    """A form POST signed as Twilio signs it: the public URL and the parameters."""
    url = signed or f"{PUBLIC_URL}{path}"
    signature = RequestValidator(TOKEN).compute_signature(url, params)
    return http.post(path, data=params, headers={"X-Twilio-Signature": signature})


def calls_logged(server: Server, sid: str) -> list[dict[str, Any]]:
    return [row for row in logged_rows(server.intake, "raw_calls") if row["call_id"] == sid]


def twilio_dial(forward_to: str, caller_id: str | None) -> str:
    response = VoiceResponse()
    dial = Dial(caller_id=caller_id) if caller_id else Dial()
    dial.number(forward_to)
    response.append(dial)
    return str(response)


def rfc2822(moment: datetime) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S +0000")


def status_params(sid: str, fired: datetime, duration: int | None = None) -> dict[str, str]:
    name = "twilio-status-ringing.form" if duration is None else "twilio-status-completed.form"
    params = dict(parse_qsl((VENDOR_FIXTURES / name).read_text()))
    params.update(CallSid=sid, Timestamp=rfc2822(fired))
    if duration is not None:
        params["CallDuration"] = str(duration)
    return params


# -- the answer -----------------------------------------------------------------------


def test_a_call_to_a_pool_number_is_logged_then_forwarded_showing_the_caller(client, server):
    sid = "CA11111111111111111111111111111101"
    before = datetime.now(UTC).replace(tzinfo=None)
    answer = post_signed(client, voice_params(sid))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/xml")
    assert answer.text == twilio_dial("+16175550142", "+16175550144")
    assert SCHEMA.validate(etree.fromstring(answer.content))
    # Logged before the answer: the row is on disk the moment the answer is.
    (row,) = calls_logged(server, sid)
    assert row["source_system"] == "twilio" and row["origin"] == "webhook:twilio"
    assert row["tracking_number"] == "+16175550190" and row["caller_number"] == "+16175550144"
    assert row["status"] is None and row["direction"] == "inbound"
    logged_at = datetime.fromisoformat(row["called_at"]).replace(tzinfo=None)
    assert before <= logged_at <= datetime.now(UTC).replace(tzinfo=None)


def test_the_fallback_number_forwards_too(client, server):
    answer = post_signed(
        client, voice_params("CA11111111111111111111111111111102", To="+16175550199")
    )
    assert answer.status_code == 200
    assert answer.text == twilio_dial("+16175550142", "+16175550144")


def test_a_number_in_no_pool_is_rejected_as_not_in_service_and_still_logged(client, server):
    sid = "CA11111111111111111111111111111103"
    answer = post_signed(client, voice_params(sid, To="+16175550111"))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/xml")
    rejected = VoiceResponse()
    rejected.reject(reason="rejected")
    assert answer.text == str(rejected)
    assert SCHEMA.validate(etree.fromstring(answer.content))
    assert len(calls_logged(server, sid)) == 1
    # The operator learns why: serve's log names the number.
    wait_for(lambda: "+16175550111: it is in no [[numbers.pools]]" in server.log_text())


def test_twilio_s_documented_request_signed_for_this_server_is_answered(client, server):
    vector = json.loads((TWILIO / "voice-request-docs-vector.json").read_text())
    params = {**vector["params"], "To": "+16175550191"}
    answer = post_signed(client, params)
    assert answer.status_code == 200
    assert answer.text == twilio_dial("+16175550142", "+14158675309")


# -- refused --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"}],
    ids=["unsigned", "forged"],
)
def test_a_bad_or_missing_signature_is_refused_and_nothing_logged(client, server, headers):
    sid = "CA11111111111111111111111111111104"
    answer = client.post(VOICE, data=voice_params(sid), headers=headers)
    assert answer.status_code == 401
    assert "signature refused" in answer.json()["error"]
    assert calls_logged(server, sid) == []


def test_a_signature_for_another_url_or_token_is_refused(client, server):
    sid = "CA11111111111111111111111111111105"
    # Signed for the local address, not the public one Twilio calls.
    assert post_signed(client, voice_params(sid), signed=f"{server.url}{VOICE}").status_code == 401
    # Signed for the status callback's URL.
    signed = f"{PUBLIC_URL}/webhooks/twilio"
    assert post_signed(client, voice_params(sid), signed=signed).status_code == 401
    params = voice_params(sid)
    other = RequestValidator("another-auth-token").compute_signature(f"{PUBLIC_URL}{VOICE}", params)
    assert client.post(VOICE, data=params, headers={"X-Twilio-Signature": other}).status_code == 401
    assert calls_logged(server, sid) == []


def test_a_signed_request_without_a_call_is_400_with_its_reason_and_kept_as_a_reject(
    client, server
):
    params = voice_params("CA11111111111111111111111111111106")
    del params["CallSid"]
    params["CallerName"] = "no call sid 0106"
    answer = post_signed(client, params)
    assert answer.status_code == 400
    assert "CallSid" in answer.json()["rejected"][0]["reason"]

    def kept() -> list[dict[str, Any]]:
        return [r for r in logged_rows(server.intake, "rejects") if "0106" in r["record"]]

    (reject,) = wait_for(kept)
    assert reject["source"] == "webhook:twilio" and reject["kind"] == "calls"
    assert "CallSid" in reject["reason"]


def test_a_body_that_is_no_form_is_400_and_get_is_405(client, server):
    answer = client.post(VOICE, content=b"\xff\xfe not a form", headers={"X-Twilio-Signature": "x"})
    assert answer.status_code == 400
    assert client.get(VOICE).status_code == 405


# -- the call, with its status callbacks, after the build -----------------------------


def built_call(server: Server, sid: str) -> dict[str, Any]:
    wait_for(lambda: not list(server.intake.glob("*.open")))
    built = touchpoint(server.directory, "build")
    assert built.returncode == 0, built.stderr
    exported = touchpoint(server.directory, "export", "calls", "--format", "json")
    assert exported.returncode == 0, exported.stderr
    (call,) = [c for c in map(json.loads, exported.stdout.splitlines()) if c["call_id"] == sid]
    return call


def called_at(call: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(call["called_at"]).replace(tzinfo=None)


def test_voice_then_ringing_then_completed_is_one_call_from_its_start(client, server):
    sid = "CA11111111111111111111111111111107"
    arrived = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    assert post_signed(client, voice_params(sid)).status_code == 200
    ringing = status_params(sid, arrived)
    assert post_signed(client, ringing, "/webhooks/twilio").status_code == 200
    # Twilio's Timestamp of the completed event is the END of the call.
    completed = status_params(sid, arrived + timedelta(seconds=95), duration=95)
    assert post_signed(client, completed, "/webhooks/twilio").status_code == 200
    call = built_call(server, sid)
    assert call["duration_s"] == 95 and call["status"] == "answered"
    assert call["tracking_number"] == "+16175550190"
    assert abs(called_at(call) - arrived) <= timedelta(seconds=2)


def test_completed_before_voice_is_the_same_one_call(client, server):
    """Webhook retries arrive out of order: the completed callback first, then the voice request."""
    sid = "CA11111111111111111111111111111108"
    started = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    completed = status_params(sid, started + timedelta(seconds=40), duration=40)
    assert post_signed(client, completed, "/webhooks/twilio").status_code == 200
    time.sleep(0.05)
    assert post_signed(client, voice_params(sid)).status_code == 200
    assert len(calls_logged(server, sid)) == 2
    call = built_call(server, sid)
    assert call["duration_s"] == 40 and call["status"] == "answered"
    assert abs(called_at(call) - started) <= timedelta(seconds=2)
