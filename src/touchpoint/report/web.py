"""The served dashboard: `/` (the same page as `report --html`), sign-in, and `/api/`.

`dashboard_routes` gives `touchpoint serve` its routes (through `create_app`'s
`routes` hook). The page for the current build is rendered once in a worker
thread and kept until the next build is published; `?model=`, `?person=` and
`?from=&to=` render other variants on demand.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from touchpoint.config import Settings
from touchpoint.errors import TouchpointError
from touchpoint.report.api import Api
from touchpoint.report.auth import (
    COOKIE,
    Access,
    Sessions,
    SignedOut,
    TokenGate,
    set_session_cookie,
)
from touchpoint.report.page import assets, content_security_policy, environment, render_page
from touchpoint.report.period import Period
from touchpoint.report.reader import reading
from touchpoint.stages.attribution.rows import MODELS
from touchpoint.store import current_snapshot_path

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Not no-referrer: under it a browser sends `Origin: null` with the sign-out form,
    # and sign-out checks that the form came from this origin. Other sites see no referrer.
    "Referrer-Policy": "same-origin",
}
KEPT_PAGES = 8
MAX_LOGIN_BYTES = 4096


@dataclass
class PageCache:
    """Rendered pages (and their gzip) by build, model, person and period; the newest few."""

    settings: Settings
    pages: OrderedDict[tuple[str, str | None, str | None, Period], tuple[bytes, bytes]] = field(
        default_factory=OrderedDict
    )
    lock: threading.Lock = field(default_factory=threading.Lock)

    def page(
        self, model: str | None, person: str | None, period: Period | None = None
    ) -> tuple[bytes, bytes] | None:
        """The page for the current build, or None before the first build."""
        snapshot = current_snapshot_path(self.settings.db)
        if snapshot is None:
            return None
        period = period or Period()
        key = (snapshot.name, model, person, period)
        with self.lock:
            if key in self.pages:
                self.pages.move_to_end(key)
                return self.pages[key]
        with reading(self.settings) as reader:
            report = reader.within(period).report(model, person=person)
        domains = self.settings.site.domains
        html = render_page(report, served=True, site_name=domains[0] if domains else "").encode()
        rendered = (html, gzip.compress(html, 6))
        with self.lock:
            self.pages[key] = rendered
            while len(self.pages) > KEPT_PAGES:
                self.pages.popitem(last=False)
        return rendered


def _headers() -> dict[str, str]:
    policy = content_security_policy() + "; frame-ancestors 'none'"
    return {**PAGE_HEADERS, "Content-Security-Policy": policy}


def _plain_page(
    template: str, status: int, headers: dict[str, str] | None = None, **values: object
) -> Response:
    css = Markup(assets()["css"])
    html = environment().get_template(template).render(css=css, **values)
    return HTMLResponse(html, status_code=status, headers={**_headers(), **(headers or {})})


def safe_next(target: str | None) -> str:
    """Where to send a browser after sign-in: a path on this server, never another host.

    >>> safe_next("/?model=linear"), safe_next("//evil.example"), safe_next("https://evil.example/")
    ('/?model=linear', '/', '/')
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    # Browsers read a backslash as a slash (/\evil.example), and a control character
    # may be dropped before the URL is read.
    if "\\" in target or any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def _origin(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def same_origin(request: Request, public_url: str) -> bool:
    """Whether a form post came from a page of this server (its `Origin`, else `Referer`).

    The server's own origin is the one the browser asked for (scheme and `Host`),
    or `[server] public_url` behind a proxy. A request with neither header is refused.
    """
    sent = request.headers.get("origin") or request.headers.get("referer")
    if not sent:
        return False
    given = _origin(sent)
    own = {_origin(f"{request.url.scheme}://{request.headers.get('host', '')}/")}
    if public_url:
        own.add(_origin(public_url))
    return given is not None and given in own


def _login_page(status: int, target: str, failed: bool = False, retry_after: int = 0) -> Response:
    headers = {"Retry-After": str(retry_after)} if status == 429 else None
    return _plain_page(
        "login.html.j2", status, headers, failed=failed, next=target, wait=retry_after
    )


@dataclass(frozen=True)
class Dashboard:
    settings: Settings
    access: Access
    cache: PageCache

    async def home(self, request: Request) -> Response:
        """`GET /`: the dashboard for token holders, the sign-in form for everyone else."""
        verdict = self.access.check(request)
        if verdict.status != 200:
            here = safe_next(
                request.url.path + (f"?{request.url.query}" if request.url.query else "")
            )
            return _login_page(verdict.status, here, retry_after=verdict.retry_after)
        model = request.query_params.get("model") or None
        person = request.query_params.get("person") or None
        if model is not None and model not in MODELS:
            return _plain_page(
                "message.html.j2", 400, title="Unknown model",
                message=f"There is no model {model!r}; use one of {', '.join(MODELS)}.",
            )  # fmt: skip
        try:
            period = Period.of(
                request.query_params.get("from") or None, request.query_params.get("to") or None
            )
            rendered = await run_in_threadpool(self.cache.page, model, person, period)
        except TouchpointError as exc:
            return _plain_page("message.html.j2", 400, title="Cannot show this", message=str(exc))
        if rendered is None:
            return _plain_page(
                "message.html.j2", 200, title="Nothing has been built yet",
                message="Collect or import events and calls, then run `touchpoint build`; "
                "this page shows the results of the latest build.",
            )  # fmt: skip
        html, gzipped = rendered
        headers = {**_headers(), "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", "").lower():
            headers["Content-Encoding"] = "gzip"
            return Response(gzipped, media_type="text/html; charset=utf-8", headers=headers)
        return Response(html, media_type="text/html; charset=utf-8", headers=headers)

    async def login_form(self, request: Request) -> Response:
        """`GET /login?next=/path`: the sign-in form (signed in already: on to `next`)."""
        target = safe_next(request.query_params.get("next"))
        verdict = self.access.check(request)
        if verdict.status == 200:
            return RedirectResponse(target, status_code=303)
        return _login_page(verdict.status, target, retry_after=verdict.retry_after)

    async def login(self, request: Request) -> Response:
        """`POST /login`: the form's token, checked; a cookie and on to `next` when right."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_LOGIN_BYTES:
                return _login_page(413, "/", failed=True)
        # The form is urlencoded; read it here rather than pull in a multipart parser.
        fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=8)
        given = (fields.get("token") or [""])[0]
        target = safe_next((fields.get("next") or ["/"])[0])
        verdict = self.access.sign_in(request, given.strip())
        if verdict.status != 200:
            return _login_page(verdict.status, target, True, verdict.retry_after)
        sessions = self.access.sessions
        secure = request.url.scheme == "https"
        redirect = RedirectResponse(target, status_code=303)
        return set_session_cookie(redirect, sessions.issue(), sessions.ttl_s, secure)

    async def logout(self, request: Request) -> Response:
        """`POST /logout` from one of this server's pages: the session ends on the server."""
        if not same_origin(request, self.settings.server.public_url):
            return _plain_page(
                "message.html.j2", 403, title="Not signed out",
                message="Sign out with the button on the dashboard: this request did not "
                "come from one of this server's pages.",
            )  # fmt: skip
        self.access.sessions.end(request.cookies.get(COOKIE, ""))
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response


def signed_out_file(settings: Settings) -> Path:
    """Where sign-outs are kept until their cookies expire: `<db>.signed-out`."""
    return settings.db.with_name(settings.db.name + ".signed-out")


def dashboard_access(settings: Settings, token: str) -> Access:
    """The token check of the dashboard and the API, with sessions of `[server] session_ttl`."""
    ttl = settings.server.session_ttl.total_seconds()
    return Access(token, Sessions(token, ttl, SignedOut(signed_out_file(settings))))


def dashboard_routes(settings: Settings, token: str) -> list[BaseRoute]:
    """The dashboard at `/`, sign-in and sign-out, and the API under `/api` behind the token."""
    access = dashboard_access(settings, token)
    dashboard = Dashboard(settings, access, PageCache(settings))
    api = Api(settings).router()
    # Starlette's slash redirects are absolute URLs built from the request's Host header.
    api.redirect_slashes = False
    return [
        Route("/", dashboard.home, methods=["GET"]),
        Route("/login", dashboard.login_form, methods=["GET"]),
        Route("/login", dashboard.login, methods=["POST"]),
        Route("/logout", dashboard.logout, methods=["POST"]),
        Route("/api", _to_api, methods=["GET", "HEAD"]),
        Mount("/api", app=TokenGate(api, access)),
    ]


async def _to_api(_request: Request) -> Response:
    return RedirectResponse("/api/", status_code=307)
