"""`touchpoint serve`: the collector, webhooks and dashboard on uvicorn (a thin shell)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from touchpoint.collect.app import create_app, server_token
from touchpoint.collect.connections import RequestBounds, bounded_http
from touchpoint.collect.limits import ConnectionCount, TrustedProxies
from touchpoint.collect.listener import bind
from touchpoint.collect.segments import intake_dir
from touchpoint.config import Settings
from touchpoint.errors import TouchpointError
from touchpoint.report.web import dashboard_routes


def serve(settings: Settings, host: str, port: int, say: Callable[[str], None]) -> None:
    """Run the server until interrupted; `say` prints the start-up lines."""
    token, generated = server_token(settings)
    intake = intake_dir(settings)
    try:
        intake.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TouchpointError(f"cannot use {intake} for the intake log: {exc.strerror}") from None
    sock = bind(host, port)
    app = create_app(settings, token, routes=dashboard_routes(settings, token))
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    base = f"http://{shown}:{bound_port}"
    say(f"collecting on {base} into {intake}")
    say(f'snippet: <script src="{base}/tp.js" async></script>')
    say(f"dashboard: {base}/ (JSON API: {base}/api/openapi.json)")
    if not settings.site.domains:
        say("[site] domains is empty: only pages on this server's own host may send events")
    if generated:
        say(f"dashboard and API token (set [server] token to keep one): {token}")
    config = uvicorn_config(settings, app)
    # [salesforce] interval: sync Salesforce and build beside the server (touchpoint.sync.schedule).
    from touchpoint.sync.schedule import scheduled_sync

    # What the imports built lives as long as the server: frozen, it is out of the garbage
    # collector's way, and a full collection (every second or two under load) walks only
    # what requests keep: a few ms instead of 60-120 ms that every request in flight waited.
    gc.collect()
    gc.freeze()
    # uvicorn re-raises Ctrl-C after its graceful shutdown; nothing is wrong then.
    with scheduled_sync(settings, say), contextlib.suppress(KeyboardInterrupt):
        uvicorn.Server(config).run(sockets=[sock])


def uvicorn_config(
    settings: Settings, app: ASGIApp, http: type[asyncio.Protocol] = AutoHTTPProtocol
) -> uvicorn.Config:
    """How serve runs `app` on uvicorn, bounded in time and connections (`[server]`).

    `http` is the uvicorn protocol to bound: the one uvicorn picks (httptools when
    it is installed, else h11); the tests try both.
    """
    server = settings.server
    per_client = server.max_connections_per_client
    return uvicorn.Config(
        RequestBounds(app, server.body_timeout.total_seconds(), ConnectionCount(per_client)),
        http=bounded_http(
            http,
            server.header_timeout.total_seconds(),
            ConnectionCount(per_client),
            TrustedProxies(server.forwarded_allow_ips),
        ),
        log_level="warning",
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=server.forwarded_allow_ips,
        server_header=False,
        limit_concurrency=server.max_connections,
        timeout_graceful_shutdown=10,
    )
