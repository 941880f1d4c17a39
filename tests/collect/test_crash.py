"""kill -9 the server while events stream in: every acknowledged event is built, none twice."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest

from support.collector_server import logged_rows, start, touchpoint, wait_for, write_config

BROWSER = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"}
SENDERS = 4
BATCH = 5


def batch(sender: int, n: int) -> list[dict[str, object]]:
    return [
        {
            "event_id": f"s{sender}-{n}-{i}",
            "visitor_id": f"visitor{sender}",
            "type": "page_view",
            "occurred_at": 1772626620000 + n * 1000 + i,
            "url": f"https://www.example.com/p{n}",
        }
        for i in range(BATCH)
    ]


@pytest.mark.slow
def test_acknowledged_events_survive_kill_9_and_are_built_exactly_once(tmp_path: Path):
    write_config(tmp_path, segment_max_age="1h")  # the crash, not a rotation, ends the segment
    server = start(tmp_path)
    acked: list[str] = []
    lock = threading.Lock()

    def send(sender: int) -> None:
        with httpx.Client(base_url=server.url, headers=BROWSER, timeout=10) as http:
            for n in range(100_000):
                events = batch(sender, n)
                try:
                    answer = http.post("/collect", json=events)
                except httpx.TransportError:
                    return  # the server is gone: this batch was never acknowledged
                if answer.status_code == 204:
                    with lock:
                        acked.extend(e["event_id"] for e in events)

    senders = [threading.Thread(target=send, args=(s,)) for s in range(SENDERS)]
    for thread in senders:
        thread.start()
    wait_for(lambda: len(acked) >= 2_000, timeout=120, every=0.01)
    server.kill()  # mid-stream: the senders still have requests in flight
    for thread in senders:
        thread.join()
    assert list(server.intake.glob("*.open")), "the crash should leave an open segment behind"

    before_crash = set(acked)
    restarted = start(tmp_path, port=server.port)  # closes the crashed segment on the way up
    try:
        after = batch(9, 0)
        answer = httpx.post(f"{restarted.url}/collect", json=after, headers=BROWSER)
        assert answer.status_code == 204
        # A build beside the restarted server loads everything acknowledged before the crash.
        assert_built_once(tmp_path, before_crash)
    finally:
        restarted.stop()  # closes its segment too
    logged = {row["event_id"] for row in logged_rows(tmp_path / "touchpoint.duckdb.intake")}
    built = assert_built_once(tmp_path, before_crash | {e["event_id"] for e in after})
    assert built <= logged  # and nothing was built that was never sent


def assert_built_once(directory: Path, acked: set[str]) -> set[str]:
    """Build, then check every acknowledged event is among the built events, each once."""
    built = touchpoint(directory, "build")
    assert built.returncode == 0, built.stderr
    exported = touchpoint(directory, "export", "events", "--format", "json")
    assert exported.returncode == 0, exported.stderr
    ids = [json.loads(line)["event_id"] for line in exported.stdout.splitlines()]
    assert len(ids) == len(set(ids)), "an event was built twice"
    missing = acked - set(ids)
    assert not missing, f"{len(missing)} acknowledged events were lost, e.g. {sorted(missing)[:3]}"
    return set(ids)
