"""What keeps a public endpoint bounded: origins, rate, bots, and what is kept of an IP.

Plain functions and small classes, called by the endpoints directly rather
than as middleware, so a request pays only for the checks its route needs.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

# Crawlers, link previews, headless browsers and monitors. Generic HTTP clients
# (curl, python-requests) are not here: servers send events with them too.
# `(?<!cu)bot` spares the CUBOT phones, whose user agent says "CUBOT".
BOT_USER_AGENT = re.compile(
    r"(?<!cu)bot\b|bot[/_;-]|crawl|spider|slurp|scrapy|archiver|ia_archiver|feedfetcher"
    r"|mediapartners|adsbot|facebookexternalhit|facebookcatalog|embedly|quora link preview"
    r"|pinterest|vkshare|w3c_validator|whatsapp|skypeuripreview|headlesschrome|phantomjs"
    r"|lighthouse|pagespeed|gtmetrix|pingdom|uptimerobot|statuscake|site24x7"
    r"|datadog synthetic|newrelicpinger|semrush|ahrefs|yandex|baiduspider|bytespider"
    r"|petalbot|gptbot|ccbot|claudebot|perplexity|amazonbot",
)


def is_bot(user_agent: str | None) -> bool:
    """Whether a user agent names a known bot, crawler, preview fetcher or headless browser.

    >>> is_bot("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    True
    >>> is_bot("Mozilla/5.0 (Linux; Android 9; CUBOT P30) AppleWebKit/537.36 Chrome/120.0 Mobile")
    False
    """
    return bool(user_agent) and _is_bot(user_agent or "")


@functools.lru_cache(maxsize=4096)
def _is_bot(user_agent: str) -> bool:
    # Few distinct user agents send most requests: the search runs once for each.
    return BOT_USER_AGENT.search(user_agent.lower()) is not None


def truncate_ip(address: str | None) -> str | None:
    """An IP address with its host part zeroed: IPv4 to /24, IPv6 to /48.

    >>> truncate_ip("203.0.113.77"), truncate_ip("2001:db8:85a3:8d3:1319:8a2e:370:7348")
    ('203.0.113.0', '2001:db8:85a3::')
    """
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


class OriginPolicy:
    """Which page origins may send events: the site's domains (and their subdomains).

    A request without an `Origin` header (a server, a test script) is not a
    browser page and is let through; so is a page on the collector's own host.
    """

    REMEMBER = 1024

    def __init__(self, domains: Iterable[str]):
        self.domains = tuple(d.strip().lower().lstrip(".") for d in domains if d.strip())
        # Few pairs of Origin and Host send almost every request: each is judged once.
        self._answers: dict[tuple[str, str | None], bool] = {}

    def allows(self, origin: str | None, host: str | None) -> bool:
        """Whether a request with this `Origin` and `Host` header may post events."""
        if origin is None:
            return True
        key = (origin, host)
        answer = self._answers.get(key)
        if answer is None:
            if len(self._answers) >= self.REMEMBER:
                self._answers.clear()
            answer = self._answers[key] = self._judge(origin, host)
        return answer

    def _judge(self, origin: str, host: str | None) -> bool:
        page_host = _origin_host(origin)
        if page_host is None:
            return False  # "null" (sandboxed frames, file: pages) and anything unreadable
        if host is not None and page_host == host.lower().rsplit(":", 1)[0].strip("[]"):
            return True
        return any(page_host == d or page_host.endswith("." + d) for d in self.domains)


def _origin_host(origin: str) -> str | None:
    try:
        parts = urlsplit(origin)
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    return host.lower()


class RateLimiter:
    """A token bucket per client: `per_minute` requests a minute, bursts up to that many.

    Callers pass the client's `limits.client_key` (an IPv6 client counts by its /64).

    Buckets that have filled up again are forgotten, so memory follows the
    number of recently active clients.
    """

    PRUNE_ABOVE = 10_000

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60.0
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}  # client key -> (tokens, at)

    @property
    def enabled(self) -> bool:
        return self.capacity > 0

    def wait(self, client: str) -> float:
        """0 when the client may go ahead (and it is counted), else seconds until it may."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        tokens, at = self.buckets.get(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - at) * self.per_second)
        if tokens < 1.0:
            self.buckets[client] = (tokens, now)
            return (1.0 - tokens) / self.per_second
        self.buckets[client] = (tokens - 1.0, now)
        if len(self.buckets) > self.PRUNE_ABOVE:
            self._prune(now)
        return 0.0

    def _prune(self, now: float) -> None:
        full = [
            ip
            for ip, (tokens, at) in self.buckets.items()
            if tokens + (now - at) * self.per_second >= self.capacity
        ]
        for ip in full:
            del self.buckets[ip]
