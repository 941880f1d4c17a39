"""A request body → events and rejects, and the guards around the endpoint (no server needed)."""

from __future__ import annotations

from datetime import datetime

import pytest

from touchpoint.collect.batch import Arrival, NotABatch, Rules, TooManyEvents, collect, read_batch
from touchpoint.collect.frames import decode_record, scan
from touchpoint.collect.guards import OriginPolicy, RateLimiter, is_bot, truncate_ip
from touchpoint.sources.events import Privacy

ARRIVAL = Arrival(received_at=datetime(2026, 3, 4, 12), user_agent="Mozilla/5.0 UA", client_ip=None)
EVENT = b'{"visitor_id":"v1","type":"page_view","occurred_at":1772626620000,"url":"https://a.com/"}'


@pytest.mark.parametrize(
    "body",
    [
        b"[" + EVENT + b"," + EVENT + b"]",
        b'{"events": [' + EVENT + b"," + EVENT + b"]}",
        EVENT + b"\n" + EVENT + b"\n",
        EVENT + b"\r\n\r\n" + EVENT,
    ],
    ids=["array", "events-object", "ndjson", "ndjson-crlf"],
)
def test_a_batch_may_be_an_array_an_events_object_or_ndjson(body: bytes):
    assert len(read_batch(body, 10)) == 2


def test_one_event_object_is_a_batch_of_one():
    assert read_batch(EVENT, 10) == [decode_record(b'{"table":"t","row":' + EVENT + b"}")[1]]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"  \n",
        b"[]",
        b"42",
        b'"text"',
        b"null",
        b"not json",
        b'{"events": 3}',
        b"[1,\n2",
        b"\xff\xfe[]",
        b'["a"]\n["b"]',
    ],
)
def test_a_body_that_is_not_a_batch_is_refused_whole(body: bytes):
    with pytest.raises(NotABatch):
        read_batch(body, 10)


def test_a_body_nested_too_deeply_is_refused_and_deep_events_are_handled():
    with pytest.raises(NotABatch, match="nested too deeply"):
        read_batch(b"[" * 100_000 + b"]" * 100_000, 10)
    deep = b'{"a":' * 900 + b"1" + b"}" * 900
    body = b'[{"type": "nope", "properties": ' + deep + b"}, " + EVENT + b"]"
    result = collect(read_batch(body, 10), ARRIVAL)
    assert result.accepted == 1 and result.rejected[0]["index"] == 0


def test_too_many_events_are_refused_whole():
    with pytest.raises(TooManyEvents, match="3 events in one batch; at most 2"):
        read_batch(b"[" + b",".join([EVENT] * 3) + b"]", 2)


def test_each_bad_event_is_a_reject_with_its_index_and_its_neighbours_are_kept():
    events = read_batch(b"[" + EVENT + b', 7, {"type": "page_view"}, ' + EVENT + b"]", 10)
    result = collect(events, ARRIVAL)
    assert result.accepted == 2
    assert result.response() == {
        "accepted": 2,
        "rejected": [
            {"index": 1, "reason": "an event must be a JSON object"},
            {"index": 2, "reason": "missing required field visitor_id"},
        ],
    }
    tables = [decode_record(p)[0] for p in scan(b"".join(result.records)).payloads]
    assert tables == ["raw_events", "rejects", "rejects", "raw_events"]


def test_an_ndjson_line_that_is_not_json_is_rejected_alone():
    result = collect(read_batch(EVENT + b"\n{oops\n" + EVENT, 10), ARRIVAL)
    assert result.accepted == 2
    [reject] = result.rejected
    assert reject["index"] == 1 and reject["reason"].startswith("line is not JSON")


def test_a_reject_record_keeps_the_event_as_received():
    result = collect([{"visitor_id": "v1", "type": "visit", "x": "\ud800"}], ARRIVAL)
    [(table, row)] = [decode_record(p) for p in scan(b"".join(result.records)).payloads]
    assert table == "rejects"
    assert row["record"] == '{"visitor_id":"v1","type":"visit","x":"\\ud800"}'
    assert (row["source"], row["kind"]) == ("collector", "events")


def test_text_that_cannot_be_stored_rejects_only_its_event():
    bad = {
        "visitor_id": "v1",
        "type": "page_view",
        "occurred_at": 1772626620000,
        "url": "https://a.com/",
        "title": "\udcff",
    }
    result = collect([bad, read_batch(EVENT, 1)[0]], ARRIVAL)
    assert result.accepted == 1 and result.rejected[0]["index"] == 0


def test_the_request_user_agent_fills_in_for_events_without_one():
    events = [*read_batch(EVENT, 1), {**read_batch(EVENT, 1)[0], "user_agent": "own"}]
    kept = Rules(privacy=Privacy(store_user_agent=True))
    result = collect(events, ARRIVAL, kept)
    agents = [decode_record(p)[1]["user_agent"] for p in scan(b"".join(result.records)).payloads]
    assert agents == ["Mozilla/5.0 UA", "own"]
    # By default (DESIGN §16) the string is not kept, only what it says.
    rows = [decode_record(p)[1] for p in scan(b"".join(collect(events, ARRIVAL).records)).payloads]
    assert [(r["user_agent"], r["device"]) for r in rows] == [(None, "other"), (None, "other")]


@pytest.mark.parametrize(
    ("agent", "bot"),
    [
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", True),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", True),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36",
            True,
        ),
        ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", True),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36",
            False,
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            False,
        ),
        ("python-httpx/0.28.1", False),
        (None, False),
    ],
)
def test_known_bots_are_told_from_browsers(agent: str | None, bot: bool):
    assert is_bot(agent) is bot


@pytest.mark.parametrize(
    ("address", "kept"),
    [
        ("198.51.100.23", "198.51.100.0"),
        ("::ffff:198.51.100.23", "198.51.100.0"),
        ("2001:db8:1234:5678::1", "2001:db8:1234::"),
        ("not an ip", None),
        (None, None),
    ],
)
def test_ip_addresses_are_truncated(address: str | None, kept: str | None):
    assert truncate_ip(address) == kept


def test_the_sites_domains_and_their_subdomains_may_send_events():
    policy = OriginPolicy(["example.com", " Shop.Example.org "])
    assert policy.allows("https://example.com", "t.example.net")
    assert policy.allows("https://www.example.com:8443", None)
    assert policy.allows("https://shop.example.org", None)
    assert policy.allows(None, None)  # not a browser page
    assert policy.allows("http://127.0.0.1:9000", "127.0.0.1:9000")  # the collector's own host
    assert not policy.allows("https://badexample.com", None)
    assert not policy.allows("https://example.com.evil.net", None)
    assert not policy.allows("null", None)
    assert not policy.allows("ftp://example.com", None)
    assert not OriginPolicy([]).allows("https://example.com", "t.example.net")


def test_the_rate_limit_lets_a_minutes_worth_through_then_asks_to_wait():
    now = [0.0]
    limiter = RateLimiter(per_minute=3, clock=lambda: now[0])
    assert [limiter.wait("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.wait("a") == pytest.approx(20.0)
    assert limiter.wait("b") == 0.0  # per client
    now[0] = 20.0
    assert limiter.wait("a") == 0.0
    assert RateLimiter(0).wait("a") == 0.0 and not RateLimiter(0).enabled


def test_the_rate_limiter_forgets_idle_clients():
    now = [0.0]
    limiter = RateLimiter(per_minute=60, clock=lambda: now[0])
    limiter.PRUNE_ABOVE = 5
    for n in range(5):
        limiter.wait(f"old{n}")
    now[0] = 120.0
    limiter.wait("new")
    assert set(limiter.buckets) == {"new"}
