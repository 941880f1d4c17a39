"""The limiters on their own (an injected clock), and the body deadline around a plain ASGI app."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from touchpoint.collect.connections import RequestBounds
from touchpoint.collect.guards import RateLimiter
from touchpoint.collect.limits import ByteBudget, ConnectionCount, TrustedProxies, client_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_byte_budget_lets_a_minute_of_bytes_through_then_refuses_until_it_refills():
    clock = Clock()
    budget = ByteBudget(6000, clock=clock)  # 100 bytes a second
    assert budget.wait("a", 6000) == 0
    assert budget.spend("a", 4000) and budget.spend("a", 2000)
    assert budget.wait("a", 1) == pytest.approx(0.01)
    assert not budget.spend("a", 1)  # over by one byte: refused, and owed
    clock.now += 10  # 1000 bytes back, less the one owed
    assert budget.wait("a", 999) == 0
    assert budget.wait("a", 1000) == pytest.approx(0.01)
    assert budget.spend("b", 6000)  # another client has a budget of its own


def test_what_a_client_is_over_by_is_owed_but_never_more_than_one_budget():
    clock = Clock()
    budget = ByteBudget(600, clock=clock)  # 10 bytes a second
    assert not budget.spend("a", 10_000)
    assert budget.wait("a") == pytest.approx(60.1)  # a whole budget owed, plus one byte


def test_a_declared_body_waits_for_room_and_one_over_the_budget_waits_for_a_full_bucket():
    clock = Clock()
    budget = ByteBudget(600, clock=clock)
    assert budget.spend("a", 500)
    assert budget.wait("a", 300) == pytest.approx(20.0)
    assert budget.wait("a", 10_000) == pytest.approx(50.0)
    clock.now += 50
    assert budget.wait("a", 10_000) == 0 and not budget.spend("a", 10_000)


@given(
    st.lists(
        st.tuples(st.floats(min_value=0, max_value=30), st.integers(min_value=0, max_value=5000)),
        max_size=60,
    )
)
def test_what_a_budget_lets_through_never_passes_a_minute_of_bytes_plus_its_refill(steps):
    clock = Clock()
    start = clock.now
    budget = ByteBudget(6000, clock=clock)  # 100 bytes a second
    accepted = 0
    for pause, size in steps:
        clock.now += pause
        if budget.wait("a", size) == 0 and budget.spend("a", size):
            accepted += size
    assert accepted <= 6000 + 100 * (clock.now - start) + 1e-6


def test_an_off_budget_counts_nothing():
    budget = ByteBudget(0)
    assert not budget.enabled and budget.spend("a", 10**12) and budget.wait("a", 10**12) == 0
    assert budget.buckets == {}


def test_full_buckets_are_forgotten_when_there_are_many():
    clock = Clock()
    budget = ByteBudget(600, clock=clock)
    budget.PRUNE_ABOVE = 3
    for n in range(3):
        budget.spend(f"c{n}", 100)
    clock.now += 60
    budget.spend("last", 100)
    assert list(budget.buckets) == ["last"]


def test_the_rate_limit_counts_requests_per_key():
    clock = Clock()
    limiter = RateLimiter(2, clock=clock)
    key = client_key("2001:db8::1")
    assert limiter.wait(key) == 0 and limiter.wait(client_key("2001:db8::2")) == 0
    assert limiter.wait(client_key("2001:db8::3")) == pytest.approx(30.0)
    assert limiter.wait(client_key("2001:db8:0:1::1")) == 0  # another /64


def test_a_connection_count_caps_each_key_and_frees_a_place_when_one_leaves():
    count = ConnectionCount(2)
    assert count.enter("a") and count.enter("a") and not count.enter("a")
    assert count.enter("b")
    count.leave("a")
    assert count.enter("a") and not count.enter("a")
    for _ in range(2):
        count.leave("a")
    count.leave("b")
    assert count.open == {}
    uncapped = ConnectionCount(0)
    assert all(uncapped.enter("a") for _ in range(1000))


def test_trusted_proxies_read_as_uvicorn_reads_forwarded_allow_ips():
    proxies = TrustedProxies("127.0.0.1, 10.0.0.0/8,::1, unix:/run/p.sock")
    assert "127.0.0.1" in proxies and "10.9.8.7" in proxies and "::1" in proxies
    assert "::ffff:10.1.1.1" in proxies  # an IPv4 proxy reached over a dual-stack socket
    assert "unix:/run/p.sock" in proxies
    assert "192.0.2.1" not in proxies and None not in proxies and "" not in proxies
    assert "198.51.100.1" in TrustedProxies("*")
    assert "127.0.0.1" not in TrustedProxies("")


ipv6 = st.integers(min_value=0, max_value=2**128 - 1).map(ipaddress.IPv6Address)
ipv4 = st.integers(min_value=0, max_value=2**32 - 1).map(ipaddress.IPv4Address)


@given(ipv6, st.integers(min_value=0, max_value=2**64 - 1))
def test_every_address_of_one_ipv6_64_has_one_key(address, host):
    if address.ipv4_mapped is not None:
        return
    sibling = ipaddress.IPv6Address(int(address) >> 64 << 64 | host)
    assert client_key(str(address)) == client_key(str(sibling))
    network = ipaddress.ip_network(client_key(str(address)))
    assert network.prefixlen == 64 and address in network
    # However it is written (compressed or not), an address counts in the same bucket.
    assert client_key(address.exploded) == client_key(str(address))


@given(ipv6, ipv6)
def test_ipv6_addresses_of_different_64s_have_different_keys(first, second):
    if first.ipv4_mapped is not None or second.ipv4_mapped is not None:
        return
    same_64 = int(first) >> 64 == int(second) >> 64
    assert (client_key(str(first)) == client_key(str(second))) == same_64


@given(ipv4, ipv4)
def test_an_ipv4_address_is_its_own_key_and_mapped_into_ipv6_it_stays_the_same(first, second):
    assert client_key(str(first)) == str(first)
    assert client_key(f"::ffff:{first}") == str(first)
    assert (client_key(str(first)) == client_key(str(second))) == (first == second)


def test_what_is_not_an_address_is_its_own_key():
    assert client_key(None) == "" and client_key("") == ""
    assert client_key("unix:/run/p.sock") == "unix:/run/p.sock"
    assert client_key("[2001:db8::1]") == client_key("2001:db8::2") == "2001:db8::/64"


async def _reads_body_then_answers(scope, receive, send):
    """A plain ASGI app: reads its body, then answers 204 (even after a disconnect)."""
    while (await receive()).get("more_body", False):
        pass
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _bounded_request(bounds: RequestBounds, receive) -> list[dict]:
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def run() -> None:
        await bounds({"type": "http", "client": ("198.51.100.1", 1)}, receive, send)
        await asyncio.sleep(bounds.SWEEP_EVERY * 3)  # the sweeper, with nothing waiting, ends
        assert bounds._sweeper is None or bounds._sweeper.done()

    asyncio.run(run())
    return sent


def test_a_body_that_never_comes_is_answered_408_once_and_the_app_answer_is_dropped():
    bounds = RequestBounds(_reads_body_then_answers, 0.2, ConnectionCount(5))
    bounds.SWEEP_EVERY = 0.05

    async def never():
        await asyncio.Event().wait()

    sent = _bounded_request(bounds, never)
    assert [m.get("status") for m in sent] == [408, None]
    assert (b"connection", b"close") in sent[0]["headers"]
    assert bounds.waiting == {} and bounds.expired == set() and bounds.in_flight.open == {}


def test_a_body_in_time_goes_through_untouched():
    bounds = RequestBounds(_reads_body_then_answers, 5.0, ConnectionCount(5))
    parts = iter([b"[", b"]"])

    async def chunks():
        await asyncio.sleep(0.01)
        part = next(parts)
        return {"type": "http.request", "body": part, "more_body": part == b"["}

    assert [m.get("status") for m in _bounded_request(bounds, chunks)] == [204, None]
    assert bounds.waiting == {} and bounds.in_flight.open == {}
