"""The Markov model (DESIGN §4): channel removal effects, solved exactly.

Paths become an absorbing Markov chain: transient states are `(start)` and the
last `order` channels seen; `(conversion)` and `(null)` absorb. The probability
of converting from `(start)` solves the linear system (I − Q) x = r. Removing a
channel sends every transition into a state that holds it to `(null)`; its
removal effect is the share of conversions lost, 1 − P(removed) / P. The same
system with each exit to `(conversion)` weighted by the mean value of the
conversions leaving from there gives the removal effects on value.

Counting transitions is an Ibis aggregate; the chain is small (channels ×
order), so numpy solves it. ChannelAttribution estimates the same removal
effects by simulating paths; this solves them exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np

START = "(start)"
CONVERSION = "(conversion)"
NULL = "(null)"
STATE_SEPARATOR = "\x1f"  # between the channels of a state of order > 1


def markov_transitions(paths: ir.Table, order: int = 1) -> ir.Table:
    """Transition counts `(conversion_type, from_state, to_state, transitions)` of the paths."""
    journey = ["conversion_type", "converted", "journey_id"]
    step = ibis.window(group_by=journey, order_by="seq")
    channel = paths.channel
    if order == 1:
        state = channel
    else:
        remembered = [channel.lag(back).over(step) for back in range(order - 1, 0, -1)]
        state = ibis.literal(STATE_SEPARATOR).join([*remembered, channel])
    rows = paths.mutate(state=state)
    rows = rows.mutate(
        previous=rows.state.lag().over(step), is_last=rows.seq.lead().over(step).isnull()
    )
    inner = rows.select(
        "conversion_type", from_state=rows.previous.fill_null(START), to_state=rows.state
    )
    ends = rows.filter(rows.is_last)
    ends = ends.select(
        "conversion_type",
        from_state=ends.state,
        to_state=ibis.ifelse(ends.converted, CONVERSION, NULL),
    )
    steps = inner.union(ends, distinct=False)
    return steps.group_by(["conversion_type", "from_state", "to_state"]).aggregate(
        transitions=steps.count().cast("float64")
    )


@dataclass(frozen=True)
class RemovalEffects:
    conversions: dict[str, float]  # channel → share of conversions lost without it
    value: dict[str, float]  # channel → share of conversion value lost without it


def state_channels(state: str) -> tuple[str, ...]:
    """The channels a state remembers."""
    return tuple(state.split(STATE_SEPARATOR))


def removal_effects(
    transitions: Iterable[tuple[str, str, float, float]],
) -> RemovalEffects:
    """Removal effects from `(from_state, to_state, count, value)` transition totals.

    `value` is the conversion value carried by transitions into `(conversion)`
    (0 elsewhere; pass the count to weigh every conversion alike).

    >>> paths = [("a", "(conversion)", 1, 1), ("b", "(null)", 1, 0),
    ...          ("(start)", "a", 2, 0), ("a", "b", 1, 0), ("(start)", "b", 0, 0)]
    >>> effects = removal_effects(paths)  # a > b converts half the time via a; b never
    >>> effects.conversions
    {'a': 1.0, 'b': 0.0}
    """
    index: dict[str, int] = {START: 0}
    rows = []
    for source, target, count, value in transitions:
        for state in (source, target):
            if state not in (CONVERSION, NULL) and state not in index:
                index[state] = len(index)
        rows.append((source, target, float(count), float(value)))
    size = len(index)
    counts = np.zeros((size, size))
    converted = np.zeros(size)
    worth = np.zeros(size)
    exits = np.zeros(size)
    for source, target, count, value in rows:
        i = index[source]
        exits[i] += count
        if target == CONVERSION:
            converted[i] += count
            worth[i] += value
        elif target != NULL:
            counts[i, index[target]] += count
    total = np.where(exits > 0, exits, 1.0)
    q = counts / total[:, None]
    r = converted / total
    rv = worth / total
    channels = sorted({c for state in index if state != START for c in state_channels(state)})
    held = {
        c: [i for s, i in index.items() if s != START and c in state_channels(s)] for c in channels
    }
    base = _absorb(q, np.column_stack([r, rv]), [])
    effects: dict[str, float] = {}
    values: dict[str, float] = {}
    for channel in channels:
        without = _absorb(q, np.column_stack([r, rv]), held[channel])
        effects[channel] = _lost(base[0], without[0])
        values[channel] = _lost(base[1], without[1])
    return RemovalEffects(effects, values)


def _absorb(q: np.ndarray, exits: np.ndarray, removed: list[int]) -> np.ndarray:
    """Absorption from `(start)` through each column of `exits`, with `removed` states cut off."""
    if removed:
        q = q.copy()
        exits = exits.copy()
        q[:, removed] = 0.0
        exits[removed, :] = 0.0
    solved = np.linalg.solve(np.eye(len(q)) - q, exits)
    return solved[0]


def _lost(base: float, without: float) -> float:
    if base <= 0:
        return 0.0
    return float(min(1.0, max(0.0, 1.0 - without / base)))


def markov_credits(transitions: Iterable[dict[str, object]]) -> dict[str, dict[str, float]]:
    """Per conversion type, each channel's removal effect (the credit weights use)."""
    by_type: dict[str, list[tuple[str, str, float, float]]] = {}
    for row in transitions:
        count = float(row["transitions"])  # type: ignore[arg-type]
        by_type.setdefault(str(row["conversion_type"]), []).append(
            (str(row["from_state"]), str(row["to_state"]), count, count)
        )
    return {kind: removal_effects(rows).conversions for kind, rows in by_type.items()}
