"""The JSON API and the token, against a real `touchpoint serve` over a built world.

schemathesis generates requests from the API's own OpenAPI document and checks
every answer against it (status codes, content types, response schemas, never a
500). Without the token everything is 401 except `/healthz`, the collector, the
snippet and the webhooks.
"""

from __future__ import annotations

import gzip
import json
import secrets
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from support.collector_server import Server, clean_env, free_port, start, wait_for
from support.report_world import (
    HOSTILE_CALL,
    HOSTILE_VISITOR,
    TOKEN,
    XSS_CAMPAIGN,
    build_world,
    touchpoint,
)
from touchpoint.collect.app import create_app
from touchpoint.config import load_settings
from touchpoint.report.openapi import openapi_document

pytestmark = [
    pytest.mark.slow,
    # schemathesis and its dependencies warn about their own internals.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCHEMA = schemathesis.openapi.from_dict(openapi_document())
EXAMPLE_PATHS = {
    "/api/calls/{call_id}/explanation": f"/api/calls/{HOSTILE_CALL}/explanation",
    "/api/people/{person_id}/journey": f"/api/people/{HOSTILE_VISITOR}/journey",
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_world(tmp_path_factory.mktemp("api-world"), visitors=120)


@pytest.fixture(scope="module")
def server(world: Path) -> Iterator[Server]:
    served = start(world)
    yield served
    served.stop()


def api_paths() -> list[str]:
    return [EXAMPLE_PATHS.get(path, path) for path in openapi_document()["paths"]]


@SCHEMA.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_answer_matches_the_openapi_document(case, server):
    # Headers that frame the HTTP message are the client's to set: a generated
    # `Content-Length: x` is refused by the HTTP layer (uvicorn's 400) before the app.
    framing = {"content-length", "transfer-encoding", "host", "connection"}
    if case.headers:
        case.headers = {k: v for k, v in case.headers.items() if k.lower() not in framing}
    # Each case speaks as a client of its own: the wrong tokens schemathesis sends to
    # check the API's auth would otherwise throttle every case after them (429).
    client = {"X-Forwarded-For": f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.7"}
    case.call_and_validate(base_url=server.url, headers={**AUTH, **client})


def test_the_served_document_is_the_package_s(server):
    answer = httpx.get(f"{server.url}/api/openapi.json", headers=AUTH, timeout=60)
    assert answer.status_code == 200
    assert answer.json() == openapi_document()


@pytest.mark.parametrize("path", [*api_paths(), "/", "/api/", "/api/not-a-path"])
def test_without_the_token_everything_is_401(server, path):
    # A client per path: past 10 wrong tokens a minute, one address gets 429 (test_auth.py).
    client = {"X-Forwarded-For": f"10.99.{len(path)}.{sum(map(ord, path)) % 256}"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Cookie": "tp_dashboard=forged"}):
        answer = httpx.get(server.url + path, headers={**client, **headers}, timeout=60)
        assert answer.status_code == 401, (path, headers)
        assert "Traceback" not in answer.text


def test_public_paths_need_no_token(server, world):
    with httpx.Client(base_url=server.url, timeout=60) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/tp.js").status_code == 200
        assert client.post("/collect", content=b"not a batch").status_code == 400
        event = {
            "visitor_id": "public-path-visitor",
            "type": "page_view",
            "occurred_at": "2026-03-04T12:17:00Z",
            "url": "https://www.northwind-plumbing.example/",
        }
        assert client.post("/collect", json=[event]).status_code == 204
        # Whatever else the server routes outside the dashboard (the webhooks) stays public.
        app = create_app(load_settings(None, db=world / "touchpoint.duckdb"), TOKEN)
        dashboard = {"/", "/login", "/logout", "/api"}
        for route in app.routes:
            path = getattr(route, "path", "")
            if path in dashboard or "{" in path or path == "/collect":
                continue
            assert client.get(path).status_code != 401, path
        # The webhooks answer vendors, never the dashboard's token check: without secrets
        # in [webhooks] they say so (503), whatever Authorization comes with them.
        webhooks = [getattr(r, "path", "") for r in app.routes]
        webhooks = [p.replace("{token}", "t0ken") for p in webhooks if p.startswith("/webhooks/")]
        # ctm, callrail, invoca (+ /<token>), twilio (+ /voice)
        assert len(webhooks) == 6, webhooks
        for path in webhooks:
            for headers in ({}, {"Authorization": "Bearer wrong"}):
                answer = client.post(path, content=b"{}", headers=headers)
                assert answer.status_code == 503, (path, answer.text)
                assert "not configured" in answer.json()["error"]


def test_a_signed_in_browser_may_use_the_api_too(server):
    with httpx.Client(base_url=server.url, timeout=60) as client:
        signed_in = client.post("/login", data={"token": TOKEN})
        assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/")
        assert client.cookies.get("tp_dashboard")
        assert client.get("/api/summary").status_code == 200
        assert client.post("/logout", headers={"Origin": server.url}).status_code == 303
        assert client.get("/api/summary").status_code == 401


def test_the_page_is_served_gzipped_with_a_strict_policy(server):
    answer = httpx.get(server.url + "/", headers={**AUTH, "Accept-Encoding": "gzip"}, timeout=60)
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip"
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert answer.headers["cache-control"] == "no-store"
    html = answer.text  # httpx decoded it
    assert XSS_CAMPAIGN not in html  # only ever escaped
    assert len(gzip.compress(html.encode())) < len(html) / 2


def test_bad_parameters_are_400_and_unknown_ids_404(server):
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as client:
        assert client.get("/api/calls/unmerged?limit=0").status_code == 400
        assert client.get("/api/calls/unmerged?limit=ten").status_code == 400
        assert client.get("/api/attribution?model=magic").status_code == 400
        assert client.get("/api/calls/nope/explanation").status_code == 404
        assert client.get("/api/people/nobody/journey").status_code == 404
        assert client.get("/?model=magic").status_code == 400
        assert client.get("/?person=nobody").status_code == 400
        explained = client.get(f"/api/calls/{HOSTILE_CALL}/explanation").json()
        assert explained["calls"][0]["outcome"] == "outside_window"
        for query in ("from=2026-13-01", "to=soon", "to="):
            for path in ("/api/report", "/api/reconciliation", "/api/slices", "/api/trend"):
                answer = client.get(f"{path}?{query}")
                assert answer.status_code == 400, (path, query)
                assert "must be a date like 2026-03-01" in answer.json()["error"]
        # From after to is a valid request for no days at all.
        nothing = client.get("/api/summary?from=2026-03-10&to=2026-03-01").json()
        assert (nothing["calls"], nothing["touchpoints"], nothing["won_revenue"]) == (0, 0, 0)
        assert client.get("/api/slices?dimension=weather").status_code == 400
        assert client.get("/?from=someday").status_code == 400


def test_the_api_reconciles_and_slices_as_the_report_does(server, world):
    days = ("--from", "2026-03-09", "--to", "2026-03-22")
    query = "from=2026-03-09&to=2026-03-22"
    report = json.loads(touchpoint(world, "report", "--json", *days))
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as client:
        reconciliation = client.get(f"/api/reconciliation?{query}").json()
        assert reconciliation == report["reconciliation"]
        everything = client.get("/api/reconciliation").json()
        assert everything["crm"]["opportunities"] > reconciliation["crm"]["opportunities"] > 0
        slices = client.get(f"/api/slices?{query}").json()
        assert slices == report["slices"]
        one = client.get(f"/api/slices?{query}&dimension=tracking_number&limit=2").json()
        rows = one["breakdowns"][0]["rows"]
        assert [b["dimension"] for b in one["breakdowns"]] == ["tracking_number"]
        assert len(rows) == 3 and rows[-1]["value"].startswith("(others: ")
        full = next(b for b in slices["breakdowns"] if b["dimension"] == "tracking_number")
        assert sum(r["calls"] for r in rows) == sum(r["calls"] for r in full["rows"])
        summary = client.get(f"/api/summary?{query}").json()
        assert summary["calls"] == report["summary"]["calls"]


def test_reading_never_blocks_a_build_and_a_new_build_shows_up(server, world):
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as client:
        before = client.get("/api/summary").json()["build_id"]
        client.get("/")  # the page for this build is rendered and kept
        build = subprocess.Popen(
            [sys.executable, "-m", "touchpoint", "-q", "build"],
            cwd=world,
            env=clean_env(),
            stderr=subprocess.PIPE,
            text=True,
        )
        answers: list[int] = []

        def read_while_building() -> None:
            while build.poll() is None:
                answers.append(client.get("/api/calls/by-channel").status_code)

        reader = threading.Thread(target=read_while_building)
        reader.start()
        _out, errors = build.communicate(timeout=300)
        reader.join()
        assert build.returncode == 0, errors
        assert answers and set(answers) == {200}
        after = client.get("/api/summary").json()["build_id"]
        assert after != before
        assert after in client.get("/").text


def test_before_the_first_build_the_api_says_so(tmp_path):
    (tmp_path / "touchpoint.toml").write_text(f'[server]\ntoken = "{TOKEN}"\n')
    served = start(tmp_path)
    try:
        answer = httpx.get(f"{served.url}/api/summary", headers=AUTH, timeout=60)
        assert answer.status_code == 503
        assert "nothing has been built yet" in answer.json()["error"]
        page = httpx.get(f"{served.url}/", headers=AUTH, timeout=60)
        assert page.status_code == 200 and "Nothing has been built yet" in page.text
    finally:
        served.stop()


def test_the_demo_serves_its_dashboard_and_prints_the_token(tmp_path):
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as output:
        demo = subprocess.Popen(
            [sys.executable, "-m", "touchpoint", "demo", "--visitors", "60", "--port", str(port)],
            cwd=tmp_path,
            env=clean_env(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: "dashboard and API token" in log.read_text(), timeout=120)
        text = log.read_text()
        assert f"dashboard: {url}/" in text
        token = text.split("dashboard and API token (set [server] token to keep one): ")[1].split()[
            0
        ]
        assert httpx.get(url + "/", timeout=60).status_code == 401
        summary = httpx.get(
            url + "/api/summary", headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        assert summary.status_code == 200 and summary.json()["calls"] > 0
    finally:
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=30)


@pytest.mark.parametrize("path", ["/api/people/a%0Ab/journey", "/api/no-such", "/no-such-page"])
def test_paths_nothing_matches_get_a_json_404(server, path):
    answer = httpx.get(server.url + path, headers=AUTH, timeout=60)
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/json"
    assert "error" in answer.json()
