"""The server bounded by bytes (DESIGN §16): byte budgets, and clients by address or /64.

On a real uvicorn on loopback, started as `touchpoint serve` starts it
(`support.limits_server`); clients are given by `X-Forwarded-For`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from support.collector_server import logged_payloads, logged_rows, wait_for
from support.limits_server import read_until_closed, running


def events(first: int, count: int, padding: int = 200) -> list[dict[str, object]]:
    return [
        {
            "event_id": f"ev-{n}",
            "visitor_id": "0123456789abcdef0123456789abcdef",
            "type": "page_view",
            "occurred_at": int(time.time() * 1000),
            "url": f"https://www.example.com/p{n}",
            "title": "t" * padding,
        }
        for n in range(first, first + count)
    ]


# -- bytes ----------------------------------------------------------------------------


def test_a_client_over_its_byte_budget_gets_429_and_nothing_of_it_is_logged(tmp_path):
    budget = 200_000
    limits = {
        "max_bytes_per_minute": budget,
        "max_body_bytes": 100_000,
        "max_events_per_batch": 500,
    }
    with running(tmp_path, limits, {}) as server, server.client("198.51.100.1") as heavy:
        sent: list[tuple[int, int, list[str]]] = []  # status, body bytes, event ids
        for request in range(8):
            batch = events(request * 1000, 150)
            body = json.dumps(batch).encode()
            answer = heavy.post("/collect", content=body)
            sent.append((answer.status_code, len(body), [e["event_id"] for e in batch]))
            if answer.status_code == 429:
                assert int(answer.headers["retry-after"]) >= 1
        statuses = [status for status, _, _ in sent]
        assert statuses[0] == 204 and statuses[-1] == 429
        accepted = [s for s in sent if s[0] == 204]
        # The bucket refills at budget/60 bytes a second: a few seconds of refill at most.
        assert sum(size for _, size, _ in accepted) <= budget * 1.1
        assert set(statuses) == {204, 429}
        with server.client("198.51.100.2") as light:  # another client is not held back
            assert light.post("/collect", json=events(90_000, 2)).status_code == 204
        wanted = {event_id for _, _, ids in accepted for event_id in ids} | {"ev-90000", "ev-90001"}
        logged = wait_for(lambda: logged_ids(server.intake) >= wanted and logged_ids(server.intake))
        assert logged == wanted  # none of a refused request
        heavy_bytes = wait_for(lambda: payload_bytes(server.intake))
    # And in bytes: the log holds what the accepted requests alone make on a server without
    # a budget (the same records; their arrival times may differ in length by a few bytes).
    reference = tmp_path / "reference"
    reference.mkdir()
    with running(reference, {**limits, "max_bytes_per_minute": 0}, {}) as server:
        with server.client("198.51.100.1") as heavy, server.client("198.51.100.2") as light:
            for _, _, ids in accepted:
                first = int(ids[0].removeprefix("ev-"))
                assert (
                    heavy.post("/collect", content=json.dumps(events(first, 150))).status_code
                    == 204
                )
            assert light.post("/collect", json=events(90_000, 2)).status_code == 204
        assert wait_for(lambda: logged_ids(server.intake) == wanted)
        assert heavy_bytes == pytest.approx(payload_bytes(server.intake), rel=0.005)


def logged_ids(intake: Path) -> set[object]:
    return {row["event_id"] for row in logged_rows(intake)}


def payload_bytes(intake: Path) -> int:
    """The bytes of the records in the log's segments (without the segments' own framing)."""

    return sum(len(part) for part in logged_payloads(intake))


def test_a_declared_body_over_what_is_left_is_refused_before_it_is_sent(tmp_path):
    limits = {"max_bytes_per_minute": 50_000, "max_body_bytes": 40_000}
    with running(tmp_path, limits, {}) as server:
        with server.client("198.51.100.3") as client:
            assert client.post("/collect", json=events(0, 100)).status_code == 204  # ~33 kB
        with server.raw() as sock:
            # Headers only: the server answers from Content-Length without waiting for the body.
            sock.sendall(
                b"POST /collect HTTP/1.1\r\nhost: x\r\nx-forwarded-for: 198.51.100.3\r\n"
                b"content-type: application/json\r\ncontent-length: 30000\r\n\r\n"
            )
            answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 429 ") and b"retry-after: " in answer.lower()


def test_the_webhooks_have_a_byte_budget_of_their_own(tmp_path):
    limits = {"max_bytes_per_minute": 100_000, "max_body_bytes": 40_000}
    body = b'{"junk": "' + b"x" * 30_000 + b'"}'
    hooks = {"callrail_secret": "a-signing-key"}
    with (
        running(tmp_path, limits, {}, webhooks=hooks) as server,
        server.client("198.51.100.4") as client,
    ):
        statuses = [
            client.post(
                "/webhooks/callrail", content=body, headers={"content-type": "application/json"}
            ).status_code
            for _ in range(5)
        ]
        # The bytes were read (then the signature refused): the budget counted them.
        assert statuses == [401, 401, 401, 429, 429]
        # The collector's budget is another one: the same client may still send events.
        assert client.post("/collect", json=events(0, 1)).status_code == 204


@pytest.mark.parametrize(
    ("first", "second", "shared"),
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", True),
        ("2001:db8:1:2::1", "2001:db8:1:3::1", False),
        ("198.51.100.7", "::ffff:198.51.100.7", True),
        ("198.51.100.7", "198.51.100.8", False),
    ],
)
def test_ipv6_clients_share_a_bucket_per_64_and_ipv4_per_address(tmp_path, first, second, shared):
    with (
        running(tmp_path, {"rate_limit_per_minute": 2}, {}) as server,
        server.client(first) as one,
        server.client(second) as other,
    ):
        assert one.post("/collect", json=events(0, 1)).status_code == 204
        assert one.post("/collect", json=events(1, 1)).status_code == 204
        assert one.post("/collect", json=events(2, 1)).status_code == 429
        expected = 429 if shared else 204
        assert other.post("/collect", json=events(3, 1)).status_code == expected


def test_two_addresses_of_one_ipv6_64_share_a_byte_budget_and_another_64_does_not(tmp_path):
    limits = {"max_bytes_per_minute": 50_000, "max_body_bytes": 40_000}
    body = json.dumps(events(0, 100)).encode()  # ~33 kB
    with (
        running(tmp_path, limits, {}) as server,
        server.client("2001:db8:5:6::1") as first,
        server.client("2001:db8:5:6:1234:5678:9abc:def0") as sibling,
        server.client("2001:db8:5:7::1") as neighbour,
    ):
        assert first.post("/collect", content=body).status_code == 204
        assert sibling.post("/collect", content=body).status_code == 429
        assert neighbour.post("/collect", content=body).status_code == 204
