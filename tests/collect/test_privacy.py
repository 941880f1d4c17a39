"""Collect less by default (DESIGN §16): dropped parameters, the user agent reduced, DNT and
GPC honoured, and the clock the collector can check.

The rules run through `collect` (the collector's own path), a real `touchpoint serve`,
and `touchpoint import events`; the SQL of the import is held to the Python rule.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.collector_server import logged_rows, start, wait_for, write_config
from support.paths import FIXTURES
from touchpoint.collect.batch import Arrival, Rules, collect
from touchpoint.collect.frames import decode_record, scan
from touchpoint.config import load_settings
from touchpoint.config.sections import DROP_PARAMS
from touchpoint.importers import import_events
from touchpoint.sources.events import Privacy
from touchpoint.sources.urls import drop_params, sql_drop_params
from touchpoint.sources.user_agents import describe

DEFAULT = frozenset(DROP_PARAMS)
RECEIVED = datetime(2026, 3, 4, 12, 0)
RECEIVED_MS = 1772625600000  # RECEIVED in epoch milliseconds
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/127.0.0.0 Safari/537.36"
)


def rows_of(
    events: list[dict[str, Any]], rules: Rules | None = None, agent: str | None = CHROME
) -> list[tuple[str, dict[str, Any]]]:
    arrival = Arrival(received_at=RECEIVED, user_agent=agent, client_ip=None)
    collected = collect(events, arrival, rules or Rules())
    return [decode_record(p) for p in scan(b"".join(collected.records)).payloads]


def event(**fields: Any) -> dict[str, Any]:
    return {
        "visitor_id": "v1",
        "type": "page_view",
        "occurred_at": RECEIVED_MS,
        "url": "https://example.com/",
        **fields,
    }


# -- drop_params ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        (
            "https://example.com/thanks?email=jane%40example.com&utm_source=news",
            "https://example.com/thanks?utm_source=news",
        ),
        # Any case, and a name written with %XX is the same name.
        ("https://example.com/?EMAIL=a&Token=b&e%2Dmail=c&gclid=x", "https://example.com/?gclid=x"),
        # Nothing left: no "?" either; the fragment stays.
        ("https://example.com/p?pw=secret#top", "https://example.com/p#top"),
        # A name without a value, and one only in the fragment (not a query: kept).
        ("https://example.com/?code&a=1", "https://example.com/?a=1"),
        ("https://example.com/#/signup?email=a@b.c", "https://example.com/#/signup?email=a@b.c"),
        # Everything else byte for byte: encodings, order, empty parts, "+" spaces.
        (
            "https://example.com/?q=a+b%20c&phone=555&&utm_term=caf%C3%A9&ssn=1",
            "https://example.com/?q=a+b%20c&&utm_term=caf%C3%A9",
        ),
        # Names that merely contain a dropped one are not dropped.
        (
            "https://example.com/?promo_code=X&passport=1",
            "https://example.com/?promo_code=X&passport=1",
        ),
    ],
)
def test_dropped_params_leave_the_rest_of_the_url_as_it_was(url: str, kept: str):
    assert drop_params(url, DEFAULT) == kept
    con = duckdb.connect()
    sql = con.execute(f"SELECT {sql_drop_params('u', DEFAULT)} FROM (SELECT $u AS u)", {"u": url})
    assert sql.fetchone() == (kept,)


parts = st.lists(
    st.tuples(
        st.sampled_from(
            ["email", "E-Mail", "e%2dmail", "pass", "Pass%77ord", "utm_source", "q", "", "%ff"]
        ),
        st.sampled_from(["", "=", "=x", "=a%40b", "=é", "==", "=?"]),
    ),
    max_size=5,
)


@given(
    base=st.sampled_from(["https://a.com/", "https://a.com/p?", "android-app://x/", "x"]),
    query=parts,
    fragment=st.sampled_from(["", "#", "#f?email=1", "#a&b"]),
)
def test_the_import_sql_drops_what_the_collector_drops(base: str, query: list, fragment: str):
    joined = "&".join(name + rest for name, rest in query)
    url = base + ("?" if "?" not in base and query else "") + joined + fragment
    con = duckdb.connect()
    sql = con.execute(f"SELECT {sql_drop_params('u', DEFAULT)} FROM (SELECT $u AS u)", {"u": url})
    assert sql.fetchone() == (drop_params(url, DEFAULT),)


def test_the_collector_never_logs_a_dropped_param_of_url_or_referrer():
    [(table, row)] = rows_of(
        [
            event(
                url="https://example.com/welcome?utm_source=mail&email=jane%40example.com",
                referrer="https://mail.example.net/?token=s3cr3t&folder=inbox",
            )
        ]
    )
    assert table == "raw_events"
    assert row["url"] == "https://example.com/welcome?utm_source=mail"
    assert row["referrer"] == "https://mail.example.net/?folder=inbox"
    assert row["utm_source"] == "mail"
    kept = Rules(privacy=Privacy(drop_params=frozenset()))
    [(_table, raw)] = rows_of([event(url="https://example.com/?email=a")], kept)
    assert raw["url"] == "https://example.com/?email=a"  # drop_params = [] keeps every one


# -- the user agent -------------------------------------------------------------------


def published_user_agents() -> list[dict[str, str]]:
    with (FIXTURES / "user_agents" / "published.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("case", published_user_agents(), ids=lambda c: c["origin"])
def test_published_user_agents_become_browser_os_and_device(case: dict[str, str]):
    described = describe(case["user_agent"])
    assert (described.browser, described.os, described.device) == (
        case["browser"] or None,
        case["os"] or None,
        case["device"],
    )


def test_only_the_reduction_of_the_user_agent_is_kept_unless_asked():
    [(_t, row)] = rows_of([event()])
    assert (row["user_agent"], row["browser"], row["os"], row["device"]) == (
        None,
        "Chrome",
        "Windows",
        "desktop",
    )
    kept = Rules(privacy=Privacy(store_user_agent=True))
    [(_t, row)] = rows_of([event()], kept)
    assert row["user_agent"] == CHROME and row["device"] == "desktop"
    [(_t, row)] = rows_of([event()], agent=None)
    assert (row["browser"], row["os"], row["device"]) == (None, None, None)


# -- the clock ------------------------------------------------------------------------

MINUTE_MS = 60_000


@pytest.mark.parametrize(
    ("sent_ms", "kept"),
    [
        (RECEIVED_MS, True),
        (RECEIVED_MS - 10 * MINUTE_MS, True),  # exactly at the bound, in the past
        (RECEIVED_MS + 10 * MINUTE_MS, True),  # and in the future
        (RECEIVED_MS - 10 * MINUTE_MS - 1, False),  # a millisecond beyond
        (RECEIVED_MS + 10 * MINUTE_MS + 1, False),
        (RECEIVED_MS - 400 * 86_400_000, False),  # a clock a year behind
        (RECEIVED_MS + 3 * 86_400_000, False),  # days ahead
    ],
)
def test_a_time_beyond_max_clock_skew_takes_the_arrival_time_and_is_flagged(
    sent_ms: int, kept: bool
):
    [(_t, row)] = rows_of([event(occurred_at=sent_ms, event_id="e1")])
    sent = datetime(1970, 1, 1) + timedelta(milliseconds=sent_ms)
    if kept:
        assert row["occurred_at"] == sent.isoformat()
        assert row["sent_occurred_at"] is None
    else:
        assert row["occurred_at"] == RECEIVED.isoformat()
        assert row["occurred_us"] == RECEIVED_MS * 1000
        assert row["sent_occurred_at"] == sent.isoformat()


def test_the_event_id_of_an_event_without_one_comes_from_the_time_it_was_sent():
    """A retried request (received later) must give the same id, so it is stored once."""
    old = event(occurred_at=RECEIVED_MS - 86_400_000)
    [(_t, first)] = rows_of([old])
    later = Arrival(received_at=RECEIVED + timedelta(minutes=5), user_agent=None, client_ip=None)
    [(_t, again)] = [
        decode_record(p) for p in scan(b"".join(collect([old], later).records)).payloads
    ]
    assert first["event_id"] == again["event_id"]
    assert first["occurred_at"] != again["occurred_at"]


def test_max_clock_skew_0s_takes_every_time_as_sent():
    settings = load_settings(None).collector.model_copy(update={"max_clock_skew": timedelta(0)})
    [(_t, row)] = rows_of([event(occurred_at=RECEIVED_MS - 86_400_000)], Rules.of(settings))
    assert row["sent_occurred_at"] is None and row["occurred_at"] == "2026-03-03T12:00:00"


# -- a real server: DNT and GPC, and what reaches the disk ------------------------------


def post(url: str, events: list[dict[str, Any]], **headers: str) -> httpx.Response:
    return httpx.post(f"{url}/collect", json=events, headers={"user-agent": CHROME, **headers})


def now_ms() -> int:
    return int(datetime.now().timestamp() * 1000)


def test_dnt_and_gpc_are_honoured_by_default_and_nothing_is_kept(tmp_path: Path):
    write_config(tmp_path)
    server = start(tmp_path)
    try:
        assert (
            post(server.url, [event(event_id="dnt", occurred_at=now_ms())], dnt="1").status_code
            == 204
        )
        gpc = post(server.url, [event(event_id="gpc", occurred_at=now_ms())], **{"sec-gpc": "1"})
        assert gpc.status_code == 204
        assert (
            post(server.url, [event(event_id="dnt0", occurred_at=now_ms())], dnt="0").status_code
            == 204
        )
        ids = wait_for(lambda: [r["event_id"] for r in logged_rows(server.intake)])
    finally:
        server.stop()
    assert ids == ["dnt0"]  # DNT: 0 says the visitor does not object
    logged = b"".join(p.read_bytes() for p in server.intake.rglob("*") if p.is_file())
    assert b'"dnt"' not in logged and b'"gpc"' not in logged


def test_dnt_and_gpc_may_be_turned_off(tmp_path: Path):
    write_config(tmp_path, honor_dnt=False, honor_gpc=False)
    server = start(tmp_path)
    try:
        assert (
            post(server.url, [event(event_id="a", occurred_at=now_ms())], dnt="1").status_code
            == 204
        )
        assert post(server.url, [event(event_id="b")], **{"sec-gpc": "1"}).status_code == 204
        rows = wait_for(lambda: two if len(two := logged_rows(server.intake)) == 2 else None)
    finally:
        server.stop()
    assert sorted(r["event_id"] for r in rows) == ["a", "b"]


def test_no_byte_of_a_dropped_param_or_the_user_agent_reaches_the_disk(tmp_path: Path):
    write_config(tmp_path)
    server = start(tmp_path)
    secret = "jane.doe%40example.com"
    try:
        answer = post(
            server.url,
            [
                event(
                    event_id="p1",
                    occurred_at=now_ms(),
                    url=f"https://example.com/thanks?E-Mail={secret}&utm_campaign=spring",
                    referrer=f"https://example.com/form?password=hunter2&email={secret}",
                ),
                event(event_id="p2", occurred_at=now_ms() - 3 * 86_400_000),  # a clock behind
            ],
        )
        assert answer.status_code == 204
        rows = wait_for(lambda: two if len(two := logged_rows(server.intake)) == 2 else None)
    finally:
        server.stop()
    logged = b"".join(p.read_bytes() for p in server.intake.rglob("*") if p.is_file())
    for text in (secret, "hunter2", "jane.doe", CHROME, "Win64"):
        assert text.encode() not in logged, text
    by_id = {r["event_id"]: r for r in rows}
    assert by_id["p1"]["url"] == "https://example.com/thanks?utm_campaign=spring"
    assert by_id["p1"]["utm_campaign"] == "spring"
    assert (by_id["p1"]["browser"], by_id["p1"]["device"]) == ("Chrome", "desktop")
    assert by_id["p2"]["sent_occurred_at"] is not None  # and its time is the arrival's


# -- import events: the same reduction, any time ---------------------------------------


def test_an_import_keeps_its_times_and_is_reduced_as_collected_events_are(tmp_path: Path):
    path = tmp_path / "events.ndjson"
    lines = [
        event(
            event_id="i1",
            occurred_at="2019-05-01T10:00:00Z",  # years old: imports keep any time
            url="https://example.com/?utm_source=x&Email=a%40b.com",
            referrer="https://l.example.net/?token=t&q=1",
            user_agent=CHROME,
        ),
        event(
            event_id="i2",
            user_agent="Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        ),
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    csv_path = tmp_path / "events.csv"
    csv_path.write_text(
        "visitor_id,type,occurred_at,url,user_agent,event_id\n"
        f'v2,page_view,2020-01-01T00:00:00Z,https://example.com/?pw=1&a=2,"{CHROME}",c1\n'
    )
    settings = load_settings(None, db=tmp_path / "store.duckdb")
    result = import_events(settings, [path, csv_path])
    assert result.rejected == 0 and result.landed == 3
    con = duckdb.connect(str(settings.db), read_only=True)
    rows = con.execute(
        "SELECT event_id, occurred_at, url, referrer, user_agent, browser, os, device, "
        "sent_occurred_at FROM raw_events ORDER BY event_id"
    ).fetchall()
    con.close()
    assert rows == [
        (
            "c1",
            datetime(2020, 1, 1),
            "https://example.com/?a=2",
            None,
            None,
            "Chrome",
            "Windows",
            "desktop",
            None,
        ),
        (
            "i1",
            datetime(2019, 5, 1, 10),
            "https://example.com/?utm_source=x",
            "https://l.example.net/?q=1",
            None,
            "Chrome",
            "Windows",
            "desktop",
            None,
        ),
        ("i2", RECEIVED, "https://example.com/", None, None, "bingbot", None, "bot", None),
    ]


def test_an_import_keeps_the_user_agent_with_store_user_agent(tmp_path: Path):
    path = tmp_path / "events.ndjson"
    path.write_text(json.dumps(event(event_id="k1", user_agent=CHROME)) + "\n")
    (tmp_path / "touchpoint.toml").write_text(
        "[collector]\nstore_user_agent = true\ndrop_params = []\n"
    )
    settings = load_settings(tmp_path / "touchpoint.toml", db=tmp_path / "store.duckdb")
    import_events(settings, [path])
    con = duckdb.connect(str(settings.db), read_only=True)
    row = con.execute("SELECT user_agent, browser, device FROM raw_events").fetchone()
    con.close()
    assert row == (CHROME, "Chrome", "desktop")
