"""One bad event never drops its batch (DESIGN §16): text that is not Unicode, a wrong type or
an oversized field rejects that event only, over a real `touchpoint serve`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.collector_server import Server, logged_rows, start, wait_for, write_config
from touchpoint.collect.batch import Arrival, NotABatch, collect, read_batch
from touchpoint.collect.frames import decode_record, scan
from touchpoint.sources.events import MAX_CHARS

ARRIVAL = Arrival(received_at=datetime(2026, 3, 4, 12), user_agent=None, client_ip=None)


def good(n: int) -> bytes:
    return (
        b'{"event_id":"ok-%d","visitor_id":"v1","type":"page_view",'
        b'"occurred_at":1772625600000,"url":"https://example.com/%d"}' % (n, n)
    )


# Each a whole event that must be rejected alone, with the reason's start.
BAD = {
    "escaped-lone-high-surrogate": (
        rb'{"visitor_id":"v1","type":"page_view","occurred_at":1772625600000,'
        rb'"url":"https://example.com/","title":"Sale \ud83c"}',
        "title is not valid text",
    ),
    "escaped-lone-low-surrogate-in-properties": (
        rb'{"visitor_id":"v1","type":"chat","occurred_at":1772625600000,'
        rb'"url":"https://example.com/","properties":{"note":"\ude00"}}',
        "properties is not valid text",
    ),
    "bytes-that-are-not-utf8": (
        b'{"visitor_id":"v1","type":"page_view","occurred_at":1772625600000,'
        b'"url":"https://example.com/","title":"caf\xe9"}',
        "title is not valid text",
    ),
    "utf8-encoded-surrogate": (
        b'{"visitor_id":"v1","type":"page_view","occurred_at":1772625600000,'
        b'"url":"https://example.com/\xed\xa0\xbd"}',
        "url is not valid text",
    ),
    "wrong-type": (
        b'{"visitor_id":"v1","type":"page_view","occurred_at":1772625600000,'
        b'"url":"https://example.com/","title":42}',
        "title must be a string",
    ),
    "oversized-title": (
        b'{"visitor_id":"v1","type":"page_view","occurred_at":1772625600000,'
        b'"url":"https://example.com/","title":"' + b"x" * (MAX_CHARS["title"] + 1) + b'"}',
        f"title is longer than {MAX_CHARS['title']} characters",
    ),
    "oversized-url": (
        b'{"visitor_id":"v1","type":"page_view","occurred_at":1772625600000,'
        b'"url":"https://example.com/?q=' + b"y" * MAX_CHARS["url"] + b'"}',
        f"url is longer than {MAX_CHARS['url']} characters",
    ),
}


@pytest.mark.parametrize("case", BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize("shape", ["array", "ndjson"])
def test_a_bad_event_is_rejected_alone_and_its_neighbours_land(case, shape: str):
    bad, reason = case
    items = [good(1), bad, good(2)]
    body = b"[" + b",".join(items) + b"]" if shape == "array" else b"\n".join(items)
    result = collect(read_batch(body, 10), ARRIVAL)
    assert result.accepted == 2
    assert [r["index"] for r in result.rejected] == [1]
    assert result.rejected[0]["reason"].startswith(reason)
    records = [decode_record(p) for p in scan(b"".join(result.records)).payloads]
    assert [t for t, _ in records] == ["raw_events", "rejects", "raw_events"]
    kept = records[1][1]["record"]
    json.dumps(kept).encode("utf-8")  # storable text, whatever came in
    assert '"visitor_id":"v1"' in kept


def test_a_clean_body_takes_the_fast_reader_and_the_same_events():
    body = b"[" + good(1) + b"," + good(2) + b"]"
    assert read_batch(body, 10) == [json.loads(good(1)), json.loads(good(2))]


def test_a_body_that_is_not_json_even_leniently_is_still_refused_whole():
    for body in (b'[{"a": NaN}]', b"[\xff", b'{"visitor_id": "\\ud83d"'):
        with pytest.raises(NotABatch):
            read_batch(body, 10)


# -- over a real server ---------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("bad-events")
    write_config(directory, max_clock_skew="0s")
    running = start(directory)
    yield running
    running.stop()


def test_the_server_answers_200_with_the_reasons_and_keeps_the_rest(server: Server):
    bad = [case for case, _ in BAD.values()]
    items = [good(10 + i) if i % 2 == 0 else bad[i // 2] for i in range(2 * len(bad) + 1)]
    answer = httpx.post(
        f"{server.url}/collect",
        content=b"[" + b",".join(items) + b"]",
        headers={"content-type": "text/plain"},
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["accepted"] == len(bad) + 1
    assert [r["index"] for r in report["rejected"]] == list(range(1, len(items), 2))
    reasons = [reason for _, reason in BAD.values()]
    assert [
        r["reason"][: len(w)] for r, w in zip(report["rejected"], reasons, strict=True)
    ] == reasons
    wanted = {f"ok-{10 + i}" for i in range(0, len(items), 2)}

    def landed() -> set[str] | None:
        found = {r["event_id"] for r in logged_rows(server.intake)} & wanted
        return found if found == wanted else None

    assert wait_for(landed) == wanted
    rejects = [r for r in logged_rows(server.intake, "rejects") if r["source"] == "collector"]
    assert len(rejects) >= len(bad)


# Any text, and text with lone surrogates (a title cut inside an emoji).
json_text = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["Sale \ud83c", "\udc80", "a\ude00b", "\ud83d\ude00"]),
)
field_values = st.one_of(
    json_text,
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.dictionaries(json_text, json_text, max_size=3),
    st.lists(json_text, max_size=3),
)
events = st.fixed_dictionaries(
    {
        "visitor_id": st.one_of(st.just("v1"), json_text),
        "type": st.one_of(st.just("page_view"), json_text),
        "occurred_at": st.one_of(st.just(1772625600000), field_values),
        "url": st.one_of(st.just("https://example.com/"), json_text),
    },
    optional={"title": field_values, "referrer": field_values, "properties": field_values},
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(st.one_of(events, field_values), min_size=1, max_size=8))
def test_any_json_batch_gets_no_500_and_every_event_is_accounted_for(server: Server, batch):
    # ensure_ascii writes a lone surrogate as the \udXXX escape a browser sends.
    body = json.dumps(batch, ensure_ascii=True).encode()
    answer = httpx.post(f"{server.url}/collect", content=body)
    assert answer.status_code in (200, 204), answer.text
    if answer.status_code == 204:
        return
    report = answer.json()
    assert report["accepted"] + len(report["rejected"]) == len(batch)


def test_raw_bytes_that_are_not_utf8_reject_their_event_only(server: Server):
    body = b"[" + good(90) + b"," + BAD["bytes-that-are-not-utf8"][0] + b"]"
    answer = httpx.post(f"{server.url}/collect", content=body)
    assert answer.status_code == 200
    assert answer.json()["accepted"] == 1
    assert wait_for(lambda: [r for r in logged_rows(server.intake) if r["event_id"] == "ok-90"])
