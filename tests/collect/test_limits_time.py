"""The server bounded in time and connections (DESIGN §16): slowloris, slow bodies, caps.

On a real uvicorn on loopback, started as `touchpoint serve` starts it
(`support.limits_server`), with raw sockets for the clients that misbehave.
"""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import time

import httpx
import pytest

from support.collector_server import logged_rows, wait_for
from support.limits_server import PROTOCOLS, read_until_closed, running

SLOW_HEAD = b"POST /collect HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"


def closed(sock: socket.socket) -> bool:
    """Whether the server closed this connection (what it sent before that is read and dropped)."""
    try:
        while select.select([sock], [], [], 0)[0]:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    return False


def trickle(socks: list[socket.socket], data: bytes, every: float, limit: float) -> list[float]:
    """Send `data` a byte at a time every `every` seconds on each socket until the server closes
    it; the seconds each lasted (`limit` for one still open at the end)."""
    start = time.monotonic()
    lasted: dict[int, float] = {}
    position = 0
    while len(lasted) < len(socks) and time.monotonic() - start < limit:
        for n, sock in enumerate(socks):
            if n in lasted:
                continue
            if closed(sock):
                lasted[n] = time.monotonic() - start
                continue
            with contextlib.suppress(OSError):
                sock.sendall(data[position % len(data) : position % len(data) + 1])
        position += 1
        time.sleep(every)
    return [lasted.get(n, limit) for n in range(len(socks))]


@pytest.mark.parametrize("http", PROTOCOLS, ids=lambda protocol: protocol.__name__)
def test_slowloris_connections_are_closed_after_the_header_timeout_while_others_are_served(
    tmp_path, http: type[asyncio.Protocol]
):
    with running(tmp_path, {}, {"header_timeout": "1s"}, http) as server:
        socks = [server.raw() for _ in range(8)]
        for sock in socks:
            sock.sendall(SLOW_HEAD)
        try:
            with server.client("198.51.100.20") as normal:
                assert normal.get("/healthz").status_code == 200
                lasted = trickle(socks, b"x-slow: " + b"a" * 100, every=0.2, limit=10)
                assert normal.get("/healthz").status_code == 200
        finally:
            for sock in socks:
                sock.close()
    assert all(0.8 <= seconds <= 4 for seconds in lasted), lasted


@pytest.mark.parametrize("http", PROTOCOLS, ids=lambda protocol: protocol.__name__)
def test_the_header_timeout_answers_408_and_holds_for_the_next_request_on_a_connection(
    tmp_path, http: type[asyncio.Protocol]
):
    with running(tmp_path, {}, {"header_timeout": "1s"}, http) as server, server.raw() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")  # ... and nothing more
        answer = read_until_closed(sock)
        assert 0.8 <= time.monotonic() - started <= 4
        assert answer.startswith(b"HTTP/1.1 408 ")


def test_a_body_sent_too_slowly_gets_408_and_nothing_is_stored(tmp_path):
    hooks = {"callrail_secret": "a-signing-key"}
    with running(tmp_path, {}, {"body_timeout": "1s"}, webhooks=hooks) as server:
        for path in (b"/collect", b"/webhooks/callrail"):
            with server.raw() as sock:
                sock.sendall(
                    b"POST " + path + b" HTTP/1.1\r\nhost: x\r\n"
                    b"content-type: application/json\r\ncontent-length: 1000\r\n\r\n["
                )
                lasted = trickle([sock], b" ", every=0.2, limit=10)[0]
                assert 0.8 <= lasted <= 4, path
        with server.raw() as sock:  # what the server says before it closes: 408
            sock.sendall(
                b"POST /collect HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                b"content-length: 1000\r\n\r\n["
            )
            started = time.monotonic()
            answer = read_until_closed(sock)
            assert answer.startswith(b"HTTP/1.1 408 ") and b"connection: close" in answer
            assert 0.8 <= time.monotonic() - started <= 4
        time.sleep(0.5)  # a segment would have closed by now
        assert logged_rows(server.intake) == []
        assert logged_rows(server.intake, "raw_calls") == []


@pytest.mark.parametrize("http", PROTOCOLS, ids=lambda protocol: protocol.__name__)
def test_a_client_holding_its_connection_cap_has_the_next_one_closed_at_once(
    tmp_path, http: type[asyncio.Protocol]
):
    # Loopback is no proxy here: the connections count by their own address.
    settings = {"forwarded_allow_ips": "", "max_connections_per_client": 3}
    with running(tmp_path, {}, settings, http) as server:
        held = [server.raw() for _ in range(3)]
        try:
            for sock in held:  # served, and kept alive
                sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
                assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
            with server.raw() as extra:
                with contextlib.suppress(OSError):
                    extra.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
                started = time.monotonic()
                assert read_until_closed(extra) == b""  # closed, nothing answered
                assert time.monotonic() - started < 2
            held.pop().close()
            time.sleep(0.2)
            with httpx.Client(base_url=server.url, timeout=10) as client:
                assert client.get("/healthz").status_code == 200  # a place was free again
        finally:
            for sock in held:
                sock.close()


def test_a_proxied_client_holding_its_cap_of_requests_in_flight_gets_429(tmp_path):
    settings = {"max_connections_per_client": 3}
    with running(tmp_path, {}, settings) as server:
        waiting = [server.raw() for _ in range(3)]
        try:
            for sock in waiting:  # each has sent its headers, not yet its body
                sock.sendall(
                    SLOW_HEAD + b"x-forwarded-for: 198.51.100.9\r\ncontent-length: 20\r\n\r\n"
                )
            with server.client("198.51.100.9") as capped, server.client("198.51.100.10") as other:
                # Once the three have reached the app (a loaded machine may take a moment):
                wait_for(lambda: capped.get("/healthz").status_code == 429, timeout=10)
                refused = capped.post("/collect", json=[])
                assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
                assert other.get("/healthz").status_code == 200
                waiting[0].sendall(b"[" + b" " * 18 + b"]")  # one of them is done
                assert waiting[0].recv(65536).startswith(b"HTTP/1.1 ")
                time.sleep(0.2)
                assert capped.get("/healthz").status_code == 200
        finally:
            for sock in waiting:
                sock.close()


def test_beyond_max_connections_in_all_requests_get_503(tmp_path):
    with running(tmp_path, {}, {"max_connections": 3}) as server:
        # uvicorn counts the asking connection too: two held, a third one is at the limit.
        idle = [server.raw() for _ in range(2)]
        try:
            for sock in idle:  # served, then kept alive: each still holds its place
                sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
                assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
            with httpx.Client(base_url=server.url, timeout=10) as client:
                assert client.get("/healthz").status_code == 503
                for sock in idle:
                    sock.close()
                time.sleep(0.3)
                assert client.get("/healthz").status_code == 200
        finally:
            for sock in idle:
                sock.close()
