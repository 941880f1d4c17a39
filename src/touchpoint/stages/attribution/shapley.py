"""The Shapley model (DESIGN §4): each channel's Shapley value in the game
v(S) = conversions of the journeys whose channel set lies within S.

That game is a sum of unanimity games, one per journey: a journey with k
distinct channels adds its conversions to v(S) exactly when S holds all k.
The Shapley value of a unanimity game gives each of its k players 1/k, so a
channel's value is the sum, over converting journeys that contain it, of
conversions / k — exact for any number of channels, in one aggregate, with no
sampling. `shapley_by_subsets` computes the textbook formula over every
subset (for checking, up to 12 channels).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from itertools import combinations

import ibis.expr.types as ir


def shapley_credits(paths: ir.Table) -> ir.Table:
    """`(conversion_type, channel, credit)`: Shapley values over converting journeys.

    >>> import ibis
    >>> paths = ibis.memtable({"conversion_type": ["lead"] * 4,
    ...     "journey_id": ["j1", "j1", "j2", "j2"], "seq": [0, 1, 0, 1],
    ...     "channel": ["a", "b", "a", "a"], "converted": [True] * 4})
    >>> credits = shapley_credits(paths).to_pyarrow().to_pylist()
    >>> sorted((row["channel"], row["credit"]) for row in credits)  # j1: a, b halves; j2: a
    [('a', 1.5), ('b', 0.5)]
    """
    converting = paths.filter(paths.converted)
    present = converting.select("conversion_type", "journey_id", "channel").distinct()
    sizes = present.group_by(["conversion_type", "journey_id"]).aggregate(
        channel_count=present.channel.count()
    )
    shares = present.join(sizes, ["conversion_type", "journey_id"])
    return shares.group_by(["conversion_type", "channel"]).aggregate(
        credit=(1.0 / shares.channel_count).sum()
    )


def shapley_values(journeys: Iterable[tuple[frozenset[str], float]]) -> dict[str, float]:
    """Shapley values from `(channel set, conversions)` pairs, by the unanimity decomposition.

    >>> shapley_values([(frozenset({"a", "b"}), 1.0), (frozenset({"a"}), 1.0)])
    {'a': 1.5, 'b': 0.5}
    """
    values: dict[str, float] = {}
    for channels, conversions in journeys:
        for channel in channels:
            values[channel] = values.get(channel, 0.0) + conversions / len(channels)
    return dict(sorted(values.items()))


def shapley_by_subsets(journeys: Sequence[tuple[frozenset[str], float]]) -> dict[str, float]:
    """Shapley values by the textbook sum over subsets (exponential: at most 12 channels).

    >>> shapley_by_subsets([(frozenset({"a", "b"}), 1.0), (frozenset({"a"}), 1.0)])
    {'a': 1.5, 'b': 0.5}
    """
    players = sorted({c for channels, _ in journeys for c in channels})
    n = len(players)
    if n > 12:
        raise ValueError(f"{n} channels: the subset formula is for at most 12")

    def v(coalition: frozenset[str]) -> float:
        return sum(conv for channels, conv in journeys if channels <= coalition)

    values = {}
    for player in players:
        others = [p for p in players if p != player]
        total = 0.0
        for size in range(n):
            weight = math.factorial(size) * math.factorial(n - size - 1) / math.factorial(n)
            for coalition in combinations(others, size):
                base = frozenset(coalition)
                total += weight * (v(base | {player}) - v(base))
        values[player] = total
    return values
