"""Small journeys written by hand, for the models' worked examples and tests.

`journey("FT", "", "LC")` is one conversion of three touchpoints a day apart:
the first holds FT, the second nothing, the third LC. Windows follow from the
positions as the positions stage draws them.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from touchpoint.stages.journeys import JOURNEY_COLUMNS, LEAD, OPPORTUNITY, POSITION_FLAGS

DAY_US = 86_400_000_000
_FLAG = {name: flag for flag, name in POSITION_FLAGS}


def journey(
    *positions: str,
    channels: Sequence[str] | None = None,
    days: Sequence[float] | None = None,
    conversion_id: str = "c1",
    is_closed: bool | None = None,
    amount: float | None = None,
) -> ir.Table:
    """A journeys table of one conversion; an opportunity when any touch holds OC or Closed."""
    count = len(positions)
    held = [set(filter(None, text.split(","))) for text in positions]
    unknown = {name for names in held for name in names} - set(_FLAG)
    if unknown:
        raise ValueError(f"unknown positions {sorted(unknown)}")
    kind = OPPORTUNITY if any(names & {"OC", "Closed"} for names in held) else LEAD
    if is_closed is None:
        is_closed = any("Closed" in names for names in held)

    def last(name: str) -> int:
        return max((i for i, names in enumerate(held) if name in names), default=-1)

    lc, oc, closed = last("LC"), last("OC"), last("Closed")
    full = (closed if is_closed else count - 1) if kind == OPPORTUNITY else lc
    rows: dict[str, list[object]] = {name: [] for name in JOURNEY_COLUMNS}
    for seq, names in enumerate(held):
        row: dict[str, object] = {
            "conversion_id": conversion_id,
            "conversion_type": kind,
            "touchpoint_id": f"t{seq + 1}",
            "person_id": "p1",
            "touchpoint_us": round((days[seq] if days else seq) * DAY_US),
            "channel": channels[seq] if channels else f"c{seq + 1}",
            "seq": seq,
            "in_lc_window": seq <= lc,
            "in_oc_window": kind == OPPORTUNITY and seq <= oc,
            "in_full_window": seq <= full,
            "positions": ",".join(name for _, name in POSITION_FLAGS if name in names),
            "amount": amount if kind == OPPORTUNITY else None,
            "is_closed": is_closed if kind == OPPORTUNITY else None,
            "is_won": is_closed if kind == OPPORTUNITY else None,
        }
        for flag, name in POSITION_FLAGS:
            row[flag] = name in names
        for name in JOURNEY_COLUMNS:
            rows[name].append(row[name])
    schema = {
        "touchpoint_us": "int64",
        "seq": "int64",
        "amount": "float64",
        "is_closed": "boolean",
        "is_won": "boolean",
    }
    return ibis.memtable(rows, schema=_schema(schema))


def _schema(overrides: dict[str, str]) -> ibis.Schema:
    types = {}
    for name in JOURNEY_COLUMNS:
        if name in overrides:
            types[name] = overrides[name]
        elif name.startswith(("is_", "in_")):
            types[name] = "boolean"
        else:
            types[name] = "string"
    return ibis.schema(types)


def weights(rows: ir.Table, of: ir.Table) -> list[float]:
    """A model's weight for each touchpoint of journey `of`, in order (0 where it gave none)."""
    by_touch = {row["touchpoint_id"]: row["weight"] for row in rows.to_pyarrow().to_pylist()}
    count = int(of.count().to_pyarrow().as_py())
    return [round(by_touch.get(f"t{i + 1}", 0.0), 4) for i in range(count)]
