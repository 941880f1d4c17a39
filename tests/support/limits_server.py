"""`touchpoint serve`'s app on its uvicorn configuration, in a thread: for the limits' tests.

The app is `create_app`'s, the uvicorn configuration `serve.uvicorn_config`'s, the
socket `listener.bind`'s, as `touchpoint serve` puts them together. Loopback is
the trusted proxy (`[server] forwarded_allow_ips` = 127.0.0.1) unless a test
says otherwise, so tests give their clients by `X-Forwarded-For`. The server
stops at the end of the `with` block; every socket has a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.protocols.http.h11_impl import H11Protocol

from touchpoint.collect.app import create_app
from touchpoint.collect.listener import bind
from touchpoint.collect.segments import intake_dir
from touchpoint.config import Settings
from touchpoint.serve import uvicorn_config

# uvicorn's HTTP protocols the bounds are tried on: the one serve uses here, and h11.
PROTOCOLS = sorted({AutoHTTPProtocol, H11Protocol}, key=lambda protocol: protocol.__name__)
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126 Safari"


@dataclass
class Running:
    url: str
    port: int
    intake: Path

    def client(self, address: str) -> httpx.Client:
        """An HTTP client the server takes for `address` (through the trusted proxy header)."""
        headers = {"user-agent": BROWSER, "x-forwarded-for": address}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def raw(self, timeout: float = 10.0) -> socket.socket:
        """A plain TCP connection to the server, for clients that misbehave."""
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)


@contextlib.contextmanager
def running(
    directory: Path,
    collector: dict[str, Any],
    server: dict[str, Any],
    http: type[asyncio.Protocol] = AutoHTTPProtocol,
    **sections: Any,
) -> Iterator[Running]:
    """`touchpoint serve`'s app and uvicorn configuration, in a thread, for the block.

    `http`: the uvicorn protocol underneath (serve's: the one uvicorn picks).
    """
    settings = Settings(
        db=directory / "touchpoint.duckdb",
        site={"domains": ["example.com"]},
        collector={"rate_limit_per_minute": 0, "segment_max_age": "200ms", **collector},
        server={"forwarded_allow_ips": "127.0.0.1", **server},
        **sections,
    )
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    app = create_app(settings, "t" * 24)
    uvicorn_server = uvicorn.Server(uvicorn_config(settings, app, http))
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not uvicorn_server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
            time.sleep(0.01)
        yield Running(f"http://127.0.0.1:{port}", port, intake_dir(settings))
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=30)
        sock.close()
    assert not thread.is_alive(), "the server did not stop"


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or the socket times out)."""
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received
