"""A local Google: the OAuth token endpoint and the Data Manager API's `events:ingest`.

It answers as Google documents: `POST /token` (form-encoded refresh-token grant)
with `{"access_token": ..., "expires_in": 3599, "token_type": "Bearer"}`, or 400
`{"error": "invalid_grant", "error_description": ...}`; `POST /v1/events:ingest`
with `{"requestId": ...}` once it takes a request, or a `google.rpc.Status` error
(`{"error": {"code", "message", "status", "details": [...]}}`) whose
`google.rpc.BadRequest` detail names refused events by `events[i]` field paths.
It checks what Google checks first: the bearer token, at most 2,000 events, a
destination for every reference, one ad identifier per event. Tests queue
failures (`fail`) and name click ids Google does not know (`unknown_clicks`).
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from conftest import run_touchpoint
from support.local_http import QuietHandler, start, stop

REFRESH_TOKEN = "1//test-refresh-token-9f8e7d"
CLIENT_ID = "1234-test.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-test-client-secret-5a4b"
ACCESS_TOKEN = "ya29.test-access-token-3c2d"
MAX_EVENTS = 2000


def status_error(code: int, status: str, message: str, details: list[Any] | None = None) -> Any:
    return {"error": {"code": code, "message": message, "status": status, "details": details or []}}


@dataclass
class GoogleServer:
    requests: list[dict[str, Any]] = field(default_factory=list)  # every ingest body taken
    answered: list[int] = field(default_factory=list)  # every ingest status answered
    failures: list[int] = field(default_factory=list)  # statuses to answer next, in order
    unknown_clicks: set[str] = field(default_factory=set)
    token_requests: int = 0
    _server: ThreadingHTTPServer | None = None

    def fail(self, status: int, times: int = 1) -> None:
        self.failures += [status] * times

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event Google took (in requests it answered 200)."""
        return [e for body, code in zip(self.requests, self.answered, strict=True) if code == 200
                for e in body["events"]]  # fmt: skip

    def start(self) -> GoogleServer:
        google = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if self.path == "/token":
                    status, body = google._token(parse_qs(raw.decode()))
                elif self.path == "/v1/events:ingest":
                    status, body = google._ingest(self.headers.get("Authorization", ""), raw)
                else:
                    status, body = 404, status_error(404, "NOT_FOUND", "no such method")
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = start(Handler)
        return self

    def stop(self) -> None:
        stop(self._server)

    def _token(self, form: dict[str, list[str]]) -> tuple[int, Any]:
        self.token_requests += 1
        given = {k: v[0] for k, v in form.items()}
        expected = {
            "grant_type": "refresh_token",
            "refresh_token": REFRESH_TOKEN,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
        if given != expected:
            return 400, {"error": "invalid_grant", "error_description": "Bad Request"}
        return 200, {"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"}

    def _ingest(self, authorization: str, raw: bytes) -> tuple[int, Any]:
        body = json.loads(raw)
        self.requests.append(body)
        status, answer = self._answer(authorization, body)
        self.answered.append(status)
        return status, answer

    def _answer(self, authorization: str, body: dict[str, Any]) -> tuple[int, Any]:
        if authorization != f"Bearer {ACCESS_TOKEN}":
            return 401, status_error(
                401,
                "UNAUTHENTICATED",
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
            )
        if self.failures:
            code = self.failures.pop(0)
            names = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
            return code, status_error(code, names.get(code, "UNKNOWN"), f"test failure {code}")
        events = body.get("events", [])
        if len(events) > MAX_EVENTS:
            return 400, status_error(400, "INVALID_ARGUMENT", "Too many events in the request.")
        references = {d.get("reference") for d in body.get("destinations", [])}
        violations = []
        for i, event in enumerate(events):
            identifiers = event.get("adIdentifiers", {})
            if not set(event.get("destinationReferences", [])) <= references:
                violations.append((i, "destination_references", "INVALID_DESTINATION_REFERENCE"))
            elif len(identifiers) != 1:
                violations.append((i, "ad_identifiers", "INVALID_AD_IDENTIFIERS"))
            elif set(identifiers.values()) & self.unknown_clicks:
                violations.append((i, "ad_identifiers.gclid", "The click ID is not recognized."))
        if violations:
            detail = {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [
                    {
                        "field": f"events[{i}].{path}",
                        "description": why,
                        "reason": "INVALID_ARGUMENT",
                    }
                    for i, path, why in violations
                ],
            }
            return 400, status_error(
                400, "INVALID_ARGUMENT", "Request contains an invalid argument.", [detail]
            )
        return 200, {"requestId": str(uuid.uuid4())}


# --- the small world the conversions tests build (tests/fixtures/destinations/world) ---

WORLD_FILES = (
    ("events", "events.ndjson", ()),
    ("calls", "calls.csv", ("--format", "calls-csv")),
    ("crm", "leads.csv", ("--kind", "leads")),
    ("crm", "contacts.csv", ("--kind", "contacts")),
    ("crm", "opportunities.csv", ("--kind", "opportunities")),
)


def build_world(directory: Path, source: Path) -> None:
    """Import the world's files as users do, and build."""
    for kind, name, extra in WORLD_FILES:
        shutil.copy(source / name, directory / name)
        done = run_touchpoint(directory, "import", kind, name, *extra)
        assert done.code == 0, done.stderr
    built = run_touchpoint(directory, "build", "-q")
    assert built.code == 0, built.stderr
