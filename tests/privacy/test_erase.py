"""`touchpoint erase` end to end (DESIGN §16): files imported, events collected by a real
server, three builds kept; then every file of the store, its snapshots and the intake log
is read as bytes for the person's identifiers: found before, gone after."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import run_touchpoint
from support.collector_server import Server, start, write_config
from touchpoint.build.build import build
from touchpoint.config import Settings, load_settings
from touchpoint.importers import import_calls, import_crm, import_events
from touchpoint.privacy.suppression import SUPPRESSED
from touchpoint.store import open_snapshot, snapshot_dir

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126 Safari"
OTHERS = 150
TARGET = hashlib.md5(b"the person to erase").hexdigest()
TARGET_EMAIL_TYPED = "Erin.Target@Example.org"  # as the CRM writes it
TARGET_EMAIL = TARGET_EMAIL_TYPED.lower()  # as her form and `erase --email` give it
TARGET_PHONE_TYPED = "(415) 555-0199"  # as the CRM writes it
TARGET_PHONE = "+14155550199"  # as the call-tracking file writes it
NEEDLES = (TARGET, TARGET_EMAIL, TARGET_EMAIL_TYPED, TARGET_PHONE, TARGET_PHONE_TYPED)


def visitor(i: int) -> str:
    return hashlib.md5(f"visitor {i}".encode()).hexdigest()


def people() -> list[tuple[str, str, str, str]]:
    """(visitor id, email as typed in the CRM, phone in the CRM, phone on the call)."""
    rows = [(TARGET, TARGET_EMAIL_TYPED, TARGET_PHONE_TYPED, TARGET_PHONE)]
    for i in range(OTHERS):
        rows.append((visitor(i), f"person{i}@example{i % 9}.com", f"+1 415 555 {1000 + i}", ""))
    return [(v, e, p, c or p.replace(" ", "")) for v, e, p, c in rows]


def write_inputs(directory: Path) -> dict[str, Path]:
    """The site's events, the call tracker's calls and the CRM's leads, one row each a person."""
    directory.mkdir()
    events, calls, leads = (
        [],
        ["call_id,called_at,visitor_id,caller_number"],
        ["Id,Email,Phone,CreatedDate"],
    )
    for n, (vid, email, phone, caller) in enumerate(people()):
        day = f"2026-11-{1 + n % 27:02d}"
        events.append(
            {
                "event_id": f"pv-{n}",
                "visitor_id": vid,
                "type": "page_view",
                "occurred_at": f"{day}T10:00:00Z",
                "url": f"https://example.com/p{n}?utm_source=google&utm_medium=cpc",
            }
        )
        events.append(
            {
                "event_id": f"fs-{n}",
                "visitor_id": vid,
                "type": "form_submit",
                "occurred_at": f"{day}T10:05:00Z",
                "url": "https://example.com/contact",
                "email": email.lower(),
            }
        )
        calls.append(f"call-{n:05d},{day}T10:20:00Z,{vid},{caller}")
        leads.append(f"00Q5e00000{n:08d},{email},{phone},{day}T10:30:00.000+0000")
    files = {
        "events": directory / "events.ndjson",
        "calls": directory / "calls.csv",
        "leads": directory / "leads.csv",
    }
    files["events"].write_text("".join(json.dumps(e) + "\n" for e in events))
    files["calls"].write_text("\n".join(calls) + "\n")
    files["leads"].write_text("\n".join(leads) + "\n")
    return files


def collect(directory: Path, visitors: list[str], tag: str) -> None:
    """A real server takes a page view and a form of each visitor, then stops (its segment closes)."""
    server = start(directory)
    try:
        post(server, visitors, tag)
    finally:
        server.stop()


def post(server: Server, visitors: list[str], tag: str) -> None:
    """A page view and a form of each visitor to the server's collector, acknowledged."""
    now = int(time.time() * 1000)
    batch = []
    for n, vid in enumerate(visitors):
        batch.append(
            {
                "event_id": f"{tag}-pv-{n}",
                "visitor_id": vid,
                "type": "page_view",
                "occurred_at": now,
                "url": f"https://example.com/{tag}/{n}",
            }
        )
        email = TARGET_EMAIL if vid == TARGET else f"collected{n}@example.net"
        batch.append(
            {
                "event_id": f"{tag}-fs-{n}",
                "visitor_id": vid,
                "type": "form_submit",
                "occurred_at": now + 1,
                "url": "https://example.com/contact",
                "email": email,
            }
        )
    for start_at in range(0, len(batch), 50):
        answer = httpx.post(
            f"{server.url}/collect",
            json=batch[start_at : start_at + 50],
            headers={"user-agent": BROWSER},
            timeout=10,
        )
        assert answer.status_code == 204, answer.text


def found(directory: Path, skip: Path) -> dict[str, set[str]]:
    """Which needles each file under `directory` (but `skip`) holds, as bytes."""
    hits: dict[str, set[str]] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and skip not in path.parents:
            data = path.read_bytes()
            held = {needle for needle in NEEDLES if needle.encode() in data}
            if held:
                hits[str(path.relative_to(directory))] = held
    return hits


def results_of_others(settings: Settings) -> dict[str, list[Any]]:
    """The published tables, without the erased person's rows."""
    with open_snapshot(settings) as con:
        return {
            "sessions": con.execute(
                "SELECT * EXCLUDE (session_id) FROM sessions WHERE visitor_id <> ? ORDER BY ALL",
                [TARGET],
            ).fetchall(),
            "calls": con.execute(
                "SELECT call_id, visitor_id, outcome, seconds_from_session_start FROM calls "
                "WHERE visitor_id <> ? ORDER BY ALL",
                [TARGET],
            ).fetchall(),
            "touchpoints": con.execute(
                "SELECT * FROM touchpoints WHERE visitor_id <> ? ORDER BY ALL", [TARGET]
            ).fetchall(),
            "attribution": con.execute(
                "SELECT a.* FROM attribution a JOIN touchpoints t USING (touchpoint_id) "
                "WHERE t.visitor_id <> ? ORDER BY ALL",
                [TARGET],
            ).fetchall(),
        }


@pytest.mark.slow
def test_erase_removes_every_trace_and_suppresses_the_person_later(workdir: Path):
    write_config(workdir, domains=["example.com"])
    inputs = write_inputs(workdir / "inputs")
    settings = load_settings(None)
    # Collected first, built three times (the first build loads that segment into loaded/).
    collect(workdir, [TARGET, visitor(0), visitor(1)], "first")
    assert not import_events(settings, [inputs["events"]]).failed
    assert not import_calls(settings, [inputs["calls"]], "calls-csv").failed
    assert not import_crm(settings, [inputs["leads"]], "leads").failed
    for _ in range(3):
        build(settings, full=True)  # three snapshots: nothing new would publish one
        time.sleep(1.1)  # snapshot names carry the second
    assert len(list(snapshot_dir(settings.db).glob("build-*.duckdb"))) == 3
    # More collected after the last build: a closed segment not loaded yet.
    collect(workdir, [TARGET], "second")
    intake = workdir / "touchpoint.duckdb.intake"
    assert list(intake.glob("*.seg")) and list((intake / "loaded").glob("*.seg"))
    others_before = results_of_others(settings)
    with open_snapshot(settings) as con:
        assert con.execute(
            "SELECT count(*) FROM events WHERE visitor_id = ?", [TARGET]
        ).fetchone() == (4,)

    before = found(workdir, workdir / "inputs")
    # The scan can fail: every needle is found somewhere, and in each kind of file.
    assert set().union(*before.values()) == set(NEEDLES), before
    assert any(name == "touchpoint.duckdb" for name in before), before
    assert sum(name.startswith("touchpoint.duckdb.snapshots/build-") for name in before) == 3, (
        before
    )
    assert any(name.startswith("touchpoint.duckdb.intake/loaded/") for name in before), before
    assert any(name.startswith("touchpoint.duckdb.intake/2") for name in before), before

    dry = run_touchpoint(workdir, "erase", "--email", TARGET_EMAIL, "--dry-run", "--json")
    assert dry.code == 0, dry.stderr
    assert found(workdir, workdir / "inputs") == before  # a dry run changes nothing
    erased = run_touchpoint(workdir, "erase", "--email", TARGET_EMAIL, "--json")
    assert erased.code == 0, erased.stderr
    summary = json.loads(erased.stdout)
    assert summary["rows"] == json.loads(dry.stdout)["rows"]
    # The email led to her visitor id (her form), her lead (its email) and her phone.
    assert summary["identifiers"] == {
        "visitor_ids": 1,
        "emails": 1,
        "phones": 1,
        "crm_records": 1,
        "calls": 1,
    }
    assert summary["rows"]["raw_events"] == 2 + 2  # imported, and collected and loaded
    assert summary["rows"]["raw_calls"] == 1 and summary["rows"]["raw_leads"] == 1
    assert summary["segment_records"] == 4 and len(summary["segments_rewritten"]) == 2
    assert summary["suppressed"] == 3 and summary["build_id"]

    assert found(workdir, workdir / "inputs") == {}
    assert not list(workdir.rglob("*.wal"))
    snapshots = list(snapshot_dir(settings.db).glob("build-*.duckdb"))
    assert len(snapshots) == 1
    # Everyone else is still there, as they were.
    others_after = results_of_others(settings)
    assert len(others_after["touchpoints"]) >= OTHERS
    assert others_after == others_before
    build(settings)
    assert results_of_others(settings) == others_after

    # Her files again: dropped and counted, not kept, not rejected.
    again = import_events(settings, [inputs["events"]])
    assert again.skipped[SUPPRESSED] == 2 and again.rejected == 0 and again.landed == 0
    assert import_calls(settings, [inputs["calls"]], "calls-csv").skipped[SUPPRESSED] == 1
    assert import_crm(settings, [inputs["leads"]], "leads").skipped[SUPPRESSED] == 1
    # Collected again: dropped when the build loads the log, and the loaded copy is clean.
    collect(workdir, [TARGET, visitor(3)], "third")
    result = build(settings)
    assert result.suppressed == 2
    with open_snapshot(settings) as con:
        assert con.execute(
            "SELECT count(*) FROM events WHERE visitor_id = ?", [TARGET]
        ).fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM rejects").fetchone() == (0,)
        assert (
            con.execute(
                "SELECT count(*) FROM events WHERE visitor_id = ?", [visitor(3)]
            ).fetchone()[0]
            >= 4
        )
    loaded = found(workdir / "touchpoint.duckdb.intake", workdir / "inputs")
    assert loaded == {}


def test_a_running_servers_open_segment_is_left_and_its_records_go_at_build(workdir: Path):
    write_config(workdir, domains=["example.com"], segment_max_age="1h")
    settings = load_settings(None)
    intake = workdir / "touchpoint.duckdb.intake"
    server = start(workdir)
    try:
        post(server, [TARGET, visitor(0)], "open")
        assert len(list(intake.glob("*.open"))) == 1
        erased = run_touchpoint(workdir, "erase", "--visitor", TARGET, "--json")
        assert erased.code == 0, erased.stderr
        summary = json.loads(erased.stdout)
        # Rewriting the file the server appends to would lose what it appends next.
        assert [Path(p).suffix for p in summary["segments_held_open"]] == [".open"]
        assert summary["segment_records"] == 0
    finally:
        server.stop()
    assert TARGET in found(intake, workdir / "inputs").popitem()[1]
    result = build(settings)
    assert result.suppressed == 2
    assert found(workdir, workdir / "inputs") == {}
    with open_snapshot(settings) as con:
        seen = con.execute("SELECT DISTINCT visitor_id FROM events").fetchall()
    assert seen == [(visitor(0),)]
