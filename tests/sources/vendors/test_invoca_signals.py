"""Invoca Signals through the real routes (DESIGN §12): `touchpoint import calls --format
invoca` of tests/fixtures/vendors/invoca-signals.json, and Invoca's webhook on a real
`touchpoint serve`, each built and read back (`export calls`, `export raw_calls`,
`report --json`).

The file holds a call, two signals, a correction of the first (120 replacing 100)
and a post-call event of a call we never got (75). The call's value is
120 + 50 = 170, whatever order the transactions arrive in; the signals stay raw and
are never counted, exported or reported as calls.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.collector_server import Server, start, touchpoint, wait_for
from support.paths import VENDOR_FIXTURES
from touchpoint.sources.vendors.invoca import invoca_row

SIGNALS = VENDOR_FIXTURES / "invoca-signals.json"
TRANSACTIONS: list[dict[str, Any]] = json.loads(SIGNALS.read_text())
CALL = "00000000-00000001"
TOKEN = "inv-signals-3f9e20c4b7d1a856"


def by_id(output: str) -> dict[str, dict[str, Any]]:
    return {row["call_id"]: row for row in map(json.loads, output.splitlines())}


def test_each_transaction_s_row(workdir) -> None:
    from touchpoint.config import load_settings

    rows = [invoca_row(t, load_settings(None)) for t in TRANSACTIONS]
    assert [(r["kind"], r["call_id"], r["external_id"], r["value"]) for r in rows] == [
        ("call", CALL, "5D20-8E31F4A6B7C9", None),
        ("signal", "00000000-0000000A", "5D20-8E31F4A6B7C9", 100.0),
        ("signal", "00000000-0000000B", "5D20-8E31F4A6B7C9", 50.0),
        ("signal", "00000000-0000000A", "5D20-8E31F4A6B7C9", 120.0),  # the correction
        ("signal", "00000000-0000000D", "7B41-0C52D6E8F9A1", 75.0),  # a Post Call Event
    ]
    assert rows[3]["version_us"] > rows[1]["version_us"]
    assert rows[0]["visitor_id"] == "a1f0c2e4b6d8492f8c0e1a3b5d7f9e21"
    assert all(r["visitor_id"] is None and r["caller_number"] is None for r in rows[1:])


def test_an_import_counts_signals_as_skipped_and_the_call_takes_their_value(cli, workdir) -> None:
    shutil.copy(SIGNALS, workdir)
    first = cli("import", "calls", SIGNALS.name, "--format", "invoca", "--json")
    assert first.code == 0, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["new"], summary["rejected"]) == (1, 0)  # one call; the signals are no calls
    assert sum(summary["skipped_reasons"].values()) == 4
    again = json.loads(cli("import", "calls", SIGNALS.name, "--format", "invoca", "--json").stdout)
    assert (again["new"], again["rejected"]) == (0, 0)  # the same file again changes nothing
    assert cli("build").code == 0
    calls = by_id(cli("export", "calls", "--format", "json").stdout)
    assert list(calls) == [CALL]
    assert (calls[CALL]["kind"], calls[CALL]["value"]) == ("call", 170.0)
    raw = by_id(cli("export", "raw_calls", "--format", "json").stdout)
    assert {row["kind"] for key, row in raw.items() if key != CALL} == {"signal"}
    assert "00000000-0000000D" in raw  # kept raw, though its call never came
    report = json.loads(cli("report", "--json").stdout)["call_quality"]["total"]
    assert (report["calls"], report["call_value"], report["valued_calls"]) == (1, 170.0, 1)
    touches = cli("export", "touchpoints", "--format", "json").stdout.splitlines()
    assert [json.loads(t)["call_id"] for t in touches] == [CALL]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory: Path = tmp_path_factory.mktemp("invoca-signals")
    (directory / "touchpoint.toml").write_text(
        '[collector]\nrate_limit_per_minute = 0\nsegment_max_age = "300ms"\n'
        f'[webhooks]\ninvoca_token = "{TOKEN}"\n'
    )
    running = start(directory)
    yield running
    running.stop()


def test_signals_posted_before_their_call_add_to_it(server: Server) -> None:
    """Invoca posts each transaction as it happens: here the signals come first."""
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for transaction in [*TRANSACTIONS[1:], TRANSACTIONS[0], TRANSACTIONS[1]]:
            answer = http.post(f"/webhooks/invoca/{TOKEN}", json=transaction)
            assert (answer.status_code, answer.json()) == (200, {"stored": 1, "skipped": 0})
    wait_for(lambda: not list(server.intake.glob("*.open")))
    built = touchpoint(server.directory, "build")
    assert built.returncode == 0, built.stderr
    done = touchpoint(server.directory, "export", "calls", "--format", "json")
    calls = by_id(done.stdout)
    assert list(calls) == [CALL]
    assert calls[CALL]["value"] == 170.0
    assert calls[CALL]["visitor_id"] == "a1f0c2e4b6d8492f8c0e1a3b5d7f9e21"
