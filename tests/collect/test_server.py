"""`touchpoint serve` on uvicorn: status codes, bounds, CORS, the snippet, builds beside it."""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.collector_server import (
    Server,
    clean_env,
    logged_rows,
    start,
    touchpoint,
    wait_for,
    write_config,
)

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126 Safari"
HEADERS = {"user-agent": BROWSER}


def event(n: int, **fields: object) -> dict[str, object]:
    return {
        "event_id": f"ev-{n}",
        "visitor_id": "0123456789abcdef0123456789abcdef",
        "type": "page_view",
        "occurred_at": 1772626620000 + n,
        "url": f"https://www.example.com/p{n}?gclid=click{n}",
        **fields,
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("collector")
    write_config(directory, domains=["example.com"], max_body_bytes=20_000, max_events_per_batch=5)
    running = start(directory)
    yield running
    running.stop()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=HEADERS, timeout=10) as http:
        yield http


def test_health_is_public(client: httpx.Client):
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json() == {"status": "ok"}
    assert client.get("/").status_code == 401  # the dashboard needs the token


def test_a_batch_of_good_events_is_acknowledged_with_204_once_on_disk(client, server):
    answer = client.post("/collect", json=[event(1), event(2)])
    assert answer.status_code == 204 and answer.content == b""
    stored = {row["event_id"]: row for row in logged_rows(server.intake)}
    assert stored["ev-1"]["click_id"] == "click1"
    # DESIGN §16: what the user agent says, not the string.
    assert stored["ev-1"]["user_agent"] is None
    assert (stored["ev-1"]["os"], stored["ev-1"]["device"]) == ("Linux", "desktop")
    assert stored["ev-1"]["client_ip"] is None  # not kept unless [collector] store_ip


def test_some_rejected_events_give_200_with_their_index_and_reason(client, server):
    answer = client.post("/collect", json=[event(3), {**event(4), "url": "ftp://x"}, "text"])
    assert answer.status_code == 200
    assert answer.json() == {
        "accepted": 1,
        "rejected": [
            {"index": 1, "reason": "url 'ftp://x' is not an absolute http(s) URL"},
            {"index": 2, "reason": "an event must be a JSON object"},
        ],
    }
    rejects = [r for r in logged_rows(server.intake, "rejects") if r["record"] == '"text"']
    assert rejects and rejects[0]["source"] == "collector" and rejects[0]["kind"] == "events"


def test_send_beacon_text_plain_ndjson_is_taken(client, server):
    body = json.dumps(event(5)) + "\n" + json.dumps(event(6))
    answer = client.post(
        "/collect", content=body, headers={"content-type": "text/plain;charset=UTF-8"}
    )
    assert answer.status_code == 204
    assert {"ev-5", "ev-6"} <= {row["event_id"] for row in logged_rows(server.intake)}


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[]", "application/json", 400),
        (b"[" + b",".join([b"{}"] * 6) + b"]", "application/json", 413),
        (b"x" * 20_001, "text/plain", 413),
        (b"visitor_id=1", "application/x-www-form-urlencoded", 415),
        (b"[" * 9000 + b"]" * 9000, "application/json", 400),
    ],
    ids=["not-json", "empty", "too-many-events", "too-large", "form-encoded", "nested"],
)
def test_requests_that_are_not_a_batch_are_refused_whole(client, body, content_type, status):
    answer = client.post("/collect", content=body, headers={"content-type": content_type})
    assert answer.status_code == status
    assert "error" in answer.json()


def test_a_deeply_nested_event_is_one_reject_not_an_error(client, server):
    deep = {"a": 1}
    for _ in range(900):
        deep = {"a": deep}
    answer = client.post("/collect", json=[{**event(10), "properties": deep}, event(11)])
    assert answer.status_code in (200, 204)
    assert "ev-11" in {row["event_id"] for row in logged_rows(server.intake)}


def test_a_chunked_body_over_the_limit_is_refused(client):
    def chunks() -> Iterator[bytes]:
        for _ in range(30):
            yield b"x" * 1000

    answer = client.post("/collect", content=chunks(), headers={"content-type": "text/plain"})
    assert answer.status_code == 413


def test_only_post_is_taken(client):
    assert client.get("/collect").status_code == 405


def test_pages_of_the_sites_domains_get_cors_answers(client):
    origin = {"origin": "https://shop.example.com"}
    preflight = client.options(
        "/collect", headers={**origin, "access-control-request-method": "POST"}
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://shop.example.com"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    answer = client.post("/collect", json=[event(7)], headers=origin)
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == "https://shop.example.com"


def test_pages_of_other_sites_are_refused(client, server):
    other = {"origin": "https://example.net"}
    assert client.options("/collect", headers=other).status_code == 403
    assert client.post("/collect", json=[event(8)], headers=other).status_code == 403
    assert "ev-8" not in {row["event_id"] for row in logged_rows(server.intake)}


def test_bots_are_dropped_quietly(client, server):
    bot = {"user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}
    assert client.post("/collect", json=[event(9)], headers=bot).status_code == 204
    assert "ev-9" not in {row["event_id"] for row in logged_rows(server.intake)}


def test_the_snippet_is_served_with_cache_headers_and_an_etag(client):
    answer = client.get("/tp.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert answer.headers["cache-control"] == "public, max-age=3600"
    assert b'{"cookie": "_tp_uid", "domain": "", "gpc": true, "dnt": true}' in answer.content
    etag = answer.headers["etag"]
    again = client.get("/tp.js", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    zipped = client.get("/tp.js", headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == answer.content  # httpx unzips
    assert client.get("/tp.js", headers={"if-none-match": '"other"'}).status_code == 200


def test_the_snippet_source_stays_small():
    from touchpoint.collect.snippet import snippet_source

    source = snippet_source()
    # What a minifier removes first: comments, indentation, blank lines.
    lines = [line.split(" // ")[0].strip() for line in source.splitlines()]
    code = "\n".join(line for line in lines if line and not line.startswith(("//", "/*", "*")))
    assert len(code.encode()) < 7 * 1024
    assert len(gzip.compress(source.encode())) < 4 * 1024


# -- bad input never gets a 500 ------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
field_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=40),
    st.sampled_from(
        [
            "page_view",
            "https://a.example.com/x?utm_source=y",
            "2026-03-04T12:00:00Z",
            "v_1",
            "",
            " ",
        ]
    ),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    st.lists(st.integers(), max_size=3),
)
events = st.dictionaries(
    st.sampled_from(
        [
            "visitor_id",
            "type",
            "occurred_at",
            "url",
            "event_id",
            "referrer",
            "title",
            "email",
            "user_agent",
            "properties",
            "other",
        ]
    ),
    field_values,
    max_size=11,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(events, min_size=1, max_size=5).map(lambda v: json.dumps(v).encode()),
    st.lists(events, min_size=1, max_size=4).map(
        lambda v: "\n".join(json.dumps(e) for e in v).encode()
    ),
    st.lists(events, min_size=1, max_size=4).map(lambda v: json.dumps({"events": v}).encode()),
)
content_types = st.sampled_from(
    ["application/json", "text/plain;charset=UTF-8", "", "application/x-ndjson", "text/html"]
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=bodies,
    content_type=content_types,
    origin=st.sampled_from([None, "https://example.com", "null"]),
)
def test_any_body_gets_2xx_or_4xx_never_5xx(client, body, content_type, origin):
    headers = {"content-type": content_type} if content_type else {}
    if origin:
        headers["origin"] = origin
    answer = client.post("/collect", content=body, headers=headers)
    assert 200 <= answer.status_code < 500, answer.text
    if answer.status_code == 200:
        result = answer.json()
        assert set(result) == {"accepted", "rejected"}
        assert all(set(r) == {"index", "reason"} for r in result["rejected"])


# -- settings that change what is kept ----------------------------------------------------


def test_the_rate_limit_answers_429_with_retry_after(tmp_path: Path):
    write_config(tmp_path, rate_limit_per_minute=3)
    server = start(tmp_path)
    try:
        with httpx.Client(base_url=server.url, headers=HEADERS) as http:
            codes = [http.post("/collect", json=[event(n)]).status_code for n in range(4)]
            assert codes == [204, 204, 204, 429]
            limited = http.post("/collect", json=[event(5)])
            assert int(limited.headers["retry-after"]) >= 1
            # Clients behind the trusted proxy (127.0.0.1) are told apart by X-Forwarded-For.
            other = {"x-forwarded-for": "203.0.113.9"}
            assert http.post("/collect", json=[event(6)], headers=other).status_code == 204
    finally:
        server.stop()


def test_ips_are_kept_truncated_gpc_is_honoured_and_the_cookie_is_configured(tmp_path: Path):
    write_config(
        tmp_path, store_ip=True, honor_gpc=True, cookie_name="_biz_uid", cookie_domain="example.com"
    )
    server = start(tmp_path)
    try:
        with httpx.Client(base_url=server.url, headers=HEADERS) as http:
            forwarded = {"x-forwarded-for": "203.0.113.77"}
            assert http.post("/collect", json=[event(1)], headers=forwarded).status_code == 204
            gpc = {"sec-gpc": "1"}
            assert http.post("/collect", json=[event(2)], headers=gpc).status_code == 204
            snippet = http.get("/tp.js").text
        assert (
            '{"cookie": "_biz_uid", "domain": "example.com", "gpc": true, "dnt": true}' in snippet
        )
        stored = logged_rows(server.intake)
        assert [(r["event_id"], r["client_ip"]) for r in stored] == [("ev-1", "203.0.113.0")]
    finally:
        server.stop()


def test_stopping_the_server_closes_its_segment(tmp_path: Path):
    write_config(tmp_path, segment_max_age="1h")
    server = start(tmp_path)
    httpx.post(f"{server.url}/collect", json=[event(1)], headers=HEADERS)
    assert list(server.intake.glob("*.open"))
    server.stop()
    assert server.process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal
    assert not list(server.intake.glob("*.open")) and list(server.intake.glob("*.seg"))


def test_serve_says_in_one_line_when_the_port_is_taken(tmp_path: Path):
    server = start(tmp_path)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "touchpoint", "serve", "--port", str(server.port)],
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.stop()
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error: cannot serve on 127.0.0.1:")
    assert len(done.stderr.strip().splitlines()) == 1


def test_serve_says_in_one_line_when_the_intake_directory_is_unusable(tmp_path: Path):
    (tmp_path / "a-file").write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "touchpoint", "serve", "--port", "0"],
        cwd=tmp_path,
        env=clean_env(TOUCHPOINT_COLLECTOR__INTAKE_DIR=str(tmp_path / "a-file" / "intake")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip().startswith("error: cannot use ")
    assert len(done.stderr.strip().splitlines()) == 1


def test_serve_prints_a_token_when_none_is_set(tmp_path: Path):
    server = start(tmp_path)
    server.stop()
    assert "token (set [server] token to keep one): " in server.log_text()
    (tmp_path / "touchpoint.toml").write_text(
        '[server]\ntoken = "kept-secret-token-0123456789ab"\n'
    )
    server = start(tmp_path)
    server.stop()
    assert "token" not in server.log_text().split("snippet:")[1]


# -- build beside a running server -----------------------------------------------------


def test_build_runs_while_the_server_takes_events(tmp_path: Path):
    write_config(tmp_path, domains=["example.com"])
    server = start(tmp_path)
    acked: list[str] = []
    stop = threading.Event()

    def send() -> None:
        with httpx.Client(base_url=server.url, headers=HEADERS) as http:
            n = 0
            while not stop.is_set():
                batch = [event(n + i) for i in range(5)]
                if http.post("/collect", json=batch).status_code == 204:
                    acked.extend(e["event_id"] for e in batch)
                n += 5

    sender = threading.Thread(target=send)
    sender.start()
    try:
        wait_for(lambda: len(acked) > 50)
        builds = []
        for _ in range(2):
            builds.append(touchpoint(tmp_path, "build", "--json"))
            time.sleep(0.5)
    finally:
        stop.set()
        sender.join()
    for done in builds:
        assert "in use" not in done.stderr and "lock" not in done.stderr.lower()
        assert done.returncode == 0, done.stderr
    intake = json.loads(builds[0].stdout)["stages"][0]
    assert intake["stage"] == "intake" and intake["rows_out"] > 0
    server.stop()
    final = touchpoint(tmp_path, "build")
    assert final.returncode == 0, final.stderr
    exported = touchpoint(tmp_path, "export", "events", "--format", "json")
    ids = [json.loads(line)["event_id"] for line in exported.stdout.splitlines()]
    assert set(acked) <= set(ids) and len(ids) == len(set(ids))
