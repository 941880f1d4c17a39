"""Who may see the dashboard and the API: a holder of `[server] token` (DESIGN §16).

A script sends `Authorization: Bearer <token>`; a person types the token into
the login form once and gets a session cookie. The cookie holds when it was
issued, a random session id and an HMAC of both keyed with the token, never the
token itself, so the server can check it without remembering it (a restart
signs nobody out) and it stops working when the token changes, when it is
older than `[server] session_ttl`, or once its session has signed out: sign-out
puts the session id on a list kept in `<db>.signed-out` beside the store until
the cookie would have expired anyway.

Wrong tokens are throttled per client (`collect.limits.client_key`: an IPv6 client
per /64, as the collector's budgets count): after
`FAILURES_PER_MINUTE` failed sign-ins or wrong bearer tokens within a minute,
every sign-in attempt of that client gets 429 until the oldest failure is a
minute old. `/healthz`, the collector, the snippet and the webhooks never ask
for the token.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from touchpoint.collect.limits import client_key

COOKIE = "tp_dashboard"
MIN_TOKEN_LENGTH = 24
FAILURES_PER_MINUTE = 10
_SESSION_MESSAGE = b"touchpoint dashboard session\x00"


def token_problem(token: str) -> str | None:
    """Why `token` cannot guard the dashboard, or None when it can."""
    if len(token) < MIN_TOKEN_LENGTH:
        return (
            f"[server] token is {len(token)} characters; it must be at least "
            f"{MIN_TOKEN_LENGTH} (leave it empty and serve makes one)"
        )
    return None


def token_matches(given: str, token: str) -> bool:
    """Whether `given` is the token, compared in constant time; a short token never matches."""
    if len(token) < MIN_TOKEN_LENGTH or len(given) < MIN_TOKEN_LENGTH:
        return False
    return hmac.compare_digest(given.encode(), token.encode())


class FailedSignIns:
    """Failed sign-ins per client within the last minute; past `limit`, the client waits."""

    FORGET_ABOVE = 10_000

    def __init__(
        self,
        limit: int = FAILURES_PER_MINUTE,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self.failures: dict[str, collections.deque[float]] = {}

    def wait(self, client: str) -> float:
        """0 when `client` may try a token, else seconds until it may."""
        times = self.failures.get(client)
        if not times:
            return 0.0
        now = self.clock()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) < self.limit:
            return 0.0
        return times[-self.limit] + self.window_s - now

    def failed(self, client: str) -> None:
        """Count one wrong token from `client`."""
        now = self.clock()
        if len(self.failures) > self.FORGET_ABOVE:
            self.failures = {
                key: times
                for key, times in self.failures.items()
                if times and times[-1] > now - self.window_s
            }
        self.failures.setdefault(client, collections.deque(maxlen=self.limit)).append(now)


class SignedOut:
    """Session ids that signed out, each kept until its cookie would have expired.

    Kept in a small file (one `id expiry` line each) so that a restart does not
    bring a signed-out cookie back, and read again when another server on the
    same store added to it. Without a writable file the list lives in memory.
    """

    def __init__(self, path: Path | None, clock: Callable[[], float] = time.time):
        self.path = path
        self.clock = clock
        self.until: dict[str, float] = {}
        self._seen: float | None = None
        self._load()

    def _load(self) -> None:
        if self.path is None:
            return
        try:
            stat = self.path.stat()
            if stat.st_mtime == self._seen:
                return
            lines = self.path.read_text(encoding="ascii", errors="replace").splitlines()
        except OSError:
            return
        self._seen = stat.st_mtime
        now = self.clock()
        for line in lines:
            session, _, expiry = line.partition(" ")
            with contextlib.suppress(ValueError):
                if float(expiry) > now:
                    self.until[session] = max(float(expiry), self.until.get(session, 0.0))

    def add(self, session: str, until: float) -> None:
        """Sign `session` out until `until` (Unix seconds)."""
        now = self.clock()
        self.until = {s: u for s, u in self.until.items() if u > now}
        self.until[session] = until
        if self.path is None:
            return
        try:
            if len(self.until) * 4 < self._lines():
                self._rewrite()  # mostly expired lines: keep the file small
            else:
                with self.path.open("a", encoding="ascii") as file:
                    file.write(f"{session} {until:.0f}\n")
            self._seen = self.path.stat().st_mtime
        except OSError:
            pass  # signed out in this server; a restart would forget it

    def _lines(self) -> int:
        if self.path is None or not self.path.exists():
            return 0
        with self.path.open("rb") as file:
            return sum(1 for _ in file)

    def _rewrite(self) -> None:
        assert self.path is not None
        fresh = self.path.with_name(self.path.name + ".new")
        fresh.write_text("".join(f"{s} {u:.0f}\n" for s, u in self.until.items()), "ascii")
        os.replace(fresh, self.path)

    def holds(self, session: str) -> bool:
        """Whether `session` has signed out."""
        self._load()
        until = self.until.get(session)
        return until is not None and until > self.clock()


@dataclass
class Sessions:
    """Session cookies: issued, checked (signature, age, sign-out) and ended."""

    token: str
    ttl_s: float
    signed_out: SignedOut
    clock: Callable[[], float] = time.time

    def _mac(self, issued: str, session: str) -> str:
        message = _SESSION_MESSAGE + f"{issued}.{session}".encode()
        return hmac.new(self.token.encode(), message, hashlib.sha256).hexdigest()

    def issue(self) -> str:
        """A new session's cookie value."""
        issued, session = str(int(self.clock())), secrets.token_urlsafe(18)
        return f"{issued}.{session}.{self._mac(issued, session)}"

    def session(self, cookie: str) -> tuple[str, float] | None:
        """The live session (its id and issue time) a cookie names, or None."""
        issued, _, rest = cookie.partition(".")
        session, _, mac = rest.partition(".")
        if not (issued.isdigit() and session and mac) or len(cookie) > 200:
            return None
        if not hmac.compare_digest(mac.encode(), self._mac(issued, session).encode()):
            return None
        age = self.clock() - int(issued)
        if age > self.ttl_s or age < -60 or self.signed_out.holds(session):
            return None
        return session, float(issued)

    def end(self, cookie: str) -> None:
        """Sign out the session of `cookie` (when it is live)."""
        live = self.session(cookie)
        if live is not None:
            session, issued = live
            self.signed_out.add(session, issued + self.ttl_s)


@dataclass(frozen=True)
class Verdict:
    """What a request may do: 200 go ahead, 401 show the sign-in, 429 wait `retry_after`."""

    status: int
    retry_after: int = 0


class Access:
    """The token check every dashboard and API request passes, with its throttle."""

    def __init__(self, token: str, sessions: Sessions, failures: FailedSignIns | None = None):
        self.token = token
        self.sessions = sessions
        self.failures = failures or FailedSignIns()

    def _throttled(self, client: str) -> Verdict | None:
        wait = self.failures.wait(client)
        return Verdict(429, int(wait) + 1) if wait > 0 else None

    def check(self, request: Request) -> Verdict:
        """A bearer token (a wrong one counts as a failed sign-in) or a live session cookie."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            client = client_key(request.client.host if request.client else None)
            throttled = self._throttled(client)
            if throttled is not None:
                return throttled
            if token_matches(value.strip(), self.token):
                return Verdict(200)
            self.failures.failed(client)
        cookie = request.cookies.get(COOKIE, "")
        if cookie and self.sessions.session(cookie) is not None:
            return Verdict(200)
        return Verdict(401)

    def sign_in(self, request: Request, given: str) -> Verdict:
        """A token typed into the login form: 200 right, 401 wrong, 429 too many wrong."""
        client = client_key(request.client.host if request.client else None)
        throttled = self._throttled(client)
        if throttled is not None:
            return throttled
        if token_matches(given, self.token):
            return Verdict(200)
        self.failures.failed(client)
        return Verdict(401)


def set_session_cookie(response: Response, value: str, ttl_s: float, secure: bool) -> Response:
    """Set the sign-in cookie on `response`; the browser drops it when the session expires."""
    response.set_cookie(
        COOKIE,
        value,
        max_age=int(ttl_s),
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
    return response


def refused_json(verdict: Verdict) -> Response:
    """What the API answers without the token (401) or after too many wrong ones (429)."""
    if verdict.status == 429:
        return JSONResponse(
            {"error": "too many wrong tokens from this address: try again later"},
            status_code=429,
            headers={"Retry-After": str(verdict.retry_after), "Cache-Control": "no-store"},
        )
    return JSONResponse(
        {"error": "this needs the [server] token: send Authorization: Bearer <token>"},
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="touchpoint"', "Cache-Control": "no-store"},
    )


class TokenGate:
    """An ASGI app that lets only token holders through to `app`; everyone else gets 401/429."""

    def __init__(self, app: ASGIApp, access: Access):
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            verdict = self.access.check(Request(scope))
            if verdict.status != 200:
                await refused_json(verdict)(scope, receive, send)
                return
        await self.app(scope, receive, send)
