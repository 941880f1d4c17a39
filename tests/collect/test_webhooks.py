"""Vendor webhooks on a real `touchpoint serve`: signed calls land, everything else is refused.

Each vendor's requests are signed here the way the vendor signs them (HMAC
computed in the test, CallRail's published vector replayed byte for byte,
Twilio's own `RequestValidator`), sent over HTTP, and followed through the
intake log, `touchpoint build` and `touchpoint export calls`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from support.collector_server import Server, free_port, logged_rows, start, touchpoint, wait_for
from support.paths import VENDOR_FIXTURES
from touchpoint.schema import RAW_CALLS

FIXTURES = VENDOR_FIXTURES
# CallRail's published example: its signing key and the Signature header it documents.
CALLRAIL_KEY = "072e77e426f92738a72fe23c4d1953b4"
CALLRAIL_SIGNATURE = "UZAHbUdfm3GqL7qzilGozGzWV64="
CTM_SECRET = "ctm-webhook-secret-4e1f0b"
TWILIO_TOKEN = "12345678901234567890123456789012"
INVOCA_TOKEN = "inv-9c2b41d7e0a35f68"
# As the internet sees the server (a proxy in front): what Twilio signs.
PUBLIC_URL = "https://calls.northwind-plumbing.example"
TOKEN = "webhook-test-dashboard-token"


def write_config(directory: Path, *sections: str) -> None:
    (directory / "touchpoint.toml").write_text("\n".join(sections) + "\n")


SIGNED_SERVER = (
    '[site]\ndomains = ["northwind-plumbing.example"]',
    # max_clock_skew off: the sessions these calls merge with are on a fixed day, 2026-03-04.
    '[collector]\nrate_limit_per_minute = 0\nsegment_max_age = "300ms"\nmax_body_bytes = 20000'
    '\nmax_clock_skew = "0s"',
    f'[server]\ntoken = "{TOKEN}"\npublic_url = "{PUBLIC_URL}"',
    f'[webhooks]\nctm_secret = "{CTM_SECRET}"\ncallrail_secret = "{CALLRAIL_KEY}"\n'
    f'twilio_auth_token = "{TWILIO_TOKEN}"\ninvoca_token = "{INVOCA_TOKEN}"\n'
    'replay_window = "5m"',
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("webhooks")
    write_config(directory, *SIGNED_SERVER)
    running = start(directory)
    yield running
    running.stop()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http


# -- signing as each vendor signs ----------------------------------------------------


def ctm_headers(body: bytes, at: float | None = None, secret: str = CTM_SECRET) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    mac = hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha1).digest()
    return {
        "X-CTM-Time": stamp,
        "X-CTM-Signature": base64.b64encode(mac).decode(),
        "Content-Type": "application/json",
    }


def callrail_headers(body: bytes, key: str = CALLRAIL_KEY) -> dict[str, str]:
    mac = hmac.new(key.encode(), body, hashlib.sha1).digest()
    return {"Signature": base64.b64encode(mac).decode(), "Content-Type": "application/json"}


def post_twilio(
    http: httpx.Client, params: dict[str, str], signed_url: str, path: str = "/webhooks/twilio"
) -> httpx.Response:
    """A form POST signed by Twilio's own validator for the URL Twilio would have called."""
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(signed_url, params)
    return http.post(path, data=params, headers={"X-Twilio-Signature": signature})


def ctm_call(call_id: int, **fields: Any) -> dict[str, Any]:
    call = json.loads((FIXTURES / "ctm-webhook-call.json").read_text())
    return {**call, "id": call_id, "sid": f"CAL{call_id}", **fields}


def stored(server: Server, table: str = "raw_calls") -> list[dict[str, Any]]:
    return logged_rows(server.intake, table)


def added(server: Server, before: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows the log holds now and did not before (segments move as they close and load)."""
    old = Counter(json.dumps(row, sort_keys=True) for row in before)
    new = []
    for row in stored(server):
        key = json.dumps(row, sort_keys=True)
        if old[key]:
            old[key] -= 1
        else:
            new.append(row)
    return new


def build_and_export(
    server: Server, table: str = "calls", build: bool = True
) -> list[dict[str, Any]]:
    """Wait for the log's open segment to close, build beside the server, export `table`."""
    if build:
        wait_for(lambda: not list(server.intake.glob("*.open")))
        built = touchpoint(server.directory, "build")
        assert built.returncode == 0, built.stderr
    exported = touchpoint(server.directory, "export", table, "--format", "json")
    assert exported.returncode == 0, exported.stderr
    return [json.loads(line) for line in exported.stdout.splitlines()]


# -- each vendor, signed -------------------------------------------------------------


def test_callrail_s_published_example_is_accepted_byte_for_byte(client, server):
    body = (FIXTURES / "callrail-post-call-docs-vector.json").read_bytes()
    before = stored(server)
    answer = client.post(
        "/webhooks/callrail",
        content=body,
        headers={"Signature": CALLRAIL_SIGNATURE, "Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"stored": 1, "skipped": 0}
    rows = added(server, before)
    assert [(r["source_system"], r["call_id"]) for r in rows] == [("callrail", "766970532")]
    assert rows[0]["origin"] == "webhook:callrail" and rows[0]["received_at"]
    assert rows[0]["caller_number"] == "+12148654559"


def test_ctm_signed_call_is_accepted(client, server):
    body = json.dumps(ctm_call(3100000001)).encode()
    answer = client.post("/webhooks/ctm", content=body, headers=ctm_headers(body))
    assert answer.status_code == 200, answer.text
    row = next(r for r in stored(server) if r["call_id"] == "3100000001")
    assert row["visitor_id"] == "3f9a2c1e8b7d4f60a1b2c3d4e5f60718"
    assert row["origin"] == "webhook:ctm" and row["vendor_source"] == "google"


def test_twilio_status_callbacks_signed_by_twilio_s_validator(client, server):
    completed = dict(parse_qsl((FIXTURES / "twilio-status-completed.form").read_text()))
    params = {**completed, "CallSid": "CA00000000000000000000000000000001"}
    answer = post_twilio(client, params, f"{PUBLIC_URL}/webhooks/twilio")
    assert answer.status_code == 200, answer.text
    # The URL with a query string is signed whole, as Twilio signs it.
    params = {**params, "CallSid": "CA00000000000000000000000000000002"}
    answer = post_twilio(
        client, params, f"{PUBLIC_URL}/webhooks/twilio?site=main", "/webhooks/twilio?site=main"
    )
    assert answer.status_code == 200, answer.text
    sids = {r["call_id"] for r in stored(server) if r["source_system"] == "twilio"}
    assert {"CA00000000000000000000000000000001", "CA00000000000000000000000000000002"} <= sids


def test_twilio_hmac_sha256_signatures_named_in_their_settings_header(client, server):
    params = dict(parse_qsl((FIXTURES / "twilio-status-completed.form").read_text()))
    params["CallSid"] = "CA00000000000000000000000000000003"
    url = f"{PUBLIC_URL}/webhooks/twilio"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params, "HMAC_SHA256")
    settings_header = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    headers = {
        "X-Twilio-Signature": signature,
        "X-Twilio-Webhooks-Signature-Settings": settings_header,
    }
    assert client.post("/webhooks/twilio", data=params, headers=headers).status_code == 200
    # The same signature read as the legacy HMAC-SHA1 does not match.
    del headers["X-Twilio-Webhooks-Signature-Settings"]
    assert client.post("/webhooks/twilio", data=params, headers=headers).status_code == 401


def test_twilio_signatures_are_over_the_public_url_not_the_local_one(client, server):
    params = dict(parse_qsl((FIXTURES / "twilio-status-ringing.form").read_text()))
    before = len(stored(server))
    answer = post_twilio(client, params, f"{server.url}/webhooks/twilio")
    assert answer.status_code == 401
    assert "public_url" in answer.json()["error"]
    assert len(stored(server)) == before


def test_invoca_needs_the_token_in_its_url(client, server):
    transaction = json.loads((FIXTURES / "invoca-transactions.json").read_text())[0]
    transaction = {**transaction, "transaction_id": "WEBHOOK-INVOCA-1"}
    before = stored(server)
    for path in ("/webhooks/invoca", "/webhooks/invoca/wrong-token", f"/webhooks/invoca/{TOKEN}"):
        answer = client.post(path, json=transaction)
        assert answer.status_code == 401, path
    assert added(server, before) == []
    answer = client.post(f"/webhooks/invoca/{INVOCA_TOKEN}", json=transaction)
    assert answer.status_code == 200, answer.text
    assert [r["call_id"] for r in added(server, before)] == ["WEBHOOK-INVOCA-1"]


def test_records_that_are_not_calls_are_skipped(client, server):
    body = json.dumps(ctm_call(3100000002, direction="chat")).encode()
    before = len(stored(server))
    answer = client.post("/webhooks/ctm", content=body, headers=ctm_headers(body))
    assert (answer.status_code, answer.json()) == (200, {"stored": 0, "skipped": 1})
    assert len(stored(server)) == before


# -- refused: nothing stored ------------------------------------------------------------

VECTOR = (FIXTURES / "callrail-post-call-docs-vector.json").read_bytes()
TAMPERED = VECTOR.replace(b'"duration":"13"', b'"duration":"14"')
CTM_BODY = json.dumps(ctm_call(3100000003)).encode()


@pytest.mark.parametrize(
    ("path", "body", "headers"),
    [
        ("/webhooks/callrail", TAMPERED, {"Signature": CALLRAIL_SIGNATURE}),
        ("/webhooks/callrail", VECTOR, {}),
        ("/webhooks/callrail", VECTOR, callrail_headers(VECTOR, key="not-the-key")),
        ("/webhooks/ctm", CTM_BODY, {}),
        ("/webhooks/ctm", CTM_BODY + b" ", ctm_headers(CTM_BODY)),
        ("/webhooks/ctm", CTM_BODY, ctm_headers(CTM_BODY, secret="wrong")),
        ("/webhooks/ctm", CTM_BODY, {**ctm_headers(CTM_BODY), "X-CTM-Time": "1"}),
        # Signed right, but an hour ago: outside the 5-minute replay window.
        ("/webhooks/ctm", CTM_BODY, ctm_headers(CTM_BODY, at=time.time() - 3600)),
        ("/webhooks/twilio", b"CallSid=CA1&CallStatus=completed", {}),
        (
            "/webhooks/twilio",
            b"CallSid=CA1&CallStatus=completed",
            {"X-Twilio-Signature": "bm90IGEgc2lnbmF0dXJl"},
        ),
    ],
    ids=[
        "callrail-tampered",
        "callrail-unsigned",
        "callrail-wrong-key",
        "ctm-unsigned",
        "ctm-body-changed",
        "ctm-wrong-secret",
        "ctm-time-changed",
        "ctm-replayed-late",
        "twilio-unsigned",
        "twilio-forged",
    ],
)
def test_bad_or_missing_signatures_get_401_and_store_nothing(client, server, path, body, headers):
    before = (len(stored(server)), len(stored(server, "rejects")))
    answer = client.post(path, content=body, headers=headers)
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"].startswith("signature refused")
    assert (len(stored(server)), len(stored(server, "rejects"))) == before


def test_signed_bodies_that_hold_no_call_get_400_and_are_kept_as_rejects(client, server):
    before = len(stored(server))
    for body in (b"{not json", b"[" * 9_000 + b"]" * 9_000, b'{"id": 5}'):
        answer = client.post("/webhooks/ctm", content=body, headers=ctm_headers(body))
        assert answer.status_code == 400, answer.text
        assert answer.json()["rejected"]
    assert len(stored(server)) == before
    reasons = [r["reason"] for r in stored(server, "rejects") if r["source"] == "webhook:ctm"]
    assert any("not JSON" in reason for reason in reasons)
    twilio = b"\xff\xfe not a form"
    answer = client.post("/webhooks/twilio", content=twilio, headers={"X-Twilio-Signature": "x"})
    assert answer.status_code == 400


def test_bodies_over_the_limit_get_413(client):
    body = b'{"id": 1, "pad": "' + b"x" * 30_000 + b'"}'
    answer = client.post("/webhooks/callrail", content=body, headers=callrail_headers(body))
    assert answer.status_code == 413


def test_only_post_is_routed(client):
    for path in ("/webhooks/ctm", "/webhooks/callrail", "/webhooks/twilio"):
        assert client.get(path).status_code == 405


JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
FIELDS = st.sampled_from(
    [
        "id", "sid", "unix_time", "called_at", "resource_id", "start_time", "duration",
        "caller_number", "customer_phone_number", "direction", "transaction_id",
        "transaction_type", "start_time_utc", "corrects_transaction_id", "custom_fields",
        "landing_page_url", "location", "utm_source", "form_data", "submitted_at", "content",
        "source_number", "answered", "tags",
    ]
)  # fmt: skip
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(FIELDS | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=12,
)
TWILIO_FIELDS = st.dictionaries(
    st.sampled_from(
        ["CallSid", "CallStatus", "CallDuration", "Timestamp", "From", "To", "SequenceNumber"]
    ),
    st.text(max_size=30),
    max_size=7,
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.one_of(
        st.tuples(st.just("ctm"), JSON_VALUES.map(lambda v: json.dumps(v).encode())),
        st.tuples(st.just("callrail"), JSON_VALUES.map(lambda v: json.dumps(v).encode())),
        st.tuples(st.just("invoca"), JSON_VALUES.map(lambda v: json.dumps(v).encode())),
        st.tuples(st.just("ctm"), st.binary(max_size=200)),
        st.tuples(st.just("twilio"), TWILIO_FIELDS.map(lambda f: urlencode(f).encode())),
        st.tuples(st.just("twilio"), st.binary(max_size=200)),
    )
)
def test_signed_malformed_payloads_never_get_a_500_nor_store_a_partial_call(server, pair):
    vendor, body = pair
    before = stored(server)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        if vendor == "ctm":
            answer = http.post("/webhooks/ctm", content=body, headers=ctm_headers(body))
        elif vendor == "callrail":
            answer = http.post("/webhooks/callrail", content=body, headers=callrail_headers(body))
        elif vendor == "invoca":
            answer = http.post(f"/webhooks/invoca/{INVOCA_TOKEN}", content=body)
        else:
            params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            signature = RequestValidator(TWILIO_TOKEN).compute_signature(
                f"{PUBLIC_URL}/webhooks/twilio", params
            )
            answer = http.post(
                "/webhooks/twilio",
                content=body,
                headers={
                    "X-Twilio-Signature": signature,
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
    # A binary body can parse as a form other than the one signed here: then 401.
    allowed = {200, 400, 401} if vendor == "twilio" else {200, 400}
    assert answer.status_code in allowed, answer.text
    new = added(server, before)
    if answer.status_code == 200:
        assert len(new) == answer.json()["stored"]
    else:
        assert new == []
    for row in new:  # whole rows only
        assert set(row) == set(RAW_CALLS.names)
        assert row["call_id"] and row["called_at"] and row["source_system"] == vendor


# -- after the build: one call per vendor id, merged with the collected session ---------


def test_redeliveries_are_stored_once_and_a_modified_call_replaces_the_first(client, server):
    first = json.dumps(ctm_call(3100000010, duration=60)).encode()
    for _ in range(3):  # CTM redelivers: new X-CTM-Time, same body
        answer = client.post("/webhooks/ctm", content=first, headers=ctm_headers(first))
        assert answer.status_code == 200
    calls = [c for c in build_and_export(server) if c["call_id"] == "3100000010"]
    assert len(calls) == 1 and calls[0]["duration_s"] == 60
    modified = json.dumps(ctm_call(3100000010, duration=75)).encode()
    answer = client.post("/webhooks/ctm", content=modified, headers=ctm_headers(modified))
    assert answer.status_code == 200
    answer = client.post(
        "/webhooks/callrail", content=VECTOR, headers={"Signature": CALLRAIL_SIGNATURE}
    )
    assert answer.status_code == 200  # redelivered again, after a build
    calls = build_and_export(server)
    ours = [c for c in calls if c["call_id"] == "3100000010"]
    assert len(ours) == 1 and ours[0]["duration_s"] == 75
    assert sum(1 for c in calls if c["call_id"] == "766970532") == 1


def test_twilio_events_of_one_call_are_one_call_with_the_final_status(client, server):
    sid = "CA00000000000000000000000000000077"
    for name in ("twilio-status-ringing.form", "twilio-status-completed.form"):
        params = {**dict(parse_qsl((FIXTURES / name).read_text())), "CallSid": sid}
        assert post_twilio(client, params, f"{PUBLIC_URL}/webhooks/twilio").status_code == 200
    calls = [c for c in build_and_export(server) if c["call_id"] == sid]
    assert len(calls) == 1
    assert calls[0]["duration_s"] == 149 and calls[0]["outcome"] == "no_visitor_id"


def test_a_webhook_call_merges_with_the_session_the_collector_took(client, server):
    visitor = "feedfacefeedfacefeedfacefeedface"
    site = "https://www.northwind-plumbing.example"
    started = 1_772_626_620_000  # 2026-03-04T12:17:00Z, epoch ms as the snippet sends it
    events = [
        {
            "event_id": f"{visitor[:24]}{n:08d}",
            "visitor_id": visitor,
            "type": "page_view",
            "occurred_at": started + n * 90_000,
            "url": f"{site}/{page}",
            "referrer": referrer,
        }
        for n, (page, referrer) in enumerate(
            [
                ("?utm_source=google&utm_medium=cpc&gclid=abc123", "https://www.google.com/"),
                ("pricing", f"{site}/"),
            ]
        )
    ]
    answer = client.post(
        "/collect",
        content=json.dumps(events),
        headers={"Content-Type": "text/plain", "Origin": site, "User-Agent": "Mozilla/5.0"},
    )
    assert answer.status_code == 204
    call = {
        "resource_id": "CAL0123456789abcdef0123456789abcd",
        "id": 912000001,
        "start_time": "2026-03-04T07:29:00.000-05:00",  # 12 minutes after the session start
        "customer_phone_number": "+16175550123",
        "tracking_phone_number": "+18885550100",
        "duration": "95",
        "direction": "inbound",
        "custom_fields": {"tp_uid": visitor},
    }
    body = json.dumps(call).encode()
    answer = client.post("/webhooks/callrail", content=body, headers=callrail_headers(body))
    assert answer.status_code == 200
    # The same call as the Task CallRail wrote into Salesforce: still one call.
    tasks = server.directory / "tasks.csv"
    tasks.write_text(
        "Id,CreatedDate,Type,Subject,WhoId,CallObject,IsDeleted,LastModifiedDate\n"
        "00T5e00000WhKaAEAV,2026-03-04T12:31:00.000+0000,Inbound Call,Call from CallRail,"
        "00Q5e00000AbCdEEA1,CAL0123456789abcdef0123456789abcd,false,"
        "2026-03-04T12:35:00.000+0000\n"
    )
    imported = touchpoint(
        server.directory, "import", "calls", str(tasks), "--format", "salesforce-csv"
    )
    assert imported.returncode == 0, imported.stderr
    calls = [c for c in build_and_export(server) if c["caller_number"] == "+16175550123"]
    assert len(calls) == 1
    merged = calls[0]
    assert (merged["source_system"], merged["call_id"]) == ("callrail", call["resource_id"])
    assert merged["outcome"] == "merged" and merged["session_id"]
    assert merged["seconds_from_session_start"] == 12 * 60
    assert merged["who_id"] == "00Q5e00000AbCdEEA1"  # from the Task
    touchpoints = {
        t["touchpoint_id"]: t for t in build_and_export(server, "touchpoints", build=False)
    }
    assert touchpoints[merged["touchpoint_id"]]["channel"] == "Paid Search"


# -- a server without secrets, rate-limited --------------------------------------------


def test_vendors_without_a_secret_are_refused_and_requests_are_rate_limited(tmp_path):
    port = free_port()
    write_config(
        tmp_path,
        '[collector]\nrate_limit_per_minute = 5\nsegment_max_age = "300ms"',
        # No public_url: Twilio's signature is checked against the URL the request names.
        f'[webhooks]\ntwilio_auth_token = "{TWILIO_TOKEN}"',
    )
    running = start(tmp_path, port)
    try:
        with httpx.Client(base_url=running.url, timeout=10) as http:
            for path in ("/webhooks/ctm", "/webhooks/callrail", "/webhooks/invoca/x"):
                answer = http.post(path, content=b"{}")
                assert answer.status_code == 503, path
                assert "not configured" in answer.json()["error"]
                assert "unsigned" in answer.json()["error"]
            params = dict(parse_qsl((FIXTURES / "twilio-status-completed.form").read_text()))
            signed = post_twilio(http, params, f"http://127.0.0.1:{port}/webhooks/twilio")
            assert signed.status_code == 200, signed.text
            assert post_twilio(http, params, f"{PUBLIC_URL}/webhooks/twilio").status_code == 401
            limited = http.post("/webhooks/ctm", content=b"{}")
            assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
            assert http.post("/collect", content=b"[]").status_code != 429  # its own budget
    finally:
        running.stop()
    assert logged_rows(running.intake, "raw_calls")[0]["source_system"] == "twilio"
