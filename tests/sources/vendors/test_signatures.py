"""Webhook signatures: the vendors' published vectors and their own validators accepted,
tampered or unsigned requests refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from support.paths import VENDOR_FIXTURES
from touchpoint.sources.vendors.fields import form_fields
from touchpoint.sources.vendors.signatures import (
    SignatureError,
    callrail_signature,
    ctm_signature,
    tokens_match,
    twilio_algorithm,
    twilio_signature,
    twilio_url,
    verify_callrail,
    verify_ctm,
    verify_twilio,
)

FIXTURES = VENDOR_FIXTURES
SHARED_VECTOR = Path("/work/shared/data/vendors/callrail-post-call-docs-vector.json")
# CallRail's published test vector: the key and the Signature header it documents.
CALLRAIL_KEY = "072e77e426f92738a72fe23c4d1953b4"
CALLRAIL_SIGNATURE = "UZAHbUdfm3GqL7qzilGozGzWV64="
TWILIO_TOKEN = "12345678901234567890123456789012"


def vector_bytes() -> bytes:
    return (FIXTURES / "callrail-post-call-docs-vector.json").read_bytes()


def test_the_vector_copy_keeps_the_published_bytes() -> None:
    body = vector_bytes()
    assert len(body) == 2279
    if SHARED_VECTOR.exists():
        assert body == SHARED_VECTOR.read_bytes()


def test_callrail_published_vector_verifies_byte_exactly() -> None:
    body = vector_bytes()
    assert callrail_signature(body, CALLRAIL_KEY) == CALLRAIL_SIGNATURE
    verify_callrail(body, CALLRAIL_SIGNATURE, CALLRAIL_KEY)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda b: b.replace(b'"duration":"13"', b'"duration":"14"'),
        lambda b: b + b"\n",
        lambda b: b[:-1],
        lambda b: b.replace(b":", b": ", 1),  # re-serialised JSON is not the raw body
    ],
)
def test_callrail_tampered_bodies_are_refused(tamper) -> None:
    tampered = tamper(vector_bytes())
    assert tampered != vector_bytes()
    with pytest.raises(SignatureError, match="does not match"):
        verify_callrail(tampered, CALLRAIL_SIGNATURE, CALLRAIL_KEY)


@pytest.mark.parametrize("signature", [None, "", "UZAHbUdfm3GqL7qzilGozGzWV64", "ü" * 28])
def test_callrail_missing_or_malformed_signatures_are_refused(signature) -> None:
    with pytest.raises(SignatureError):
        verify_callrail(vector_bytes(), signature, CALLRAIL_KEY)


def test_callrail_wrong_key_or_no_key() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify_callrail(vector_bytes(), CALLRAIL_SIGNATURE, CALLRAIL_KEY.upper())
    with pytest.raises(SignatureError, match="callrail_secret"):
        verify_callrail(vector_bytes(), CALLRAIL_SIGNATURE, "")


@given(body=st.binary(max_size=400), flip=st.integers(min_value=0, max_value=399))
def test_callrail_any_changed_byte_is_refused(body: bytes, flip: int) -> None:
    signature = callrail_signature(body, CALLRAIL_KEY)
    verify_callrail(body, signature, CALLRAIL_KEY)
    if body:
        index = flip % len(body)
        changed = body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]
        with pytest.raises(SignatureError):
            verify_callrail(changed, signature, CALLRAIL_KEY)


def _ctm_reference(secret: str, timestamp: str, body: bytes) -> str:
    """DESIGN §9 written out independently: base64 HMAC-SHA1 of X-CTM-Time + body."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def test_ctm_signature_over_time_and_body() -> None:
    body = (FIXTURES / "ctm-webhook-call.json").read_bytes()
    secret, timestamp = "ctm-webhook-secret-5f1e", "1768842065"
    signature = _ctm_reference(secret, timestamp, body)
    assert ctm_signature(body, timestamp, secret) == signature
    verify_ctm(body, signature, timestamp, secret)
    with pytest.raises(SignatureError, match="does not match"):
        verify_ctm(body.replace(b"184", b"185"), signature, timestamp, secret)
    with pytest.raises(SignatureError, match="does not match"):
        verify_ctm(body, signature, "1768842066", secret)  # the time is signed too
    with pytest.raises(SignatureError, match="X-CTM-Time"):
        verify_ctm(body, signature, None, secret)
    with pytest.raises(SignatureError, match="X-CTM-Signature"):
        verify_ctm(body, None, timestamp, secret)


def test_ctm_replay_window() -> None:
    body, secret, signed_at = b'{"id":1}', "s3cret", "1768842000"
    signature = ctm_signature(body, signed_at, secret)
    verify_ctm(body, signature, signed_at, secret, replay_window_s=300, now=1768842299)
    with pytest.raises(SignatureError, match="replay window"):
        verify_ctm(body, signature, signed_at, secret, replay_window_s=300, now=1768842301)
    with pytest.raises(SignatureError, match="ahead"):
        verify_ctm(body, signature, signed_at, secret, replay_window_s=300, now=1768841000)
    verify_ctm(body, signature, signed_at, secret, replay_window_s=0, now=1999999999)


def _signed_twilio_request(url: str, body: bytes) -> str:
    """What Twilio sends: its own validator's signature of the URL and the form."""
    return RequestValidator(TWILIO_TOKEN).compute_signature(url, dict(_pairs(body)))


def _pairs(body: bytes) -> list[tuple[str, str]]:
    return [(name, values[0]) for name, values in form_fields(body).items()]


@pytest.mark.parametrize("fixture", ["twilio-status-ringing.form", "twilio-status-completed.form"])
def test_twilio_request_signed_by_twilios_validator_is_accepted(fixture: str) -> None:
    body = (FIXTURES / fixture).read_bytes()
    url = twilio_url("https://touchpoint.example.com/", "/webhooks/twilio")
    assert url == "https://touchpoint.example.com/webhooks/twilio"
    signature = _signed_twilio_request(url, body)
    verify_twilio(url, form_fields(body), signature, TWILIO_TOKEN)
    assert RequestValidator(TWILIO_TOKEN).validate(url, dict(_pairs(body)), signature)


def test_twilio_tampered_or_misaddressed_requests_are_refused() -> None:
    body = (FIXTURES / "twilio-status-completed.form").read_bytes()
    url = "https://touchpoint.example.com/webhooks/twilio"
    signature = _signed_twilio_request(url, body)
    tampered = body.replace(b"CallDuration=149", b"CallDuration=150")
    with pytest.raises(SignatureError, match="does not match"):
        verify_twilio(url, form_fields(tampered), signature, TWILIO_TOKEN)
    with pytest.raises(SignatureError, match="public_url"):
        verify_twilio(
            "https://other.example.com/webhooks/twilio", form_fields(body), signature, TWILIO_TOKEN
        )
    with pytest.raises(SignatureError, match="missing"):
        verify_twilio(url, form_fields(body), None, TWILIO_TOKEN)
    with pytest.raises(SignatureError, match="twilio_auth_token"):
        verify_twilio(url, form_fields(body), signature, "")


def test_twilio_url_with_query_and_default_port() -> None:
    body = urlencode({"CallSid": "CA1", "CallStatus": "completed", "To": "+16175550190"}).encode()
    signed_url = "https://touchpoint.example.com:443/webhooks/twilio?source=pool"
    signature = _signed_twilio_request(signed_url, body)
    # The server may see the URL without the port Twilio signed, and the other way round.
    url = twilio_url("https://touchpoint.example.com", "/webhooks/twilio", "source=pool")
    verify_twilio(url, form_fields(body), signature, TWILIO_TOKEN)


def test_twilio_repeated_parameters_are_signed_sorted() -> None:
    body = b"CallSid=CA1&StatusCallbackEvent=ringing&StatusCallbackEvent=answered"
    url = "https://touchpoint.example.com/webhooks/twilio"

    class MultiDict(dict):
        def getall(self, name):
            return form_fields(body)[name]

    expected = RequestValidator(TWILIO_TOKEN).compute_signature(url, MultiDict(form_fields(body)))
    assert twilio_signature(url, form_fields(body), TWILIO_TOKEN) == expected
    verify_twilio(url, form_fields(body), expected, TWILIO_TOKEN)


def test_twilio_sha256_shared_key_signatures() -> None:
    body = b"CallSid=CA1&CallStatus=ringing"
    url = "https://touchpoint.example.com/webhooks/twilio"
    algorithm = twilio_algorithm("key=webhooks_sharedkey_1,algorithm=HMAC_SHA256")
    assert algorithm == "HMAC_SHA256"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, dict(_pairs(body)), algorithm)
    verify_twilio(url, form_fields(body), signature, TWILIO_TOKEN, algorithm)
    with pytest.raises(SignatureError):
        verify_twilio(url, form_fields(body), signature, TWILIO_TOKEN)  # read as SHA-1
    assert twilio_algorithm(None) == "HMAC_SHA1"


def test_invoca_url_token() -> None:
    assert tokens_match("f3a9c1d2", "f3a9c1d2")
    assert not tokens_match("f3a9c1d3", "f3a9c1d2")
    assert not tokens_match(None, "f3a9c1d2")
    assert not tokens_match("", "")  # no token configured: nothing is accepted
