"""Invariants of Invoca signals' values (DESIGN §12), over generated transactions read by
the real Invoca reader and added up by the real stage functions (`latest_versions`,
`with_signal_values`) on DuckDB: a call's value is its own revenue plus the latest
version of each of its signals' revenue, whatever order the transactions arrive in
and however often each arrives; signals never come out as rows."""

from __future__ import annotations

import math
from typing import Any

import ibis
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from touchpoint.config import load_settings
from touchpoint.schema import RAW_CALLS
from touchpoint.sources.vendors.invoca import invoca_row
from touchpoint.stages.current_calls import latest_versions, with_signal_values

SETTINGS = load_settings(None)
START_MS = 1772640000000
AMOUNTS = st.one_of(st.none(), st.integers(0, 500_000).map(lambda cents: f"{cents / 100:.2f}"))


def transactions(draw: Any) -> tuple[list[dict[str, Any]], dict[str, float | None]]:
    """Calls with signals (some corrected), and each call's expected value."""
    records: list[dict[str, Any]] = []
    expected: dict[str, float | None] = {}
    for n in range(draw(st.integers(1, 3))):
        call, complete = f"CALL-{n}", f"CC-{n}"
        own = draw(AMOUNTS)
        records.append(
            {
                "transaction_id": call,
                "transaction_type": "Call",
                "complete_call_id": complete,
                "start_time_utc": START_MS + n * 60_000,
                "revenue": own,
            }
        )
        amounts = [] if own is None else [float(own)]
        for s in range(draw(st.integers(0, 3))):
            signal = f"SIG-{n}-{s}"
            revenue = draw(AMOUNTS)
            kind = draw(st.sampled_from(["Signal", "Post Call Event"]))
            base = {
                "transaction_type": kind,
                "complete_call_id": complete,
                "start_time_utc": START_MS + n * 60_000,
            }
            records.append({**base, "transaction_id": signal, "revenue": revenue})
            if draw(st.booleans()):
                revenue = draw(AMOUNTS)
                records.append(
                    {
                        **base,
                        "transaction_id": f"{signal}-C",
                        "corrects_transaction_id": signal,
                        "corrected_at": "2026-03-05 09:30:00 -08:00",
                        "revenue": revenue,
                    }
                )
            if revenue is not None:
                amounts.append(float(revenue))
        expected[call] = math.fsum(amounts) if amounts else None
    if draw(st.booleans()):  # a signal whose call never came
        records.append(
            {
                "transaction_id": "SIG-ORPHAN",
                "transaction_type": "Signal",
                "complete_call_id": "CC-NEVER",
                "start_time_utc": START_MS,
                "revenue": "75.00",
            }
        )
    return records, expected


@st.composite
def worlds(draw: Any) -> tuple[list[dict[str, Any]], dict[str, float | None]]:
    records, expected = transactions(draw)
    again = draw(st.lists(st.sampled_from(records), max_size=4))  # delivered twice
    return draw(st.permutations(records + again)), expected


def values(records: list[dict[str, Any]]) -> dict[str, float | None]:
    rows = [invoca_row(record, SETTINGS) for record in records]
    for row in rows:
        row.setdefault("is_deleted", False)
    table = pa.Table.from_pylist(rows, schema=RAW_CALLS)
    added = with_signal_values(latest_versions(ibis.memtable(table)))
    out = ibis.duckdb.connect().to_pyarrow(added.select("call_id", "kind", "value"))
    assert set(out.column("kind").to_pylist()) <= {"call"}, "a signal came out as a row"
    return dict(
        zip(out.column("call_id").to_pylist(), out.column("value").to_pylist(), strict=True)
    )


@given(worlds())
def test_a_call_s_value_is_its_own_plus_its_signals_in_any_order(world) -> None:
    records, expected = world
    found = values(records)
    assert set(found) == set(expected)
    for call, value in expected.items():
        if value is None:
            assert found[call] is None, call
        else:
            assert found[call] is not None and math.isclose(found[call], value, abs_tol=1e-6), call
