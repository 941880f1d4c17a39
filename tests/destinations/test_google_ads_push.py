"""`touchpoint push google-ads` against a local Google (support.google_ads_server).

The world of tests/fixtures/destinations/world is built once; each test pushes from
its own copy, so each starts with an empty `conversions_sent` ledger. Under the
default last_touch model that world has 6 Google conversions of named kinds:
calls C3-early and C1, the leads of v3 and v1, v1's opportunity and its win.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from conftest import CliResult, run_touchpoint
from support.google_ads_server import (
    ACCESS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    GoogleServer,
    build_world,
)
from support.paths import FIXTURES
from touchpoint.destinations.conversions_ledger import ledger_rows

CUSTOMER = "1234567890"
ACTIONS = {"call": "Phone call", "lead": "Lead", "opportunity": "Opportunity", "won": "Won"}
ACTION_IDS = {"call": "111", "lead": "222", "opportunity": "333", "won": "444"}
EXPECTED = {
    ("call:C3-early", "G3-old"),
    ("lead:v3", "G3-old"),
    ("call:C1", "B1-last"),
    ("lead:00Q000000000001AAA", "B1-last"),
    ("opportunity:006000000000001AAA", "B1-last"),
    ("won:006000000000001AAA", "B1-last"),
}
CREDENTIALS = {
    "TOUCHPOINT_DESTINATIONS__GOOGLE_ADS__REFRESH_TOKEN": REFRESH_TOKEN,
    "TOUCHPOINT_DESTINATIONS__GOOGLE_ADS__CLIENT_ID": CLIENT_ID,
    "TOUCHPOINT_DESTINATIONS__GOOGLE_ADS__CLIENT_SECRET": CLIENT_SECRET,
}


def _toml_table(values: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k} = "{v}"' for k, v in values.items()) + "}"


def write_config(directory: Path, google: GoogleServer, extra: str = "") -> None:
    (directory / "touchpoint.toml").write_text(
        f"""
[site]
currency = "EUR"
[destinations]
retry_backoff = "0s"
[destinations.google-ads]
base_url = "{google.base_url}"
token_url = "{google.base_url}/token"
customer_id = "{CUSTOMER}"
actions = {_toml_table(ACTIONS)}
action_ids = {_toml_table(ACTION_IDS)}
{extra}
"""
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("google-ads-world")
    build_world(directory, FIXTURES / "destinations" / "world")
    return directory


@pytest.fixture
def google() -> Iterator[GoogleServer]:
    server = GoogleServer().start()
    yield server
    server.stop()


@pytest.fixture
def world(built: Path, tmp_path: Path, google: GoogleServer) -> Path:
    directory = tmp_path / "world"
    shutil.copytree(built, directory)
    write_config(directory, google)
    return directory


def push(directory: Path, *args: str, env: dict[str, str] | None = None) -> CliResult:
    return run_touchpoint(
        directory, "push", "google-ads", *args, env={**CREDENTIALS, **(env or {})}
    )


def ledger(directory: Path) -> list[tuple[str, ...]]:
    with duckdb.connect(str(directory / "touchpoint.duckdb"), read_only=True) as con:
        return ledger_rows(con, "google-ads")


def sent_pairs(google: GoogleServer) -> list[tuple[str, str]]:
    return [
        (e["transactionId"].split("|")[0], next(iter(e["adIdentifiers"].values())))
        for e in google.events
    ]


def test_push_sends_each_conversion_once_in_googles_wire_format(
    world: Path, google: GoogleServer
) -> None:
    done = push(world, "--json")
    assert done.code == 0, done.stderr
    assert sorted(sent_pairs(google)) == sorted(EXPECTED)
    body = google.requests[0]
    account = {"accountType": "GOOGLE_ADS", "accountId": CUSTOMER}
    assert {d["reference"]: d["productDestinationId"] for d in body["destinations"]} == ACTION_IDS
    assert all(d["operatingAccount"] == account for d in body["destinations"])
    by_id = {e["transactionId"]: e for e in body["events"]}
    call = by_id["call:C1"]
    assert call["eventSource"] == "PHONE" and call["destinationReferences"] == ["call"]
    assert call["adIdentifiers"] == {"gbraid": "B1-last"}
    assert call["eventTimestamp"] == "2026-03-02T10:20:00.000000Z"
    assert "conversionValue" not in call
    won = by_id["won:006000000000001AAA"]
    assert (won["conversionValue"], won["currency"], won["eventSource"]) == (5000.0, "EUR", "OTHER")
    assert google.token_requests == 1
    summary = json.loads(done.stdout)
    assert summary["objects"][0]["upserted"] == len(EXPECTED)
    assert {(r[0], r[1], r[2]) for r in ledger(world)} == {(c, k, "sent") for c, k in EXPECTED}

    again = push(world)
    assert again.code == 0, again.stderr
    assert len(google.requests) == 1  # nothing new: nothing sent, not even an empty request
    assert sorted(sent_pairs(google)) == sorted(EXPECTED)


def test_a_dry_run_sends_nothing_and_records_nothing(world: Path, google: GoogleServer) -> None:
    done = push(world, "--dry-run")
    assert done.code == 0, done.stderr
    assert "dry run: nothing sent" in done.stderr and "call:C1" in done.stderr
    assert google.requests == [] and google.token_requests == 0
    assert ledger(world) == []


def test_refused_clicks_are_kept_with_googles_reason_and_the_others_sent(
    world: Path, google: GoogleServer
) -> None:
    google.unknown_clicks = {"G3-old"}
    done = push(world)
    assert done.code == 0, done.stderr
    assert google.answered == [400, 200]  # the refused events left out, the rest sent again
    assert sorted(sent_pairs(google)) == sorted(p for p in EXPECTED if p[1] != "G3-old")
    rows = {(r[0], r[1]): (r[2], r[3]) for r in ledger(world)}
    assert rows[("call:C3-early", "G3-old")] == ("rejected", "The click ID is not recognized.")
    assert rows[("lead:v3", "G3-old")][0] == "rejected"
    assert "rejected call:C3-early: The click ID is not recognized." in done.stderr

    google.unknown_clicks = set()
    again = push(world)
    assert again.code == 0 and len(google.requests) == 2  # a permanent error: never again
    report = run_touchpoint(world, "report")
    assert report.code == 0, report.stderr
    assert "2 conversions not accepted by Google Ads: The click ID is not recognized." in (
        report.stdout
    )


def test_rate_limited_then_sent_on_the_next_push(world: Path, google: GoogleServer) -> None:
    google.fail(429)
    first = push(world)
    assert first.code == 0, first.stderr
    assert "HTTP 429" in first.stderr and "wait for the next push" in first.stderr
    assert google.events == []
    assert {r[2] for r in ledger(world)} == {"retry"}
    second = push(world)
    assert second.code == 0, second.stderr
    assert sorted(sent_pairs(google)) == sorted(EXPECTED)
    assert {(r[2], r[4]) for r in ledger(world)} == {("sent", "2")}


def test_a_server_error_waits_its_backoff_before_the_next_try(
    world: Path, google: GoogleServer
) -> None:
    write_config(world, google, "")
    (world / "touchpoint.toml").write_text(
        (world / "touchpoint.toml")
        .read_text()
        .replace('retry_backoff = "0s"', 'retry_backoff = "1h"')
    )
    google.fail(503)
    first = push(world)
    assert first.code == 0 and "HTTP 503: test failure 503" in first.stderr
    rows = ledger(world)
    assert rows and all(r[2:] == ("retry", "HTTP 503: test failure 503", "1") for r in rows)
    second = push(world)  # within the hour: not yet
    assert second.code == 0 and len(google.requests) == 1


def test_refused_credentials_are_one_clear_line_and_nothing_is_recorded(
    world: Path, google: GoogleServer
) -> None:
    wrong = push(world, env={"TOUCHPOINT_DESTINATIONS__GOOGLE_ADS__ACCESS_TOKEN": "ya29.expired"})
    assert wrong.code == 1
    assert wrong.stderr.strip().count("\n") == 0 and "Traceback" not in wrong.stderr
    assert "Google Ads refused the credentials: Request had invalid authentication" in wrong.stderr
    assert ledger(world) == []
    bad_grant = push(
        world, env={"TOUCHPOINT_DESTINATIONS__GOOGLE_ADS__REFRESH_TOKEN": "1//revoked"}
    )
    assert bad_grant.code == 1 and bad_grant.stderr.strip().count("\n") == 0
    assert "Google's sign-in refused the Google Ads credentials: Bad Request" in bad_grant.stderr
    missing = run_touchpoint(world, "push", "google-ads")
    assert missing.code == 1 and "Google Ads needs credentials" in missing.stderr


def test_credentials_never_appear_in_any_output(world: Path, google: GoogleServer) -> None:
    outputs = [
        push(world, "--dry-run"),
        push(world, "--dry-run", "--json"),
        push(world, "--json"),
        push(world),
        run_touchpoint(world, "settings", env=CREDENTIALS),
        run_touchpoint(world, "settings", "--json", env=CREDENTIALS),
    ]
    assert all(o.code == 0 for o in outputs), [o.stderr for o in outputs]
    for secret in (REFRESH_TOKEN, CLIENT_SECRET, ACCESS_TOKEN):
        for o in outputs:
            assert secret not in o.stdout and secret not in o.stderr


def test_a_missing_action_id_is_one_clear_line(world: Path, google: GoogleServer) -> None:
    done = push(world, env={"TOUCHPOINT_DESTINATIONS__GOOGLE_ADS__ACTION_IDS": '{"call": "111"}'})
    assert done.code == 1 and done.stderr.strip().count("\n") == 0
    assert "action_ids.lead" in done.stderr
    assert google.requests == []


def _many_calls(directory: Path, count: int) -> None:
    """`count` visitors who each click a gclid and call ten minutes later."""
    events = directory / "events.ndjson"
    calls = ["call_id,called_at,visitor_id,duration_s"]
    with events.open("w") as f:
        for n in range(count):
            minute = f"{n // 60 % 24:02d}:{n % 60:02d}"
            day = 1 + n // 1440
            f.write(
                json.dumps(
                    {
                        "visitor_id": f"m{n}",
                        "type": "page_view",
                        "occurred_at": f"2026-02-{day:02d}T{minute}:00Z",
                        "url": f"https://example.com/?gclid=Gm{n}",
                    }
                )
                + "\n"
            )
            calls.append(f"K{n},2026-02-{day:02d}T{minute}:30Z,m{n},60")
    (directory / "calls.csv").write_text("\n".join(calls) + "\n")


def test_2500_conversions_go_in_two_requests_of_at_most_2000(
    tmp_path: Path, google: GoogleServer
) -> None:
    _many_calls(tmp_path, 2500)
    for args in (("events", "events.ndjson"), ("calls", "calls.csv", "--format", "calls-csv")):
        done = run_touchpoint(tmp_path, "import", *args)
        assert done.code == 0, done.stderr
    assert run_touchpoint(tmp_path, "build", "-q").code == 0
    write_config(tmp_path, google)
    done = push(tmp_path, env={"TOUCHPOINT_DESTINATIONS__GOOGLE_ADS__ACTIONS": '{"call": "Call"}'})
    assert done.code == 0, done.stderr
    assert [len(body["events"]) for body in google.requests] == [2000, 500]
    assert len({e["transactionId"] for e in google.events}) == 2500


def test_erasing_a_person_removes_their_rows_of_the_ledger(
    world: Path, google: GoogleServer
) -> None:
    assert push(world).code == 0
    erased = run_touchpoint(world, "erase", "--visitor", "v1")
    assert erased.code == 0, erased.stderr
    left = {(r[0], r[1]) for r in ledger(world)}
    assert left == {p for p in EXPECTED if p[1] == "G3-old"}


def test_nothing_built_is_one_line_and_makes_no_store(tmp_path: Path) -> None:
    done = push(tmp_path)
    assert done.code == 1 and done.stderr.strip().count("\n") == 0
    assert "nothing has been built yet" in done.stderr
    assert not (tmp_path / "touchpoint.duckdb").exists()
