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
from urllib.parse import parse_qs

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from touchpoint.config import Settings
from touchpoint.errors import TouchpointError
from touchpoint.report.api import Api
from touchpoint.report.auth import COOKIE, TokenGate, authorized, sign_in, token_matches
from touchpoint.report.page import assets, content_security_policy, environment, render_page
from touchpoint.report.period import Period
from touchpoint.report.reader import reading
from touchpoint.stages.attribution.rows import MODELS
from touchpoint.store import current_snapshot_path

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
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


def _plain_page(template: str, status: int, **values: object) -> Response:
    css = Markup(assets()["css"])
    html = environment().get_template(template).render(css=css, **values)
    return HTMLResponse(html, status_code=status, headers=_headers())


@dataclass(frozen=True)
class Dashboard:
    settings: Settings
    token: str
    cache: PageCache

    async def home(self, request: Request) -> Response:
        """`GET /`: the dashboard for token holders, the sign-in form for everyone else."""
        if not authorized(request, self.token):
            return _plain_page("login.html.j2", 401, failed=False)
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

    async def login(self, request: Request) -> Response:
        """`POST /login`: the form's token, checked; a cookie and back to `/` when right."""
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_LOGIN_BYTES:
                return _plain_page("login.html.j2", 413, failed=True)
        # The form is urlencoded; read it here rather than pull in a multipart parser.
        fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=8)
        given = (fields.get("token") or [""])[0]
        if not token_matches(given.strip(), self.token):
            return _plain_page("login.html.j2", 401, failed=True)
        secure = request.url.scheme == "https"
        return sign_in(RedirectResponse("/", status_code=303), self.token, secure)

    async def logout(self, _request: Request) -> Response:
        """`POST /logout`: forget the cookie."""
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response


def dashboard_routes(settings: Settings, token: str) -> list[BaseRoute]:
    """The dashboard at `/`, sign-in and sign-out, and the API under `/api` behind the token."""
    dashboard = Dashboard(settings, token, PageCache(settings))
    return [
        Route("/", dashboard.home, methods=["GET"]),
        Route("/login", dashboard.login, methods=["POST"]),
        Route("/logout", dashboard.logout, methods=["POST"]),
        Mount("/api", app=TokenGate(Api(settings).router(), token)),
    ]
