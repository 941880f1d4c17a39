"""A listening socket, bound before anything is printed (serve, the demo, tests)."""

from __future__ import annotations

import socket

from touchpoint.errors import TouchpointError


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
