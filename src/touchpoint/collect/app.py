"""The ASGI app `touchpoint serve` runs: collector, snippet, webhooks and health check.

`create_app` assembles the routes; the vendor webhooks (`webhooks`) are always
there, public like the collector, and append their rows to the collector's
`log`. Later parts (the JSON API, the dashboard) pass theirs in `routes`
(routers and `Mount`s; they come before the placeholder page at `/`) and share
`app.state`: `settings`, `token` (for the dashboard and API) and `collector`.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from touchpoint.collect.endpoint import CollectEndpoint, Collector
from touchpoint.collect.guards import OriginPolicy, RateLimiter
from touchpoint.collect.limits import ByteBudget
from touchpoint.collect.numbers import NumbersEndpoint
from touchpoint.collect.segments import IntakeLog, SegmentWriter, intake_dir, recover_abandoned
from touchpoint.collect.snippet import Snippet
from touchpoint.collect.webhooks import webhook_routes
from touchpoint.config import Settings
from touchpoint.errors import TouchpointError
from touchpoint.report.auth import token_problem

SNIPPET_CACHE = "public, max-age=3600"


def server_token(settings: Settings) -> tuple[str, bool]:
    """The dashboard and API token: `[server] token`, or a new one (then True: print it).

    A token shorter than `MIN_TOKEN_LENGTH` is refused (DESIGN §16): serve does not start.
    """
    if settings.server.token:
        problem = token_problem(settings.server.token)
        if problem is not None:
            raise TouchpointError(problem)
        return settings.server.token, False
    return secrets.token_urlsafe(32), True


class TouchpointApp(Starlette):
    """Starlette, except that `POST /collect`, the hot path, goes straight to its endpoint.

    Routing and the middleware stack cost a fair share of what a one-event request
    costs; every other path goes through them as usual.
    """

    collect: CollectEndpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/collect":
            await self.collect(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings,
    token: str,
    routes: Sequence[BaseRoute] = (),
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    """The server's ASGI app; the intake log opens and closes with the app's lifespan.

    `clock` is the time `POST /numbers` assigns by (default: now); the demo plays a
    past month on it.
    """
    collector = Collector(
        settings=settings.collector,
        origins=OriginPolicy(settings.site.domains),
        limiter=RateLimiter(settings.collector.rate_limit_per_minute),
        budget=ByteBudget(settings.collector.max_bytes_per_minute),
    )
    snippet = Snippet.build(settings.collector, settings.numbers.pools)

    numbers = NumbersEndpoint(settings, collector, clock)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        directory = intake_dir(settings)
        directory.mkdir(parents=True, exist_ok=True)
        recover_abandoned(directory)  # segments of a server that crashed here before
        await numbers.start(directory)  # every number hold the log has (DESIGN §15)
        log = IntakeLog(
            SegmentWriter(
                directory,
                max_bytes=settings.collector.segment_max_bytes,
                max_age=settings.collector.segment_max_age.total_seconds(),
            )
        )
        collector.log = log
        rotating = asyncio.create_task(
            _rotate(log, settings.collector.segment_max_age.total_seconds())
        )
        try:
            yield
        finally:
            collector.log = None
            rotating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rotating
            await log.close()
            numbers.close()

    async def serve_snippet(request: Request) -> Response:
        return snippet_response(snippet, request)

    collect = CollectEndpoint(collector)
    app = TouchpointApp(
        routes=[
            Route("/collect", collect),
            Route("/numbers", numbers),
            Route("/tp.js", serve_snippet, methods=["GET", "HEAD"]),
            Route("/healthz", healthz, methods=["GET", "HEAD"]),
            *webhook_routes(settings, collector),
            *routes,
            Route("/", home, methods=["GET", "HEAD"]),
        ],
        lifespan=lifespan,
        exception_handlers={404: not_found},
    )
    app.collect = collect
    # Starlette's slash redirects are absolute URLs built from the request's Host header.
    app.router.redirect_slashes = False
    app.state.settings = settings
    app.state.token = token
    app.state.collector = collector
    return app


async def _rotate(log: IntakeLog, max_age: float) -> None:
    """Close segments as they come of age, so a build can load them without the server."""
    while True:
        await asyncio.sleep(min(1.0, max(max_age / 4, 0.05)))
        await log.rotate()


def snippet_response(snippet: Snippet, request: Request) -> Response:
    """`GET /tp.js`: the snippet, a 304 when the browser's copy is current, gzip when asked."""
    headers = {
        "ETag": snippet.etag,
        "Cache-Control": SNIPPET_CACHE,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
        # Pages that isolate themselves (COEP) may still load it from another site.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    wanted = request.headers.get("if-none-match", "")
    if any(tag.strip().removeprefix("W/") in (snippet.etag, "*") for tag in wanted.split(",")):
        return Response(status_code=304, headers=headers)
    body = snippet.body
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        body = snippet.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, headers=headers, media_type="text/javascript; charset=utf-8")


async def not_found(_request: Request, _exc: Exception) -> Response:
    """Paths no route matches, even ones no route pattern can (a line break in an id)."""
    return JSONResponse(
        {"error": "not found"}, status_code=404, headers={"Cache-Control": "no-store"}
    )


async def healthz(_request: Request) -> Response:
    """`GET /healthz`: public, says the server is up."""
    return JSONResponse({"status": "ok"})


async def home(_request: Request) -> Response:
    """`GET /`: a plain page until the dashboard exists."""
    return PlainTextResponse(
        "touchpoint is running: the snippet is at /tp.js, events go to POST /collect.\n"
    )
