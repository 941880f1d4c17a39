"""`touchpoint serve`: the app on uvicorn, on a socket bound before anything is printed."""

from __future__ import annotations

import contextlib
import gc
import socket
from collections.abc import Callable

import uvicorn

from touchpoint.collect.app import create_app, server_token
from touchpoint.collect.segments import intake_dir
from touchpoint.config import Settings
from touchpoint.errors import TouchpointError
from touchpoint.report.web import dashboard_routes


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, or one clear line saying why there is none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise TouchpointError(f"cannot serve on {host}: {exc.strerror}") from None
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise TouchpointError(f"cannot serve on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


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
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.server.forwarded_allow_ips,
        server_header=False,
        timeout_graceful_shutdown=10,
    )
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
