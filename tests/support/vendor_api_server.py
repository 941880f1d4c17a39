"""What the call-tracking API test servers share: a real HTTP server on 127.0.0.1, failures.

A `ThreadingHTTPServer` on a free port in a thread of the test process. Each
server (`callrail_server`, `ctm_server`) answers GETs with `answer(path,
query, headers) -> (status, headers, body)`; `fail(status, times,
retry_after)` makes the next requests fail the way the vendors do (429 with
`Retry-After`, 5xx) before answering again. `seen` records every request, as
`Seen(path, query, headers, status)`.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from support.local_http import QuietHandler, start, stop

Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int


@dataclass
class Failure:
    status: int
    retry_after: str | None = None
    body: bytes = b""


@dataclass
class VendorApiServer:
    """The common part: the HTTP server, the failures to give, the requests seen."""

    seen: list[Seen] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    failures: deque[Failure] = field(default_factory=deque)
    _server: ThreadingHTTPServer | None = None

    def answer(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Answer:
        raise NotImplementedError

    def fail(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        body = json.dumps({"error": f"test failure {status}"}).encode()
        for _ in range(times):
            self.failures.append(Failure(status, retry_after, body))

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> VendorApiServer:
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    status, extra, body = server._respond(parts.path, query, headers)
                except Exception as exc:  # a bug in the test server shows in the test
                    server.errors.append(f"{type(exc).__name__}: {exc}")
                    status, extra, body = 500, {}, b"{}"
                server.seen.append(Seen(parts.path, query, headers, status))
                self.send_response(status)
                for name, value in {"Content-Type": "application/json", **extra}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = start(Handler)
        return self

    def stop(self) -> None:
        stop(self._server)

    def _respond(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Answer:
        if self.failures:
            failure = self.failures.popleft()
            extra = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            return failure.status, extra, failure.body
        return self.answer(path, query, headers)


def json_answer(status: int, body: Any) -> Answer:
    return status, {}, json.dumps(body).encode()
