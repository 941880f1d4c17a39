"""Per-client budgets of the public endpoints: who a client is, its bytes, its connections.

A client is its address as uvicorn resolved it (behind a trusted proxy, the
`X-Forwarded-For` one): an IPv4 address on its own, an IPv6 address by its /64
(one household or one server is given a whole /64, and picking a new address
in it costs nothing), an IPv4-mapped IPv6 address as the IPv4 address it maps.
"""

from __future__ import annotations

import functools
import ipaddress
import time
from collections.abc import Callable


@functools.lru_cache(maxsize=65_536)
def client_key(address: str | None) -> str:
    """The bucket a client address counts in: IPv4 as is, IPv6 by its /64.

    >>> client_key("203.0.113.7"), client_key("::ffff:203.0.113.7")
    ('203.0.113.7', '203.0.113.7')
    >>> client_key("2001:db8:1:2:aaaa::1"), client_key("2001:db8:1:2:bbbb::2")
    ('2001:db8:1:2::/64', '2001:db8:1:2::/64')
    """
    if not address:
        return ""
    try:
        ip = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return address  # a unix socket's name, or whatever a proxy put there: itself
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


class OverBudget(Exception):
    """A client's body bytes went over its `[collector] max_bytes_per_minute`."""


class ByteBudget:
    """A token bucket of body bytes per client: `per_minute` bytes a minute, bursts up to that.

    Bytes are spent as they are read, so a client that is refused has paid for
    what it sent; buckets that have filled up again are forgotten.
    """

    PRUNE_ABOVE = 10_000

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60.0
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}  # client key -> (bytes left, at)

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def _left(self, key: str, now: float) -> float:
        left, at = self.buckets.get(key, (self.capacity, now))
        return min(self.capacity, left + (now - at) * self.per_second)

    def wait(self, key: str, size: int = 0) -> float:
        """0 when `size` more bytes fit now (nothing is spent), else seconds until they do.

        A size over the whole budget waits for a full bucket: it will be refused
        by `spend` then, which is the answer such a client deserves.
        """
        if not self.enabled:
            return 0.0
        needed = min(float(max(size, 1)), self.capacity)
        left = self._left(key, self.clock())
        return 0.0 if left >= needed else (needed - left) / self.per_second

    def spend(self, key: str, size: int) -> bool:
        """Count `size` bytes read from the client; False once it is over its budget."""
        if not self.enabled:
            return True
        now = self.clock()
        left = self._left(key, now) - size
        # What a client is over by is owed (down to one budget): it waits that much longer.
        self.buckets[key] = (max(left, -self.capacity), now)
        if len(self.buckets) > self.PRUNE_ABOVE:
            self._prune(now)
        return left >= 0

    def _prune(self, now: float) -> None:
        full = [key for key in self.buckets if self._left(key, now) >= self.capacity]
        for key in full:
            del self.buckets[key]


class ConnectionCount:
    """Open connections (or requests in flight) per client key, at most `cap` each; 0: no cap."""

    def __init__(self, cap: int):
        self.cap = cap
        self.open: dict[str, int] = {}

    def enter(self, key: str) -> bool:
        """Count one more for `key`; False (and nothing counted) when it already holds `cap`."""
        held = self.open.get(key, 0)
        if self.cap and held >= self.cap:
            return False
        self.open[key] = held + 1
        return True

    def leave(self, key: str) -> None:
        """One of `key`'s is gone."""
        held = self.open.get(key, 0) - 1
        if held > 0:
            self.open[key] = held
        else:
            self.open.pop(key, None)


class TrustedProxies:
    """The peers whose `X-Forwarded-For` uvicorn believes (`[server] forwarded_allow_ips`).

    Such a peer speaks for many clients, so connections are not capped by its
    address; the requests it forwards are capped by the client they name.
    """

    def __init__(self, allowed: str):
        items = [item.strip() for item in allowed.split(",") if item.strip()]
        self.everyone = "*" in items
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self.names: set[str] = set()
        for item in items:
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.names.add(item)
        self._trusts = functools.lru_cache(maxsize=4096)(self._judge)

    def __contains__(self, address: str | None) -> bool:
        if self.everyone:
            return True
        return bool(address) and self._trusts(address)

    def _judge(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return address in self.names
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in network for network in self.networks)
